//! The second factor: TOTP enrolment and confirmation, recovery codes, the check at sign-in, the admin's reset, and re-authentication for a sensitive step.

use super::*;

pub(super) const RECOVERY_CODES: usize = 10;

/// New recovery codes (to show once) and their HMACs (to store).
pub(super) type RecoveryCodes = (Vec<domain::Sensitive<String>>, Vec<Vec<u8>>);

pub(super) fn totp_ctx<'a>(user_id: &'a str) -> crate::vault::FieldContext<'a> {
    crate::vault::FieldContext {
        table: "users",
        field: "totp_secret",
        record_id: user_id,
        owner_id: user_id,
    }
}

pub(super) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a user needs to set up an authenticator app.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub otpauth_uri: domain::Sensitive<String>,
}

impl Vault {
    pub(super) fn recovery_hash(&self, code: &str) -> Result<Vec<u8>, AuthError> {
        let normalised: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        Ok(crypto::token::keyed_hash(
            &self.ring().purpose_key("recovery-code")?,
            normalised.as_bytes(),
        )
        .to_vec())
    }

    /// Checks a one-time code (or, failing that, a recovery code) and uses it up: the step is
    /// stored only if it is later than the last one used, in one statement, so the same code
    /// cannot pass twice even from two requests at once.
    pub(super) fn second_factor(
        &self,
        db: &Database,
        user_id: &str,
        sealed: &[u8],
        code: &str,
    ) -> Result<bool, AuthError> {
        let secret = db.with_conn(|conn| {
            let dek = self.data_key(conn, user_id)?;
            Ok(dek.open(&totp_ctx(user_id), sealed)?)
        })?;
        let last: Option<i64> = db.with_conn(|conn| {
            Ok(users::table
                .find(user_id)
                .select(users::totp_last_step)
                .first(conn)?)
        })?;
        if let Some(step) = crypto::totp::verify(&secret, code, unix_secs(), last.map(|l| l as u64))
        {
            let step = step as i64;
            let used = db.write(|conn| {
                Ok(diesel::update(
                    users::table.find(user_id).filter(
                        users::totp_last_step
                            .is_null()
                            .or(users::totp_last_step.lt(step)),
                    ),
                )
                .set(users::totp_last_step.eq(Some(step)))
                .execute(conn)?)
            })?;
            return Ok(used == 1);
        }
        self.use_recovery_code(db, user_id, code)
    }

    /// Uses up one of the user's recovery codes: whether `code` was one, unused.
    pub(super) fn use_recovery_code(
        &self,
        db: &Database,
        user_id: &str,
        code: &str,
    ) -> Result<bool, AuthError> {
        let hash = self.recovery_hash(code)?;
        let used = db.write(|conn| {
            Ok(diesel::update(
                crate::schema::recovery_codes::table
                    .find(&hash)
                    .filter(crate::schema::recovery_codes::user_id.eq(user_id))
                    .filter(crate::schema::recovery_codes::used_at.is_null()),
            )
            .set(crate::schema::recovery_codes::used_at.eq(Some(now_micros())))
            .execute(conn)?)
        })?;
        Ok(used == 1)
    }

    /// Starts TOTP enrolment: a new secret, sealed, not yet active. Refused once a confirmed
    /// one exists (an admin resets it first).
    pub fn totp_enrol(
        &self,
        db: &Database,
        actor: &Actor,
        issuer: &str,
    ) -> Result<TotpEnrolment, AuthError> {
        let secret = zeroize::Zeroizing::new(crypto::totp::new_secret()?);
        db.write(|conn| {
            let confirmed: Option<i64> = users::table
                .find(&actor.user_id)
                .select(users::totp_confirmed_at)
                .first(conn)?;
            if confirmed.is_some() {
                return Ok(Err(AuthError::Conflict(
                    "a second factor is already set up; an admin can reset it",
                )));
            }
            let dek = match self.data_key(conn, &actor.user_id) {
                Ok(dek) => dek,
                Err(DbError::NotFound) => self.create_data_key(conn, "user", &actor.user_id)?,
                Err(e) => return Err(e),
            };
            let sealed = dek.seal(&totp_ctx(&actor.user_id), secret.as_ref())?;
            diesel::update(users::table.find(&actor.user_id))
                .set((
                    users::totp_secret.eq(Some(sealed)),
                    users::totp_last_step.eq(None::<i64>),
                ))
                .execute(conn)?;
            self.record(conn, &actor.event("auth.totp_enrol"))?;
            Ok(Ok(()))
        })??;
        Ok(TotpEnrolment {
            otpauth_uri: crypto::totp::otpauth_uri(issuer, &actor.login, secret.as_ref()).into(),
        })
    }

