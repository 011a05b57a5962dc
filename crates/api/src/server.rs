//! Building the application and running the HTTP server.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use persistence::Database;

use crate::middleware::request_context;
use crate::{health, ApiError};

/// What the handlers share: the database, the vault (set once it opens), the settings of
/// sessions and tokens, and the limit on concurrent password hashing.
pub struct Services {
    pub db: Database,
    pub vault: std::sync::Arc<std::sync::OnceLock<std::sync::Arc<persistence::Vault>>>,
    pub auth: persistence::identity::AuthSettings,
    pub tokens: persistence::tokens::TokenSettings,
    pub calls: persistence::calls::CallSettings,
    pub cases: persistence::cases::CaseSettings,
    pub referrals: persistence::referrals::ReferralSettings,
    pub stats: crate::stats::StatsSettings,
    /// How long personal data is kept (the admin's retention page shows it).
    pub retention: persistence::lifecycle::RetentionSettings,
    pub web: crate::web::WebSettings,
    pub login_permits: tokio::sync::Semaphore,
}

impl Services {
    /// The vault, once it is open (it opens when the database first answers).
    pub(crate) fn vault(&self) -> Result<std::sync::Arc<persistence::Vault>, crate::ApiError> {
        self.vault.get().cloned().ok_or_else(|| {
            crate::ApiError::unavailable("the server is starting; try again shortly")
        })
    }

