//! Accounts and sessions: creating and disabling users, password login with lockout, refresh
//! token rotation with reuse detection, logout, the per-request session check and password
//! change. Every event is audited in the same transaction as its effect.
//!
//! Access tokens (JWTs) are minted and checked by the API crate; what makes them mean anything
//! is the server-side session checked here on every request.

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
}

impl Actor {
    /// Whether the session may do its work: not one that still has to set up the second factor
    /// its role requires (such a session may only enrol).
    pub fn may_work(&self) -> Result<(), AuthError> {
        if self.needs_totp_enrolment {
            return Err(AuthError::SecondFactorNeeded);
        }
        Ok(())
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

impl Vault {
    fn session_ref(&self, session_id: &str) -> Result<String, DbError> {
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

    fn refresh_hash(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        Ok(
            crypto::token::keyed_hash(&self.ring().purpose_key("refresh-token")?, token.as_bytes())
                .to_vec(),
        )
    }

    /// Creates a user. `by` is the audit event of whoever does it (an admin, or the CLI).
    pub fn create_user(
        &self,
        db: &Database,
        login: &Login,
        role: Role,
        organisation_id: Option<&str>,
        password: &domain::Sensitive<String>,
        by: AuditEvent,
    ) -> Result<String, AuthError> {
        check_password(password.expose(), login).map_err(|message| AuthError::Invalid {
            field: "password",
            message,
        })?;
        if (role == Role::Partner) != organisation_id.is_some() {
            return Err(AuthError::Invalid {
                field: "organisation",
                message: "is required for partners and only for them",
            });
        }
        let hash = crypto::password::hash(password.expose())?;
        let id = new_id()?;
        db.write(|conn| {
            let taken: i64 = users::table
                .filter(users::login.eq(login.as_str()))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Ok(Err(AuthError::Conflict("a user with this login exists")));
            }
            let now = now_micros();
            diesel::insert_into(users::table)
                .values((
                    users::id.eq(&id),
                    users::login.eq(login.as_str()),
                    users::role.eq(role.as_str()),
                    users::organisation_id.eq(organisation_id),
                    users::password_hash.eq(&hash),
                    users::status.eq("active"),
                    users::failed_logins.eq(0),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    action: "user.create".into(),
                    record_type: Some("user".into()),
                    record_id: Some(id.clone()),
                    fields: vec!["login".into(), "role".into()],
                    ..by.clone()
                },
            )?;
            Ok(Ok(()))
        })??;
        Ok(id)
    }

    /// Disables a user and ends every session of theirs at once.
    pub fn disable_user(
        &self,
        db: &Database,
        login: &Login,
        by: AuditEvent,
    ) -> Result<(), AuthError> {
        db.write(|conn| {
            let Some(id) = user_id_by_login(conn, login)? else {
                return Ok(Err(AuthError::Conflict("no such user")));
            };
            let now = now_micros();
            diesel::update(users::table.find(&id))
                .set((users::status.eq("disabled"), users::updated_at.eq(now)))
                .execute(conn)?;
            revoke_sessions(conn, &id, "user disabled")?;
            self.record(
                conn,
                &AuditEvent {
                    action: "user.disable".into(),
                    record_type: Some("user".into()),
                    record_id: Some(id),
                    fields: vec!["status".into()],
                    ..by.clone()
                },
            )?;
            Ok(Ok(()))
        })?
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
        let locked = user.locked_until.is_some_and(|t| t > now);
        if user.status != "active" || locked || !password_ok {
            let rule = if user.status != "active" {
                "disabled"
            } else if locked {
                "locked"
            } else {
                "bad_password"
            };
            db.write(|conn| {
                self.note_failure(conn, &throttle_keys)?;
                if rule == "bad_password" {
                    let failures: i32 = diesel::update(users::table.find(&user.id))
                        .set(users::failed_logins.eq(users::failed_logins + 1))
                        .returning(users::failed_logins)
                        .get_result(conn)?;
                    if failures >= settings.lock_after as i32 {
                        diesel::update(users::table.find(&user.id))
                            .set((
                                users::locked_until.eq(Some(
                                    now + crate::clock::duration_micros(settings.lock_for),
                                )),
                                users::failed_logins.eq(0),
                            ))
                            .execute(conn)?;
                        self.record(
                            conn,
                            &AuditEvent {
                                action: "auth.lock".into(),
                                ..denied("too_many_failures", Some(&user))
                            },
                        )?;
                        crate::outbox::queue_to_user(
                            conn,
                            &user.id,
                            &domain::mail::Template::AccountLocked,
                            "",
                        )?;
                    }
                }
                self.record(conn, &denied(rule, Some(&user)))
            })?;
            return Err(AuthError::InvalidCredentials);
        }
        let role = Role::parse(&user.role).ok_or(AuthError::InvalidCredentials)?;
        // The second factor, when the user has one.
        let mfa = match (&user.totp_secret, user.totp_confirmed_at) {
            (Some(sealed), Some(_)) => {
                let Some(code) = totp.filter(|c| !c.trim().is_empty()) else {
                    db.write(|conn| self.record(conn, &denied("totp_required", Some(&user))))?;
                    return Err(AuthError::TotpRequired);
                };
                if !self.second_factor(db, &user.id, sealed, code)? {
                    db.write(|conn| {
                        self.note_failure(conn, &throttle_keys)?;
                        diesel::update(users::table.find(&user.id))
                            .set(users::failed_logins.eq(users::failed_logins + 1))
                            .execute(conn)?;
                        self.record(conn, &denied("bad_totp", Some(&user)))
                    })?;
                    return Err(AuthError::InvalidCredentials);
                }
                true
            }
            _ => false,
        };
        let needs_totp_enrolment =
            settings.totp_required.contains(&role) && user.totp_confirmed_at.is_none();
        let rehash = if crypto::password::needs_rehash(&user.password_hash) {
            Some(crypto::password::hash(password)?)
        } else {
            None
        };
        let session_id = new_id()?;
        let refresh = crypto::token::random_token()?;
        let refresh_hash = self.refresh_hash(&refresh)?;
        let actor = Actor {
            user_id: user.id.clone(),
            login: user.login.clone(),
            role,
            organisation_id: user.organisation_id.clone(),
            session_ref: self.session_ref(&session_id)?,
            session_id,
            mfa,
            needs_totp_enrolment,
        };
        db.write(|conn| {
            let mut changes = diesel::update(users::table.find(&user.id))
                .set((
                    users::failed_logins.eq(0),
                    users::locked_until.eq(None::<i64>),
                ))
                .execute(conn)?;
            if let Some(h) = &rehash {
                changes += diesel::update(users::table.find(&user.id))
                    .set(users::password_hash.eq(h))
                    .execute(conn)?;
            }
            let _ = changes;
            diesel::delete(
                crate::schema::login_throttle::table
                    .filter(crate::schema::login_throttle::key.eq_any(&throttle_keys)),
            )
            .execute(conn)?;
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(&actor.session_id),
                    sessions::user_id.eq(&user.id),
                    sessions::created_at.eq(now),
                    sessions::last_seen_at.eq(now),
                    sessions::expires_at
                        .eq(now + crate::clock::duration_micros(settings.session_absolute)),
                    sessions::mfa.eq(mfa),
                ))
                .execute(conn)?;
            diesel::insert_into(refresh_tokens::table)
                .values((
                    refresh_tokens::token_hash.eq(&refresh_hash),
                    refresh_tokens::session_id.eq(&actor.session_id),
                    refresh_tokens::created_at.eq(now),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    source: source_ref.clone(),
                    ..actor.event("auth.login")
                },
            )
        })?;
        Ok(NewSession {
            actor,
            refresh_token: refresh.into(),
        })
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
    fn check_session(
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
        let actor = Actor {
            user_id: uid,
            login,
            role,
            organisation_id: org,
            session_id: session_id.to_string(),
            session_ref: self.session_ref(session_id)?,
            mfa,
            needs_totp_enrolment: settings.totp_required.contains(&role)
                && totp_confirmed_at.is_none(),
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

/// The wait still due after `failures` failures, the last one at `last`.
fn throttle_wait(settings: &AuthSettings, failures: i32, last: i64, now: i64) -> Option<Duration> {
    let after = i32::try_from(settings.throttle_after).unwrap_or(i32::MAX);
    if failures < after {
        return None;
    }
    let over = failures - after;
    let factor = 1u32
        .checked_shl(over.clamp(0, 20) as u32)
        .unwrap_or(u32::MAX);
    let wait = settings
        .throttle_base
        .saturating_mul(factor)
        .min(settings.throttle_max);
    let until = last.saturating_add(crate::clock::duration_micros(wait));
    (until > now).then(|| Duration::from_micros((until - now) as u64))
}

impl Vault {
    fn throttle_keys(
        &self,
        login: &str,
        source_ref: Option<&str>,
    ) -> Result<Vec<String>, AuthError> {
        let key = self.ring().purpose_key("login-throttle")?;
        let mut keys = vec![format!(
            "login:{}",
            crypto::token::pseudonym(&key, login.trim().to_lowercase().as_bytes())
        )];
        if let Some(source) = source_ref {
            keys.push(format!("source:{source}"));
        }
        Ok(keys)
    }

    /// The longest wait due on any of the keys.
    fn throttled(
        &self,
        db: &Database,
        settings: &AuthSettings,
        keys: &[String],
    ) -> Result<Option<Duration>, AuthError> {
        let rows: Vec<(i32, i64)> = db.with_conn(|conn| {
            Ok(crate::schema::login_throttle::table
                .filter(crate::schema::login_throttle::key.eq_any(keys))
                .select((
                    crate::schema::login_throttle::failures,
                    crate::schema::login_throttle::last_failure_at,
                ))
                .load(conn)?)
        })?;
        let now = now_micros();
        Ok(rows
            .into_iter()
            .filter_map(|(f, last)| throttle_wait(settings, f, last, now))
            .max())
    }

    fn note_failure(&self, conn: &mut crate::DbConnection, keys: &[String]) -> Result<(), DbError> {
        for key in keys {
            diesel::sql_query(
                "INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, $2)
                 ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 1,
                 last_failure_at = excluded.last_failure_at",
            )
            .bind::<diesel::sql_types::Text, _>(key)
            .bind::<diesel::sql_types::BigInt, _>(now_micros())
            .execute(conn)?;
        }
        Ok(())
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct UserListRow {
    id: String,
    login: String,
    role: String,
    organisation_id: Option<String>,
    status: String,
    totp_confirmed_at: Option<i64>,
    locked_until: Option<i64>,
}

/// A user as admins see it: no secrets, no content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: String,
    pub login: String,
    pub role: String,
    pub organisation_id: Option<String>,
    pub status: String,
    pub totp_enrolled: bool,
    pub locked: bool,
}

impl Vault {
    /// How many staff accounts exist (any status).
    pub fn user_count(&self, db: &Database) -> Result<i64, DbError> {
        db.with_conn(|conn| Ok(users::table.count().get_result(conn)?))
    }

    /// Asks the policy; a denial is recorded in the access log (in its own transaction, since
    /// no work follows) and returned as `Forbidden`.
    pub fn authorize(
        &self,
        db: &Database,
        actor: &Actor,
        action: domain::policy::Action,
        relation: domain::policy::Relation,
        record: Option<(&str, &str)>,
    ) -> Result<&'static str, AuthError> {
        let decision = domain::policy::authorize(actor.role, action, relation);
        if let domain::policy::Decision::Allow(rule) = decision {
            return Ok(rule);
        }
        db.write(|conn| {
            self.record(
                conn,
                &AuditEvent {
                    record_type: record.map(|(t, _)| t.to_string()),
                    record_id: record.map(|(_, id)| id.to_string()),
                    outcome: Outcome::Denied,
                    rule: Some(decision.rule().into()),
                    ..actor.event(action.as_str())
                },
            )
        })?;
        Err(AuthError::Forbidden(decision.rule()))
    }

    fn user_relation(actor: &Actor, user_id: &str) -> domain::policy::Relation {
        if actor.user_id == user_id {
            domain::policy::Relation::OwnAccount
        } else {
            domain::policy::Relation::OtherAccount
        }
    }

    pub fn list_users(&self, db: &Database, actor: &Actor) -> Result<Vec<UserSummary>, AuthError> {
        let rule = self.authorize(
            db,
            actor,
            domain::policy::Action::UserList,
            domain::policy::Relation::NoObject,
            None,
        )?;
        let now = now_micros();
        Ok(db.write(|conn| {
            let rows: Vec<UserListRow> = users::table
                .select(UserListRow::as_select())
                .order_by(users::login)
                .load(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    rule: Some(rule.into()),
                    record_type: Some("user".into()),
                    ..actor.event("user.list")
                },
            )?;
            Ok(rows
                .into_iter()
                .map(|r| UserSummary {
                    id: r.id,
                    login: r.login,
                    role: r.role,
                    organisation_id: r.organisation_id,
                    status: r.status,
                    totp_enrolled: r.totp_confirmed_at.is_some(),
                    locked: r.locked_until.is_some_and(|t| t > now),
                })
                .collect())
        })?)
    }

    /// An admin creates a user (the policy decides; the event records the rule).
    pub fn admin_create_user(
        &self,
        db: &Database,
        actor: &Actor,
        login: &Login,
        role: Role,
        organisation_id: Option<&str>,
        password: &domain::Sensitive<String>,
    ) -> Result<String, AuthError> {
        let rule = self.authorize(
            db,
            actor,
            domain::policy::Action::UserCreate,
            domain::policy::Relation::NoObject,
            None,
        )?;
        self.create_user(
            db,
            login,
            role,
            organisation_id,
            password,
            AuditEvent {
                rule: Some(rule.into()),
                ..actor.event("")
            },
        )
    }

    /// An admin sets a user's e-mail address (for notifications; `None` removes it) and the
    /// language of their messages.
    pub fn admin_set_contact(
        &self,
        db: &Database,
        actor: &Actor,
        user_id: &str,
        email: Option<String>,
        language: &str,
    ) -> Result<(), AuthError> {
        let email = check_contact(email, language)?;
        let rule = self.authorize(
            db,
            actor,
            domain::policy::Action::UserContact,
            Self::user_relation(actor, user_id),
            Some(("user", user_id)),
        )?;
        self.set_contact(
            db,
            user_id,
            email,
            language,
            AuditEvent {
                rule: Some(rule.into()),
                ..actor.event("")
            },
        )
    }

    /// Sets a user's e-mail address and language (checked), recording `by` (an admin's event,
    /// or the CLI's).
    pub fn set_user_contact(
        &self,
        db: &Database,
        user_id: &str,
        email: Option<String>,
        language: &str,
        by: AuditEvent,
    ) -> Result<(), AuthError> {
        let email = check_contact(email, language)?;
        self.set_contact(db, user_id, email, language, by)
    }

    fn set_contact(
        &self,
        db: &Database,
        user_id: &str,
        email: Option<String>,
        language: &str,
        by: AuditEvent,
    ) -> Result<(), AuthError> {
        db.write(|conn| {
            let updated = diesel::update(users::table.find(user_id))
                .set((
                    users::email.eq(&email),
                    users::language.eq(language),
                    users::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            self.record(
                conn,
                &AuditEvent {
                    action: "user.contact".into(),
                    record_type: Some("user".into()),
                    record_id: Some(user_id.to_string()),
                    fields: vec!["email".into(), "language".into()],
                    ..by
                },
            )?;
            Ok(Ok(()))
        })?
    }

    /// An admin changes another user's status, role or lockout. Their sessions end when their
    /// status or role changes.
    pub fn admin_update_user(
        &self,
        db: &Database,
        actor: &Actor,
        user_id: &str,
        change: UserChange,
    ) -> Result<(), AuthError> {
        use domain::policy::Action;
        let action = match change {
            UserChange::Disable => Action::UserDisable,
            UserChange::Enable => Action::UserEnable,
            UserChange::Role(_) => Action::UserChangeRole,
            UserChange::Unlock => Action::UserUnlock,
        };
        let rule = self.authorize(
            db,
            actor,
            action,
            Self::user_relation(actor, user_id),
            Some(("user", user_id)),
        )?;
        db.write(|conn| {
            let exists: i64 = users::table.find(user_id).count().get_result(conn)?;
            if exists == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            let now = now_micros();
            let fields = match change {
                UserChange::Disable | UserChange::Enable => {
                    let status = if change == UserChange::Disable {
                        "disabled"
                    } else {
                        "active"
                    };
                    diesel::update(users::table.find(user_id))
                        .set((users::status.eq(status), users::updated_at.eq(now)))
                        .execute(conn)?;
                    revoke_sessions(conn, user_id, "status changed")?;
                    "status"
                }
                UserChange::Role(role) => {
                    let org: Option<String> = users::table
                        .find(user_id)
                        .select(users::organisation_id)
                        .first(conn)?;
                    if (role == Role::Partner) != org.is_some() {
                        return Ok(Err(AuthError::Invalid {
                            field: "role",
                            message: "partners belong to an organisation and only partners do",
                        }));
                    }
                    diesel::update(users::table.find(user_id))
                        .set((users::role.eq(role.as_str()), users::updated_at.eq(now)))
                        .execute(conn)?;
                    revoke_sessions(conn, user_id, "role changed")?;
                    "role"
                }
                UserChange::Unlock => {
                    diesel::update(users::table.find(user_id))
                        .set((
                            users::locked_until.eq(None::<i64>),
                            users::failed_logins.eq(0),
                        ))
                        .execute(conn)?;
                    "locked_until"
                }
            };
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("user".into()),
                    record_id: Some(user_id.to_string()),
                    fields: vec![fields.into()],
                    rule: Some(rule.into()),
                    ..actor.event(action.as_str())
                },
            )?;
            Ok(Ok(()))
        })?
    }
}

/// The auditor console: every use is authorized and is itself an access-log event.
impl Vault {
    pub fn auditor_events(
        &self,
        db: &Database,
        actor: &Actor,
        filter: &crate::audit::EventFilter,
    ) -> Result<Vec<crate::audit::EventView>, AuthError> {
        use domain::policy::{Action, Relation};
        let rule = self.authorize(db, actor, Action::AuditRead, Relation::NoObject, None)?;
        Ok(db.write(|conn| {
            let events = self.list_events(conn, filter)?;
            self.record(
                conn,
                &AuditEvent {
                    rule: Some(rule.into()),
                    record_type: filter.record_type.clone(),
                    record_id: filter.record_id.clone(),
                    ..actor.event("audit.read")
                },
            )?;
            Ok(events)
        })?)
    }

    pub fn auditor_verify(
        &self,
        db: &Database,
        actor: &Actor,
    ) -> Result<crate::audit::VerifyReport, AuthError> {
        use domain::policy::{Action, Relation};
        let rule = self.authorize(db, actor, Action::AuditVerify, Relation::NoObject, None)?;
        let report = self.verify(db, None)?;
        db.write(|conn| {
            self.record(
                conn,
                &AuditEvent {
                    rule: Some(rule.into()),
                    outcome: Outcome::Allowed,
                    ..actor.event("audit.verify")
                },
            )
        })?;
        Ok(report)
    }

    pub fn auditor_anomalies(
        &self,
        db: &Database,
        actor: &Actor,
        since: i64,
        read_threshold: i64,
        denial_threshold: i64,
    ) -> Result<crate::audit::Anomalies, AuthError> {
        use domain::policy::{Action, Relation};
        let rule = self.authorize(db, actor, Action::AuditRead, Relation::NoObject, None)?;
        Ok(db.write(|conn| {
            let found = self.anomalies(conn, since, read_threshold, denial_threshold)?;
            self.record(
                conn,
                &AuditEvent {
                    rule: Some(rule.into()),
                    ..actor.event("audit.anomalies")
                },
            )?;
            Ok(found)
        })?)
    }
}

/// What an admin changes about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Disable,
    Enable,
    Role(Role),
    Unlock,
}

const RECOVERY_CODES: usize = 10;

fn totp_ctx<'a>(user_id: &'a str) -> crate::vault::FieldContext<'a> {
    crate::vault::FieldContext {
        table: "users",
        field: "totp_secret",
        record_id: user_id,
        owner_id: user_id,
    }
}

