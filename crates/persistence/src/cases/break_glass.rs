//! Break-glass: a time-limited read-only grant with a reason and justification, the supervisors' review queue.

use super::*;

/// A supervisor's review of a break-glass use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Justified,
    Flagged,
}

impl Verdict {
    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "justified" => Some(Verdict::Justified),
            "flagged" => Some(Verdict::Flagged),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Justified => "justified",
            Verdict::Flagged => "flagged",
        }
    }
}

/// A break-glass use as supervisors review it.
#[derive(Debug, Clone)]
pub struct GrantView {
    pub id: String,
    pub case_id: String,
    pub case_reference: String,
    pub user_id: String,
    pub login: String,
    pub reason: String,
    pub justification: Option<Sensitive<String>>,
    pub granted_at: i64,
    pub expires_at: i64,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    /// `justified` or `flagged`, once reviewed.
    pub review_verdict: Option<String>,
}

impl Vault {
    /// Whether the actor's role may break the glass at all (a denial audited), asked before
    /// anything of the request and without looking at the case: a missing case and another's
    /// are alike. The form asks it as the request does.
    pub fn may_break_glass(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
    ) -> Result<(), AuthError> {
        let on = Some(("case", case_id));
        self.authorize(db, actor, Action::CaseBreakGlass, Relation::OtherCase, on)
            .map(|_| ())
    }

    /// Breaks the glass: after re-authentication (checked by the caller), a read-only grant to
    /// one case for the configured time, flagged in the access log, with an alert to every
    /// supervisor queued in the outbox (an opaque reference and a link, no personal data).
    #[allow(clippy::too_many_arguments)]
    pub fn break_glass(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CaseSettings,
        auth: &crate::identity::AuthSettings,
        case_id: &str,
        reason: &str,
        justification: Sensitive<String>,
        reauth: &crate::identity::Reauth,
    ) -> Result<(String, i64), AuthError> {
        self.may_break_glass(db, actor, case_id)?;
        let mut errors = FieldErrors::new();
        if !domain::vocabulary::BREAK_GLASS_REASON.contains(reason) {
            errors.insert(
                "reason".into(),
                "must be one of the codes of the break_glass_reason vocabulary".into(),
            );
        }
        let mut text = justification.into_inner();
        domain::cases::required_text(
            &mut errors,
            "justification",
            &mut text,
            domain::cases::MEDIUM_MAX_CHARS,
        );
        if errors.is_empty() && text.chars().count() < 10 {
            errors.insert(
                "justification".into(),
                "must say why, in at least 10 characters".into(),
            );
        }
        if reauth.password.is_none() && reauth.totp.is_none() {
            errors.insert(
                "password".into(),
                "send your password or a one-time code".into(),
            );
        }
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        let row: Option<CaseRow> = db.with_conn(|conn| {
            Ok(cases::table
                .find(case_id)
                .select(CaseRow::as_select())
                .first(conn)
                .optional()?)
        })?;
        let Some(row) = row else {
            return Err(AuthError::NotFound);
        };
        let relation = row.relation_to(actor);
        if domain::policy::authorize(actor.role, Action::CaseRead, relation).is_allowed() {
            return Err(AuthError::Conflict(ALREADY_ALLOWED));
        }
        let rule = match self.authorize(
            db,
            actor,
            Action::CaseBreakGlass,
            relation,
            Some(("case", case_id)),
        ) {
            Ok(rule) => rule,
            Err(AuthError::Forbidden(_)) => return Err(AuthError::NotFound),
            Err(e) => return Err(e),
        };
        self.reauthenticate(db, actor, auth, reauth)?;
        let id = new_id()?;
        let now = now_micros();
        let expires_at =
            now.saturating_add(crate::clock::duration_micros(settings.break_glass_ttl));
        db.write(|conn| {
            let dek = self.data_key(conn, case_id)?;
            let sealed = dek.seal(
                &ctx("break_glass_grants", "justification", &id, case_id),
                text.as_bytes(),
            )?;
            diesel::insert_into(break_glass_grants::table)
                .values((
                    break_glass_grants::id.eq(&id),
                    break_glass_grants::case_id.eq(case_id),
                    break_glass_grants::user_id.eq(&actor.user_id),
                    break_glass_grants::reason.eq(reason),
                    break_glass_grants::justification.eq(sealed),
                    break_glass_grants::granted_at.eq(now),
                    break_glass_grants::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
            let supervisors: Vec<String> = users::table
                .filter(users::role.eq("supervisor"))
                .filter(users::status.eq("active"))
                .select(users::id)
                .load(conn)?;
            let alert = domain::mail::Template::BreakGlass {
                case_reference: row.reference.clone(),
                reason: reason.to_string(),
                grant: id.clone(),
            };
            for supervisor in supervisors {
                crate::outbox::queue_to_user(conn, &supervisor, &alert, &settings.public_url)?;
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["reason".into(), "justification".into()],
                    rule: Some(rule.into()),
                    purpose: Some("break_glass".into()),
                    ..actor.event("case.break_glass")
                },
            )?;
            Ok(())
        })?;
        Ok((id, expires_at))
    }

    /// Break-glass uses, newest first; `reviewed` filters on whether a supervisor reviewed them.
    pub fn list_break_glass(
        &self,
        db: &Database,
        actor: &Actor,
        reviewed: Option<bool>,
    ) -> Result<Vec<GrantView>, AuthError> {
        let rule = self.authorize(
            db,
            actor,
            Action::BreakGlassReview,
            Relation::NoObject,
            None,
        )?;
        Ok(db.write(|conn| {
            let mut q = break_glass_grants::table
                .inner_join(cases::table.on(cases::id.eq(break_glass_grants::case_id)))
                .inner_join(users::table.on(users::id.eq(break_glass_grants::user_id)))
                .select((
                    break_glass_grants::id,
                    break_glass_grants::case_id,
                    cases::reference,
                    break_glass_grants::user_id,
                    users::login,
                    break_glass_grants::reason,
                    break_glass_grants::justification,
                    break_glass_grants::granted_at,
                    break_glass_grants::expires_at,
                    break_glass_grants::reviewed_by,
                    break_glass_grants::reviewed_at,
                    break_glass_grants::review_verdict,
                ))
                .into_boxed();
            match reviewed {
                Some(true) => q = q.filter(break_glass_grants::reviewed_at.is_not_null()),
                Some(false) => q = q.filter(break_glass_grants::reviewed_at.is_null()),
                None => {}
            }
            #[allow(clippy::type_complexity)]
            let rows: Vec<(
                String,
                String,
                String,
                String,
                String,
                String,
                Vec<u8>,
                i64,
                i64,
                Option<String>,
                Option<i64>,
                Option<String>,
            )> = q
                .order_by((
                    break_glass_grants::granted_at.desc(),
                    break_glass_grants::id.desc(),
                ))
                .limit(500)
                .load(conn)?;
            let mut out = Vec::with_capacity(rows.len());
            for (
                id,
                case_id,
                case_reference,
                user_id,
                login,
                reason,
                sealed,
                granted_at,
                expires_at,
                reviewed_by,
                reviewed_at,
                review_verdict,
            ) in rows
            {
                let justification = match self.data_key(conn, &case_id) {
                    Ok(dek) => Some(Sensitive::new(open_text(
                        &dek,
                        &ctx("break_glass_grants", "justification", &id, &case_id),
                        &sealed,
                    )?)),
                    Err(DbError::Erased) => None,
                    Err(e) => return Err(e),
                };
                out.push(GrantView {
                    id,
                    case_id,
                    case_reference,
                    user_id,
                    login,
                    reason,
                    justification,
                    granted_at,
                    expires_at,
                    reviewed_by,
                    reviewed_at,
                    review_verdict,
                });
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("break_glass".into()),
                    fields: vec!["justification".into()],
                    rule: Some(rule.into()),
                    ..actor.event("break_glass.list")
                },
            )?;
            Ok(out)
        })?)
    }

