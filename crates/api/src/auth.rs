//! Authentication over HTTP: login, refresh, logout, me and password change, the access token
//! (a JWT with one pinned algorithm) and the extractor that turns a request into an `Actor`.
//!
//! The token only says which session claims to be calling; the session itself is checked in the
//! database on every request (`Vault::authenticate`), so logout, disabling a user or a password
//! change take effect on the very next request.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use domain::Sensitive;
use persistence::identity::{Actor, Claim, NewSession};
use persistence::tokens::{check, mint};
use persistence::{AuthError, Vault};
use serde::{Deserialize, Serialize};

use crate::{ApiError, Services};

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the login or password is not correct, or the account cannot sign in now",
            ),
            AuthError::TotpRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "this account has a second factor: send the current one-time code as \"totp\"",
            ),
            AuthError::Unauthenticated => ApiError::unauthenticated(),
            AuthError::SecondFactorNeeded => ApiError::new(
                StatusCode::FORBIDDEN,
                "totp_enrolment_required",
                "your role requires a second factor: enrol at /api/v1/auth/totp first",
            ),
            AuthError::Throttled(wait) => ApiError::too_many(wait),
            AuthError::Forbidden(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "your role may not do this",
            ),
            AuthError::NotFound => ApiError::not_found(),
            AuthError::Invalid { field, message } => ApiError::invalid_field(field, message),
            AuthError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            AuthError::InvalidMany(fields) => ApiError::invalid_fields(fields),
            AuthError::Db(e) => ApiError::from(e),
        }
    }
}

/// An authenticated request whose user may do their work: signed in, and with a second factor
/// when their role requires one. Any authentication failure is 401 with the same body; a
/// session that still has to set up its second factor is 403.
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(actor) = signed_in.await?;
            may_work(&actor)?;
            Ok(Authenticated(actor))
        })
    }
}

/// 403 for a session that still has to set up its second factor.
fn may_work(actor: &Actor) -> Result<(), ApiError> {
    Ok(actor.may_work()?)
}

/// Any valid session, including one that may only enrol its second factor.
pub struct SignedIn(pub Actor);

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let claimed = Session::from_request(req, payload).into_inner();
        Box::pin(async move {
            let Session {
                services,
                user_id,
                session_id,
            } = claimed?;
            let vault = services.vault()?;
            let actor = web::block(move || {
                vault.authenticate(&services.db, &services.auth, &session_id, &user_id)
            })
            .await??;
            Ok(SignedIn(actor))
        })
    }
}

/// A request with a valid access token whose session is not checked yet: [`Session::run`]
/// checks it exactly as [`Authenticated`] does (same 401 and 403) and then does the handler's
/// work, on one thread of the blocking pool. The routes that are hit hardest use it: one trip
/// to the blocking pool and back per request instead of two (docs/performance.md).
pub struct Session {
    services: web::Data<Services>,
    user_id: String,
    session_id: String,
}

impl FromRequest for Session {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let claimed = || {
            let services = req
                .app_data::<web::Data<Services>>()
                .cloned()
                .ok_or_else(ApiError::internal)?;
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(ApiError::unauthenticated)?;
            let vault = services.vault()?;
            let (user_id, session_id) =
                check(&vault, &services.tokens, token).ok_or_else(ApiError::unauthenticated)?;
            Ok(Session {
                services,
                user_id,
                session_id,
            })
        };
        std::future::ready(claimed())
    }
}

impl Session {
    /// Checks the session, then runs `work` as its actor; both on one blocking thread. Nothing
    /// of `work` runs for a session that is not valid (so its input errors come after the 401).
    pub(crate) async fn run<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, &Actor) -> Result<T, ApiError> + Send + 'static,
    {
        let Session {
            services,
            user_id,
            session_id,
        } = self;
        let vault = services.vault()?;
        web::block(move || {
            let actor = vault.authenticate(&services.db, &services.auth, &session_id, &user_id)?;
            may_work(&actor)?;
            work(&vault, &services, &actor)
        })
        .await?
    }
}

impl Session {
    /// Runs `work` with the session's ids on one blocking thread, for work that checks the
    /// session itself in its first query (the vault's `*_in_session` functions, which answer
    /// 401 and 403 as [`Session::run`] does, before anything else).
    pub(crate) async fn run_in_session<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, Claim<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let Session {
            services,
            user_id,
            session_id,
        } = self;
        let vault = services.vault()?;
        web::block(move || {
            let claim = Claim {
                session_id: &session_id,
                user_id: &user_id,
            };
            work(&vault, &services, claim)
        })
        .await?
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "olena", "password": "correct horse battery staple", "totp": "123456"}))]
pub(crate) struct LoginRequest {
    #[schema(value_type = String)]
    login: Sensitive<String>,
    #[schema(value_type = String)]
    password: Sensitive<String>,
    /// The current one-time code, or a recovery code, for accounts with a second factor.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    totp: Option<Sensitive<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub(crate) struct TotpConfirmRequest {
    #[schema(value_type = String)]
    code: Sensitive<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "the refresh_token of the last answer"}))]
pub(crate) struct RefreshRequest {
    #[schema(value_type = String)]
    refresh_token: Sensitive<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "the old passphrase", "new_password": "a new long passphrase"}))]
