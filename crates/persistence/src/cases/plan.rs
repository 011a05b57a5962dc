//! The reintegration plan: items with goals, progress and status.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = case_plan_items)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(super) struct PlanRow {
    pub(super) id: String,
    pub(super) case_id: String,
    pub(super) domain: String,
    pub(super) status: String,
    pub(super) due_on: Option<String>,
    pub(super) completed_at: Option<i64>,
    pub(super) goal: Vec<u8>,
    pub(super) progress: Option<Vec<u8>>,
    pub(super) version: i32,
    pub(super) created_by: String,
    pub(super) updated_at: i64,
}

/// Changes to a plan item; `progress_note` adds to its progress notes.
#[derive(Debug, Clone, Default)]
pub struct PlanChanges {
    pub domain: Option<String>,
    pub status: Option<String>,
    pub due_on: Option<Option<String>>,
    pub goal: Option<Sensitive<String>>,
    pub progress_note: Option<Sensitive<String>>,
}

impl Vault {
    pub(super) fn open_plan_item(
        &self,
        dek: &crypto::envelope::DataKey,
        row: PlanRow,
    ) -> Result<PlanItemView, DbError> {
        let goal = open_text(
            dek,
            &ctx("case_plan_items", "goal", &row.id, &row.case_id),
            &row.goal,
        )?;
        let progress = match &row.progress {
            None => Vec::new(),
            Some(sealed) => {
                let json = zeroize::Zeroizing::new(dek.open(
                    &ctx("case_plan_items", "progress", &row.id, &row.case_id),
                    sealed,
                )?);
                serde_json::from_slice(&json)
                    .map_err(|_| DbError::Refused("stored progress notes do not parse".into()))?
            }
        };
        Ok(PlanItemView {
            facts: PlanFacts {
                domain: row.domain,
                status: row.status,
                due_on: row.due_on,
            },
            id: row.id,
            completed_at: row.completed_at,
            goal: Sensitive::new(goal),
            progress,
            version: row.version,
            created_by: row.created_by,
            updated_at: row.updated_at,
        })
    }

