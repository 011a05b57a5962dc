//! The auditor's pages: the access log with filters, everything about one record ("who touched
//! this record"), the anomalies, and verification of the chain. Each reads through the same
//! vault function as its API route and is audited the same way. They show events only (who,
//! which record, which fields by name, the rule): no page here ever shows case or call content.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use persistence::audit::{Anomalies, EventFilter, EventView};

use super::form::Fields;
use super::{render, Frame, Page, PageError};
use crate::ApiError;

const PAGE: i64 = 100;

/// The log's filters (GET parameters: ids, codes and days), and the cursor.
const FILTERS: &[&str] = &[
    "actor",
    "record_type",
    "record_id",
    "action",
    "outcome",
    "from",
    "to",
    "before",
];

/// The events shown, newest first, and the link to the older ones.
pub(crate) struct EventList {
    pub events: Vec<EventView>,
    pub next: Option<String>,
}

impl EventList {
    /// An event's time as the pages show it (UTC, to the second).
    pub(crate) fn at(&self, us: &i64) -> String {
        crate::calls::rfc3339(*us)
            .get(..19)
            .unwrap_or_default()
            .replacen('T', " ", 1)
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct LogPage {
    f: Frame,
    form: Fields,
    list: EventList,
}

#[derive(Template)]
#[template(path = "partials/audit_rows.html")]
struct LogRows {
    f: Frame,
    list: EventList,
}

fn micros(day: chrono::NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_micros())
        .unwrap_or_default()
}

/// The vault's filter from the page's: days from and to (included), an outcome of the two
/// there are, the cursor a number. A wrong one is named on the form.
fn filter_of(fields: &mut Fields) -> Result<EventFilter, ApiError> {
    let from = fields.day("from", 0).map(micros);
    let to = fields.day("to", 1).map(micros);
    let outcome = fields.text("outcome");
    if outcome
        .as_deref()
        .is_some_and(|o| !matches!(o, "allowed" | "denied"))
    {
        fields
            .errors
            .insert("outcome".into(), "is allowed or denied".into());
    }
    let before = fields.text("before").map(|b| b.parse::<i64>());
    if matches!(before, Some(Err(_))) {
        fields
            .errors
            .insert("before".into(), "is not a number".into());
    }
    if !fields.errors.is_empty() {
        return Err(ApiError::invalid_fields(fields.errors.clone()));
    }
    Ok(EventFilter {
        actor_id: fields.text("actor"),
        record_type: fields.text("record_type"),
        record_id: fields.text("record_id"),
        action: fields.text("action"),
        outcome,
        from,
        to,
        before_id: before.and_then(Result::ok),
        limit: PAGE,
    })
}

/// `GET /audit`: the access log, newest first, filtered by actor, record, action, outcome and
/// day, as `GET /api/v1/audit/events` (one `audit.read` event per view). A wrong filter is
/// named and nothing is read.
pub(crate) async fn log(page: Page, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (_, mut fields) = Fields::parse(req.query_string().as_bytes(), FILTERS)
        .map_err(|e| PageError::new(e, lang))?;
    let filter = filter_of(&mut fields);
    let (f, found, partial) = page
        .run(move |vault, s, actor| {
            Ok(match filter {
                Ok(filter) => Ok(vault.auditor_events(&s.db, actor, &filter)?),
                Err(e) => Err(e),
            })
        })
        .await?;
    let events = match found {
        Ok(events) => events,
        Err(e) => {
            fields.refused(e).map_err(|e| PageError::new(e, lang))?;
            Vec::new()
        }
    };
    let list = EventList {
        // The older events: the same filters, before this page's last.
        next: events
            .last()
            .filter(|_| events.len() as i64 == PAGE)
            .map(|last| {
                let before = last.id.to_string();
                fields.href(
                    "/audit",
                    &FILTERS[..FILTERS.len() - 1],
                    Some(("before", &before)),
                )
            }),
        events,
    };
    let status = match fields.errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok(match partial {
        true => render(status, &LogRows { f, list }),
        false => render(
            status,
            &LogPage {
                f,
                form: fields,
                list,
            },
        ),
    })
}

#[derive(Template)]
#[template(path = "audit_record.html")]
struct RecordPage {
    f: Frame,
    record_type: String,
    record_id: String,
    list: EventList,
}

/// `GET /audit/records/{type}/{id}`: who touched this record: every event about it, as
/// `GET /api/v1/audit/records/{type}/{id}`.
pub(crate) async fn record(
    page: Page,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (record_type, record_id) = path.into_inner();
    let filter = EventFilter {
        record_type: Some(record_type.clone()),
        record_id: Some(record_id.clone()),
        limit: 1000,
        ..Default::default()
    };
    let (f, events, _) = page
        .run(move |vault, s, actor| Ok(vault.auditor_events(&s.db, actor, &filter)?))
        .await?;
    Ok(render(
        StatusCode::OK,
        &RecordPage {
            f,
            record_type,
            record_id,
            list: EventList { events, next: None },
        },
    ))
}

#[derive(Template)]
#[template(path = "audit_anomalies.html")]
struct AnomaliesPage {
    f: Frame,
    hours: i64,
    found: Anomalies,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnomalyQuery {
    #[serde(default)]
    hours: Option<i64>,
}

/// `GET /audit/anomalies?hours=`: the signals of the last hours (24 unless asked, at most 90
/// days) with the API's thresholds, as `GET /api/v1/audit/anomalies`.
pub(crate) async fn anomalies(
    page: Page,
    query: web::Query<AnomalyQuery>,
) -> Result<HttpResponse, PageError> {
    let hours = query.hours.unwrap_or(24).clamp(1, 24 * 90);
    let (f, found, _) = page
        .run(move |vault, s, actor| {
            let since = persistence::now_micros() - hours * 3_600_000_000;
            Ok(vault.auditor_anomalies(&s.db, actor, since, 200, 10)?)
        })
        .await?;
    Ok(render(StatusCode::OK, &AnomaliesPage { f, hours, found }))
}

/// What a verification found, as the page shows it.
pub(crate) struct Verified {
    pub events: u64,
    pub checkpoints: u64,
    pub problems: usize,
    /// The first broken event, when the break is at one.
    pub event_id: Option<i64>,
    /// The first problem, described (ids and positions only, never content).
    pub first: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_verify.html")]
struct VerifyPage {
    f: Frame,
    result: Option<Verified>,
}

/// `GET /audit/verify`: the button that runs the check.
pub(crate) async fn verify_form(page: Page) -> Result<HttpResponse, PageError> {
    let f = page.allowed(domain::policy::Action::AuditVerify).await?;
    Ok(render(StatusCode::OK, &VerifyPage { f, result: None }))
}

/// `POST /audit/verify`: recomputes every link of every chain and checks every checkpoint, as
/// `POST /api/v1/audit/verify` and `hotline audit verify`, and names the first broken event.
pub(crate) async fn verify(page: Page, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, _) = Fields::parse(&body, &[]).map_err(|e| PageError::new(e, lang))?;
    let (f, report, _) = page
        .submit(&token, |vault, s, actor| {
            Ok(vault.auditor_verify(&s.db, actor)?)
        })
        .await?;
    let first = report.first_problem();
    let result = Verified {
        events: report.events_checked,
        checkpoints: report.checkpoints_checked,
        problems: report.problems.len(),
        event_id: first.and_then(|p| p.event_id),
        first: first.map(ToString::to_string),
    };
    Ok(render(
        StatusCode::OK,
        &VerifyPage {
            f,
            result: Some(result),
        },
    ))
}
