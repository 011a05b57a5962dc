//! Every request gets an id, privacy headers, and one access-log line.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, for error bodies; "-" outside a request.
pub(crate) fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_string())
}

/// Gives the request an id (returned as `X-Request-Id` and in every error body), adds the headers
/// every response carries, and writes one access-log line.
///
/// The line holds the method, the route pattern rather than the path (so an id or anything else
/// a client put in a URL never reaches the log; there is never a query string), the status and
/// the duration. Never the address, the user agent, headers or bodies.
pub(crate) async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = persistence::tokens::request_id();
    let method = req.method().clone();
    let started = Instant::now();
    // Errors are rendered inside the scope, so their bodies carry the request id. (The request
    // must not be cloned before routing: actix needs it unshared to record the match.)
    let outcome = REQUEST_ID
        .scope(id.clone(), async move {
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
                .map_err(|err| err.error_response())
        })
        .await;
    match outcome {
        Ok(mut res) => {
            add_headers(res.headers_mut(), &id);
            let route = res.request().match_pattern();
            log_access(&method, route.as_deref(), res.status(), started, &id);
            Ok(res)
        }
        Err(mut response) => {
            add_headers(response.headers_mut(), &id);
            log_access(&method, None, response.status(), started, &id);
            Err(InternalError::from_response("request failed", response).into())
        }
    }
}

fn add_headers(headers: &mut HeaderMap, id: &str) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), value);
    }
}

fn log_access(
    method: &Method,
    route: Option<&str>,
    status: StatusCode,
    started: Instant,
    id: &str,
) {
    log::info!(
        target: "hotline::access",
        "{} {} {} {:.1}ms id={}",
        method,
        route.unwrap_or("(unmatched)"),
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
        id
    );
}
