//! Building the application and running the HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use persistence::Database;

use crate::middleware::request_context;
use crate::{health, ApiError};

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_timeout: Duration,
}

/// Binds the listener and returns the server (to be awaited) and the addresses it listens on.
/// SIGTERM and SIGINT stop it gracefully: it stops accepting, lets in-flight requests finish
/// (up to the shutdown timeout), and the awaited server then returns.
pub fn start(
    settings: &ServerSettings,
    db: Database,
) -> std::io::Result<(Server, Vec<SocketAddr>)> {
    let limit = settings.body_limit;
    let db = web::Data::new(db);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(move |err, _req| ApiError::from_json(&err, limit).into()),
            )
            .app_data(web::PayloadConfig::new(limit))
            .app_data(
                web::PathConfig::default().error_handler(|_err, _req| ApiError::not_found().into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|_err, _req| {
                ApiError::bad_request("the query parameters are invalid").into()
            }))
            .wrap(from_fn(request_context))
            .configure(routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::not_found())
            }))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .bind(settings.bind)?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}

/// A resource whose other methods answer 405 in the JSON error shape.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed())
    }))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health/live").route(web::get().to(health::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)));
    #[cfg(feature = "test-routes")]
    cfg.service(resource("/api/v1/_test/echo").route(web::post().to(crate::test_routes::echo)))
        .service(resource("/api/v1/_test/slow").route(web::get().to(crate::test_routes::slow)))
        .service(
            resource("/api/v1/_test/items/{n}").route(web::get().to(crate::test_routes::item)),
        );
}
