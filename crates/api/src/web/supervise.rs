//! The supervisor's queues: break-glass uses to review (justified, or flagged for follow-up)
//! and erasure requests to decide (the second person of two-person erasure). Each reads and
//! decides through the vault function of its API route, audited the same way.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use persistence::cases::{GrantView, Verdict};
use persistence::lifecycle::ErasureView;
use serde::Deserialize;

use super::form::{kept, Fields};
use super::{render, see_other, Frame, Page, PageError};
use crate::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueQuery {
    /// `all`: the decided ones too; else only those waiting.
    #[serde(default)]
    show: Option<String>,
}

impl QueueQuery {
    fn all(&self) -> bool {
        self.show.as_deref() == Some("all")
    }
}

#[derive(Template)]
#[template(path = "break_glass_queue.html")]
struct GrantsPage {
    f: Frame,
    all: bool,
    grants: Vec<GrantView>,
}

impl GrantsPage {
    fn at(&self, us: &i64) -> String {
        super::minute(*us)
    }
}

/// `GET /break-glass?show=all`: the break-glass uses waiting for review (all of them with
/// `show=all`), newest first, each with its reason and justification, as
/// `GET /api/v1/break-glass` (one `break_glass.list` event).
pub(crate) async fn grants(
    page: Page,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let all = query.all();
    let (f, grants, _) = page
        .run(move |vault, s, actor| {
            let reviewed = (!all).then_some(false);
            Ok(vault.list_break_glass(&s.db, actor, reviewed)?)
        })
        .await?;
    Ok(render(StatusCode::OK, &GrantsPage { f, all, grants }))
}

/// A decision of a queue that failed for the record's state: already decided (409), or not
/// this user's to make (the requester of an erasure, 403): the error page, linking back.
fn undecided(err: ApiError, lang: super::i18n::Lang, back: &str) -> PageError {
    PageError::new(err, lang).with_link(back.to_string(), "error-reload")
}

/// `POST /break-glass/{id}/review`: the verdict (`justified` or `flagged`), as
/// `POST /api/v1/break-glass/{id}/review`.
pub(crate) async fn review(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["verdict"]).map_err(|e| PageError::new(e, lang))?;
    let verdict = Verdict::parse(form.get("verdict")).ok_or_else(|| {
        PageError::new(
            ApiError::invalid_field("verdict", "is justified or flagged"),
            lang,
        )
    })?;
    let (_, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            kept(vault.review_break_glass(&s.db, actor, &id, verdict), form)
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/break-glass")),
        Err(_) => Err(undecided(
            ApiError::new(StatusCode::CONFLICT, "conflict", "already reviewed"),
            lang,
            "/break-glass",
        )),
    }
}

#[derive(Template)]
#[template(path = "erasures.html")]
struct ErasuresPage {
    f: Frame,
    all: bool,
    requests: Vec<ErasureView>,
}

impl ErasuresPage {
    fn at(&self, us: &i64) -> String {
        super::minute(*us)
    }
}

/// `GET /erasure-requests?show=all`: the requests waiting for a decision (all with
/// `show=all`), as `GET /api/v1/erasure-requests`.
pub(crate) async fn erasures(
    page: Page,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let all = query.all();
    let (f, requests, _) = page
        .run(move |vault, s, actor| {
            let status = (!all).then_some("pending");
            Ok(vault.list_erasures(&s.db, actor, status)?)
        })
        .await?;
    Ok(render(StatusCode::OK, &ErasuresPage { f, all, requests }))
}

/// `POST /erasure-requests/{id}/{decision}`: approve (the case's personal data is shredded,
/// irreversibly) or reject, as the API's routes; never the requester's own.
pub(crate) async fn decide(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (id, decision) = path.into_inner();
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(PageError::new(ApiError::not_found(), lang)),
    };
    let (token, form) = Fields::parse(&body, &[]).map_err(|e| PageError::new(e, lang))?;
    let (_, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let decided = vault.decide_erasure(&s.db, actor, &s.cases.public_url, &id, approve);
            kept(decided, form)
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/erasure-requests")),
        Err(_) => Err(undecided(
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "already decided, or the case is under a legal hold",
            ),
            lang,
            "/erasure-requests",
        )),
    }
}

/// The message key of an erasure request's status.
pub(crate) fn erasure_key(status: &str) -> &'static str {
    match status {
        "approved" => "erasures-approved",
        "rejected" => "erasures-rejected",
        _ => "erasures-pending",
    }
}
