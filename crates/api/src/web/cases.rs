//! The case worker's list: my cases, newest first, keyset-paged (a page costs the same however
//! many cases there are), with status and risk. No personal content is on this page.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use domain::identity::Role;
use domain::vocabulary::{self, Vocabulary};
use persistence::cases::{CaseFilter, ListedCase};

use super::form::Fields;
use super::{render, Frame, Page, PageError};
use crate::bodies::cursor;

const PAGE: i64 = 50;

/// The list's filters (GET parameters: codes only) and the cursor of the page before
/// (`opened_at.id` of its last case: no content).
const FILTERS: &[&str] = &["status", "risk_level", "assigned", "after"];

/// The filters' picklists: field, vocabulary.
pub(crate) const SELECTS: [(&str, &Vocabulary); 2] = [
    ("status", &vocabulary::CASE_STATUS),
    ("risk_level", &vocabulary::RISK_LEVEL),
];

pub(crate) struct Row {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub risk_level: String,
    pub opened: String,
    /// The next follow-up due (`YYYY-MM-DD`), and whether that day has passed.
    pub follow_up: Option<String>,
    pub overdue: bool,
    /// Who has the case (a supervisor's lists).
    pub assignee: Option<String>,
}

/// What the page and its partial show: the cases and the link to the next page.
pub(crate) struct CaseList {
    pub rows: Vec<Row>,
    pub next: Option<String>,
    pub statuses: &'static Vocabulary,
    pub risks: &'static Vocabulary,
    /// Whether the user sees every case (a supervisor), so may filter by assignment.
    pub all: bool,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    f: Frame,
    /// The filters as typed, and the wrong ones.
    form: Fields,
    list: CaseList,
}

#[derive(Template)]
#[template(path = "partials/case_rows.html")]
struct CaseRows {
    f: Frame,
    list: CaseList,
}

/// `GET /cases`: the signed-in user's cases (a supervisor's: all of the organisation), as
/// `GET /api/v1/cases` lists them and audited the same way, each with its next follow-up;
/// filtered by status, risk and (a supervisor) assignment: `none` is the unassigned queue,
/// `me` the supervisor's own. A code that is not one is named and nothing is read.
pub(crate) async fn mine(page: Page, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (_, mut form) = Fields::parse(req.query_string().as_bytes(), FILTERS)
        .map_err(|e| PageError::new(e, lang))?;
    for (name, vocabulary) in SELECTS {
        if form.text(name).is_some_and(|c| !vocabulary.contains(&c)) {
            form.errors
                .insert(name.into(), "is not one of the codes".into());
        }
    }
    if form
        .text("assigned")
        .is_some_and(|a| !matches!(a.as_str(), "none" | "me"))
    {
        form.errors
            .insert("assigned".into(), "is none or me".into());
    }
    let (status, risk_level, assigned, after) = (
        form.text("status"),
        form.text("risk_level"),
        form.text("assigned"),
        form.text("after"),
    );
    let wrong = !form.errors.is_empty();
    let (f, (cases, all), partial) = page
        .run(move |vault, s, actor| {
            let all = actor.role == Role::Supervisor;
            if wrong {
                return Ok(((Vec::new(), Default::default()), all));
            }
            let filter = CaseFilter {
                status,
                risk_level,
                assigned_to: assigned.map(|a| match a.as_str() {
                    "me" => actor.user_id.clone(),
                    _ => a,
                }),
                before: cursor::parse(after)?,
                limit: PAGE,
            };
            let cases = vault.list_cases(&s.db, actor, &filter)?;
            let logins = assignees(vault, s, all, &cases)?;
            Ok(((cases, logins), all))
        })
        .await?;
    let (cases, logins) = cases;
    let next = cursor::next(&cases, PAGE, |c| (c.summary.opened_at, &c.summary.id)).map(|cursor| {
        form.href(
            "/cases",
            &FILTERS[..FILTERS.len() - 1],
            Some(("after", &cursor)),
        )
    });
    let today = super::day(persistence::now_micros());
    let list = CaseList {
        rows: cases.into_iter().map(|c| row(c, &today, &logins)).collect(),
        next,
        statuses: &vocabulary::CASE_STATUS,
        risks: &vocabulary::RISK_LEVEL,
        all,
    };
    let status = match wrong {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    Ok(match partial {
        true => render(status, &CaseRows { f, list }),
        false => render(status, &CasesPage { f, form, list }),
    })
}

/// The logins of who has these cases, for a supervisor's list (none for a case worker's own).
fn assignees(
    vault: &persistence::Vault,
    s: &crate::Services,
    all: bool,
    cases: &[ListedCase],
) -> Result<HashMap<String, String>, crate::ApiError> {
    if !all {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = cases
        .iter()
        .filter_map(|c| c.summary.assigned_to.as_deref())
        .collect();
    Ok(vault.logins(&s.db, &ids)?)
}

#[derive(Template)]
#[template(path = "follow_ups.html")]
struct OverduePage {
    f: Frame,
    list: CaseList,
}

/// `GET /follow-ups`: the cases with something overdue, the most overdue first: a
/// supervisor's across every case worker (who has each is shown), a case worker's own.
pub(crate) async fn overdue(page: Page) -> Result<HttpResponse, PageError> {
    let today = super::day(persistence::now_micros());
    let day = today.clone();
    let (f, (cases, logins, all), _) = page
        .run(move |vault, s, actor| {
            let all = actor.role == Role::Supervisor;
            let cases = vault.overdue_cases(&s.db, actor, &day)?;
            let logins = assignees(vault, s, all, &cases)?;
            Ok((cases, logins, all))
        })
        .await?;
    let list = CaseList {
        rows: cases.into_iter().map(|c| row(c, &today, &logins)).collect(),
        next: None,
        statuses: &vocabulary::CASE_STATUS,
        risks: &vocabulary::RISK_LEVEL,
        all,
    };
    Ok(render(StatusCode::OK, &OverduePage { f, list }))
}

fn row(c: ListedCase, today: &str, logins: &HashMap<String, String>) -> Row {
    let ListedCase {
        summary: c,
        next_follow_up,
    } = c;
    Row {
        assignee: c.assigned_to.as_ref().and_then(|a| logins.get(a).cloned()),
        overdue: next_follow_up.as_deref().is_some_and(|d| d < today),
        follow_up: next_follow_up,
        id: c.id,
        reference: c.reference,
        status: c.status,
        risk_level: c.risk_level,
        opened: super::day(c.opened_at),
    }
}
