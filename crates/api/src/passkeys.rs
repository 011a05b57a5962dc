//! Passkeys over HTTP: the registration ceremony (signed in, including a session that may only
//! enrol), the user's list, rename and removal, and the sign-in ceremony (public). Each route
//! calls one vault function; the ceremony state never leaves the server (the client holds only
//! the ceremony's id). The admin's revocation is in `crate::admin`.

use actix_web::{web, HttpRequest, HttpResponse};
use domain::Sensitive;
use persistence::identity::{PasskeyChallenge, PasskeySummary};
use serde::{Deserialize, Serialize};

use crate::auth::{issue, peer, token_response, Enrolling, Public, Session};
use crate::ApiError;

/// A ceremony started: send `options` to `navigator.credentials.create()` or `.get()` (as
/// `PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)` and its request
/// twin), then the response and `ceremony` to the matching finish route within 5 minutes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Ceremony {
    ceremony: String,
    /// webauthn-rs's options: `{"publicKey": {...}}`, binary fields in base64url.
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

impl From<PasskeyChallenge> for Ceremony {
    fn from(c: PasskeyChallenge) -> Self {
        Ceremony {
            ceremony: c.ceremony,
            options: c.options,
        }
    }
}

/// One of the user's passkeys.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PasskeyView {
    id: String,
    name: String,
    /// Microseconds since the Unix epoch.
    created_at: i64,
    last_used_at: Option<i64>,
    /// The passkey may be synced between devices...
    backup_eligible: bool,
    /// ...and the authenticator said it is backed up at its last use.
    backup_state: bool,
    /// The authenticator's signature counter at its last use (0: it keeps none).
    sign_count: i64,
    /// The counter went backwards (a cloned authenticator?): it cannot sign in until removed.
    flagged: bool,
}

impl From<PasskeySummary> for PasskeyView {
    fn from(p: PasskeySummary) -> Self {
        PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            sign_count: p.sign_count,
            flagged: p.flagged,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PasskeyList {
    passkeys: Vec<PasskeyView>,
}

/// A passkey registered, and the recovery codes if the user had none (shown once, else empty).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RegisteredView {
    passkey: PasskeyView,
    recovery_codes: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ceremony": "the ceremony of the start route", "name": "Work phone", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"attestationObject": "…", "clientDataJSON": "…"}}}))]
pub(crate) struct RegisterFinish {
    ceremony: String,
    /// Up to 60 characters; "Passkey N" when missing.
    #[serde(default)]
    name: Option<String>,
    /// The browser's `PublicKeyCredential` of `create()`, as JSON (`credential.toJSON()`).
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Work phone"}))]
pub(crate) struct Rename {
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "olena"}))]
pub(crate) struct SignInStart {
    #[schema(value_type = String)]
    login: Sensitive<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ceremony": "the ceremony of the start route", "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {"authenticatorData": "…", "clientDataJSON": "…", "signature": "…"}}}))]
pub(crate) struct SignInFinish {
    ceremony: String,
    /// The browser's `PublicKeyCredential` of `get()`, as JSON (`credential.toJSON()`).
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

#[utoipa::path(post, path = "/api/v1/auth/passkeys/register", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, description = "A registration ceremony (5 minutes, single use)", body = Ceremony),
              (status = 401, description = "Not signed in"), (status = 409, description = "Already 10 passkeys")))]
/// Starts registering a passkey for the signed-in user.
pub(crate) async fn register_start(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    let started = session
        .run(|vault, s, Enrolling(actor)| Ok(vault.passkey_register_start(&s.db, &s.auth, actor)?))
        .await?;
    Ok(HttpResponse::Ok().json(Ceremony::from(started)))
}

#[utoipa::path(post, path = "/api/v1/auth/passkeys/register/finish", tag = "passkeys", security(("bearer" = [])), request_body = RegisterFinish,
    responses((status = 201, description = "Registered; this session counts as signed in with it", body = RegisteredView),
              (status = 401, description = "Not signed in"), (status = 409, description = "Already registered, or 10 passkeys"),
              (status = 422, description = "Unknown, used or expired ceremony; a response that is not accepted (origin, RP id, user verification); a bad name")))]
