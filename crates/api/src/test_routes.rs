//! Routes that exist only in test builds (feature `test-routes`, turned on by the workspace's
//! dev-dependencies): they let the end-to-end tests drive the JSON body handling of the real
//! binary before any real JSON route exists. A release build does not contain them.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Echo {
    name: String,
    count: u32,
}

pub(crate) async fn echo(body: web::Json<Echo>) -> HttpResponse {
    HttpResponse::Ok().json(body.into_inner())
}

#[derive(Deserialize)]
pub(crate) struct Slow {
    ms: u64,
}

/// Answers after `ms` milliseconds (at most 10 s), to test that shutdown lets requests finish.
pub(crate) async fn slow(query: web::Query<Slow>) -> HttpResponse {
    let ms = query.ms.min(10_000);
    log::info!("test: slow request started");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(ms)).await;
    HttpResponse::Ok().json(serde_json::json!({ "slept_ms": ms }))
}

/// Echoes a numeric path segment, to test how bad path input is answered.
pub(crate) async fn item(path: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "item": path.into_inner() }))
}
