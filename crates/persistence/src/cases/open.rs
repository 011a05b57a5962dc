//! Opening a case, alone or from a call (its public reference, its data key), and linking a call to a case.

use std::sync::Mutex;

use super::*;

/// How many case references a process takes from its year's counter at once.
pub(super) const REFERENCE_BLOCK: i64 = 32;

/// Public case references (`2026-000123`: the year and a number), handed out from a block of
/// [`REFERENCE_BLOCK`] numbers this process took from the year's counter row in a transaction
/// of its own. The row is locked for that one short statement once per block, never through a
/// case's own transaction, so new cases do not queue on it. Two processes on one database take
/// disjoint blocks, so a number is never handed out twice; numbers of a block not used before
/// the process stops are never used (gaps, like a failed opening's number).
#[derive(Debug, Default)]
pub struct References {
    block: Mutex<Option<Block>>,
}

#[derive(Debug, Clone, Copy)]
struct Block {
    year: i32,
    next: i64,
    last: i64,
}

impl References {
    /// The next reference of `year`.
    pub(crate) fn next(&self, db: &Database, year: i32) -> Result<String, DbError> {
        let mut block = self.block.lock().unwrap_or_else(|e| e.into_inner());
        let current = match *block {
            Some(b) if b.year == year && b.next <= b.last => b,
            _ => Self::take_block(db, year)?,
        };
        *block = Some(Block {
            next: current.next + 1,
            ..current
        });
        Ok(format!("{year}-{:06}", current.next))
    }

    fn take_block(db: &Database, year: i32) -> Result<Block, DbError> {
        let last: i64 = db.write(|conn| {
            diesel::sql_query(
                "INSERT INTO case_counters (year, last_number) VALUES ($1, $2)
                 ON CONFLICT (year) DO UPDATE SET last_number = case_counters.last_number + $2",
            )
            .bind::<diesel::sql_types::Integer, _>(year)
            .bind::<diesel::sql_types::BigInt, _>(REFERENCE_BLOCK)
            .execute(conn)?;
            Ok(crate::schema::case_counters::table
                .find(year)
                .select(crate::schema::case_counters::last_number)
                .first(conn)?)
        })?;
        Ok(Block {
            year,
            next: last - REFERENCE_BLOCK + 1,
            last,
        })
    }
}

