//! Accounts and sessions: creating and disabling users, password login with lockout, refresh
//! token rotation with reuse detection, logout, the per-request session check, password
//! change, the second factor and the admin's and auditor's consoles. Every event is audited in
//! the same transaction as its effect.
//!
//! Access tokens (JWTs) are minted and checked by `crate::tokens`; what makes them mean
//! anything is the server-side session checked here on every request.
//!
//! This file holds the types every part shares; the parts are `sign_in` (sign-in, refresh,
//! logout, the session check, password change), `throttle`, `second_factor` (TOTP, recovery
//! codes, re-authentication) and `accounts` (users, the admin's and the auditor's consoles).

mod accounts;
mod passkeys;
mod second_factor;
mod sign_in;
mod throttle;

pub use accounts::{check_contact, UserChange, UserSummary};
pub use passkeys::{PasskeyChallenge, PasskeySummary, Registered, RelyingParty, CEREMONY_TTL};
pub use second_factor::{Reauth, TotpEnrolment};

use std::sync::LazyLock;
use std::time::Duration;

use diesel::prelude::*;
use domain::identity::{check_password, Login, Role};

use crate::clock::now_micros;
use crate::error::{new_id, AuthError};
use crate::schema::{refresh_tokens, sessions, users};
use crate::{AuditEvent, Database, DbError, Outcome, Vault};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session ends this long after login, whatever happens.
    pub session_absolute: Duration,
    /// ...or after this long without a request.
    pub session_idle: Duration,
    /// Consecutive failed logins that lock an account...
    pub lock_after: u32,
    /// ...for this long (an admin can lift it sooner).
    pub lock_for: Duration,
    /// Roles that must use a second factor: until enrolled, their sessions may only enrol.
    pub totp_required: Vec<Role>,
    /// The issuer shown by authenticator apps.
    pub totp_issuer: String,
    /// Roles that must sign in with a passkey: until they have one, their sessions may only
    /// enrol one; once they have one, a password opens only an enrolling session, and only with
    /// a recovery code.
    pub passkey_required: Vec<Role>,
    /// The WebAuthn relying party (this server's host name and origin).
    pub relying_party: RelyingParty,
    /// Failures (per source address, and per login name) before attempts are slowed down...
    pub throttle_after: u32,
    /// ...to one per `throttle_base`, doubling with every further failure...
    pub throttle_base: Duration,
    /// ...up to this wait.
    pub throttle_max: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_absolute: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            lock_after: 10,
            lock_for: Duration::from_secs(15 * 60),
            totp_required: vec![Role::Supervisor, Role::Auditor, Role::Admin],
            totp_issuer: "hotline".into(),
            passkey_required: vec![Role::Supervisor, Role::Auditor, Role::Admin],
            relying_party: RelyingParty::new("http://localhost:8080")
                .expect("the development relying party is valid"),
            throttle_after: 3,
            throttle_base: Duration::from_secs(1),
            throttle_max: Duration::from_secs(60),
        }
    }
}

/// A request's claimed session, from its verified token: checked against the database by the
/// first query of the work it asks for (the vault's `*_in_session` functions).
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub session_id: &'a str,
    pub user_id: &'a str,
}

/// The authenticated user behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub login: String,
    pub role: Role,
    pub organisation_id: Option<String>,
    pub session_id: String,
    /// Pseudonym of the session for the access log (never the session id itself).
    pub session_ref: String,
    /// The session passed a second factor.
    pub mfa: bool,
    /// The role requires a second factor the user has not set up: this session may only enrol.
    pub needs_totp_enrolment: bool,
    /// The role requires a passkey and this session did not sign in with one (nor register one):
    /// it may only enrol a passkey.
    pub needs_passkey: bool,
}

impl Actor {
    /// Whether the session may do its work: not one that still has to set up the second factor
    /// its role requires (such a session may only enrol).
    pub fn may_work(&self) -> Result<(), AuthError> {
        if self.needs_passkey {
            return Err(AuthError::PasskeyNeeded);
        }
        if self.needs_totp_enrolment {
            return Err(AuthError::SecondFactorNeeded);
        }
        Ok(())
    }

    /// Whether this session may only enrol (a passkey or the second factor).
    pub fn enrolling_only(&self) -> bool {
        self.needs_passkey || self.needs_totp_enrolment
    }

    /// An audit event by this actor.
    pub fn event(&self, action: &str) -> AuditEvent {
        AuditEvent {
            actor_id: Some(self.user_id.clone()),
            actor_role: Some(self.role.as_str().into()),
            session_ref: Some(self.session_ref.clone()),
            mfa: self.mfa,
            action: action.into(),
            ..Default::default()
        }
    }
}

/// A new or refreshed session: the refresh token is shown to the client once and stored only
/// as an HMAC.
#[derive(Debug)]
pub struct NewSession {
    pub actor: Actor,
    pub refresh_token: domain::Sensitive<String>,
    /// The user's language (`uk` or `en`) when signing in; a refresh does not read it.
    pub language: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct UserRow {
    id: String,
    login: String,
    role: String,
    organisation_id: Option<String>,
    password_hash: String,
    status: String,
    locked_until: Option<i64>,
    totp_secret: Option<Vec<u8>>,
    totp_confirmed_at: Option<i64>,
    language: String,
}

/// What the per-request check reads: the session and its user, in one query.
#[derive(Debug, Queryable, Selectable)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct SessionCheck {
    #[diesel(select_expression = sessions::user_id)]
    uid: String,
    #[diesel(select_expression = sessions::last_seen_at)]
    last_seen: i64,
    #[diesel(select_expression = sessions::expires_at)]
    expires: i64,
    #[diesel(select_expression = sessions::revoked_at)]
    revoked: Option<i64>,
    #[diesel(select_expression = users::role)]
    role: String,
    #[diesel(select_expression = users::status)]
    status: String,
    #[diesel(select_expression = users::organisation_id)]
    org: Option<String>,
    #[diesel(select_expression = users::login)]
    login: String,
    #[diesel(select_expression = sessions::mfa)]
    mfa: bool,
    #[diesel(select_expression = users::totp_confirmed_at)]
    totp_confirmed_at: Option<i64>,
    #[diesel(select_expression = sessions::passkey_id)]
    passkey_id: Option<String>,
}

/// What a session of `role` may still have to enrol: (the second factor, a passkey). A session
/// that signed in with a passkey (or registered one) has both: a passkey with user verification
/// is a second factor.
fn enrolment(
    settings: &AuthSettings,
    role: Role,
    totp_confirmed: bool,
    passkey_session: bool,
) -> (bool, bool) {
    (
        settings.totp_required.contains(&role) && !totp_confirmed && !passkey_session,
        settings.passkey_required.contains(&role) && !passkey_session,
    )
}

/// Sessions' last-seen times are kept to this resolution (one write a minute per session).
const LAST_SEEN_RESOLUTION_US: i64 = 60_000_000;

/// A hash to verify against when the login is unknown, so that an unknown user costs the same
/// time as a wrong password.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    crypto::token::random_token()
        .ok()
        .and_then(|pw| crypto::password::hash(&pw).ok())
});

fn user_id_by_login(
    conn: &mut crate::DbConnection,
    login: &Login,
) -> Result<Option<String>, DbError> {
    Ok(users::table
        .filter(users::login.eq(login.as_str()))
        .select(users::id)
        .first(conn)
        .optional()?)
}

fn revoke_sessions(
    conn: &mut crate::DbConnection,
    user_id: &str,
    reason: &str,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(Some(now_micros())),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?)
}
