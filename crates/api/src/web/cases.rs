//! The case worker's list: my cases, newest first, keyset-paged (a page costs the same however
//! many cases there are), with status and risk. No personal content is on this page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::vocabulary::{self, Vocabulary};
use persistence::cases::{CaseFilter, ListedCase};
use serde::Deserialize;

use super::{render, Frame, Page, PageError};
use crate::bodies::cursor;

const PAGE: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The opaque cursor of the page before (`opened_at.id` of its last case: no content).
    #[serde(default)]
    after: Option<String>,
}

pub(crate) struct Row {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub risk_level: String,
    pub opened: String,
    /// The next follow-up due (`YYYY-MM-DD`), and whether that day has passed.
    pub follow_up: Option<String>,
    pub overdue: bool,
}

/// What the page and its partial show: the cases and the link to the next page.
pub(crate) struct CaseList {
    pub rows: Vec<Row>,
    pub next: Option<String>,
    pub statuses: &'static Vocabulary,
    pub risks: &'static Vocabulary,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    f: Frame,
    list: CaseList,
}

#[derive(Template)]
#[template(path = "partials/case_rows.html")]
struct CaseRows {
    f: Frame,
    list: CaseList,
}

/// `GET /cases`: the signed-in user's cases (a supervisor's: all of the organisation), as
/// `GET /api/v1/cases` lists them and audited the same way, each with its next follow-up.
pub(crate) async fn mine(
    page: Page,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let after = query.into_inner().after;
    let (f, cases, partial) = page
        .run(move |vault, s, actor| {
            let filter = CaseFilter {
                status: None,
                risk_level: None,
                assigned_to: None,
                before: cursor::parse(after)?,
                limit: PAGE,
            };
            Ok(vault.list_cases(&s.db, actor, &filter)?)
        })
        .await?;
    let next = cursor::next(&cases, PAGE, |c| (c.summary.opened_at, &c.summary.id));
    let today = super::day(persistence::now_micros());
    let list = CaseList {
        rows: cases.into_iter().map(|c| row(c, &today)).collect(),
        next,
        statuses: &vocabulary::CASE_STATUS,
        risks: &vocabulary::RISK_LEVEL,
    };
    Ok(match partial {
        true => render(StatusCode::OK, &CaseRows { f, list }),
        false => render(StatusCode::OK, &CasesPage { f, list }),
    })
}

fn row(c: ListedCase, today: &str) -> Row {
    let ListedCase {
        summary: c,
        next_follow_up,
    } = c;
    Row {
        overdue: next_follow_up.as_deref().is_some_and(|d| d < today),
        follow_up: next_follow_up,
        id: c.id,
        reference: c.reference,
        status: c.status,
        risk_level: c.risk_level,
        opened: super::day(c.opened_at),
    }
}