impl Vault {
    /// The stored form of a case's facts and content: sealed under the case's key, the name and
    /// phone blind indexes replaced (`new`: a case being opened, which has none to replace).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn case_columns(
        &self,
        conn: &mut DbConnection,
        dek: &crypto::envelope::DataKey,
        id: &str,
        new: bool,
        facts: &CaseFacts,
        content: &Content,
        (status, closed_at): (Status, Option<i64>),
    ) -> Result<CaseColumns, DbError> {
        let seal = |field: &str, bytes: &[u8]| dek.seal(&ctx("cases", field, id, id), bytes);
        let profile = content
            .profile
            .as_ref()
            .map(|p| -> Result<Vec<u8>, DbError> {
                let json = zeroize::Zeroizing::new(
                    serde_json::to_vec(p).map_err(|e| DbError::Refused(e.to_string()))?,
                );
                Ok(seal("profile", &json)?)
            })
            .transpose()?;
        let names = content
            .profile
            .as_ref()
            .map(VictimProfile::search_names)
            .unwrap_or_default();
        let phones = content
            .profile
            .as_ref()
            .map(|p| p.phones().to_vec())
            .unwrap_or_default();
        for (field, values) in [("victim_name", &names), ("victim_phone", &phones)] {
            let context = ctx("cases", field, id, id);
            match new {
                true => self.add_blind_index_values(conn, &context, values)?,
                false => self.set_blind_index_values(conn, &context, values)?,
            }
        }
        Ok(CaseColumns {
            risk_level: facts.risk_level.clone(),
            gender: facts.gender.clone(),
            age_band: facts.age_band.clone(),
            nationality: facts.nationality.clone(),
            exploitation_types: facts.exploitation_types.join(","),
            control_methods: facts.control_methods.join(","),
            recruitment: facts.recruitment.clone(),
            recruitment_countries: facts.recruitment_countries.join(","),
            transit_countries: facts.transit_countries.join(","),
            exploitation_countries: facts.exploitation_countries.join(","),
            exploitation_from: facts.exploitation_from.clone(),
            exploitation_to: facts.exploitation_to.clone(),
            nrm_status: facts.nrm_status.clone(),
            status: status.as_str().to_string(),
            closed_at,
            profile,
            exploitation_details: content
                .exploitation_details
                .as_ref()
                .map(|v| seal("exploitation_details", v.as_bytes()))
                .transpose()?,
            needs_assessment: content
                .needs_assessment
                .as_ref()
                .map(|v| seal("needs_assessment", v.as_bytes()))
                .transpose()?,
        })
    }

    pub(super) fn open_content(
        &self,
        dek: &crypto::envelope::DataKey,
        row: &CaseRow,
    ) -> Result<Content, DbError> {
        let id = row.id.as_str();
        let profile = row
            .profile
            .as_ref()
            .map(|sealed| {
                let json =
                    zeroize::Zeroizing::new(dek.open(&ctx("cases", "profile", id, id), sealed)?);
                serde_json::from_slice::<VictimProfile>(&json)
                    .map_err(|_| DbError::Refused("a stored profile does not parse".into()))
            })
            .transpose()?;
        let text = |field: &str, sealed: &Option<Vec<u8>>| {
            sealed
                .as_ref()
                .map(|s| open_text(dek, &ctx("cases", field, id, id), s))
                .transpose()
        };
        Ok(Content {
            profile,
            exploitation_details: text("exploitation_details", &row.exploitation_details)?,
            needs_assessment: text("needs_assessment", &row.needs_assessment)?,
        })
    }

    /// Takes the next public reference of the year (YYYY-NNNNNN) in the caller's transaction.
    /// The upsert locks the year's counter row until commit, so concurrent openings on
    /// PostgreSQL queue on it; SQLite has one writer at a time.
    /// Whether `user_id` is an active case worker or supervisor (someone a case can go to).
    pub(super) fn assignable(conn: &mut DbConnection, user_id: &str) -> Result<bool, DbError> {
        let role: Option<String> = users::table
            .find(user_id)
            .filter(users::status.eq("active"))
            .select(users::role)
            .first(conn)
            .optional()?;
        Ok(matches!(
            role.as_deref(),
            Some("case_worker" | "supervisor")
        ))
    }

    /// Who a case can be assigned to, for a role that may assign cases (asked of the role, so
    /// the case page does not read its case again): the active case workers and supervisors
    /// (id and login, by login). Staff names only; `assign_case` still decides on the case.
    pub fn assignees(
        &self,
        db: &Database,
        actor: &Actor,
    ) -> Result<Vec<(String, String)>, AuthError> {
        self.authorize(db, actor, Action::CaseAssign, Relation::OtherCase, None)?;
        Ok(db.with_conn(|conn| {
            Ok(users::table
                .filter(users::status.eq("active"))
                .filter(users::role.eq_any(["case_worker", "supervisor"]))
                .select((users::id, users::login))
                .order_by(users::login)
                .limit(500)
                .load(conn)?)
        })?)
    }

    /// Opens a case, optionally from a call (its statistical fields carried over, the call
    /// linked). A case worker's case is theirs; a counselor's waits, unassigned, for a
    /// supervisor; a supervisor may name the case worker. Returns (id, reference).
    #[allow(clippy::too_many_arguments)]
    pub fn create_case(
        &self,
        db: &Database,
        actor: &Actor,
        calls_settings: &CallSettings,
        from_call: Option<&str>,
        assign_to: Option<String>,
        changes: CaseChanges,
    ) -> Result<(String, String), AuthError> {
        let mut facts = CaseFacts::default();
        let mut linking = false;
        let mut call_rule = None;
        if let Some(call_id) = from_call {
            let (call, rule) = self.call_for_linking(db, actor, calls_settings, call_id)?;
            if call.case_id.is_some() {
                return Err(AuthError::Conflict(ALREADY_LINKED));
            }
            if call.caller_role == "potential_victim" {
                facts.gender = call.caller_gender.clone();
                facts.age_band = call.caller_age_group.clone();
            }
            facts.exploitation_types = domain::cases::exploitation_types_of_topics(&call.topics);
            linking = true;
            call_rule = Some(rule);
        }
        let rule = self.authorize(db, actor, Action::CaseCreate, Relation::NoObject, None)?;
        if changes.status.is_some() {
            return Err(AuthError::Invalid {
                field: "status",
                message: "a new case is Active; change the status afterwards",
            });
        }
        let assigned_to = match (actor.role, assign_to) {
            (Role::CaseWorker, None) => Some(actor.user_id.clone()),
            (Role::Supervisor, wanted) => wanted,
            (_, None) => None,
            (_, Some(_)) => {
                return Err(AuthError::Invalid {
                    field: "assigned_to",
                    message: "only a supervisor assigns cases",
                })
            }
        };
        let mut content = Content {
            profile: None,
            exploitation_details: None,
            needs_assessment: None,
        };
        let mut status = Status::Active;
        let mut fields = changes.apply(
            &mut facts,
            &mut content,
            &mut status,
            &calls_settings.default_country_code,
        )?;
        let id = new_id()?;
        let now = now_micros();
        let reference = db.references.next(db, year_of(now))?;
        let result = db.write(|conn| {
            if let Some(user) = &assigned_to {
                if !Self::assignable(conn, user)? {
                    return Ok(Err(AuthError::Invalid {
                        field: "assigned_to",
                        message: "must be an active case worker or supervisor",
                    }));
                }
            }
            let dek = self.create_data_key(conn, "case", &id)?;
            let columns =
                self.case_columns(conn, &dek, &id, true, &facts, &content, (status, None))?;
            diesel::insert_into(cases::table)
                .values((
                    columns,
                    cases::id.eq(&id),
                    cases::reference.eq(&reference),
                    cases::assigned_to.eq(&assigned_to),
                    cases::opened_by.eq(&actor.user_id),
                    cases::opened_at.eq(now),
                    cases::version.eq(1),
                    cases::updated_at.eq(now),
                ))
                .execute(conn)?;
            if let (Some(call_id), true) = (from_call, linking) {
                let linked =
                    diesel::update(calls::table.find(call_id).filter(calls::case_id.is_null()))
                        .set((
                            calls::case_id.eq(Some(&id)),
                            calls::outcome.eq("case_opened"),
                            calls::version.eq(calls::version + 1),
                            calls::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                if linked == 0 {
                    return Err(refuse(ALREADY_LINKED));
                }
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("call".into()),
                        record_id: Some(call_id.to_string()),
                        fields: vec!["case_id".into(), "outcome".into()],
                        rule: call_rule.map(String::from),
                        ..actor.event("call.link_case")
                    },
                )?;
            }
            if assigned_to.is_some() {
                fields.push("assigned_to");
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(id.clone()),
                    fields: fields.iter().map(|f| f.to_string()).collect(),
                    rule: Some(rule.into()),
                    ..actor.event("case.create")
                },
            )?;
            Ok(Ok(()))
        });
        result.map_err(conflict)??;
        Ok((id, reference))
    }

    /// Links a call to an existing case the actor may change.
    pub fn link_call(
        &self,
        db: &Database,
        actor: &Actor,
        calls_settings: &CallSettings,
        call_id: &str,
        case_id: &str,
    ) -> Result<(), AuthError> {
        let (call, call_rule) = self.call_for_linking(db, actor, calls_settings, call_id)?;
        let (_, case_rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        if call.case_id.as_deref() == Some(case_id) {
            return Ok(());
        }
        db.write(|conn| {
            diesel::update(calls::table.find(call_id))
                .set((
                    calls::case_id.eq(Some(case_id)),
                    calls::version.eq(calls::version + 1),
                    calls::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("call".into()),
                    record_id: Some(call_id.to_string()),
                    fields: vec!["case_id".into()],
                    rule: Some(format!("{call_rule}+{case_rule}")),
                    ..actor.event("call.link_case")
                },
            )?;
            Ok(())
        })
        .map_err(conflict)
    }
}