pub(crate) struct PasswordRequest {
    #[schema(value_type = String)]
    current_password: Sensitive<String>,
    #[schema(value_type = String)]
    new_password: Sensitive<String>,
}

fn peer(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

fn token_response(
    vault: &Vault,
    services: &Services,
    session: NewSession,
) -> Result<HttpResponse, ApiError> {
    let access = mint(vault, &services.tokens, &session.actor)?;
    Ok(HttpResponse::Ok().json(Tokens {
        access_token: &access,
        refresh_token: session.refresh_token.expose(),
        token_type: "Bearer",
        expires_in: services.tokens.access_ttl.as_secs(),
    }))
}

/// A signed access token and the session's one-use refresh token.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Tokens<'a> {
    access_token: &'a str,
    /// Spent by its first use: a second use ends the session.
    refresh_token: &'a str,
    /// Always Bearer.
    token_type: &'a str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

/// The signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    user_id: String,
    login: String,
    role: &'static str,
    organisation_id: Option<String>,
    second_factor_used: bool,
    /// The user must set up TOTP before anything but enrolment is allowed.
    totp_enrolment_required: bool,
}

/// The otpauth URI for an authenticator app (shown once).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TotpEnrolment<'a> {
    otpauth_uri: &'a str,
}

/// One-use recovery codes (shown once).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RecoveryCodes<'a> {
    recovery_codes: Vec<&'a str>,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Access and refresh tokens", body = Tokens),
              (status = 401, description = "invalid_credentials or totp_required"),
              (status = 422, description = "The body has the wrong shape"),
              (status = 429, description = "Too many failed attempts; see Retry-After")))]
pub(crate) async fn login(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let _permit = services.hashing_permit().await?;
    let LoginRequest {
        login,
        password,
        totp,
    } = body.into_inner();
    let (v, s, source) = (vault.clone(), services.clone(), peer(&req));
    let session = web::block(move || {
        let totp = totp.as_ref().map(|t| t.expose().as_str());
        v.login(
            &s.db,
            &s.auth,
            login.expose(),
            password.expose(),
            totp,
            source.as_deref(),
        )
    })
    .await??;
    token_response(&vault, &services, session)
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New access and refresh tokens", body = Tokens),
              (status = 401, description = "Unknown or spent refresh token (a spent one ends the session)")))]
pub(crate) async fn refresh(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let token = body.into_inner().refresh_token;
    let (v, s, source) = (vault.clone(), services.clone(), peer(&req));
    let session =
        web::block(move || v.refresh(&s.db, &s.auth, token.expose(), source.as_deref())).await??;
    token_response(&vault, &services, session)
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "The session has ended"), (status = 401, description = "Not signed in")))]
pub(crate) async fn logout(
    services: web::Data<Services>,
    actor: SignedIn,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let s = services.clone();
    web::block(move || vault.logout(&s.db, &actor.0)).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me), (status = 401, description = "Not signed in")))]
pub(crate) async fn me(actor: SignedIn) -> HttpResponse {
    let Actor {
        user_id,
        login,
        role,
        organisation_id,
        session_id: _,
        session_ref: _,
        mfa,
        needs_totp_enrolment,
    } = actor.0;
    HttpResponse::Ok().json(Me {
        user_id,
        login,
        role: role.as_str(),
        organisation_id,
        second_factor_used: mfa,
        totp_enrolment_required: needs_totp_enrolment,
    })
}

#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "otpauth URI for an authenticator app", body = TotpEnrolment),
              (status = 401, description = "Not signed in"), (status = 409, description = "Already set up")))]
/// Starts TOTP enrolment: returns the otpauth URI for the authenticator app (shown once).
pub(crate) async fn totp_enrol(
    services: web::Data<Services>,
    actor: SignedIn,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let s = services.clone();
    let enrolment =
        web::block(move || vault.totp_enrol(&s.db, &actor.0, &s.auth.totp_issuer)).await??;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        otpauth_uri: enrolment.otpauth_uri.expose(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = TotpConfirmRequest,
    responses((status = 200, description = "Recovery codes, shown once", body = RecoveryCodes),
              (status = 401, description = "Not signed in"), (status = 422, description = "Not the current code")))]
/// Confirms enrolment with the first code; returns the recovery codes (shown once).
pub(crate) async fn totp_confirm(
    services: web::Data<Services>,
    actor: SignedIn,
    body: web::Json<TotpConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let code = body.into_inner().code;
    let s = services.clone();
    let codes = web::block(move || vault.totp_confirm(&s.db, &actor.0, code.expose())).await??;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.expose().as_str()).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordRequest,
    responses((status = 204, description = "Changed; every session of the user has ended"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Second factor not set up"),
              (status = 422, description = "Wrong current password or a weak new one")))]
pub(crate) async fn change_password(
    services: web::Data<Services>,
    actor: Authenticated,
    body: web::Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let vault = services.vault()?;
    let _permit = services.hashing_permit().await?;
    let PasswordRequest {
        current_password,
        new_password,
    } = body.into_inner();
    let s = services.clone();
    web::block(move || {
        vault.change_password(&s.db, &actor.0, current_password.expose(), &new_password)
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