    /// Applies plan changes to an item (or to a new one), validating the result.
    pub(super) fn plan_apply(
        facts: &mut PlanFacts,
        goal: &mut String,
        progress: &mut Vec<ProgressEntry>,
        changes: PlanChanges,
        actor: &Actor,
    ) -> Result<Vec<&'static str>, AuthError> {
        let PlanChanges {
            domain,
            status,
            due_on,
            goal: new_goal,
            progress_note,
        } = changes;
        let mut changed = Vec::new();
        take(&mut changed, "domain", domain, &mut facts.domain);
        take(&mut changed, "status", status, &mut facts.status);
        take(&mut changed, "due_on", due_on, &mut facts.due_on);
        take(
            &mut changed,
            "goal",
            new_goal.map(Sensitive::into_inner),
            goal,
        );
        let mut errors = FieldErrors::new();
        facts.validate(&mut errors);
        domain::cases::required_text(&mut errors, "goal", goal, domain::cases::MEDIUM_MAX_CHARS);
        if let Some(note) = progress_note {
            let mut text = Some(note.into_inner());
            domain::cases::optional_text(
                &mut errors,
                "progress_note",
                &mut text,
                domain::cases::MEDIUM_MAX_CHARS,
            );
            if let Some(text) = text {
                if progress.len() >= 500 {
                    errors.insert(
                        "progress_note".into(),
                        "an item holds at most 500 progress notes".into(),
                    );
                }
                progress.push(ProgressEntry {
                    at: now_micros(),
                    author_id: actor.user_id.clone(),
                    text,
                });
                changed.push("progress");
            }
        }
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        changed.sort_unstable();
        Ok(changed)
    }

    pub(super) fn seal_plan(
        dek: &crypto::envelope::DataKey,
        id: &str,
        case_id: &str,
        goal: &str,
        progress: &[ProgressEntry],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), DbError> {
        let goal = dek.seal(
            &ctx("case_plan_items", "goal", id, case_id),
            goal.as_bytes(),
        )?;
        let progress = if progress.is_empty() {
            None
        } else {
            let json = zeroize::Zeroizing::new(
                serde_json::to_vec(progress).map_err(|e| DbError::Refused(e.to_string()))?,
            );
            Some(dek.seal(&ctx("case_plan_items", "progress", id, case_id), &json)?)
        };
        Ok((goal, progress))
    }

    /// Adds a reintegration plan item. Returns its id.
    pub fn add_plan_item(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        changes: PlanChanges,
    ) -> Result<String, AuthError> {
        let mut facts = PlanFacts {
            domain: String::new(),
            status: "planned".into(),
            due_on: None,
        };
        let (mut goal, mut progress) = (String::new(), Vec::new());
        // Who may is asked before what is wrong: an outsider learns nothing of the input.
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        Self::plan_apply(&mut facts, &mut goal, &mut progress, changes, actor)?;
        let id = new_id()?;
        let now = now_micros();
        db.write(|conn| {
            let dek = self.data_key(conn, case_id)?;
            let (goal, progress) = Self::seal_plan(&dek, &id, case_id, &goal, &progress)?;
            diesel::insert_into(case_plan_items::table)
                .values((
                    case_plan_items::id.eq(&id),
                    case_plan_items::case_id.eq(case_id),
                    case_plan_items::domain.eq(&facts.domain),
                    case_plan_items::status.eq(&facts.status),
                    case_plan_items::due_on.eq(&facts.due_on),
                    case_plan_items::completed_at.eq(facts.is_finished().then_some(now)),
                    case_plan_items::goal.eq(goal),
                    case_plan_items::progress.eq(progress),
                    case_plan_items::version.eq(1),
                    case_plan_items::created_by.eq(&actor.user_id),
                    case_plan_items::created_at.eq(now),
                    case_plan_items::updated_at.eq(now),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["plan".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.plan.add")
                },
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Changes a plan item still at `version`. Returns the new version.
    pub fn update_plan_item(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        item_id: &str,
        version: i32,
        changes: PlanChanges,
    ) -> Result<i32, AuthError> {
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        let found: Option<(PlanItemView, crypto::envelope::DataKey)> = db.with_conn(|conn| {
            let row: Option<PlanRow> = case_plan_items::table
                .find(item_id)
                .filter(case_plan_items::case_id.eq(case_id))
                .select(PlanRow::as_select())
                .first(conn)
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let dek = self.data_key(conn, case_id)?;
            Ok(Some((self.open_plan_item(&dek, row)?, dek)))
        })?;
        let Some((item, dek)) = found else {
            return Err(AuthError::NotFound);
        };
        if item.version != version {
            return Err(AuthError::Conflict(STALE_ITEM));
        }
        let mut facts = item.facts.clone();
        let mut goal = item.goal.into_inner();
        let mut progress = item.progress;
        let fields = Self::plan_apply(&mut facts, &mut goal, &mut progress, changes, actor)?;
        let now = now_micros();
        let completed_at = match (facts.is_finished(), item.completed_at) {
            (false, _) => None,
            (true, Some(at)) => Some(at),
            (true, None) => Some(now),
        };
        db.write(|conn| {
            let (goal, progress) = Self::seal_plan(&dek, item_id, case_id, &goal, &progress)?;
            let updated = diesel::update(
                case_plan_items::table
                    .find(item_id)
                    .filter(case_plan_items::version.eq(version)),
            )
            .set((
                case_plan_items::domain.eq(&facts.domain),
                case_plan_items::status.eq(&facts.status),
                case_plan_items::due_on.eq(&facts.due_on),
                case_plan_items::completed_at.eq(completed_at),
                case_plan_items::goal.eq(goal),
                case_plan_items::progress.eq(progress),
                case_plan_items::version.eq(version + 1),
                case_plan_items::updated_at.eq(now),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(refuse(STALE_ITEM));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: fields.iter().map(|f| format!("plan.{f}")).collect(),
                    rule: Some(rule.into()),
                    ..actor.event("case.plan.update")
                },
            )?;
            Ok(version + 1)
        })
        .map_err(conflict)
    }
}
