//! Small success bodies several routes share. Every response body is a typed struct: what the
//! handler serializes is what the OpenAPI document describes, and the document closes every
//! object (`openapi::ClosedBodies`), so the tests (which hold every answer to the document) fail
//! on a field the document does not name.

use serde::Serialize;

/// The id of a record just made.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Created {
    pub(crate) id: String,
}

/// The record's version after the change (send it back with the next change).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Versioned {
    pub(crate) version: i32,
}

/// The keyset cursor of a list page: `time.id` of the last row of the page before (no content).
/// The lists of calls and cases, in the API and on the pages, read and write it here.
pub(crate) mod cursor {
    use crate::ApiError;

    /// The `(time, id)` a cursor names, or 400 for one this server did not give.
    pub(crate) fn parse(cursor: Option<String>) -> Result<Option<(i64, String)>, ApiError> {
        let foreign = || ApiError::bad_request("the cursor is not one this server gave");
        cursor
            .map(|c| {
                let (at, id) = c.split_once('.').ok_or_else(foreign)?;
                Ok((at.parse::<i64>().map_err(|_| foreign())?, id.to_string()))
            })
            .transpose()
    }

    /// The cursor of the page after a full one (`limit` rows); none after the last page.
    pub(crate) fn next<T>(
        rows: &[T],
        limit: i64,
        key: impl Fn(&T) -> (i64, &str),
    ) -> Option<String> {
        let last = rows.last().filter(|_| rows.len() as i64 == limit)?;
        let (at, id) = key(last);
        Some(format!("{at}.{id}"))
    }
}
