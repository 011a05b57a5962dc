//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use persistence::Database;
use serde::Serialize;

use crate::ApiError;

/// The process is up and serving HTTP. Touches nothing else.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process serves HTTP", body = Health)))]
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "live",
        database: None,
    })
}

/// The probe's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// live, or ready.
    status: &'static str,
    /// Readiness only: sqlite or postgres.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
}

/// A probe must answer quickly; a pool that cannot hand out a connection within this time is
/// as good as down for the probe's purpose.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The database answers and its schema is the one this build expects.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "The database answers and its schema is current", body = Health),
              (status = 503, description = "The database is unreachable or migrations are pending")))]
pub(crate) async fn ready(db: web::Data<Database>) -> Result<HttpResponse, ApiError> {
    let db = db.into_inner();
    let backend = db.backend().name();
    let pending = web::block(move || db.pending_migrations_within(READY_TIMEOUT)).await??;
    if !pending.is_empty() {
        return Err(ApiError::unavailable("database migrations are pending"));
    }
    Ok(HttpResponse::Ok().json(Health {
        status: "ready",
        database: Some(backend),
    }))
}