    /// A turn at password hashing (deliberately slow): a bounded number run at once, so a flood
    /// of logins cannot take every blocking thread from other requests.
    pub(crate) async fn hashing_permit(
        &self,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, crate::ApiError> {
        self.login_permits
            .acquire()
            .await
            .map_err(|_| crate::ApiError::unavailable("the server is shutting down"))
    }
}

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
    services: Services,
) -> std::io::Result<(Server, Vec<SocketAddr>)> {
    let limit = settings.body_limit;
    crate::web::set_quick_exit_url(&services.web.quick_exit_url);
    let db = web::Data::new(services.db.clone());
    let services = web::Data::new(services);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .app_data(services.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(move |err, _req| ApiError::from_json(&err, limit).into()),
            )
            .app_data(web::PayloadConfig::new(limit))
            .app_data(
                web::FormConfig::default()
                    .limit(limit)
                    .error_handler(|err, req| crate::web::form_error(&err, req).into()),
            )
            .app_data(
                web::PathConfig::default().error_handler(|_err, _req| ApiError::not_found().into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|_err, _req| {
                ApiError::bad_request("the query parameters are invalid").into()
            }))
            .wrap(from_fn(request_context))
            .configure(routes)
            .configure(crate::web::routes)
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
        .service(resource("/health/ready").route(web::get().to(health::ready)))
        .service(resource("/api/v1/auth/login").route(web::post().to(crate::auth::login)))
        .service(resource("/api/v1/auth/refresh").route(web::post().to(crate::auth::refresh)))
        .service(resource("/api/v1/auth/logout").route(web::post().to(crate::auth::logout)))
        .service(resource("/api/v1/auth/me").route(web::get().to(crate::auth::me)))
        .service(
            resource("/api/v1/auth/password").route(web::post().to(crate::auth::change_password)),
        )
        .service(resource("/api/v1/auth/totp").route(web::post().to(crate::auth::totp_enrol)))
        .service(
            resource("/api/v1/auth/totp/confirm").route(web::post().to(crate::auth::totp_confirm)),
        )
        .service(resource("/api/v1/auth/passkeys").route(web::get().to(crate::passkeys::list)))
        .service(
            resource("/api/v1/auth/passkeys/register")
                .route(web::post().to(crate::passkeys::register_start)),
        )
        .service(
            resource("/api/v1/auth/passkeys/register/finish")
                .route(web::post().to(crate::passkeys::register_finish)),
        )
        .service(
            resource("/api/v1/auth/passkeys/{id}")
                .route(web::patch().to(crate::passkeys::rename))
                .route(web::delete().to(crate::passkeys::remove)),
        )
        .service(
            resource("/api/v1/auth/passkey").route(web::post().to(crate::passkeys::sign_in_start)),
        )
        .service(
            resource("/api/v1/auth/passkey/finish")
                .route(web::post().to(crate::passkeys::sign_in_finish)),
        )
        .service(
            resource("/api/v1/admin/users")
                .route(web::get().to(crate::admin::list_users))
                .route(web::post().to(crate::admin::create_user)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/disable")
                .route(web::post().to(crate::admin::disable_user)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/enable")
                .route(web::post().to(crate::admin::enable_user)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/unlock")
                .route(web::post().to(crate::admin::unlock_user)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/reset-second-factor")
                .route(web::post().to(crate::admin::reset_second_factor)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/revoke-passkeys")
                .route(web::post().to(crate::admin::revoke_passkeys)),
        )
        .service(
            resource("/api/v1/admin/users/{id}/role")
                .route(web::post().to(crate::admin::change_role)),
        )
        .service(resource("/api/v1/audit/events").route(web::get().to(crate::admin::events)))
        .service(
            resource("/api/v1/audit/records/{type}/{id}")
                .route(web::get().to(crate::admin::record_history)),
        )
        .service(resource("/api/v1/audit/verify").route(web::post().to(crate::admin::verify)))
        .service(
            resource("/api/v1/calls")
                .route(web::get().to(crate::calls::list))
                .route(web::post().to(crate::calls::create)),
        )
        .service(resource("/api/v1/calls/lookup").route(web::post().to(crate::calls::lookup)))
        .service(
            resource("/api/v1/calls/{id}/case")
                .route(web::post().to(crate::cases::open_from_call))
                .route(web::put().to(crate::cases::link_call)),
        )
        .service(
            resource("/api/v1/cases")
                .route(web::get().to(crate::cases::list))
                .route(web::post().to(crate::cases::create)),
        )
        .service(resource("/api/v1/cases/search").route(web::post().to(crate::cases::search)))
        .service(
            resource("/api/v1/cases/{id}")
                .route(web::get().to(crate::cases::read))
                .route(web::patch().to(crate::cases::update)),
        )
        .service(
            resource("/api/v1/cases/{id}/assignment").route(web::post().to(crate::cases::assign)),
        )
        .service(resource("/api/v1/cases/{id}/notes").route(web::post().to(crate::cases::add_note)))
        .service(
            resource("/api/v1/cases/{id}/notes/{note_id}")
                .route(web::get().to(crate::cases::note_history))
                .route(web::put().to(crate::cases::edit_note)),
        )
        .service(
            resource("/api/v1/cases/{id}/plan").route(web::post().to(crate::cases::add_plan_item)),
        )
        .service(
            resource("/api/v1/cases/{id}/plan/{item_id}")
                .route(web::patch().to(crate::cases::update_plan_item)),
        )
        .service(
            resource("/api/v1/cases/{id}/consents")
                .route(web::post().to(crate::cases::add_consent)),
        )
        .service(
            resource("/api/v1/cases/{id}/consents/{consent_id}/withdraw")
                .route(web::post().to(crate::cases::withdraw_consent)),
        )
        .service(
            resource("/api/v1/cases/{id}/break-glass")
                .route(web::post().to(crate::cases::break_glass)),
        )
        .service(resource("/api/v1/break-glass").route(web::get().to(crate::cases::list_grants)))
        .service(resource("/api/v1/directory").route(web::get().to(crate::referrals::search)))
        .service(
            resource("/api/v1/directory/organisations/{id}")
                .route(web::put().to(crate::referrals::save_organisation)),
        )
        .service(
            resource("/api/v1/directory/import").route(web::post().to(crate::referrals::import)),
        )
        .service(
            resource("/api/v1/directory/export").route(web::get().to(crate::referrals::export)),
        )
        .service(
            resource("/api/v1/cases/{id}/referrals")
                .route(web::get().to(crate::referrals::list_for_case))
                .route(web::post().to(crate::referrals::create)),
        )
        .service(resource("/api/v1/referrals").route(web::get().to(crate::referrals::list)))
        .service(resource("/api/v1/referrals/due").route(web::get().to(crate::referrals::due)))
        .service(resource("/api/v1/referrals/{id}").route(web::get().to(crate::referrals::read)))
        .service(
            resource("/api/v1/referrals/{id}/send").route(web::post().to(crate::referrals::send)),
        )
        .service(
            resource("/api/v1/referrals/{id}/cancel")
                .route(web::post().to(crate::referrals::cancel)),
        )
        .service(
            resource("/api/v1/referrals/{id}/follow-up")
                .route(web::post().to(crate::referrals::follow_up)),
        )
        .service(
            resource("/api/v1/referrals/{id}/accept")
                .route(web::post().to(crate::referrals::accept)),
        )
        .service(
            resource("/api/v1/referrals/{id}/decline")
                .route(web::post().to(crate::referrals::decline)),
        )
        .service(
            resource("/api/v1/referrals/{id}/start").route(web::post().to(crate::referrals::start)),
        )
        .service(
            resource("/api/v1/referrals/{id}/complete")
                .route(web::post().to(crate::referrals::complete)),
        )
        .service(
            resource("/api/v1/cases/{id}/legal-hold")
                .route(web::post().to(crate::lifecycle::place_hold)),
        )
        .service(
            resource("/api/v1/cases/{id}/legal-hold/lift")
                .route(web::post().to(crate::lifecycle::lift_hold)),
        )
        .service(
            resource("/api/v1/cases/{id}/export").route(web::post().to(crate::lifecycle::export)),
        )
        .service(
            resource("/api/v1/cases/{id}/erasure")
                .route(web::post().to(crate::lifecycle::request_erasure)),
        )
        .service(
            resource("/api/v1/erasure-requests")
                .route(web::get().to(crate::lifecycle::list_erasures)),
        )
        .service(
            resource("/api/v1/erasure-requests/{id}/approve")
                .route(web::post().to(crate::lifecycle::approve)),
        )
        .service(
            resource("/api/v1/erasure-requests/{id}/reject")
                .route(web::post().to(crate::lifecycle::reject)),
        )
        .service(resource("/api/v1/stats/report").route(web::get().to(crate::stats::report)))
        .service(resource("/api/v1/stats/charts/{chart}").route(web::get().to(crate::stats::chart)))
        .service(resource("/api/v1/stats/{table}").route(web::get().to(crate::stats::table)))
        .service(
            resource("/api/v1/admin/users/{id}/contact")
                .route(web::post().to(crate::admin::set_contact)),
        )
        .service(
            resource("/api/v1/break-glass/{id}/review")
                .route(web::post().to(crate::cases::review_grant)),
        )
        .service(
            resource("/api/v1/calls/{id}")
                .route(web::get().to(crate::calls::read))
                .route(web::patch().to(crate::calls::update)),
        )
        .service(resource("/api/v1/vocabularies").route(web::get().to(crate::vocabularies::list)))
        .service(resource("/api/v1/audit/anomalies").route(web::get().to(crate::admin::anomalies)));
    #[cfg(feature = "test-routes")]
    cfg.service(resource("/api/v1/_test/echo").route(web::post().to(crate::test_routes::echo)))
        .service(resource("/api/v1/_test/slow").route(web::get().to(crate::test_routes::slow)))
        .service(
            resource("/api/v1/_test/items/{n}").route(web::get().to(crate::test_routes::item)),
        );
}
