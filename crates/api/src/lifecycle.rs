//! The privacy lifecycle over HTTP: legal holds, the subject access export (JSON or a readable
//! HTML document, always a download), and erasure requests with their two-person decision.

use actix_web::{web, HttpResponse};
use domain::Sensitive;
use persistence::lifecycle::ErasureView;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::Session;
use crate::bodies::Created;
use crate::calls::rfc3339;
use crate::ApiError;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Court order 12/345 of the Lviv district court"}))]
pub(crate) struct HoldBody {
    /// Why (sealed).
    #[schema(value_type = String)]
    reason: Sensitive<String>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/legal-hold", tag = "lifecycle", security(("bearer" = [])), request_body = HoldBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 204, description = "Held: retention and erasure skip the case"), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or the actor may not hold it"), (status = 409, description = "Already held"),
              (status = 422, description = "The reason is missing")))]
pub(crate) async fn place_hold(
    session: Session,
    id: web::Path<String>,
    body: web::Json<HoldBody>,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            let reason = body.into_inner().reason;
            Ok(vault.place_legal_hold(&s.db, actor, &id, reason)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/legal-hold/lift", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 204, description = "Lifted"), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or the actor may not lift it"), (status = 409, description = "Not held")))]
pub(crate) async fn lift_hold(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| Ok(vault.lift_legal_hold(&s.db, actor, &id)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// json (default) or html.
    format: Option<String>,
}

/// Escapes text for HTML element content and attribute values (the export document, the
/// statistics report and SVG charts).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(v: &Value) -> Value {
    match v.as_i64() {
        Some(us) => json!(rfc3339(us)),
        None => v.clone(),
    }
}

/// Times in microseconds (keys `at` and `…_at`) become RFC 3339, wherever they are.
fn with_times(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if k.ends_with("_at") || k == "at" {
                        time(&v)
                    } else {
                        with_times(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(with_times).collect()),
        other => other,
    }
}

/// A value as readable HTML: objects as definition lists, arrays as lists, text escaped.
fn html_of(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<em>—</em>"),
        Value::String(s) => out.push_str(&escape(s).replace('\n', "<br>")),
        Value::Object(map) => {
            out.push_str("<dl>");
            for (k, v) in map {
                out.push_str("<dt>");
                out.push_str(&escape(&k.replace('_', " ")));
                out.push_str("</dt><dd>");
                html_of(v, out);
                out.push_str("</dd>");
            }
            out.push_str("</dl>");
        }
        Value::Array(items) if items.is_empty() => out.push_str("<em>none</em>"),
        Value::Array(items) => {
            out.push_str("<ul>");
            for item in items {
                out.push_str("<li>");
                html_of(item, out);
                out.push_str("</li>");
            }
            out.push_str("</ul>");
        }
        other => out.push_str(&escape(&other.to_string())),
    }
}

fn html_document(export: &Value) -> String {
    let reference = export["reference"].as_str().unwrap_or("");
    let mut body = String::new();
    html_of(export, &mut body);
    format!(
        "<!DOCTYPE html>\n<html lang=\"uk\"><head><meta charset=\"utf-8\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>Personal data held: case {r}</title>\
         <style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}dt{{font-weight:bold;margin-top:.5em}}dd{{margin-left:1.5em}}</style>\
         </head><body><h1>Personal data held about you</h1>\
         <p>Case {r}. Information about other people has been removed and marked [third party].</p>\
         {body}</body></html>\n",
        r = escape(reference),
    )
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/export", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id"), ExportQuery),
    responses((status = 200, description = "Everything held about the victim, third parties redacted, as a download (JSON, or HTML with format=html)",
                content((ExportDocument = "application/json"), (String = "text/html"))),
              (status = 401, description = "Not signed in"), (status = 404, description = "No such case, or not one the actor may export"),
              (status = 422, description = "An unknown format")))]
pub(crate) async fn export(
    session: Session,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (html, export) = session
        .run(move |vault, s, actor| {
            let html = match query.format.as_deref() {
                None | Some("json") => false,
                Some("html") => true,
                Some(_) => return Err(ApiError::invalid_field("format", "must be json or html")),
            };
            Ok((html, vault.export_case(&s.db, actor, &id)?))
        })
        .await?;
    let export = with_times(export);
    let name = format!("case-{}", export["reference"].as_str().unwrap_or("export"));
    let mut response = HttpResponse::Ok();
    if html {
        response
            .content_type("text/html; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.html\""),
            ))
            .insert_header((
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'",
            ));
        Ok(response.body(html_document(&export)))
    } else {
        response.insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.json\""),
        ));
        Ok(response.json(export))
    }
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/erasure", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "Requested; a supervisor who is someone else decides; the request's id", body = Created), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or not one the actor may ask to erase"),
              (status = 409, description = "Under a legal hold, already erased, or already requested")))]
