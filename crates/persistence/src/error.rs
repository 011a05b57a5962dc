use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong with the database, in the terms the callers act on. Messages never carry
/// submitted values: at most a backend's own error text, which names tables and constraints.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The configuration names no usable database (bad URL, unsupported scheme).
    #[error("database configuration: {0}")]
    Config(String),
    /// The database cannot be reached now; the caller may retry later (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed, or the schema is older or newer than this build.
    #[error("database migration: {0}")]
    Migration(String),
    /// Any other failure of a query.
    #[error("database query failed: {0}")]
    Query(DieselError),
    /// A value holds a character the database cannot store (PostgreSQL refuses NUL in text,
    /// which JSON allows as "\u0000"): bad input, not a server fault.
    #[error("a value contains a character the database cannot store")]
    Unstorable,
    /// The record's data key was shredded: its sealed fields can never be opened again.
    #[error("the record has been erased")]
    Erased,
    /// No such record (or data key).
    #[error("not found")]
    NotFound,
    /// A stored value failed to open or the keys are unusable. Never carries the value.
    #[error("vault: {0}")]
    Crypto(#[from] crypto::CryptoError),
    /// A request the vault refuses (e.g. retiring a master key version still in use).
    #[error("{0}")]
    Refused(String),
}

impl DbError {
    /// Whether the error means the connection itself is gone, so it must not go back to the pool.
    pub(crate) fn is_connection_loss(err: &DieselError) -> bool {
        matches!(
            err,
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _
            ) | DieselError::BrokenTransactionManager
        )
    }

    pub(crate) fn from_query(err: DieselError) -> Self {
        if Self::is_connection_loss(&err) {
            DbError::Unavailable(err.to_string())
        } else {
            DbError::from(err)
        }
    }
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(_, info)
                if info.message().contains("invalid byte sequence") =>
            {
                DbError::Unstorable
            }
            _ => DbError::Query(err),
        }
    }
}

/// Why a vault operation that acts for someone did not happen, in the terms the API answers
/// with (401, 403, 404, 409, 422, 429); a database failure underneath is `Db`.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password, disabled or locked account: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many recent failures from this address or for this login: wait this long.
    #[error("too many attempts")]
    Throttled(Duration),
    /// The password was right and the account has a second factor: send the code too.
    #[error("a one-time code is required")]
    TotpRequired,
    /// The session is gone (logged out, expired, revoked, user disabled) or the token is bad.
    #[error("not authenticated")]
    Unauthenticated,
    /// The role requires a second factor the user has not set up: the session may only enrol.
    #[error("a second factor must be set up first")]
    SecondFactorNeeded,
    /// The role requires a passkey and this session has none: it may only enrol one.
    #[error("a passkey must be set up first")]
    PasskeyNeeded,
    /// The password was right, but the account signs in with its passkey (a password opens only
    /// an enrolling session, with a recovery code).
    #[error("sign in with a passkey")]
    PasskeyRequired,
    /// Several fields break rules: field name -> which rule (never the value).
    #[error("invalid fields: {0:?}")]
    InvalidMany(std::collections::BTreeMap<String, String>),
    /// Input that breaks a rule; `field` names it, `message` says which rule.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("{0}")]
    Conflict(&'static str),
    /// The policy denied it (the denial is in the access log).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        AuthError::Db(DbError::from_query(e))
    }
}

impl From<crypto::CryptoError> for AuthError {
    fn from(e: crypto::CryptoError) -> Self {
        AuthError::Db(DbError::Crypto(e))
    }
}

/// A new random record id (128 bits, hex).
pub(crate) fn new_id() -> Result<String, DbError> {
    Ok(crypto::random::hex_id::<16>().map_err(crypto::CryptoError::from)?)
}

/// A refusal raised inside a transaction, so that it rolls back; [`conflict_among`] turns the
/// known ones into the 409 they stand for.
pub(crate) fn refuse(message: &str) -> DbError {
    DbError::Refused(message.to_string())
}

/// A refusal whose message is one of `known` as that `Conflict`; anything else unchanged.
pub(crate) fn conflict_among(e: DbError, known: &[&'static str]) -> AuthError {
    match e {
        DbError::Refused(m) => match known.iter().find(|c| **c == m) {
            Some(c) => AuthError::Conflict(c),
            None => AuthError::Db(DbError::Refused(m)),
        },
        other => AuthError::from(other),
    }
}
