//! The statistics dashboard (supervisors and admins): the API's SVG charts and tables for a
//! period, every figure through the k rule exactly as the API and the printable report publish
//! it, under one policy decision and one audit event per view. No personal data is counted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use domain::stats::{Cell, Published};

use super::form::Fields;
use super::{render, Frame, Page, PageError};
use crate::stats::{Report, StatsParams};

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    f: Frame,
    form: Fields,
    /// The charts: id and SVG (drawn by this server from protected tables, text escaped).
    charts: Vec<(&'static str, String)>,
    tables: Vec<(&'static str, Published)>,
    k: u64,
    /// The printable report of the same period.
    report: String,
}

impl StatsPage {
    fn label(&self, code: &str) -> String {
        label_of(&self.f.t, code)
    }

    fn cell(&self, c: &Cell) -> String {
        match c {
            Cell::Value(v) => v.to_string(),
            Cell::Suppressed => self.f.t.get("stats-suppressed"),
        }
    }
}

/// A code of a chart's rows or columns in the page's language: a topic, a form of
/// exploitation, a service type, a case's status, a gender, an age group, a plan's area or
/// status, or a referral's status (a period, or a code of none, stays as it is).
fn label_of(t: &super::i18n::Tr, code: &str) -> String {
    let vocabularies = [
        "topic",
        "exploitation_type",
        "service_type",
        "case_status",
        "gender",
        "age_group",
        "plan_domain",
        "plan_status",
    ];
    for vocabulary in vocabularies {
        if super::i18n::terms(vocabulary)
            .iter()
            .any(|term| term.code == code)
        {
            return t.label(vocabulary, code);
        }
    }
    match (code, domain::referrals::Status::parse(code)) {
        ("cases", _) => t.get("stats-cases"),
        (_, Some(_)) => t.get(super::referrals::status_key(code)),
        _ => code.to_string(),
    }
}

/// The period as typed: days from and to (included).
fn period(req: &HttpRequest, lang: super::i18n::Lang) -> Result<(Fields, StatsParams), PageError> {
    let (_, mut form) = Fields::parse(req.query_string().as_bytes(), &["from", "to"])
        .map_err(|e| PageError::new(e, lang))?;
    let from = form.day("from", 0).map(|d| d.to_string());
    let to = form.day("to", 1).map(|d| d.to_string());
    Ok((form, StatsParams::period(from, to)))
}

/// `GET /stats?from=&to=`: the charts and tables of the period (a year to today unless asked).
pub(crate) async fn dashboard(page: Page, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (mut form, params) = period(&req, lang)?;
    let wrong = !form.errors.is_empty();
    let (f, counted, _) = page
        .run(move |vault, s, actor| match wrong {
            true => Ok(None),
            false => Ok(Some(Report::count(vault, s, actor, params))),
        })
        .await?;
    let report = match counted {
        Some(Ok(report)) => Some(report),
        Some(Err(e)) => {
            form.refused(e).map_err(|e| PageError::new(e, lang))?;
            None
        }
        None => None,
    };
    let status = match form.errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let t = f.t;
    let charts = report.as_ref().map(|r| {
        let words = crate::stats::ChartWords {
            bar: t.count("stats-chart-suppressed", r.k),
            note: t.count("stats-chart-note", r.k),
        };
        r.charts_with(
            |name, _| t.get(&format!("stats-chart-{name}")),
            |code| label_of(&t, code),
            &words,
        )
    });
    let page = StatsPage {
        charts: charts.unwrap_or_default(),
        tables: report.as_ref().map(Report::listed).unwrap_or_default(),
        k: report.as_ref().map(|r| r.k).unwrap_or_default(),
        report: form.href("/stats/report", &["from", "to"], None),
        f,
        form,
    };
    Ok(render(status, &page))
}

/// `GET /stats/report?from=&to=`: the printable report of the period, the same document as
/// `GET /api/v1/stats/report`.
pub(crate) async fn report(page: Page, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (form, params) = period(&req, lang)?;
    if !form.errors.is_empty() {
        let errors = form.errors.clone();
        return Err(PageError::new(
            crate::ApiError::invalid_fields(errors),
            lang,
        ));
    }
    let (_, report, _) = page
        .run(move |vault, s, actor| Report::count(vault, s, actor, params))
        .await?;
    Ok(report.response())
}