    /// The enrolment started and not confirmed yet, again (the page shows its QR code after a
    /// wrong first code): the same secret, so the app's entry stays right. `None` when there is
    /// none pending.
    pub fn totp_pending(
        &self,
        db: &Database,
        actor: &Actor,
        issuer: &str,
    ) -> Result<Option<TotpEnrolment>, AuthError> {
        let secret = db.with_conn(|conn| {
            let (sealed, confirmed): (Option<Vec<u8>>, Option<i64>) = users::table
                .find(&actor.user_id)
                .select((users::totp_secret, users::totp_confirmed_at))
                .first(conn)?;
            let Some(sealed) = sealed.filter(|_| confirmed.is_none()) else {
                return Ok(None);
            };
            let dek = self.data_key(conn, &actor.user_id)?;
            Ok(Some(zeroize::Zeroizing::new(
                dek.open(&totp_ctx(&actor.user_id), &sealed)?,
            )))
        })?;
        Ok(secret.map(|secret| TotpEnrolment {
            otpauth_uri: crypto::totp::otpauth_uri(issuer, &actor.login, secret.as_ref()).into(),
        }))
    }

    /// Confirms enrolment with a first code from the app; returns the single-use recovery
    /// codes (shown once, stored only as HMACs). The current session counts as verified.
    pub fn totp_confirm(
        &self,
        db: &Database,
        actor: &Actor,
        code: &str,
    ) -> Result<Vec<domain::Sensitive<String>>, AuthError> {
        let (sealed, confirmed): (Option<Vec<u8>>, Option<i64>) = db.with_conn(|conn| {
            Ok(users::table
                .find(&actor.user_id)
                .select((users::totp_secret, users::totp_confirmed_at))
                .first(conn)?)
        })?;
        let Some(sealed) = sealed.filter(|_| confirmed.is_none()) else {
            return Err(AuthError::Conflict("start enrolment first"));
        };
        if !self.second_factor(db, &actor.user_id, &sealed, code)? {
            return Err(AuthError::Invalid {
                field: "code",
                message: "is not the current code",
            });
        }
        let (codes, hashes) = self.new_recovery_codes()?;
        db.write(|conn| {
            let now = now_micros();
            diesel::update(users::table.find(&actor.user_id))
                .set(users::totp_confirmed_at.eq(Some(now)))
                .execute(conn)?;
            replace_recovery_codes(conn, &actor.user_id, &hashes, now)?;
            diesel::update(sessions::table.find(&actor.session_id))
                .set(sessions::mfa.eq(true))
                .execute(conn)?;
            self.record(conn, &actor.event("auth.totp_confirm"))
        })?;
        Ok(codes)
    }

    /// A new set of single-use recovery codes (to show once) and their HMACs (to store).
    pub(super) fn new_recovery_codes(&self) -> Result<RecoveryCodes, AuthError> {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| crypto::random::hex_id::<5>().map(|h| format!("{}-{}", &h[..5], &h[5..])))
            .collect::<Result<_, _>>()
            .map_err(crypto::CryptoError::from)?;
        let hashes: Vec<Vec<u8>> = codes
            .iter()
            .map(|c| self.recovery_hash(c))
            .collect::<Result<_, _>>()?;
        Ok((codes.into_iter().map(Into::into).collect(), hashes))
    }

    /// Removes a user's second factor and recovery codes and ends their sessions (a lost
    /// phone); they enrol again at the next login.
    pub fn reset_totp(
        &self,
        db: &Database,
        login: &Login,
        by: AuditEvent,
    ) -> Result<(), AuthError> {
        db.write(|conn| {
            let Some(id) = user_id_by_login(conn, login)? else {
                return Ok(Err(AuthError::Conflict("no such user")));
            };
            remove_second_factor(conn, &id)?;
            self.record(
                conn,
                &AuditEvent {
                    action: "user.reset_totp".into(),
                    record_type: Some("user".into()),
                    record_id: Some(id),
                    ..by.clone()
                },
            )?;
            Ok(Ok(()))
        })?
    }
}

