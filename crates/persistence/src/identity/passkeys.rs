//! Passkeys (WebAuthn, through webauthn-rs's passkey API: user verification required): the
//! registration and sign-in ceremonies, the user's list (name, remove), the admin's revocation.
//!
//! A ceremony's state (its challenge, the credentials it allows) stays in the database, never in
//! the client: the client gets only the ceremony's id and the options for the browser. Finishing
//! takes the row out in the transaction that reads it, so a challenge answers once; it is good
//! for [`CEREMONY_TTL`]. Every registration, removal, use and failure is an audit event.
//!
//! Sign-in names the login first (the passkey API is not discoverable credentials). A login
//! that is unknown, or has no usable passkey, gets a decoy ceremony of the same shape (a random
//! challenge, one credential id derived from the login with a server key, so the same one every
//! time): the answer does not tell whether an account exists or has a passkey.

use std::sync::Arc;

use base64::Engine;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::*;
use crate::schema::{passkey_ceremonies, passkeys};

/// How long a started ceremony can be finished.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

/// Passkeys one account may hold.
const MAX_PASSKEYS: i64 = 10;

/// Longest name of a passkey, in characters.
const MAX_NAME: usize = 60;

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";

/// This server as a WebAuthn relying party: its id is the host name of `server.public_url`,
/// its origin that address. Plain http (loopback development and tests only) accepts any port.
#[derive(Clone)]
pub struct RelyingParty {
    webauthn: Arc<Webauthn>,
    id: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .finish()
    }
}

impl RelyingParty {
    /// The relying party of a server reached at `public_url`: an error says what is wrong.
    pub fn new(public_url: &str) -> Result<Self, &'static str> {
        let origin = Url::parse(public_url).map_err(|_| "is not an address")?;
        let id = origin
            .domain()
            .ok_or("passkeys need a host name (such as localhost), not an IP address")?
            .to_string();
        let webauthn = WebauthnBuilder::new(&id, &origin)
            .map_err(|_| "its host cannot be a WebAuthn relying party id")?
            .rp_name("hotline")
            .timeout(CEREMONY_TTL)
            .allow_any_port(origin.scheme() == "http")
            .build()
            .map_err(|_| "its host cannot be a WebAuthn relying party id")?;
        Ok(RelyingParty {
            webauthn: Arc::new(webauthn),
            id,
        })
    }

    /// The relying party id (the host name passkeys are bound to).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A ceremony started: its id (to send back when finishing) and the options for the browser's
/// `navigator.credentials.create()` / `.get()` (webauthn-rs's JSON: `{"publicKey": {...}}`).
#[derive(Debug)]
pub struct PasskeyChallenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// One of a user's passkeys, as their list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The authenticator may sync it (a synced passkey)...
    pub backup_eligible: bool,
    /// ...and says it is backed up now.
    pub backup_state: bool,
    pub sign_count: i64,
    /// The counter went backwards (a cloned authenticator?): refused until removed.
    pub flagged: bool,
}

/// A passkey registered: it, and the recovery codes when the user had none (shown once).
#[derive(Debug)]
pub struct Registered {
    pub passkey: PasskeySummary,
    pub recovery_codes: Vec<domain::Sensitive<String>>,
}

type SummaryRow = (
    String,
    String,
    i64,
    Option<i64>,
    bool,
    bool,
    i64,
    Option<i64>,
);

fn summary(row: SummaryRow) -> PasskeySummary {
    let (id, name, created_at, last_used_at, backup_eligible, backup_state, sign_count, flagged) =
        row;
    PasskeySummary {
        id,
        name,
        created_at,
        last_used_at,
        backup_eligible,
        backup_state,
        sign_count,
        flagged: flagged.is_some(),
    }
}

