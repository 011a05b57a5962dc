//! Authentication over HTTP: login, refresh, logout, me and password change, the access token
//! (a JWT with one pinned algorithm) and the extractor that turns a request into an `Actor`.
//!
//! The token only says which session claims to be calling; the session itself is checked in the
//! database on every request (`Vault::authenticate`), so logout, disabling a user or a password
//! change take effect on the very next request.

use std::marker::PhantomData;

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
            AuthError::PasskeyNeeded => ApiError::new(
                StatusCode::FORBIDDEN,
                "passkey_enrolment_required",
                "your role signs in with a passkey: register one at /api/v1/auth/passkeys/register first",
            ),
            AuthError::PasskeyRequired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "passkey_required",
                "this account signs in with its passkey (/api/v1/auth/passkey); a password opens a session only with a recovery code, to register a new passkey",
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

/// The one shape of a handler that needs a signed-in caller: extract a `Session`, then
/// [`Session::run`] the work, which calls one vault function. The session's judge `W`, chosen in
/// the handler's signature, says what the caller must be:
///
/// - [`Actor`] (the default): signed in, and with a second factor when their role requires one.
///   Any authentication failure is 401 with the same body; a session that still has to set up
///   its second factor is 403.
/// - [`Enrolling`]: any valid session, including one that may only enrol its second factor.
/// - [`Claimed`]: not checked here; the vault's `*_in_session` functions check the session in
///   their own first query (one round trip for the session and the case) and answer 401 and 403
///   exactly as the other two do, before anything else.
///
/// Extracting checks only the access token's signature and claims (no database, no blocking
/// thread). The work runs on one thread of the blocking pool, after the judge: nothing of it
/// runs for a caller the judge refuses, so a request's input errors (422) come after its 401.
pub struct Session<W: Judge = Actor> {
    services: web::Data<Services>,
    user_id: String,
    session_id: String,
    hashing: bool,
    judge: PhantomData<fn() -> W>,
}

/// What a handler requires of its caller (see [`Session`]).
pub trait Judge: Sized + 'static {
    /// Judges the session of a valid token, on the blocking thread that then does the work.
    fn judge(vault: &Vault, services: &Services, claim: Claim<'_>) -> Result<Self, ApiError>;
}

impl Judge for Actor {
    fn judge(vault: &Vault, services: &Services, claim: Claim<'_>) -> Result<Self, ApiError> {
        let actor = vault.authenticate(&services.db, claim, &services.auth)?;
        actor.may_work()?;
        Ok(actor)
    }
}

/// A caller with any valid session, including one that may only enrol its second factor: for
/// me, logout, TOTP enrolment and the vocabularies.
pub struct Enrolling(pub Actor);

impl Judge for Enrolling {
    fn judge(vault: &Vault, services: &Services, claim: Claim<'_>) -> Result<Self, ApiError> {
        Ok(Enrolling(vault.authenticate(
            &services.db,
            claim,
            &services.auth,
        )?))
    }
}

/// A caller whose session the work itself checks (the vault's `*_in_session` functions).
pub struct Claimed {
    user_id: String,
    session_id: String,
}

impl Claimed {
    /// The claim to hand to an `*_in_session` function.
    pub fn claim(&self) -> Claim<'_> {
        Claim {
            session_id: &self.session_id,
            user_id: &self.user_id,
        }
    }
}

impl Judge for Claimed {
    fn judge(_: &Vault, _: &Services, claim: Claim<'_>) -> Result<Self, ApiError> {
        Ok(Claimed {
            user_id: claim.user_id.to_string(),
            session_id: claim.session_id.to_string(),
        })
    }
}

impl<W: Judge> FromRequest for Session<W> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let claimed = || {
            let services = services_of(req)?;
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
            Ok(Session::claimed(services, user_id, session_id))
        };
        std::future::ready(claimed())
    }
}

impl<W: Judge> Session<W> {
    /// The session a valid credential names: a bearer token here, the web pages' cookie in
    /// their extractor; judged the same way from here on.
    pub(crate) fn claimed(
        services: web::Data<Services>,
        user_id: String,
        session_id: String,
    ) -> Self {
        Session {
            services,
            user_id,
            session_id,
            hashing: false,
            judge: PhantomData,
        }
    }

    /// The id of the session the credential names (not yet checked in the database).
    pub(crate) fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Judges the caller, then runs `work` with what the judge found; both on one blocking
    /// thread (one trip to the blocking pool and back per request: docs/performance.md).
    pub(crate) async fn run<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, &W) -> Result<T, ApiError> + Send + 'static,
    {
        let Session {
            services,
            user_id,
            session_id,
            hashing,
            judge: _,
        } = self;
        let vault = services.vault()?;
        let permits = services.clone();
        let _permit = permit_if(&permits, hashing).await?;
        web::block(move || {
            let claim = Claim {
                session_id: &session_id,
                user_id: &user_id,
            };
            let who = W::judge(&vault, &services, claim)?;
            work(&vault, &services, &who)
        })
        .await?
    }

    /// For work that hashes a password: [`Session::run`] first waits for a turn at hashing
    /// (a bounded number run at once: `Services::hashing_permit`).
    pub(crate) fn hashing(mut self) -> Self {
        self.hashing = true;
        self
    }
}

async fn permit_if(
    services: &Services,
    hashing: bool,
) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, ApiError> {
    Ok(match hashing {
        true => Some(services.hashing_permit().await?),
        false => None,
    })
}

