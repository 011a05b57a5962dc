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
