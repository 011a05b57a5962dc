//! The case worker's list: my cases, newest first, keyset-paged (a page costs the same however
//! many cases there are), with status and risk. No personal content is on this page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::vocabulary::{self, Vocabulary};
use persistence::cases::{CaseFilter, CaseSummary};
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
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    f: Frame,
    rows: Vec<Row>,
    next: Option<String>,
    statuses: &'static Vocabulary,
    risks: &'static Vocabulary,
}

#[derive(Template)]
#[template(path = "partials/case_rows.html")]
struct CaseRows {
    f: Frame,
    rows: Vec<Row>,
    next: Option<String>,
    statuses: &'static Vocabulary,
    risks: &'static Vocabulary,
}

/// `GET /cases`: the signed-in user's cases (a supervisor's: all of the organisation), as
/// `GET /api/v1/cases` lists them and audited the same way.
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
    let next = cursor::next(&cases, PAGE, |c| (c.opened_at, &c.id));
    let rows: Vec<Row> = cases.into_iter().map(row).collect();
    let (statuses, risks) = (&vocabulary::CASE_STATUS, &vocabulary::RISK_LEVEL);
    Ok(match partial {
        true => render(
            StatusCode::OK,
            &CaseRows {
                f,
                rows,
                next,
                statuses,
                risks,
            },
        ),
        false => render(
            StatusCode::OK,
            &CasesPage {
                f,
                rows,
                next,
                statuses,
                risks,
            },
        ),
    })
}

fn row(c: CaseSummary) -> Row {
    Row {
        id: c.id,
        reference: c.reference,
        status: c.status,
        risk_level: c.risk_level,
        opened: super::day(c.opened_at),
    }
}
