//! Changing a case: its facts and content with optimistic concurrency and the status machine, and its assignment.

use super::*;

impl Vault {
    /// Applies changes if the case is still at `version` (else `Conflict`, nothing written);
    /// status changes follow the allowed transitions (else `Conflict`).
    pub fn update_case(
        &self,
        db: &Database,
        actor: &Actor,
        calls_settings: &CallSettings,
        id: &str,
        version: i32,
        changes: CaseChanges,
    ) -> Result<i32, AuthError> {
        let (row, rule, _) = self.case_for(db, actor, Action::CaseUpdate, id)?;
        if row.version != version {
            return Err(AuthError::Conflict(STALE));
        }
        let dek = db.with_conn(|conn| self.data_key(conn, id))?;
        let mut content = self.open_content(&dek, &row)?;
        let mut facts = row.facts();
        let mut status = Status::parse(&row.status).unwrap_or(Status::Active);
        let fields = changes.apply(
            &mut facts,
            &mut content,
            &mut status,
            &calls_settings.default_country_code,
        )?;
        if fields.is_empty() {
            return Ok(version);
        }
        let closed_at = match (status.is_closed(), row.closed_at) {
            (false, _) => None,
            (true, Some(at)) => Some(at),
            (true, None) => Some(now_micros()),
        };
        db.write(|conn| {
            let columns =
                self.case_columns(conn, &dek, id, false, &facts, &content, (status, closed_at))?;
            let updated = diesel::update(cases::table.find(id).filter(cases::version.eq(version)))
                .set((
                    columns,
                    cases::version.eq(version + 1),
                    cases::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(refuse(STALE));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(id.to_string()),
                    fields: fields.iter().map(|f| f.to_string()).collect(),
                    rule: Some(rule.into()),
                    ..actor.event("case.update")
                },
            )?;
            Ok(version + 1)
        })
        .map_err(conflict)
    }

    /// Assigns (or, with `None`, unassigns) a case; supervisors only.
    pub fn assign_case(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
        version: i32,
        assign_to: Option<String>,
    ) -> Result<i32, AuthError> {
        let (_, rule, _) = self.case_for(db, actor, Action::CaseAssign, id)?;
        db.write(|conn| {
            if let Some(user) = &assign_to {
                if !Self::assignable(conn, user)? {
                    return Ok(Err(AuthError::Invalid {
                        field: "assigned_to",
                        message: "must be an active case worker or supervisor",
                    }));
                }
            }
            let updated = diesel::update(cases::table.find(id).filter(cases::version.eq(version)))
                .set((
                    cases::assigned_to.eq(&assign_to),
                    cases::version.eq(version + 1),
                    cases::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(refuse(STALE));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(id.to_string()),
                    fields: vec!["assigned_to".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.assign")
                },
            )?;
            Ok(Ok(version + 1))
        })
        .map_err(conflict)?
    }
}
