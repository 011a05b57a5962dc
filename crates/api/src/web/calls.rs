//! "My shift's calls": the calls the signed-in counselor logged within the window in which
//! they may still see them (a supervisor: every call), newest first, keyset-paged, filtered by
//! day, topic, outcome and region. Read and audited exactly as `GET /api/v1/calls` (the same
//! query, the same validation): statistical facts only, no personal field on this page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use domain::identity::Role;
use domain::vocabulary::{self, Vocabulary};
use persistence::calls::CallFacts;

use super::desk::Choice;
use super::form::Fields;
use super::i18n::Tr;
use super::{render, Frame, Page, PageError};
use crate::calls::ListQuery;
use crate::ApiError;

const PAGE: i64 = 50;

/// The filters of the list (GET parameters: a bookmark or the history holds only codes and
/// days, nothing personal), and the cursor of the page before.
const FILTERS: &[&str] = &["from", "to", "topic", "outcome", "region", "after"];

/// The filters' picklists.
const CHOICES: [Choice; 3] = [
    Choice::of("topic", &vocabulary::TOPIC),
    Choice::of("outcome", &vocabulary::OUTCOME),
    Choice::of("region", &vocabulary::REGION),
];

/// One call as the list shows it, its codes already in the page's language.
pub(crate) struct Row {
    pub started: String,
    pub channel: String,
    pub caller_role: String,
    pub topics: String,
    pub outcome: String,
    pub region: String,
    pub case: bool,
}

/// What the page and its partial show: the calls and the link to the next page.
pub(crate) struct CallList {
    pub rows: Vec<Row>,
    pub next: Option<String>,
    /// A supervisor's list (every call), not one counselor's shift.
    pub all: bool,
    /// Hours after a call in which its counselor still sees it.
    pub window_hours: u64,
}

#[derive(Template)]
#[template(path = "calls.html")]
struct CallsPage {
    f: Frame,
    /// The filters as typed, and the wrong ones.
    form: Fields,
    choices: &'static [Choice],
    list: CallList,
}

#[derive(Template)]
#[template(path = "partials/call_rows.html")]
struct CallRows {
    f: Frame,
    list: CallList,
}

/// `GET /calls`: the list, or (for the pages' script) its rows only. A wrong filter comes back
/// named on the form, with what was typed kept, and nothing is read.
pub(crate) async fn list(page: Page, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (_, mut fields) = Fields::parse(req.query_string().as_bytes(), FILTERS)
        .map_err(|e| PageError::new(e, lang))?;
    let query = query_of(&mut fields);
    let (f, (found, all, window), partial) = page
        .run(move |vault, s, actor| {
            let window = s.calls.counselor_window.as_secs() / 3600;
            let all = actor.role == Role::Supervisor;
            let found = match query.and_then(ListQuery::filter) {
                Ok(filter) => Ok(vault.list_calls(&s.db, actor, &s.calls, &filter)?),
                Err(e) => Err(e),
            };
            Ok((found, all, window))
        })
        .await?;
    let calls = match found {
        Ok(calls) => calls,
        Err(e) => {
            fields.refused(e).map_err(|e| PageError::new(e, lang))?;
            Vec::new()
        }
    };
    let next = crate::bodies::cursor::next(&calls, PAGE, |c| (c.started_at, &c.id)).map(|cursor| {
        fields.href(
            "/calls",
            &FILTERS[..FILTERS.len() - 1],
            Some(("after", &cursor)),
        )
    });
    let rows = calls.iter().map(|c| row(&f.t, c)).collect();
    let list = CallList {
        rows,
        next,
        all,
        window_hours: window,
    };
    let status = match fields.errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok(match partial {
        true => render(status, &CallRows { f, list }),
        false => render(
            status,
            &CallsPage {
                f,
                form: fields,
                choices: &CHOICES,
                list,
            },
        ),
    })
}

/// The API's query from the page's filters: a day `from` is its first instant, a day `to` is
/// included (calls before the next day). A day that is not one is named on the form.
fn query_of(fields: &mut Fields) -> Result<ListQuery, ApiError> {
    let from = fields.day("from", 0).map(|d| format!("{d}T00:00:00Z"));
    // The day `to` is included: calls before the next day.
    let to = fields.day("to", 1).map(|d| format!("{d}T00:00:00Z"));
    if !fields.errors.is_empty() {
        return Err(ApiError::invalid_fields(fields.errors.clone()));
    }
    Ok(ListQuery {
        cursor: fields.text("after"),
        limit: Some(PAGE),
        from,
        to,
        topic: fields.text("topic"),
        outcome: fields.text("outcome"),
        region: fields.text("region"),
    })
}

fn row(t: &Tr, c: &CallFacts) -> Row {
    let term = |v: &Vocabulary, code: &str| t.term(v, code);
    let started = crate::calls::rfc3339(c.started_at);
    Row {
        // `2026-12-06 09:05` (UTC, as the API gives it).
        started: started.get(..16).unwrap_or_default().replacen('T', " ", 1),
        channel: term(&vocabulary::CHANNEL, &c.channel),
        caller_role: term(&vocabulary::CALLER_ROLE, &c.caller_role),
        topics: c
            .topics
            .iter()
            .map(|code| term(&vocabulary::TOPIC, code))
            .collect::<Vec<_>>()
            .join(", "),
        outcome: term(&vocabulary::OUTCOME, &c.outcome),
        region: term(&vocabulary::REGION, &c.region),
        case: c.case_id.is_some(),
    }
}