/// The user's recovery codes become `hashes` (every earlier one is gone). In the caller's
/// transaction.
pub(super) fn replace_recovery_codes(
    conn: &mut crate::DbConnection,
    user_id: &str,
    hashes: &[Vec<u8>],
    now: i64,
) -> Result<(), DbError> {
    diesel::delete(
        crate::schema::recovery_codes::table
            .filter(crate::schema::recovery_codes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    for hash in hashes {
        diesel::insert_into(crate::schema::recovery_codes::table)
            .values((
                crate::schema::recovery_codes::code_hash.eq(hash),
                crate::schema::recovery_codes::user_id.eq(user_id),
                crate::schema::recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes a user's second factor and recovery codes and ends their sessions (a lost phone):
/// they enrol again at their next sign-in. In the caller's transaction, which records it.
pub(super) fn remove_second_factor(
    conn: &mut crate::DbConnection,
    user_id: &str,
) -> Result<(), DbError> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(None::<Vec<u8>>),
            users::totp_last_step.eq(None::<i64>),
            users::totp_confirmed_at.eq(None::<i64>),
            users::updated_at.eq(now_micros()),
        ))
        .execute(conn)?;
    diesel::delete(
        crate::schema::recovery_codes::table
            .filter(crate::schema::recovery_codes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    revoke_sessions(conn, user_id, "second factor reset")?;
    Ok(())
}

/// What a sensitive step (break-glass) asks for again: the password, or a one-time code of the
/// user's authenticator (or a recovery code).
#[derive(Debug, Default)]
pub struct Reauth {
    pub password: Option<domain::Sensitive<String>>,
    pub totp: Option<domain::Sensitive<String>>,
}

impl Vault {
    /// Re-authenticates the signed-in user for a sensitive step. Throttled like sign-in (per
    /// login name), so it is no way around the sign-in throttle; a failure is audited and counts
    /// towards the throttle. A one-time code is used up like at sign-in.
    pub fn reauthenticate(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &AuthSettings,
        reauth: &Reauth,
    ) -> Result<(), AuthError> {
        let keys = self.throttle_keys(&actor.login, None)?;
        if let Some(wait) = self.throttled(db, settings, &keys)? {
            return Err(AuthError::Throttled(wait));
        }
        let (hash, secret, confirmed): (String, Option<Vec<u8>>, Option<i64>) =
            db.with_conn(|conn| {
                Ok(users::table
                    .find(&actor.user_id)
                    .select((
                        users::password_hash,
                        users::totp_secret,
                        users::totp_confirmed_at,
                    ))
                    .first(conn)?)
            })?;
        let by_code = match (&reauth.totp, &secret, confirmed) {
            (Some(code), Some(sealed), Some(_)) => {
                self.second_factor(db, &actor.user_id, sealed, code.expose())?
            }
            _ => false,
        };
        let ok = by_code
            || match &reauth.password {
                Some(p) => crypto::password::verify(p.expose(), &hash)?,
                None => false,
            };
        if !ok {
            db.write(|conn| {
                self.note_failure(conn, &keys)?;
                self.record(
                    conn,
                    &AuditEvent {
                        outcome: Outcome::Denied,
                        rule: Some("reauthentication_failed".into()),
                        ..actor.event("auth.reauthenticate")
                    },
                )
            })?;
            return Err(AuthError::Invalid {
                field: "password",
                message: "re-authentication failed: the password or code is not correct",
            });
        }
        Ok(())
    }
}