pub(crate) async fn request_erasure(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let request = session
        .run(move |vault, s, actor| Ok(vault.request_erasure(&s.db, actor, &id)?))
        .await?;
    Ok(HttpResponse::Created().json(Created { id: request }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ErasureQuery {
    /// pending, approved or rejected.
    status: Option<String>,
}

/// An erasure request and its decision, if made.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErasureBody {
    id: String,
    case_id: String,
    case_reference: String,
    /// pending, approved or rejected.
    status: String,
    requested_by: String,
    requested_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
}

impl From<ErasureView> for ErasureBody {
    fn from(e: ErasureView) -> Self {
        ErasureBody {
            id: e.id,
            case_id: e.case_id,
            case_reference: e.case_reference,
            status: e.status,
            requested_by: e.requested_by,
            requested_at: rfc3339(e.requested_at),
            decided_by: e.decided_by,
            decided_at: e.decided_at.map(rfc3339),
        }
    }
}

/// Erasure requests, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErasureList {
    requests: Vec<ErasureBody>,
}

/// The JSON subject-access export, as the document describes it: the top level is closed, the
/// parts are trees (the export is built as one in the persistence crate, where the case is
/// opened and redacted, and rendered to HTML from the same tree). Times are RFC 3339.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the export is the tree `Vault::export_case` builds
pub(crate) struct ExportDocument {
    reference: String,
    status: String,
    opened_at: String,
    closed_at: Option<String>,
    erased_at: Option<String>,
    /// The statistical facts.
    #[schema(value_type = Object)]
    facts: Value,
    /// The victim profile, absent once erased.
    #[schema(value_type = Option<Object>)]
    profile: Option<Value>,
    exploitation_details: Option<String>,
    needs_assessment: Option<String>,
    /// Every revision of every note, third parties redacted.
    #[schema(value_type = Vec<Object>)]
    notes: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    plan: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    consents: Vec<Value>,
    /// The linked calls with their personal fields.
    #[schema(value_type = Vec<Object>)]
    calls: Vec<Value>,
    /// Which organisations received which fields, and when.
    #[schema(value_type = Vec<Object>)]
    shared_with: Vec<Value>,
}

#[utoipa::path(get, path = "/api/v1/erasure-requests", tag = "lifecycle", security(("bearer" = [])), params(ErasureQuery),
    responses((status = 200, description = "Erasure requests, newest first", body = ErasureList), (status = 401, description = "Not signed in"),
              (status = 403, description = "Supervisors only")))]
pub(crate) async fn list_erasures(
    session: Session,
    query: web::Query<ErasureQuery>,
) -> Result<HttpResponse, ApiError> {
    let list = session
        .run(move |vault, s, actor| {
            let status = query.into_inner().status;
            if status
                .as_deref()
                .is_some_and(|s| !matches!(s, "pending" | "approved" | "rejected"))
            {
                return Err(ApiError::invalid_field(
                    "status",
                    "must be pending, approved or rejected",
                ));
            }
            Ok(vault.list_erasures(&s.db, actor, status.as_deref())?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ErasureList {
        requests: list.into_iter().map(ErasureBody::from).collect(),
    }))
}

async fn decide(session: Session, id: String, approve: bool) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            Ok(vault.decide_erasure(&s.db, actor, &s.cases.public_url, &id, approve)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/erasure-requests/{id}/approve", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = String, Path, description = "Erasure request id")),
    responses((status = 204, description = "Approved: the case's personal data, its calls' personal details, notes and packets are shredded, irreversibly; providers that received data are told"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Supervisors only, and never the requester (two-person rule)"),
              (status = 404, description = "No such request"), (status = 409, description = "Already decided, or the case is under a legal hold")))]
pub(crate) async fn approve(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(session, id.into_inner(), true).await
}

#[utoipa::path(post, path = "/api/v1/erasure-requests/{id}/reject", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = String, Path, description = "Erasure request id")),
    responses((status = 204, description = "Rejected"), (status = 401, description = "Not signed in"),
              (status = 403, description = "Supervisors only, and never the requester"), (status = 404, description = "No such request"),
              (status = 409, description = "Already decided")))]
pub(crate) async fn reject(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(session, id.into_inner(), false).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_escapes_everything_it_shows() {
        let v = serde_json::json!({"profile": {"given_name": "<script>alert('x')</script> & \"co\""}, "reference": "2026-000001"});
        let html = super::html_document(&v);
        assert!(!html.contains("<script>"));
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;")
        );
    }
}
