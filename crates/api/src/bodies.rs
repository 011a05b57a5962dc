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
