//! Consent records: give, withdraw, and the consents live now.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = case_consents)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct ConsentRow {
    pub(super) id: String,
    pub(super) purpose: String,
    pub(super) service_types: String,
    pub(super) organisations: String,
    pub(super) scope: Option<Vec<u8>>,
    pub(super) given_at: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) recorded_by: String,
    pub(super) withdrawn_at: Option<i64>,
    pub(super) withdrawn_by: Option<String>,
}

impl ConsentRow {
    pub(super) fn facts(&self) -> ConsentFacts {
        ConsentFacts {
            purpose: self.purpose.clone(),
            service_types: code_list(&self.service_types),
            organisations: code_list(&self.organisations),
            given_at: self.given_at,
            expires_at: self.expires_at,
        }
    }
}

impl Vault {
    /// Records a consent given by the person. Returns its id.
    pub fn add_consent(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        mut facts: ConsentFacts,
        scope: Option<Sensitive<String>>,
    ) -> Result<String, AuthError> {
        // Who may is asked before what is wrong: an outsider learns nothing of the input.
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        let mut errors = FieldErrors::new();
        facts.validate(&mut errors, now_micros());
        let mut scope = scope.map(Sensitive::into_inner);
        domain::cases::optional_text(
            &mut errors,
            "scope",
            &mut scope,
            domain::cases::MEDIUM_MAX_CHARS,
        );
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        let id = new_id()?;
        db.write(|conn| {
            let dek = self.data_key(conn, case_id)?;
            let sealed = scope
                .as_ref()
                .map(|s| dek.seal(&ctx("case_consents", "scope", &id, case_id), s.as_bytes()))
                .transpose()?;
            diesel::insert_into(case_consents::table)
                .values((
                    case_consents::id.eq(&id),
                    case_consents::case_id.eq(case_id),
                    case_consents::purpose.eq(&facts.purpose),
                    case_consents::service_types.eq(facts.service_types.join(",")),
                    case_consents::organisations.eq(facts.organisations.join(",")),
                    case_consents::scope.eq(sealed),
                    case_consents::given_at.eq(facts.given_at),
                    case_consents::expires_at.eq(facts.expires_at),
                    case_consents::recorded_by.eq(&actor.user_id),
                    case_consents::created_at.eq(now_micros()),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["consents".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.consent.add")
                },
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Withdraws a consent, at once: in the same transaction every open referral resting on it
    /// is revoked, its packet shredded and its provider told.
    pub fn withdraw_consent(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CaseSettings,
        case_id: &str,
        consent_id: &str,
    ) -> Result<(), AuthError> {
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        db.write(|conn| {
            let exists: i64 = case_consents::table
                .find(consent_id)
                .filter(case_consents::case_id.eq(case_id))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Ok(Err(AuthError::NotFound));
            }
            let updated = diesel::update(
                case_consents::table
                    .find(consent_id)
                    .filter(case_consents::withdrawn_at.is_null()),
            )
            .set((
                case_consents::withdrawn_at.eq(Some(now_micros())),
                case_consents::withdrawn_by.eq(Some(&actor.user_id)),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(refuse(ALREADY_WITHDRAWN));
            }
            self.revoke_for_consent(conn, actor, consent_id, &settings.public_url)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["consents".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.consent.withdraw")
                },
            )?;
            Ok(Ok(()))
        })
        .map_err(conflict)?
    }

    /// The live consents of a case for a purpose (for the processes that rely on them), with
    /// their ids.
    pub fn live_consents(
        &self,
        conn: &mut DbConnection,
        case_id: &str,
        purpose: &str,
    ) -> Result<Vec<(String, ConsentFacts)>, DbError> {
        let rows: Vec<ConsentRow> = case_consents::table
            .filter(case_consents::case_id.eq(case_id))
            .filter(case_consents::purpose.eq(purpose))
            .filter(case_consents::withdrawn_at.is_null())
            .select(ConsentRow::as_select())
            .load(conn)?;
        Ok(live(rows))
    }
}

/// The consents of `rows` that are live now (given, not withdrawn, not expired).
pub(crate) fn live(rows: impl IntoIterator<Item = ConsentRow>) -> Vec<(String, ConsentFacts)> {
    let now = now_micros();
    rows.into_iter()
        .filter_map(|r| {
            let facts = r.facts();
            facts.is_live(r.withdrawn_at, now).then_some((r.id, facts))
        })
        .collect()
}