    /// Marks a break-glass use as reviewed: justified, or flagged for follow-up (recorded as
    /// `break_glass.flag`, so an auditor finds the flagged uses by action).
    pub fn review_break_glass(
        &self,
        db: &Database,
        actor: &Actor,
        grant_id: &str,
        verdict: Verdict,
    ) -> Result<(), AuthError> {
        let rule = self.authorize(
            db,
            actor,
            Action::BreakGlassReview,
            Relation::NoObject,
            None,
        )?;
        db.write(|conn| {
            let exists: i64 = break_glass_grants::table
                .find(grant_id)
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            let updated = diesel::update(
                break_glass_grants::table
                    .find(grant_id)
                    .filter(break_glass_grants::reviewed_at.is_null()),
            )
            .set((
                break_glass_grants::reviewed_by.eq(Some(&actor.user_id)),
                break_glass_grants::reviewed_at.eq(Some(now_micros())),
                break_glass_grants::review_verdict.eq(Some(verdict.as_str())),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(refuse(ALREADY_REVIEWED));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("break_glass".into()),
                    record_id: Some(grant_id.to_string()),
                    fields: vec!["reviewed_at".into(), "review_verdict".into()],
                    rule: Some(rule.into()),
                    ..actor.event(match verdict {
                        Verdict::Justified => "break_glass.review",
                        Verdict::Flagged => "break_glass.flag",
                    })
                },
            )?;
            Ok(Ok(()))
        })
        .map_err(conflict)?
    }
}