/// The same shape for the routes anyone may call (sign-in, refresh): extract, [`Public::run`]
/// one vault function on one blocking thread, map the result.
pub struct Public {
    services: web::Data<Services>,
    hashing: bool,
}

impl FromRequest for Public {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(services_of(req).map(|services| Public {
            services,
            hashing: false,
        }))
    }
}

impl Public {
    /// Runs `work` on one blocking thread.
    pub(crate) async fn run<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services) -> Result<T, ApiError> + Send + 'static,
    {
        let Public { services, hashing } = self;
        let vault = services.vault()?;
        let permits = services.clone();
        let _permit = permit_if(&permits, hashing).await?;
        web::block(move || work(&vault, &services)).await?
    }

    /// As [`Session::hashing`].
    pub(crate) fn hashing(mut self) -> Self {
        self.hashing = true;
        self
    }
}

pub(crate) fn services_of(req: &HttpRequest) -> Result<web::Data<Services>, ApiError> {
    req.app_data::<web::Data<Services>>()
        .cloned()
        .ok_or_else(ApiError::internal)
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

pub(crate) fn peer(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// A new session's tokens, made on the blocking thread (the access token is signed with a key
/// that stays in the vault); the answer is written from them on the server's own thread.
pub(crate) struct Issued {
    access_token: String,
    session: NewSession,
    expires_in: u64,
}

pub(crate) fn issue(
    vault: &Vault,
    services: &Services,
    session: NewSession,
) -> Result<Issued, ApiError> {
    Ok(Issued {
        access_token: mint(vault, &services.tokens, &session.actor)?,
        session,
        expires_in: services.tokens.access_ttl.as_secs(),
    })
}

pub(crate) fn token_response(issued: Issued) -> HttpResponse {
    HttpResponse::Ok().json(Tokens {
        access_token: &issued.access_token,
        refresh_token: issued.session.refresh_token.expose(),
        token_type: "Bearer",
        expires_in: issued.expires_in,
    })
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
    /// The role signs in with a passkey and this session has none: register one first.
    passkey_enrolment_required: bool,
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
    public: Public,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest {
        login,
        password,
        totp,
    } = body.into_inner();
    let source = peer(&req);
    let issued = public
        .hashing()
        .run(move |vault, s| {
            let totp = totp.as_ref().map(|t| t.expose().as_str());
            let session = vault.login(
                &s.db,
                &s.auth,
                login.expose(),
                password.expose(),
                totp,
                source.as_deref(),
            )?;
            issue(vault, s, session)
        })
        .await?;
    Ok(token_response(issued))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New access and refresh tokens", body = Tokens),
              (status = 401, description = "Unknown or spent refresh token (a spent one ends the session)")))]
pub(crate) async fn refresh(
    req: HttpRequest,
    public: Public,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    let source = peer(&req);
    let issued = public
        .run(move |vault, s| {
            let session = vault.refresh(&s.db, &s.auth, token.expose(), source.as_deref())?;
            issue(vault, s, session)
        })
        .await?;
    Ok(token_response(issued))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "The session has ended"), (status = 401, description = "Not signed in")))]
pub(crate) async fn logout(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    session
        .run(|vault, s, Enrolling(actor)| Ok(vault.logout(&s.db, actor)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me), (status = 401, description = "Not signed in")))]
pub(crate) async fn me(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    let Enrolling(actor) = session
        .run(|_, _, Enrolling(actor)| Ok(Enrolling(actor.clone())))
        .await?;
    let Actor {
        user_id,
        login,
        role,
        organisation_id,
        session_id: _,
        session_ref: _,
        mfa,
        needs_totp_enrolment,
        needs_passkey,
    } = actor;
    Ok(HttpResponse::Ok().json(Me {
        user_id,
        login,
        role: role.as_str(),
        organisation_id,
        second_factor_used: mfa,
        totp_enrolment_required: needs_totp_enrolment,
        passkey_enrolment_required: needs_passkey,
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "otpauth URI for an authenticator app", body = TotpEnrolment),
              (status = 401, description = "Not signed in"), (status = 409, description = "Already set up")))]
/// Starts TOTP enrolment: returns the otpauth URI for the authenticator app (shown once).
pub(crate) async fn totp_enrol(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    let enrolment = session
        .run(|vault, s, Enrolling(actor)| {
            Ok(vault.totp_enrol(&s.db, actor, &s.auth.totp_issuer)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        otpauth_uri: enrolment.otpauth_uri.expose(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = TotpConfirmRequest,
    responses((status = 200, description = "Recovery codes, shown once", body = RecoveryCodes),
              (status = 401, description = "Not signed in"), (status = 422, description = "Not the current code")))]
/// Confirms enrolment with the first code; returns the recovery codes (shown once).
pub(crate) async fn totp_confirm(
    session: Session<Enrolling>,
    body: web::Json<TotpConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    let codes = session
        .run(move |vault, s, Enrolling(actor)| {
            Ok(vault.totp_confirm(&s.db, actor, code.expose())?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.expose().as_str()).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordRequest,
    responses((status = 204, description = "Changed; every session of the user has ended"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Second factor not set up"),
              (status = 422, description = "Wrong current password or a weak new one")))]
pub(crate) async fn change_password(
    session: Session,
    body: web::Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let PasswordRequest {
        current_password,
        new_password,
    } = body.into_inner();
    session
        .hashing()
        .run(move |vault, s, actor| {
            Ok(vault.change_password(&s.db, actor, current_password.expose(), &new_password)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