/// The id of a credential as the browser sends it (`id`): base64url without padding.
fn credential_key(raw: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The name a user gives a passkey: trimmed, 1 to 60 characters, no control characters. None
/// names it by its number.
fn check_name(name: Option<&str>, number: i64) -> Result<String, AuthError> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Ok(format!("Passkey {number}"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AuthError::Invalid {
            field: "name",
            message: "must be at most 60 characters, without control characters",
        });
    }
    Ok(name.to_string())
}

/// The audit rule of a refused WebAuthn response (never anything of the response itself).
fn refusal_rule(err: &WebauthnError) -> &'static str {
    match err {
        WebauthnError::CredentialPossibleCompromise => "counter_regression",
        WebauthnError::UserNotVerified => "user_not_verified",
        WebauthnError::InvalidRPOrigin => "wrong_origin",
        WebauthnError::InvalidRPIDHash => "wrong_rp_id",
        WebauthnError::MismatchedChallenge => "challenge_mismatch",
        WebauthnError::CredentialNotFound => "unknown_credential",
        WebauthnError::UserNotPresent => "user_not_present",
        _ => "response_invalid",
    }
}

/// A stored credential's counter and backup flags, read from webauthn-rs's own serialisation
/// (the passkey API keeps them private).
fn flags(passkey: &Passkey) -> Result<(i64, bool, bool), DbError> {
    let value = serde_json::to_value(passkey).map_err(|_| unreadable())?;
    let cred = &value["cred"];
    Ok((
        cred["counter"].as_i64().unwrap_or(0),
        cred["backup_eligible"].as_bool().unwrap_or(false),
        cred["backup_state"].as_bool().unwrap_or(false),
    ))
}

fn unreadable() -> DbError {
    DbError::Refused("a stored passkey or ceremony could not be read".into())
}

fn ceremony_gone() -> AuthError {
    AuthError::Invalid {
        field: "ceremony",
        message: "is unknown, was already used or has expired: start again",
    }
}

/// A ceremony taken out: its user (none for an unknown login) and state (none for a decoy).
type Taken = (Option<String>, Option<String>);

