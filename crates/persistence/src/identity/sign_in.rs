//! Sign-in and sessions: password login with the second factor, refresh-token rotation with reuse detection, logout, the per-request session check and password change.

use super::*;

impl Vault {
    pub(super) fn session_ref(&self, session_id: &str) -> Result<String, DbError> {
        Ok(crypto::token::pseudonym(
            &self.ring().purpose_key("session-ref")?,
            session_id.as_bytes(),
        ))
    }

    /// Pseudonym of a client address for the access log.
    pub fn source_ref(&self, address: &str) -> Result<String, DbError> {
        Ok(crypto::token::pseudonym(
            &self.ring().purpose_key("source-ref")?,
            address.as_bytes(),
        ))
    }

    /// Records a web form refused as forged (another site's origin, or no valid form token of
    /// the session): one denied event, with the session's pseudonym when the request carried a
    /// session, and the pseudonym of the address. Durable before the 403 goes out.
    pub fn refuse_forged_request(
        &self,
        db: &Database,
        session_id: Option<&str>,
        source: Option<&str>,
        request_id: &str,
    ) -> Result<(), DbError> {
        let event = AuditEvent {
            session_ref: session_id.map(|s| self.session_ref(s)).transpose()?,
            action: "web.forged_request".into(),
            outcome: Outcome::Denied,
            rule: Some("same_origin_form".into()),
            source: source.map(|s| self.source_ref(s)).transpose()?,
            request_id: Some(request_id.into()),
            ..Default::default()
        };
        self.record_durably(db, event)
    }

    pub(super) fn refresh_hash(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        Ok(
            crypto::token::keyed_hash(&self.ring().purpose_key("refresh-token")?, token.as_bytes())
                .to_vec(),
        )
    }

    /// Password login. Unknown user, wrong password, disabled and locked accounts all give
    /// `InvalidCredentials` after the same amount of work. `source` is the client address (only
    /// its pseudonym is recorded).
    pub fn login(
        &self,
        db: &Database,
        settings: &AuthSettings,
        login: &str,
        password: &str,
        totp: Option<&str>,
        source: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let source_ref = source.map(|s| self.source_ref(s)).transpose()?;
        let throttle_keys = self.throttle_keys(login, source_ref.as_deref())?;
        if let Some(wait) = self.throttled(db, settings, &throttle_keys)? {
            return Err(AuthError::Throttled(wait));
        }
        let login = Login::parse(login).ok();
        let user: Option<UserRow> = match &login {
            Some(login) => db.with_conn(|conn| {
                Ok(users::table
                    .filter(users::login.eq(login.as_str()))
                    .select(UserRow::as_select())
                    .first(conn)
                    .optional()?)
            })?,
            None => None,
        };
        // The slow part runs outside any transaction (it must not hold SQLite's write lock).
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .or_else(|| DUMMY_HASH.clone());
        let password_ok = hash
            .as_deref()
            .is_some_and(|h| crypto::password::verify(password, h).unwrap_or(false));
        let now = now_micros();
        let denied = |rule: &str, user: Option<&UserRow>| AuditEvent {
            actor_id: user.map(|u| u.id.clone()),
            actor_role: user.map(|u| u.role.clone()),
            action: "auth.login".into(),
            record_type: Some("user".into()),
            record_id: user.map(|u| u.id.clone()),
            outcome: Outcome::Denied,
            rule: Some(rule.into()),
            source: source_ref.clone(),
            ..Default::default()
        };
        let Some(user) = user else {
            db.write(|conn| {
                self.note_failure(conn, &throttle_keys)?;
                self.record(conn, &denied("unknown_user", None))
            })?;
            return Err(AuthError::InvalidCredentials);
        };
        // A wrong password or code of this user: counted towards the throttle and the lockout,
        // and recorded.
        let fail = |rule: &str| -> Result<(), DbError> {
            db.write(|conn| {
                let source = source_ref.as_deref();
                self.count_failure(conn, settings, &throttle_keys, &user, source, now)?;
                self.record(conn, &denied(rule, Some(&user)))
            })
        };
        let locked = user.locked_until.is_some_and(|t| t > now);
        if user.status != "active" || locked {
            let rule = if locked { "locked" } else { "disabled" };
            db.write(|conn| {
                self.note_failure(conn, &throttle_keys)?;
                self.record(conn, &denied(rule, Some(&user)))
            })?;
            return Err(AuthError::InvalidCredentials);
        }
        if !password_ok {
            fail("bad_password")?;
            return Err(AuthError::InvalidCredentials);
        }
        let role = Role::parse(&user.role).ok_or(AuthError::InvalidCredentials)?;
        // An account whose role signs in with a passkey, and has one, opens nothing with a
        // password alone; with a recovery code, only a session that may enrol a new passkey (the
        // old one lost).
        let passkey_account =
            settings.passkey_required.contains(&role) && self.has_passkey(db, &user.id)?;
        let code = totp.filter(|c| !c.trim().is_empty());
        let mfa = if passkey_account {
            let Some(code) = code else {
                db.write(|conn| self.record(conn, &denied("passkey_required", Some(&user))))?;
                return Err(AuthError::PasskeyRequired);
            };
            if !self.use_recovery_code(db, &user.id, code)? {
                fail("passkey_required")?;
                return Err(AuthError::PasskeyRequired);
            }
            true
        } else {
            self.password_second_factor(db, &user, code, &fail, &denied)?
        };
        let rehash = if crypto::password::needs_rehash(&user.password_hash) {
            Some(crypto::password::hash(password)?)
        } else {
            None
        };
        let opening = self.opening(settings, &user, role, mfa, false)?;
        db.write(|conn| {
            if let Some(h) = &rehash {
                diesel::update(users::table.find(&user.id))
                    .set(users::password_hash.eq(h))
                    .execute(conn)?;
            }
            let event = AuditEvent {
                source: source_ref.clone(),
                ..opening.actor.event("auth.login")
            };
            self.open_session(conn, settings, &opening, &throttle_keys, None, &event, now)
        })?;
        Ok(opening.session(&user))
    }

