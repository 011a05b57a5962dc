//! Accounts: creating and disabling users (the CLI), the admin's user management, contact addresses, and the auditor's console (each use authorized and audited).

use super::*;

impl Vault {
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
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(super) struct UserListRow {
    pub(super) id: String,
    pub(super) login: String,
    pub(super) role: String,
    pub(super) organisation_id: Option<String>,
    pub(super) status: String,
    pub(super) totp_confirmed_at: Option<i64>,
    pub(super) locked_until: Option<i64>,
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
    /// How many passkeys the account holds.
    pub passkeys: i64,
}

impl Vault {
    /// The logins of these staff accounts, by id: for the lists that say who has a case (staff
    /// names only; nothing about anyone the hotline serves).
    pub fn logins(
        &self,
        db: &Database,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, DbError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        db.with_conn(|conn| {
            let rows: Vec<(String, String)> = users::table
                .filter(users::id.eq_any(ids))
                .select((users::id, users::login))
                .load(conn)?;
            Ok(rows.into_iter().collect())
        })
    }

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

    pub(super) fn user_relation(actor: &Actor, user_id: &str) -> domain::policy::Relation {
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
            use crate::schema::passkeys as held_passkeys;
            let held: std::collections::HashMap<String, i64> = held_passkeys::table
                .group_by(held_passkeys::user_id)
                .select((held_passkeys::user_id, diesel::dsl::count_star()))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
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
                    passkeys: held.get(&r.id).copied().unwrap_or(0),
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

    /// A user sets their own language (`uk` or `en`): of their pages from the next sign-in on,
    /// and of the messages sent to them. Any session may, even one that still has to enrol a
    /// second factor; recorded as `user.language`.
    pub fn set_own_language(
        &self,
        db: &Database,
        actor: &Actor,
        language: &str,
    ) -> Result<(), AuthError> {
        if !matches!(language, "uk" | "en") {
            return Err(AuthError::Invalid {
                field: "language",
                message: "must be uk or en",
            });
        }
        db.write(|conn| {
            let updated = diesel::update(users::table.find(&actor.user_id))
                .filter(users::language.ne(language))
                .set((
                    users::language.eq(language),
                    users::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            // Switching to the language already set changes nothing and records nothing.
            if updated == 1 {
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("user".into()),
                        record_id: Some(actor.user_id.clone()),
                        fields: vec!["language".into()],
                        ..actor.event("user.language")
                    },
                )?;
            }
            Ok(())
        })?;
        Ok(())
    }

    pub(super) fn set_contact(
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
            UserChange::ResetSecondFactor => Action::UserResetSecondFactor,
            UserChange::RevokePasskeys => Action::UserRevokePasskeys,
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
                UserChange::ResetSecondFactor => {
                    super::second_factor::remove_second_factor(conn, user_id)?;
                    "totp_secret"
                }
                UserChange::RevokePasskeys => {
                    super::passkeys::remove_passkeys(conn, user_id)?;
                    "passkeys"
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
    /// Removes the second factor and the recovery codes and ends the sessions (a lost phone).
    ResetSecondFactor,
    /// Removes every passkey and ends the sessions (a lost or stolen device).
    RevokePasskeys,
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