fn unix_secs() -> u64 {
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
    fn recovery_hash(&self, code: &str) -> Result<Vec<u8>, AuthError> {
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
    fn second_factor(
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
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| crypto::random::hex_id::<5>().map(|h| format!("{}-{}", &h[..5], &h[5..])))
            .collect::<Result<_, _>>()
            .map_err(crypto::CryptoError::from)?;
        let hashes: Vec<Vec<u8>> = codes
            .iter()
            .map(|c| self.recovery_hash(c))
            .collect::<Result<_, _>>()?;
        db.write(|conn| {
            let now = now_micros();
            diesel::update(users::table.find(&actor.user_id))
                .set(users::totp_confirmed_at.eq(Some(now)))
                .execute(conn)?;
            diesel::delete(
                crate::schema::recovery_codes::table
                    .filter(crate::schema::recovery_codes::user_id.eq(&actor.user_id)),
            )
            .execute(conn)?;
            for hash in &hashes {
                diesel::insert_into(crate::schema::recovery_codes::table)
                    .values((
                        crate::schema::recovery_codes::code_hash.eq(hash),
                        crate::schema::recovery_codes::user_id.eq(&actor.user_id),
                        crate::schema::recovery_codes::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            diesel::update(sessions::table.find(&actor.session_id))
                .set(sessions::mfa.eq(true))
                .execute(conn)?;
            self.record(conn, &actor.event("auth.totp_confirm"))
        })?;
        Ok(codes.into_iter().map(Into::into).collect())
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
            diesel::update(users::table.find(&id))
                .set((
                    users::totp_secret.eq(None::<Vec<u8>>),
                    users::totp_last_step.eq(None::<i64>),
                    users::totp_confirmed_at.eq(None::<i64>),
                ))
                .execute(conn)?;
            diesel::delete(
                crate::schema::recovery_codes::table
                    .filter(crate::schema::recovery_codes::user_id.eq(&id)),
            )
            .execute(conn)?;
            revoke_sessions(conn, &id, "second factor reset")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_failures_up_to_the_cap() {
        let s = AuthSettings::default();
        let now = 1_000_000_000_000i64;
        assert_eq!(throttle_wait(&s, 2, now, now), None, "below the threshold");
        let lenient = AuthSettings {
            throttle_after: 1000,
            ..AuthSettings::default()
        };
        assert_eq!(throttle_wait(&lenient, 999, now, now), None);
        assert_eq!(throttle_wait(&s, 3, now, now), Some(Duration::from_secs(1)));
        assert_eq!(throttle_wait(&s, 4, now, now), Some(Duration::from_secs(2)));
        assert_eq!(throttle_wait(&s, 6, now, now), Some(Duration::from_secs(8)));
        assert_eq!(
            throttle_wait(&s, 60, now, now),
            Some(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(
            throttle_wait(&s, 4, now, now + 2_000_000),
            None,
            "the wait has passed"
        );
        assert_eq!(
            throttle_wait(&s, 4, now, now + 500_000),
            Some(Duration::from_millis(1500))
        );
    }
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

/// A contact address and language as stored: the address trimmed and lower-cased, or an error
/// naming the field.
pub fn check_contact(email: Option<String>, language: &str) -> Result<Option<String>, AuthError> {
    let mut errors = std::collections::BTreeMap::new();
    let mut email = email;
    domain::cases::optional_email(&mut errors, "email", &mut email);
    if !matches!(language, "uk" | "en") {
        errors.insert("language".to_string(), "must be uk or en".to_string());
    }
    if errors.is_empty() {
        Ok(email)
    } else {
        Err(AuthError::InvalidMany(errors))
    }
}