    /// A new session of `user`, not yet stored: its ids, its refresh token and what it may
    /// still have to enrol (`passkey_session`: it signs in with a passkey).
    pub(super) fn opening(
        &self,
        settings: &AuthSettings,
        user: &UserRow,
        role: Role,
        mfa: bool,
        passkey_session: bool,
    ) -> Result<Opening, AuthError> {
        let session_id = new_id()?;
        let refresh = crypto::token::random_token()?;
        let refresh_hash = self.refresh_hash(&refresh)?;
        let (needs_totp_enrolment, needs_passkey) = enrolment(
            settings,
            role,
            user.totp_confirmed_at.is_some(),
            passkey_session,
        );
        Ok(Opening {
            actor: Actor {
                user_id: user.id.clone(),
                login: user.login.clone(),
                role,
                organisation_id: user.organisation_id.clone(),
                session_ref: self.session_ref(&session_id)?,
                session_id,
                mfa,
                needs_totp_enrolment,
                needs_passkey,
            },
            refresh,
            refresh_hash,
        })
    }

    /// Opens a session in the caller's transaction: the user's failures are forgotten, the
    /// throttle keys cleared, the session and its refresh token stored, `event` recorded.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_session(
        &self,
        conn: &mut crate::DbConnection,
        settings: &AuthSettings,
        opening: &Opening,
        throttle_keys: &[String],
        passkey_id: Option<&str>,
        event: &AuditEvent,
        now: i64,
    ) -> Result<(), DbError> {
        diesel::update(users::table.find(&opening.actor.user_id))
            .set((
                users::failed_logins.eq(0),
                users::locked_until.eq(None::<i64>),
            ))
            .execute(conn)?;
        diesel::delete(
            crate::schema::login_throttle::table
                .filter(crate::schema::login_throttle::key.eq_any(throttle_keys)),
        )
        .execute(conn)?;
        insert_session(
            conn,
            settings,
            &opening.actor,
            &opening.refresh_hash,
            passkey_id,
            now,
        )?;
        self.record(conn, event)
    }

    /// The password sign-in's second factor, when the user has one: the current one-time code
    /// or a recovery code. Whether one was used; a missing or wrong one refuses the sign-in (a
    /// wrong one is counted by `fail`).
    fn password_second_factor(
        &self,
        db: &Database,
        user: &UserRow,
        code: Option<&str>,
        fail: &dyn Fn(&str) -> Result<(), DbError>,
        denied: &dyn Fn(&str, Option<&UserRow>) -> AuditEvent,
    ) -> Result<bool, AuthError> {
        Ok(match (&user.totp_secret, user.totp_confirmed_at) {
            (Some(sealed), Some(_)) => {
                let Some(code) = code else {
                    db.write(|conn| self.record(conn, &denied("totp_required", Some(user))))?;
                    return Err(AuthError::TotpRequired);
                };
                if !self.second_factor(db, &user.id, sealed, code)? {
                    fail("bad_totp")?;
                    return Err(AuthError::InvalidCredentials);
                }
                true
            }
            _ => false,
        })
    }

    /// A failed sign-in of a known, active `user` (a wrong password, one-time code, recovery
    /// code or passkey answer): one more failure for the throttle and for the account, and at
    /// `lock_after` in a row the account locks for `lock_for` (audited as `auth.lock`; the user
    /// is told by mail). Every way of signing in counts here, so none of them can be guessed
    /// at past the lockout. In the caller's transaction, which records the refusal itself.
    pub(super) fn count_failure(
        &self,
        conn: &mut crate::DbConnection,
        settings: &AuthSettings,
        throttle_keys: &[String],
        user: &UserRow,
        source_ref: Option<&str>,
        now: i64,
    ) -> Result<(), DbError> {
        self.note_failure(conn, throttle_keys)?;
        let failures: i32 = diesel::update(users::table.find(&user.id))
            .set(users::failed_logins.eq(users::failed_logins + 1))
            .returning(users::failed_logins)
            .get_result(conn)?;
        if failures < settings.lock_after as i32 {
            return Ok(());
        }
        diesel::update(users::table.find(&user.id))
            .set((
                users::locked_until
                    .eq(Some(now + crate::clock::duration_micros(settings.lock_for))),
                users::failed_logins.eq(0),
            ))
            .execute(conn)?;
        self.record(
            conn,
            &AuditEvent {
                actor_id: Some(user.id.clone()),
                actor_role: Some(user.role.clone()),
                action: "auth.lock".into(),
                record_type: Some("user".into()),
                record_id: Some(user.id.clone()),
                outcome: Outcome::Denied,
                rule: Some("too_many_failures".into()),
                source: source_ref.map(String::from),
                ..Default::default()
            },
        )?;
        crate::outbox::queue_to_user(conn, &user.id, &domain::mail::Template::AccountLocked, "")
    }

    /// Trades a refresh token for a new one (the old one is spent). A spent token presented
    /// again means two parties hold it: the whole session is revoked.
    pub fn refresh(
        &self,
        db: &Database,
        settings: &AuthSettings,
        token: &str,
        source: Option<&str>,
    ) -> Result<NewSession, AuthError> {
        let hash = self.refresh_hash(token)?;
        let source_ref = source.map(|s| self.source_ref(s)).transpose()?;
        let next = crypto::token::random_token()?;
        let next_hash = self.refresh_hash(&next)?;
        let now = now_micros();
        let outcome = db.write(|conn| {
            let row: Option<(String, Option<i64>)> = refresh_tokens::table
                .find(&hash)
                .select((refresh_tokens::session_id, refresh_tokens::spent_at))
                .first(conn)
                .optional()?;
            let Some((session_id, spent)) = row else {
                return Ok(Err(AuthError::Unauthenticated));
            };
            if spent.is_some() {
                diesel::update(
                    sessions::table
                        .find(&session_id)
                        .filter(sessions::revoked_at.is_null()),
                )
                .set((
                    sessions::revoked_at.eq(Some(now)),
                    sessions::revoked_reason.eq(Some("refresh token reused")),
                ))
                .execute(conn)?;
                self.record(
                    conn,
                    &AuditEvent {
                        action: "auth.refresh".into(),
                        outcome: Outcome::Denied,
                        rule: Some("refresh_token_reused".into()),
                        session_ref: Some(self.session_ref(&session_id)?),
                        source: source_ref.clone(),
                        ..Default::default()
                    },
                )?;
                return Ok(Err(AuthError::Unauthenticated));
            }
            let actor = match self.check_session(conn, settings, &session_id, None, now)? {
                Ok((actor, _)) => actor,
                Err(e) => return Ok(Err(e)),
            };
            diesel::update(refresh_tokens::table.find(&hash))
                .set(refresh_tokens::spent_at.eq(Some(now)))
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(&next_hash),
                    refresh_tokens::session_id.eq(&session_id),
                    refresh_tokens::created_at.eq(now),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    source: source_ref.clone(),
                    ..actor.event("auth.refresh")
                },
            )?;
            Ok(Ok(actor))
        })?;
        Ok(NewSession {
            actor: outcome?,
            refresh_token: next.into(),
            language: None,
        })
    }

    /// Ends the session now.
    pub fn logout(&self, db: &Database, actor: &Actor) -> Result<(), AuthError> {
        db.write(|conn| {
            diesel::update(
                sessions::table
                    .find(&actor.session_id)
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(Some(now_micros())),
                sessions::revoked_reason.eq(Some("logout")),
            ))
            .execute(conn)?;
            self.record(conn, &actor.event("auth.logout"))?;
            Ok(())
        })?;
        Ok(())
    }

    /// The check every authenticated request makes: the session exists, is not revoked or
    /// expired (absolute or idle), belongs to `user_id`, and its user is active.
    pub fn authenticate(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
    ) -> Result<Actor, AuthError> {
        let now = now_micros();
        let (actor, last_seen) = db.with_conn(|conn| {
            self.check_session(conn, settings, claim.session_id, Some(claim.user_id), now)
        })??;
        self.touch_session(db, claim.session_id, last_seen, now)?;
        Ok(actor)
    }

    /// Idle tracking after a valid request: one write a minute per session; every other request
    /// only reads (on SQLite even an UPDATE that matches nothing would take the write lock).
    pub(crate) fn touch_session(
        &self,
        db: &Database,
        session_id: &str,
        last_seen: i64,
        now: i64,
    ) -> Result<(), DbError> {
        if last_seen < now - LAST_SEEN_RESOLUTION_US {
            db.write(|conn| {
                diesel::update(sessions::table.find(session_id))
                    .set(sessions::last_seen_at.eq(now))
                    .execute(conn)?;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The session and its user, if the session is valid now; with the session's last-seen time.
    pub(super) fn check_session(
        &self,
        conn: &mut crate::DbConnection,
        settings: &AuthSettings,
        session_id: &str,
        user_id: Option<&str>,
        now: i64,
    ) -> Result<Result<(Actor, i64), AuthError>, DbError> {
        let row: Option<SessionCheck> = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(session_id))
            .select(SessionCheck::as_select())
            .first(conn)
            .optional()?;
        self.session_actor(settings, session_id, user_id, row, now)
    }

    /// The actor of a session row read by the check (alone, or joined to a handler's first
    /// query), if the session is valid now; with the session's last-seen time.
    pub(crate) fn session_actor(
        &self,
        settings: &AuthSettings,
        session_id: &str,
        user_id: Option<&str>,
        row: Option<SessionCheck>,
        now: i64,
    ) -> Result<Result<(Actor, i64), AuthError>, DbError> {
        let Some(SessionCheck {
            passkey_id,
            uid,
            last_seen,
            expires,
            revoked,
            role,
            status,
            org,
            login,
            mfa,
            totp_confirmed_at,
        }) = row
        else {
            return Ok(Err(AuthError::Unauthenticated));
        };
        let valid = revoked.is_none()
            && expires > now
            && last_seen + crate::clock::duration_micros(settings.session_idle) > now
            && status == "active"
            && user_id.is_none_or(|u| u == uid);
        let Some(role) = Role::parse(&role).filter(|_| valid) else {
            return Ok(Err(AuthError::Unauthenticated));
        };
        let (needs_totp_enrolment, needs_passkey) = enrolment(
            settings,
            role,
            totp_confirmed_at.is_some(),
            passkey_id.is_some(),
        );
        let actor = Actor {
            user_id: uid,
            login,
            role,
            organisation_id: org,
            session_id: session_id.to_string(),
            session_ref: self.session_ref(session_id)?,
            mfa,
            needs_totp_enrolment,
            needs_passkey,
        };
        Ok(Ok((actor, last_seen)))
    }

    /// Changes the actor's password after checking the current one; every session of the user,
    /// this one included, ends (the client logs in again).
    pub fn change_password(
        &self,
        db: &Database,
        actor: &Actor,
        current: &str,
        new: &domain::Sensitive<String>,
    ) -> Result<(), AuthError> {
        let login = Login::parse(&actor.login).map_err(|_| AuthError::Unauthenticated)?;
        check_password(new.expose(), &login).map_err(|message| AuthError::Invalid {
            field: "new_password",
            message,
        })?;
        let stored: String = db.with_conn(|conn| {
            Ok(users::table
                .find(&actor.user_id)
                .select(users::password_hash)
                .first(conn)?)
        })?;
        if !crypto::password::verify(current, &stored)? {
            db.write(|conn| {
                self.record(
                    conn,
                    &AuditEvent {
                        outcome: Outcome::Denied,
                        rule: Some("bad_password".into()),
                        ..actor.event("auth.password_change")
                    },
                )
            })?;
            return Err(AuthError::Invalid {
                field: "current_password",
                message: "is not correct",
            });
        }
        let hash = crypto::password::hash(new.expose())?;
        db.write(|conn| {
            diesel::update(users::table.find(&actor.user_id))
                .set((
                    users::password_hash.eq(&hash),
                    users::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            revoke_sessions(conn, &actor.user_id, "password changed")?;
            self.record(
                conn,
                &AuditEvent {
                    fields: vec!["password".into()],
                    ..actor.event("auth.password_change")
                },
            )
        })?;
        Ok(())
    }
}

/// A session about to open (`Vault::opening`, then `Vault::open_session`).
pub(super) struct Opening {
    pub(super) actor: Actor,
    refresh: String,
    refresh_hash: Vec<u8>,
}

impl Opening {
    /// What the client gets once the session is stored.
    pub(super) fn session(self, user: &UserRow) -> NewSession {
        NewSession {
            actor: self.actor,
            refresh_token: self.refresh.into(),
            language: Some(user.language.clone()),
        }
    }
}

/// A new session of `actor` and its first refresh token (stored as an HMAC), `passkey_id` the
/// passkey it signed in with. In the caller's transaction, which records the sign-in.
fn insert_session(
    conn: &mut crate::DbConnection,
    settings: &AuthSettings,
    actor: &Actor,
    refresh_hash: &[u8],
    passkey_id: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&actor.session_id),
            sessions::user_id.eq(&actor.user_id),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + crate::clock::duration_micros(settings.session_absolute)),
            sessions::mfa.eq(actor.mfa),
            sessions::passkey_id.eq(passkey_id),
        ))
        .execute(conn)?;
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(refresh_hash),
            refresh_tokens::session_id.eq(&actor.session_id),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
