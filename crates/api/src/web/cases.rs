//! The case worker's list: my cases, newest first, keyset-paged (a page costs the same however
//! many cases there are), with status and risk. No personal content is on this page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::vocabulary::{self, Vocabulary};
use persistence::cases::{CaseFilter, CaseSummary};
use serde::Deserialize;

use super::{render, Frame, Page, PageError};
use crate::ApiError;

const PAGE: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The opaque cursor of the page before (`opened_at.id` of its last case: no content).
    #[serde(default)]
    after: Option<String>,
}

pub(crate) struct Row {
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
    count: i64,
    next: Option<String>,
    statuses: &'static Vocabulary,
    risks: &'static Vocabulary,
}

#[derive(Template)]
#[template(path = "partials/case_rows.html")]
struct CaseRows {
    f: Frame,
    rows: Vec<Row>,
    count: i64,
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
            let bad = || ApiError::bad_request("the page link is not one this server gave");
            let before = after
                .map(|c| {
                    let (at, id) = c.split_once('.').ok_or_else(bad)?;
                    Ok::<_, ApiError>((at.parse::<i64>().map_err(|_| bad())?, id.to_string()))
                })
                .transpose()?;
            let filter = CaseFilter {
                status: None,
                risk_level: None,
                assigned_to: None,
                before,
                limit: PAGE,
            };
            Ok(vault.list_cases(&s.db, actor, &filter)?)
        })
        .await?;
    let next = (cases.len() as i64 == PAGE)
        .then(|| cases.last().map(|c| format!("{}.{}", c.opened_at, c.id)))
        .flatten();
    let rows: Vec<Row> = cases.into_iter().map(row).collect();
    let (statuses, risks) = (&vocabulary::CASE_STATUS, &vocabulary::RISK_LEVEL);
    Ok(match partial {
        true => render(
            StatusCode::OK,
            &CaseRows {
                f,
                count: rows.len() as i64,
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
                count: rows.len() as i64,
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
        reference: c.reference,
        status: c.status,
        risk_level: c.risk_level,
        opened: crate::calls::rfc3339(c.opened_at)
            .get(..10)
            .unwrap_or_default()
            .to_string(),
    }
}