/// Finishes a registration with the browser's response.
pub(crate) async fn register_finish(
    session: Session<Enrolling>,
    body: web::Json<RegisterFinish>,
) -> Result<HttpResponse, ApiError> {
    let RegisterFinish {
        ceremony,
        name,
        credential,
    } = body.into_inner();
    let registered = session
        .run(move |vault, s, Enrolling(actor)| {
            Ok(vault.passkey_register_finish(
                &s.db,
                &s.auth,
                actor,
                &ceremony,
                name.as_deref(),
                &credential,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(RegisteredView {
        passkey: registered.passkey.into(),
        recovery_codes: registered
            .recovery_codes
            .into_iter()
            .map(Sensitive::into_inner)
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/auth/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user's passkeys, oldest first", body = PasskeyList), (status = 401, description = "Not signed in")))]
pub(crate) async fn list(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    let passkeys = session
        .run(|vault, s, Enrolling(actor)| Ok(vault.passkeys(&s.db, actor)?))
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyList {
        passkeys: passkeys.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(patch, path = "/api/v1/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), params(("id" = String, Path, description = "Passkey id")), request_body = Rename,
    responses((status = 204, description = "Renamed"), (status = 401, description = "Not signed in"), (status = 404, description = "Not a passkey of yours"),
              (status = 422, description = "Empty, longer than 60 characters or with control characters")))]
pub(crate) async fn rename(
    session: Session<Enrolling>,
    id: web::Path<String>,
    body: web::Json<Rename>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let name = body.into_inner().name;
    session
        .run(move |vault, s, Enrolling(actor)| Ok(vault.rename_passkey(&s.db, actor, &id, &name)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/api/v1/auth/passkeys/{id}", tag = "passkeys", security(("bearer" = [])), params(("id" = String, Path, description = "Passkey id")),
    responses((status = 204, description = "Removed; every session that signed in with it has ended"), (status = 401, description = "Not signed in"),
              (status = 404, description = "Not a passkey of yours")))]
pub(crate) async fn remove(
    session: Session<Enrolling>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    session
        .run(move |vault, s, Enrolling(actor)| Ok(vault.remove_passkey(&s.db, actor, &id)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/auth/passkey", tag = "passkeys", request_body = SignInStart,
    responses((status = 200, description = "A sign-in ceremony (5 minutes, single use); the same shape whether or not the login exists or has a passkey", body = Ceremony),
              (status = 422, description = "The body has the wrong shape"), (status = 429, description = "Too many failed attempts; see Retry-After")))]
/// Starts signing in with a passkey.
pub(crate) async fn sign_in_start(
    req: HttpRequest,
    public: Public,
    body: web::Json<SignInStart>,
) -> Result<HttpResponse, ApiError> {
    let login = body.into_inner().login;
    let source = peer(&req);
    let started = public
        .run(move |vault, s| {
            Ok(vault.passkey_sign_in_start(&s.db, &s.auth, login.expose(), source.as_deref())?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Ceremony::from(started)))
}

#[utoipa::path(post, path = "/api/v1/auth/passkey/finish", tag = "passkeys", request_body = SignInFinish,
    responses((status = 200, description = "Access and refresh tokens", body = crate::auth::Tokens),
              (status = 401, description = "invalid_credentials: the ceremony, the passkey or the response is not accepted"),
              (status = 422, description = "The body has the wrong shape"), (status = 429, description = "Too many failed attempts; see Retry-After")))]
/// Finishes a passkey sign-in with the browser's response.
pub(crate) async fn sign_in_finish(
    req: HttpRequest,
    public: Public,
    body: web::Json<SignInFinish>,
) -> Result<HttpResponse, ApiError> {
    let SignInFinish {
        ceremony,
        credential,
    } = body.into_inner();
    let source = peer(&req);
    let issued = public
        .run(move |vault, s| {
            let session = vault.passkey_sign_in_finish(
                &s.db,
                &s.auth,
                &ceremony,
                &credential,
                source.as_deref(),
            )?;
            issue(vault, s, session)
        })
        .await?;
    Ok(token_response(issued))
}