/// A ceremony taken out of the table (so it cannot answer twice): its user and state, if it
/// exists, is of `purpose` and has not expired. In the caller's transaction.
fn take_ceremony(
    conn: &mut crate::DbConnection,
    id: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<Taken>, DbError> {
    // One statement takes the row out and reads it: of two finishes at once, one gets it.
    let row: Option<(String, Option<String>, Option<String>, i64)> =
        diesel::delete(passkey_ceremonies::table.find(id))
            .returning((
                passkey_ceremonies::purpose,
                passkey_ceremonies::user_id,
                passkey_ceremonies::state,
                passkey_ceremonies::expires_at,
            ))
            .get_result(conn)
            .optional()?;
    Ok(row
        .filter(|(p, _, _, expires)| p == purpose && *expires > now)
        .map(|(_, user, state, _)| (user, state)))
}

/// Stores a started ceremony (and clears expired ones). In its own transaction.
fn keep_ceremony(
    db: &Database,
    purpose: &str,
    user_id: Option<&str>,
    state: Option<String>,
) -> Result<String, AuthError> {
    let id = new_id()?;
    let now = now_micros();
    db.write(|conn| {
        diesel::delete(passkey_ceremonies::table.filter(passkey_ceremonies::expires_at.le(now)))
            .execute(conn)?;
        diesel::insert_into(passkey_ceremonies::table)
            .values((
                passkey_ceremonies::id.eq(&id),
                passkey_ceremonies::purpose.eq(purpose),
                passkey_ceremonies::user_id.eq(user_id),
                passkey_ceremonies::state.eq(state),
                passkey_ceremonies::created_at.eq(now),
                passkey_ceremonies::expires_at
                    .eq(now + crate::clock::duration_micros(CEREMONY_TTL)),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(id)
}

/// The user's stored passkeys, oldest first; with `usable_only`, only those that may sign in
/// (not flagged).
fn stored_passkeys(
    conn: &mut crate::DbConnection,
    user_id: &str,
    usable_only: bool,
) -> Result<Vec<Passkey>, DbError> {
    let mut query = passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order(passkeys::created_at.asc())
        .select(passkeys::credential)
        .into_boxed();
    if usable_only {
        query = query.filter(passkeys::flagged_at.is_null());
    }
    let rows: Vec<String> = query.load(conn)?;
    rows.iter()
        .map(|json| serde_json::from_str(json).map_err(|_| unreadable()))
        .collect()
}

/// Removes all of a user's passkeys and ends their sessions (an admin's revocation). In the
/// caller's transaction, which records it.
pub(super) fn remove_passkeys(
    conn: &mut crate::DbConnection,
    user_id: &str,
) -> Result<(), DbError> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?;
    revoke_sessions(conn, user_id, "passkeys revoked")?;
    Ok(())
}

impl Vault {
    /// Whether the user has a passkey that may sign in.
    pub(super) fn has_passkey(&self, db: &Database, user_id: &str) -> Result<bool, AuthError> {
        let count: i64 = db.with_conn(|conn| {
            Ok(passkeys::table
                .filter(passkeys::user_id.eq(user_id))
                .filter(passkeys::flagged_at.is_null())
                .count()
                .get_result(conn)?)
        })?;
        Ok(count > 0)
    }

    /// The WebAuthn user handle of a user: a keyed hash of the id, so the authenticator holds
    /// nothing that names them.
    fn user_handle(&self, user_id: &str) -> Result<Uuid, AuthError> {
        let hash = crypto::token::keyed_hash(
            &self.ring().purpose_key("passkey-user-handle")?,
            user_id.as_bytes(),
        );
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        Ok(Uuid::from_bytes(bytes))
    }

    /// Starts registering a passkey for the signed-in user (the ones they have are excluded).
    pub fn passkey_register_start(
        &self,
        db: &Database,
        settings: &AuthSettings,
        actor: &Actor,
    ) -> Result<PasskeyChallenge, AuthError> {
        let held = db.with_conn(|conn| stored_passkeys(conn, &actor.user_id, false))?;
        if held.len() as i64 >= MAX_PASSKEYS {
            return Err(AuthError::Conflict(
                "an account holds at most 10 passkeys: remove one first",
            ));
        }
        let exclude = held.iter().map(|p| p.cred_id().clone()).collect();
        let (options, state) = settings
            .relying_party
            .webauthn
            .start_passkey_registration(
                self.user_handle(&actor.user_id)?,
                &actor.login,
                &actor.login,
                Some(exclude),
            )
            .map_err(|_| DbError::Refused("the passkey registration could not start".into()))?;
        let state = serde_json::to_string(&state).map_err(|_| unreadable())?;
        let ceremony = keep_ceremony(db, REGISTER, Some(&actor.user_id), Some(state))?;
        Ok(PasskeyChallenge {
            ceremony,
            options: serde_json::to_value(options).map_err(|_| unreadable())?,
        })
    }

    /// Finishes a registration the same user started: the browser's response is checked
    /// (challenge, origin, relying party id, user verification) and the passkey stored. The
    /// first passkey of a user without recovery codes comes with a new set (shown once). The
    /// session counts as signed in with the new passkey if it had none (as a confirmed TOTP counts).
    pub fn passkey_register_finish(
        &self,
        db: &Database,
        settings: &AuthSettings,
        actor: &Actor,
        ceremony: &str,
        name: Option<&str>,
        credential: &serde_json::Value,
    ) -> Result<Registered, AuthError> {
        let response: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|_| AuthError::Invalid {
                field: "credential",
                message: "is not a WebAuthn registration response",
            })?;
        let denied = |rule: &str| AuditEvent {
            outcome: Outcome::Denied,
            rule: Some(rule.into()),
            ..actor.event("passkey.register")
        };
        let now = now_micros();
        let taken = db.write(|conn| {
            let taken = take_ceremony(conn, ceremony, REGISTER, now)?;
            let mine = taken.filter(|(user, _)| user.as_deref() == Some(actor.user_id.as_str()));
            if mine.is_none() {
                self.record(conn, &denied("ceremony_unknown"))?;
            }
            Ok(mine.and_then(|(_, state)| state))
        })?;
        let state: PasskeyRegistration = match taken {
            Some(state) => serde_json::from_str(&state).map_err(|_| unreadable())?,
            None => return Err(ceremony_gone()),
        };
        let passkey = match settings
            .relying_party
            .webauthn
            .finish_passkey_registration(&response, &state)
        {
            Ok(passkey) => passkey,
            Err(e) => {
                db.write(|conn| self.record(conn, &denied(refusal_rule(&e))))?;
                return Err(AuthError::Invalid {
                    field: "credential",
                    message:
                        "was not accepted: wrong site, expired challenge or no user verification",
                });
            }
        };
        let (sign_count, backup_eligible, backup_state) = flags(&passkey)?;
        let json = serde_json::to_string(&passkey).map_err(|_| unreadable())?;
        let key = credential_key(passkey.cred_id());
        let id = new_id()?;
        let (codes, hashes) = self.new_recovery_codes()?;
        db.write(|conn| {
            let held: i64 = passkeys::table
                .filter(passkeys::user_id.eq(&actor.user_id))
                .count()
                .get_result(conn)?;
            if held >= MAX_PASSKEYS {
                return Ok(Err(AuthError::Conflict(
                    "an account holds at most 10 passkeys: remove one first",
                )));
            }
            let name = match check_name(name, held + 1) {
                Ok(name) => name,
                Err(e) => return Ok(Err(e)),
            };
            let taken: i64 = passkeys::table
                .filter(passkeys::credential_id.eq(&key))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                self.record(conn, &denied("credential_registered"))?;
                return Ok(Err(AuthError::Conflict(
                    "this passkey is already registered",
                )));
            }
            diesel::insert_into(passkeys::table)
                .values((
                    passkeys::id.eq(&id),
                    passkeys::user_id.eq(&actor.user_id),
                    passkeys::credential_id.eq(&key),
                    passkeys::name.eq(&name),
                    passkeys::credential.eq(&json),
                    passkeys::sign_count.eq(sign_count),
                    passkeys::backup_eligible.eq(backup_eligible),
                    passkeys::backup_state.eq(backup_state),
                    passkeys::created_at.eq(now),
                ))
                .execute(conn)?;
            let unused: i64 = crate::schema::recovery_codes::table
                .filter(crate::schema::recovery_codes::user_id.eq(&actor.user_id))
                .filter(crate::schema::recovery_codes::used_at.is_null())
                .count()
                .get_result(conn)?;
            let issued = unused == 0;
            if issued {
                super::second_factor::replace_recovery_codes(conn, &actor.user_id, &hashes, now)?;
            }
            // A session without a passkey counts as signed in with the new one; one that has
            // one keeps it (removing the new passkey does not end it).
            diesel::update(
                sessions::table
                    .find(&actor.session_id)
                    .filter(sessions::passkey_id.is_null()),
            )
            .set((sessions::passkey_id.eq(&id), sessions::mfa.eq(true)))
            .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("passkey".into()),
                    record_id: Some(id.clone()),
                    fields: if issued {
                        vec!["recovery_codes".into()]
                    } else {
                        Vec::new()
                    },
                    ..actor.event("passkey.register")
                },
            )?;
            Ok(Ok((name, issued)))
        })?
        .map(|(name, issued)| Registered {
            passkey: PasskeySummary {
                id,
                name,
                created_at: now,
                last_used_at: None,
                backup_eligible,
                backup_state,
                sign_count,
                flagged: false,
            },
            recovery_codes: if issued { codes } else { Vec::new() },
        })
    }

    /// The signed-in user's passkeys, oldest first.
    pub fn passkeys(&self, db: &Database, actor: &Actor) -> Result<Vec<PasskeySummary>, AuthError> {
        let rows: Vec<SummaryRow> = db.with_conn(|conn| {
            Ok(passkeys::table
                .filter(passkeys::user_id.eq(&actor.user_id))
                .order(passkeys::created_at.asc())
                .select((
                    passkeys::id,
                    passkeys::name,
                    passkeys::created_at,
                    passkeys::last_used_at,
                    passkeys::backup_eligible,
                    passkeys::backup_state,
                    passkeys::sign_count,
                    passkeys::flagged_at,
                ))
                .load(conn)?)
        })?;
        Ok(rows.into_iter().map(summary).collect())
    }

    /// Renames one of the signed-in user's passkeys (another user's is not found).
    pub fn rename_passkey(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<(), AuthError> {
        if name.trim().is_empty() {
            return Err(AuthError::Invalid {
                field: "name",
                message: "must not be empty",
            });
        }
        let name = check_name(Some(name), 0)?;
        db.write(|conn| {
            let changed = diesel::update(
                passkeys::table
                    .find(id)
                    .filter(passkeys::user_id.eq(&actor.user_id)),
            )
            .set(passkeys::name.eq(&name))
            .execute(conn)?;
            if changed == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("passkey".into()),
                    record_id: Some(id.to_string()),
                    fields: vec!["name".into()],
                    ..actor.event("passkey.rename")
                },
            )?;
            Ok(Ok(()))
        })?
    }

    /// Removes one of the signed-in user's passkeys; every session that signed in with it ends
    /// (this one too, if it did).
    pub fn remove_passkey(&self, db: &Database, actor: &Actor, id: &str) -> Result<(), AuthError> {
        db.write(|conn| {
            let removed = diesel::delete(
                passkeys::table
                    .find(id)
                    .filter(passkeys::user_id.eq(&actor.user_id)),
            )
            .execute(conn)?;
            if removed == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            diesel::update(
                sessions::table
                    .filter(sessions::passkey_id.eq(id))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(Some(now_micros())),
                sessions::revoked_reason.eq(Some("passkey removed")),
            ))
            .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("passkey".into()),
                    record_id: Some(id.to_string()),
                    ..actor.event("passkey.remove")
                },
            )?;
            Ok(Ok(()))
        })?
    }

    /// Starts a passkey sign-in for `login`. Throttled like the password sign-in. An unknown
    /// login, or one without a usable passkey, gets a decoy of the same shape (module docs).
    pub fn passkey_sign_in_start(
        &self,
        db: &Database,
        settings: &AuthSettings,
        login: &str,
        source: Option<&str>,
    ) -> Result<PasskeyChallenge, AuthError> {
        let source_ref = source.map(|s| self.source_ref(s)).transpose()?;
        let keys = self.throttle_keys(login, source_ref.as_deref())?;
        if let Some(wait) = self.throttled(db, settings, &keys)? {
            return Err(AuthError::Throttled(wait));
        }
        let user: Option<String> = match Login::parse(login) {
            Ok(login) => db.with_conn(|conn| {
                Ok(users::table
                    .filter(users::login.eq(login.as_str()))
                    .filter(users::status.eq("active"))
                    .select(users::id)
                    .first(conn)
                    .optional()?)
            })?,
            Err(_) => None,
        };
        let usable = match &user {
            Some(id) => db.with_conn(|conn| stored_passkeys(conn, id, true))?,
            None => Vec::new(),
        };
        if let (Some(user_id), false) = (&user, usable.is_empty()) {
            let (options, state) = settings
                .relying_party
                .webauthn
                .start_passkey_authentication(&usable)
                .map_err(|_| DbError::Refused("the passkey sign-in could not start".into()))?;
            let state = serde_json::to_string(&state).map_err(|_| unreadable())?;
            let ceremony = keep_ceremony(db, SIGN_IN, Some(user_id), Some(state))?;
            return Ok(PasskeyChallenge {
                ceremony,
                options: serde_json::to_value(options).map_err(|_| unreadable())?,
            });
        }
        let ceremony = keep_ceremony(db, SIGN_IN, user.as_deref(), None)?;
        Ok(PasskeyChallenge {
            ceremony,
            options: self.decoy_options(settings, login)?,
        })
    }

    /// The options of a sign-in that cannot succeed, shaped as webauthn-rs's: a random
    /// challenge and one credential id derived from the login (the same every time).
    fn decoy_options(
        &self,
        settings: &AuthSettings,
        login: &str,
    ) -> Result<serde_json::Value, AuthError> {
        let challenge = crypto::random::bytes::<32>().map_err(crypto::CryptoError::from)?;
        let fake = crypto::token::keyed_hash(
            &self.ring().purpose_key("passkey-decoy")?,
            login.trim().to_lowercase().as_bytes(),
        );
        Ok(serde_json::json!({
            "publicKey": {
                "challenge": credential_key(&challenge),
                "timeout": CEREMONY_TTL.as_millis() as u64,
                "rpId": settings.relying_party.id,
                "allowCredentials": [{"type": "public-key", "id": credential_key(&fake[..16])}],
                "userVerification": "required",
            }
        }))
    }

    /// Finishes a passkey sign-in: the response must answer the ceremony's challenge, for this
    /// relying party, with user verification, from a passkey still registered, not flagged, with
    /// a counter that went forward. A counter that went backwards flags the passkey (refused
    /// from then on). Success opens a session as a password sign-in does, with the second
    /// factor passed; every failure is audited and counts towards the throttle and the lockout.
    pub fn passkey_sign_in_finish(
        &self,
        db: &Database,
        settings: &AuthSettings,
        ceremony: &str,
        credential: &serde_json::Value,
        source: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let source_ref = source.map(|s| self.source_ref(s)).transpose()?;
        let response: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|_| AuthError::Invalid {
                field: "credential",
                message: "is not a WebAuthn sign-in response",
            })?;
        let now = now_micros();
        let taken = db.write(|conn| take_ceremony(conn, ceremony, SIGN_IN, now))?;
        let user: Option<UserRow> = match taken.as_ref().and_then(|(u, _)| u.clone()) {
            Some(id) => db.with_conn(|conn| {
                Ok(users::table
                    .find(&id)
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()?)
            })?,
            None => None,
        };
        let login = user.as_ref().map(|u| u.login.clone()).unwrap_or_default();
        let keys = self.throttle_keys(&login, source_ref.as_deref())?;
        if let Some(wait) = self.throttled(db, settings, &keys)? {
            return Err(AuthError::Throttled(wait));
        }
        let refuse =
            |rule: &str, passkey: Option<&str>, flag: bool| -> Result<AuthError, AuthError> {
                db.write(|conn| {
                    // A wrong answer for an active account counts towards its lockout as a
                    // wrong password does; a locked or disabled one only towards the throttle.
                    match &user {
                        Some(u) if !matches!(rule, "locked" | "disabled") => {
                            let source = source_ref.as_deref();
                            self.count_failure(conn, settings, &keys, u, source, now)?;
                        }
                        _ => self.note_failure(conn, &keys)?,
                    }
                    if let (true, Some(id)) = (flag, passkey) {
                        diesel::update(
                            passkeys::table
                                .find(id)
                                .filter(passkeys::flagged_at.is_null()),
                        )
                        .set(passkeys::flagged_at.eq(Some(now)))
                        .execute(conn)?;
                    }
                    self.record(
                        conn,
                        &AuditEvent {
                            actor_id: user.as_ref().map(|u| u.id.clone()),
                            actor_role: user.as_ref().map(|u| u.role.clone()),
                            action: "auth.passkey".into(),
                            record_type: passkey.map(|_| "passkey".into()),
                            record_id: passkey.map(String::from),
                            outcome: Outcome::Denied,
                            rule: Some(rule.into()),
                            source: source_ref.clone(),
                            ..Default::default()
                        },
                    )
                })?;
                Ok(AuthError::InvalidCredentials)
            };
        let (Some(user), Some((_, Some(state)))) = (user.as_ref(), taken.as_ref()) else {
            let rule = match taken {
                None => "ceremony_unknown",
                Some(_) => "no_passkey",
            };
            return Err(refuse(rule, None, false)?);
        };
        let state: PasskeyAuthentication = serde_json::from_str(state).map_err(|_| unreadable())?;
        // The stored passkey the response names, if it is still registered to this user.
        let key = credential_key(&response.raw_id);
        let stored: Option<(String, String, Option<i64>)> = db.with_conn(|conn| {
            Ok(passkeys::table
                .filter(passkeys::credential_id.eq(&key))
                .filter(passkeys::user_id.eq(&user.id))
                .select((passkeys::id, passkeys::credential, passkeys::flagged_at))
                .first(conn)
                .optional()?)
        })?;
        let result = settings
            .relying_party
            .webauthn
            .finish_passkey_authentication(&response, &state);
        let passkey_id = stored.as_ref().map(|(id, _, _)| id.as_str());
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                let rule = refusal_rule(&e);
                return Err(refuse(rule, passkey_id, rule == "counter_regression")?);
            }
        };
        let Some((passkey_id, json, flagged)) = stored else {
            return Err(refuse("removed_credential", None, false)?);
        };
        if flagged.is_some() {
            return Err(refuse("flagged_credential", Some(&passkey_id), false)?);
        }
        let locked = user.locked_until.is_some_and(|t| t > now);
        if user.status != "active" || locked {
            let rule = if locked { "locked" } else { "disabled" };
            return Err(refuse(rule, Some(&passkey_id), false)?);
        }
        let role = Role::parse(&user.role).ok_or(AuthError::InvalidCredentials)?;
        let mut passkey: Passkey = serde_json::from_str(&json).map_err(|_| unreadable())?;
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey).map_err(|_| unreadable())?;
        let opening = self.opening(settings, user, role, true, true)?;
        db.write(|conn| {
            diesel::update(passkeys::table.find(&passkey_id))
                .set((
                    passkeys::credential.eq(&json),
                    passkeys::sign_count.eq(i64::from(result.counter())),
                    passkeys::backup_state.eq(result.backup_state()),
                    passkeys::backup_eligible.eq(result.backup_eligible()),
                    passkeys::last_used_at.eq(Some(now)),
                ))
                .execute(conn)?;
            let event = AuditEvent {
                record_type: Some("passkey".into()),
                record_id: Some(passkey_id.clone()),
                source: source_ref.clone(),
                ..opening.actor.event("auth.passkey")
            };
            self.open_session(
                conn,
                settings,
                &opening,
                &keys,
                Some(&passkey_id),
                &event,
                now,
            )
        })?;
        Ok(opening.session(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_host_of_the_public_address() {
        let rp = RelyingParty::new("https://hotline.example.org/").unwrap();
        assert_eq!(rp.id(), "hotline.example.org");
        assert_eq!(
            RelyingParty::new("http://localhost:8080").unwrap().id(),
            "localhost"
        );
        assert!(RelyingParty::new("http://127.0.0.1:8080").is_err());
        assert!(RelyingParty::new("not an address").is_err());
    }

    #[test]
    fn names_are_checked_and_default_to_a_number() {
        assert_eq!(check_name(None, 2).unwrap(), "Passkey 2");
        assert_eq!(check_name(Some("  Phone "), 1).unwrap(), "Phone");
        assert!(check_name(Some(&"x".repeat(61)), 1).is_err());
        assert!(check_name(Some("a\u{7}b"), 1).is_err());
    }
}
