//! The privacy lifecycle: retention (personal details erased when their time is up, statistical
//! fields kept), legal holds, the subject access export, and erasure under the two-person rule.
//! Erasure is crypto-shredding: the data keys go, so every sealed value of the record (and of
//! its notes, plan, consents, calls and referral packets) can never be opened again, here or in
//! any backup once the master key version that wrapped them is retired.

use std::time::Duration;

use diesel::prelude::*;
use domain::cases::redact_third_parties;
use domain::policy::{Action, Relation};
use domain::Sensitive;
use serde_json::{json, Value};

use crate::clock::now_micros;
use crate::error::{new_id, refuse, AuthError};
use crate::identity::Actor;
use crate::schema::{
    calls, case_note_revisions, case_notes, cases, data_keys, erasure_requests, legal_holds,
    referral_ledger, referrals,
};
use crate::vault::FieldContext;
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

const ON_HOLD: &str = "the case is under a legal hold; lift it first";
const PENDING: &str = "an erasure of this case is already waiting for a decision";
const DECIDED: &str = "this erasure request was already decided";
const NOT_HELD: &str = "the case is not under a legal hold";
const HELD: &str = "the case is already under a legal hold";
const ERASED: &str = "the case's personal data was already erased";
const CONFLICTS: [&str; 6] = [ON_HOLD, PENDING, DECIDED, NOT_HELD, HELD, ERASED];

/// A call's sealed summary, caller name and caller phone.
type SealedCallFields = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// How long personal data is kept.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// Personal details of calls that led to no case, after the call.
    pub call_details: Duration,
    /// A case's personal data, after it was closed.
    pub case_after_closure: Duration,
    /// Access-log events (reported; the log is append-only, see docs/privacy.md).
    pub audit_events: Duration,
    /// For the notices to providers.
    pub public_url: String,
}

/// One record retention would erase (or did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionItem {
    /// "call" or "case".
    pub kind: &'static str,
    pub id: String,
    /// The case reference, for cases.
    pub reference: Option<String>,
    /// The call's start, or the case's closure (µs).
    pub since: i64,
}

/// What a retention run found (dry run) or did (apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub items: Vec<RetentionItem>,
    /// Cases past their time but under a legal hold (skipped).
    pub held: Vec<String>,
    /// Access-log events older than their retention (kept: the log is append-only).
    pub audit_events_past_retention: i64,
}

/// Whether one case is under a live legal hold.
pub(crate) fn is_held(conn: &mut DbConnection, case_id: &str) -> Result<bool, DbError> {
    let held: i64 = legal_holds::table
        .filter(legal_holds::case_id.eq(case_id))
        .filter(legal_holds::lifted_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(held > 0)
}

/// Case ids under a live legal hold.
fn held_cases(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(legal_holds::table
        .filter(legal_holds::lifted_at.is_null())
        .select(legal_holds::case_id)
        .distinct()
        .load(conn)?)
}

impl Vault {
    /// The retention plan for an admin's page: allowed by the policy and audited as a read of
    /// the plan (it names calls and cases by id and reference, nothing of their content).
    pub fn retention_plan_for(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &RetentionSettings,
    ) -> Result<RetentionReport, AuthError> {
        let rule = self.authorize(db, actor, Action::RetentionRead, Relation::NoObject, None)?;
        let report = self.retention_plan(db, settings)?;
        self.record_durably(
            db,
            AuditEvent {
                record_type: Some("retention".into()),
                rule: Some(rule.into()),
                ..actor.event("retention.read")
            },
        )?;
        Ok(report)
    }

    /// What retention would erase now: exactly the calls (with personal details, no case) and
    /// the closed cases (not held, not erased) whose time is up.
    pub fn retention_plan(
        &self,
        db: &Database,
        settings: &RetentionSettings,
    ) -> Result<RetentionReport, DbError> {
        let now = now_micros();
        db.with_conn(|conn| self.plan_in(conn, settings, now))
    }

    fn plan_in(
        &self,
        conn: &mut DbConnection,
        settings: &RetentionSettings,
        now: i64,
    ) -> Result<RetentionReport, DbError> {
        let calls: Vec<(String, i64)> = calls::table
            .filter(calls::case_id.is_null())
            .filter(calls::erased_at.is_null())
            .filter(
                calls::started_at
                    .lt(now.saturating_sub(crate::clock::duration_micros(settings.call_details))),
            )
            .filter(
                calls::summary
                    .is_not_null()
                    .or(calls::caller_name.is_not_null())
                    .or(calls::caller_phone.is_not_null()),
            )
            .select((calls::id, calls::started_at))
            .order_by((calls::started_at, calls::id))
            .load(conn)?;
        let closed: Vec<(String, String, i64)> =
            cases::table
                .filter(cases::erased_at.is_null())
                .filter(cases::closed_at.lt(
                    now.saturating_sub(crate::clock::duration_micros(settings.case_after_closure)),
                ))
                .select((
                    cases::id,
                    cases::reference,
                    cases::closed_at.assume_not_null(),
                ))
                .order_by((cases::closed_at, cases::id))
                .load(conn)?;
        let held = held_cases(conn)?;
        let audit: i64 = crate::schema::audit_events::table
            .filter(
                crate::schema::audit_events::occurred_at
                    .lt(now.saturating_sub(crate::clock::duration_micros(settings.audit_events))),
            )
            .count()
            .get_result(conn)?;
        let mut report = RetentionReport {
            audit_events_past_retention: audit,
            ..Default::default()
        };
        report
            .items
            .extend(calls.into_iter().map(|(id, since)| RetentionItem {
                kind: "call",
                id,
                reference: None,
                since,
            }));
        for (id, reference, since) in closed {
            if held.contains(&id) {
                report.held.push(reference);
            } else {
                report.items.push(RetentionItem {
                    kind: "case",
                    id,
                    reference: Some(reference),
                    since,
                });
            }
        }
        Ok(report)
    }

    /// Erases what retention found, one record per transaction (each shred is an audit event).
    /// Returns what was erased.
    pub fn apply_retention(
        &self,
        db: &Database,
        settings: &RetentionSettings,
    ) -> Result<RetentionReport, DbError> {
        let now = now_micros();
        let report = db.with_conn(|conn| self.plan_in(conn, settings, now))?;
        for item in &report.items {
            db.write(|conn| {
                let event = AuditEvent {
                    rule: Some(format!("retention_{}", item.kind)),
                    purpose: Some("retention".into()),
                    ..AuditEvent::system("retention.erase")
                };
                match item.kind {
                    "call" => self.erase_call(conn, &item.id, event),
                    _ => {
                        // Checked again inside the transaction: a hold placed meanwhile wins.
                        if is_held(conn, &item.id)? {
                            return Ok(());
                        }
                        self.erase_case_in(conn, &item.id, event, &settings.public_url)
                    }
                }
            })?;
        }
        Ok(report)
    }

    /// Shreds a call's personal details (if it has any) and clears their columns.
    fn erase_call(
        &self,
        conn: &mut DbConnection,
        id: &str,
        event: AuditEvent,
    ) -> Result<(), DbError> {
        let live: i64 = data_keys::table
            .find(id)
            .filter(data_keys::wrapped.is_not_null())
            .count()
            .get_result(conn)?;
        if live > 0 {
            self.shred(conn, id, event)?;
        }
        diesel::update(calls::table.find(id))
            .set((
                calls::summary.eq(None::<Vec<u8>>),
                calls::caller_name.eq(None::<Vec<u8>>),
                calls::caller_phone.eq(None::<Vec<u8>>),
                calls::erased_at.eq(Some(now_micros())),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Erases a case in the caller's transaction: open referrals revoked and every referral
    /// packet shredded, every provider that received data told, the linked calls' personal
    /// details and the case's own key shredded, the sealed columns cleared. Statistical fields
    /// and the access log remain.
    pub(crate) fn erase_case_in(
        &self,
        conn: &mut DbConnection,
        case_id: &str,
        event: AuditEvent,
        base_url: &str,
    ) -> Result<(), DbError> {
        let erased: Option<Option<i64>> = cases::table
            .find(case_id)
            .select(cases::erased_at)
            .first(conn)
            .optional()?;
        match erased {
            None => return Err(DbError::NotFound),
            Some(Some(_)) => return Err(refuse(ERASED)),
            Some(None) => {}
        }
        self.revoke_for_case(conn, case_id, &event, base_url)?;
        // Every provider that ever received data of this case, not yet told: told now.
        let unnoticed: Vec<(String, String)> = referral_ledger::table
            .filter(referral_ledger::case_id.eq(case_id))
            .filter(referral_ledger::notice_sent_at.is_null())
            .select((
                referral_ledger::referral_id,
                referral_ledger::organisation_id,
            ))
            .load(conn)?;
        for (referral, organisation) in &unnoticed {
            self.notify_withdrawn(conn, organisation, referral, base_url)?;
        }
        diesel::update(
            referral_ledger::table
                .filter(referral_ledger::case_id.eq(case_id))
                .filter(referral_ledger::notice_sent_at.is_null()),
        )
        .set(referral_ledger::notice_sent_at.eq(Some(now_micros())))
        .execute(conn)?;
        // Packets of referrals that ended earlier are shredded already; any left go now.
        let referral_keys: Vec<String> = referrals::table
            .inner_join(data_keys::table.on(data_keys::owner_id.eq(referrals::id)))
            .filter(referrals::case_id.eq(case_id))
            .filter(data_keys::wrapped.is_not_null())
            .select(referrals::id)
            .load(conn)?;
        for id in referral_keys {
            diesel::update(referrals::table.find(&id))
                .set(referrals::packet.eq(None::<Vec<u8>>))
                .execute(conn)?;
            self.shred(conn, &id, event.clone())?;
        }
        let linked: Vec<String> = calls::table
            .filter(calls::case_id.eq(case_id))
            .filter(calls::erased_at.is_null())
            .select(calls::id)
            .load(conn)?;
        for call in linked {
            self.erase_call(conn, &call, event.clone())?;
        }
        self.shred(conn, case_id, event)?;
        diesel::update(cases::table.find(case_id))
            .set((
                cases::profile.eq(None::<Vec<u8>>),
                cases::exploitation_details.eq(None::<Vec<u8>>),
                cases::needs_assessment.eq(None::<Vec<u8>>),
                cases::erased_at.eq(Some(now_micros())),
                cases::version.eq(cases::version + 1),
            ))
            .execute(conn)?;
        Ok(())
    }
}

fn hold_ctx<'a>(id: &'a str, case_id: &'a str) -> FieldContext<'a> {
    FieldContext {
        table: "legal_holds",
        field: "reason",
        record_id: id,
        owner_id: case_id,
    }
}

impl Vault {
    /// Places a legal hold (supervisors): retention and erasure skip the case until lifted.
    pub fn place_legal_hold(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        reason: Sensitive<String>,
    ) -> Result<(), AuthError> {
        // Who may is asked before what is wrong: an outsider learns nothing of the input.
        let access = self.case_access(db, actor, Action::CaseLegalHold, case_id)?;
        let mut errors = domain::cases::FieldErrors::new();
        let mut reason = reason.into_inner();
        domain::cases::required_text(
            &mut errors,
            "reason",
            &mut reason,
            domain::cases::MEDIUM_MAX_CHARS,
        );
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        db.write(|conn| {
            if is_held(conn, case_id)? {
                return Err(refuse(HELD));
            }
            let id = new_id()?;
            let dek = self.data_key(conn, case_id)?;
            let sealed = dek.seal(&hold_ctx(&id, case_id), reason.as_bytes())?;
            diesel::insert_into(legal_holds::table)
                .values((
                    legal_holds::id.eq(&id),
                    legal_holds::case_id.eq(case_id),
                    legal_holds::reason.eq(sealed),
                    legal_holds::placed_by.eq(&actor.user_id),
                    legal_holds::placed_at.eq(now_micros()),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["legal_hold".into()],
                    rule: Some(access.rule.into()),
                    ..actor.event("case.legal_hold.place")
                },
            )?;
            Ok(())
        })
        .map_err(conflict)
    }

    /// Lifts the case's legal hold (supervisors).
    pub fn lift_legal_hold(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
    ) -> Result<(), AuthError> {
        let access = self.case_access(db, actor, Action::CaseLegalHold, case_id)?;
        db.write(|conn| {
            let lifted = diesel::update(
                legal_holds::table
                    .filter(legal_holds::case_id.eq(case_id))
                    .filter(legal_holds::lifted_at.is_null()),
            )
            .set((
                legal_holds::lifted_by.eq(Some(&actor.user_id)),
                legal_holds::lifted_at.eq(Some(now_micros())),
            ))
            .execute(conn)?;
            if lifted == 0 {
                return Err(refuse(NOT_HELD));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["legal_hold".into()],
                    rule: Some(access.rule.into()),
                    ..actor.event("case.legal_hold.lift")
                },
            )?;
            Ok(())
        })
        .map_err(conflict)
    }
}

/// An erasure request as supervisors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureView {
    pub id: String,
    pub case_id: String,
    pub case_reference: String,
    pub status: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

impl Vault {
    /// A case worker (or supervisor) asks for a case to be erased; a supervisor who is someone
    /// else decides. Refused while the case is held, already erased, or already asked for.
    pub fn request_erasure(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
    ) -> Result<String, AuthError> {
        let access = self.case_access(db, actor, Action::CaseErasureRequest, case_id)?;
        let id = new_id()?;
        db.write(|conn| {
            if is_held(conn, case_id)? {
                return Err(refuse(ON_HOLD));
            }
            let pending: i64 = erasure_requests::table
                .filter(erasure_requests::case_id.eq(case_id))
                .filter(erasure_requests::status.eq("pending"))
                .count()
                .get_result(conn)?;
            if pending > 0 {
                return Err(refuse(PENDING));
            }
            diesel::insert_into(erasure_requests::table)
                .values((
                    erasure_requests::id.eq(&id),
                    erasure_requests::case_id.eq(case_id),
                    erasure_requests::status.eq("pending"),
                    erasure_requests::requested_by.eq(&actor.user_id),
                    erasure_requests::requested_at.eq(now_micros()),
                ))
                .execute(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["erasure".into()],
                    rule: Some(access.rule.into()),
                    ..actor.event("case.erasure.request")
                },
            )?;
            Ok(())
        })
        .map_err(conflict)?;
        Ok(id)
    }

    /// Erasure requests, newest first; `status` filters.
    pub fn list_erasures(
        &self,
        db: &Database,
        actor: &Actor,
        status: Option<&str>,
    ) -> Result<Vec<ErasureView>, AuthError> {
        let rule = self.authorize(
            db,
            actor,
            Action::CaseErasureDecide,
            Relation::NoObject,
            None,
        )?;
        Ok(db.write(|conn| {
            let mut q = erasure_requests::table
                .inner_join(cases::table.on(cases::id.eq(erasure_requests::case_id)))
                .select((
                    erasure_requests::id,
                    erasure_requests::case_id,
                    cases::reference,
                    erasure_requests::status,
                    erasure_requests::requested_by,
                    erasure_requests::requested_at,
                    erasure_requests::decided_by,
                    erasure_requests::decided_at,
                ))
                .into_boxed();
            if let Some(s) = status {
                q = q.filter(erasure_requests::status.eq(s.to_string()));
            }
            #[allow(clippy::type_complexity)]
            let rows: Vec<(
                String,
                String,
                String,
                String,
                String,
                i64,
                Option<String>,
                Option<i64>,
            )> = q
                .order_by((
                    erasure_requests::requested_at.desc(),
                    erasure_requests::id.desc(),
                ))
                .limit(500)
                .load(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("erasure_request".into()),
                    rule: Some(rule.into()),
                    ..actor.event("case.erasure.list")
                },
            )?;
            Ok(rows
                .into_iter()
                .map(
                    |(
                        id,
                        case_id,
                        case_reference,
                        status,
                        requested_by,
                        requested_at,
                        decided_by,
                        decided_at,
                    )| ErasureView {
                        id,
                        case_id,
                        case_reference,
                        status,
                        requested_by,
                        requested_at,
                        decided_by,
                        decided_at,
                    },
                )
                .collect())
        })?)
    }

    /// A supervisor approves (the case is erased in the same transaction, irreversibly) or
    /// rejects an erasure request. The requester may not decide their own request.
    pub fn decide_erasure(
        &self,
        db: &Database,
        actor: &Actor,
        base_url: &str,
        request_id: &str,
        approve: bool,
    ) -> Result<(), AuthError> {
        let rule = self.authorize(
            db,
            actor,
            Action::CaseErasureDecide,
            Relation::NoObject,
            None,
        )?;
        let found: Option<(String, String, String)> = db.with_conn(|conn| {
            Ok(erasure_requests::table
                .find(request_id)
                .select((
                    erasure_requests::case_id,
                    erasure_requests::requested_by,
                    erasure_requests::status,
                ))
                .first(conn)
                .optional()?)
        })?;
        let Some((case_id, requested_by, _)) = found else {
            return Err(AuthError::NotFound);
        };
        if requested_by == actor.user_id {
            db.write(|conn| {
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("case".into()),
                        record_id: Some(case_id.clone()),
                        outcome: crate::Outcome::Denied,
                        rule: Some("two_person_rule".into()),
                        ..actor.event("case.erasure.decide")
                    },
                )
            })?;
            return Err(AuthError::Forbidden("two_person_rule"));
        }
        db.write(|conn| {
            let decided = diesel::update(
                erasure_requests::table
                    .find(request_id)
                    .filter(erasure_requests::status.eq("pending")),
            )
            .set((
                erasure_requests::status.eq(if approve { "approved" } else { "rejected" }),
                erasure_requests::decided_by.eq(Some(&actor.user_id)),
                erasure_requests::decided_at.eq(Some(now_micros())),
            ))
            .execute(conn)?;
            if decided == 0 {
                return Err(refuse(DECIDED));
            }
            let event = AuditEvent {
                record_type: Some("case".into()),
                record_id: Some(case_id.clone()),
                fields: vec!["erasure".into()],
                rule: Some(rule.into()),
                ..actor.event(if approve {
                    "case.erasure.approve"
                } else {
                    "case.erasure.reject"
                })
            };
            self.record(conn, &event)?;
            if approve {
                if is_held(conn, &case_id)? {
                    return Err(refuse(ON_HOLD));
                }
                self.erase_case_in(
                    conn,
                    &case_id,
                    AuditEvent {
                        purpose: Some("erasure".into()),
                        ..event
                    },
                    base_url,
                )?;
            }
            Ok(())
        })
        .map_err(conflict)
    }
}

impl Vault {
    /// Everything held about the victim of a case, for a subject access request: the profile,
    /// the narratives, every revision of every note, the plan, the consents, the linked calls'
    /// personal details, and what each provider received. Third parties' data (marked `[[...]]`
    /// in free text) is redacted. Audited; returned to the caller only (never mailed).
    pub fn export_case(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
    ) -> Result<Value, AuthError> {
        let access = self.case_access(db, actor, Action::CaseExport, case_id)?;
        let file = self.read_case_unaudited(db, case_id)?;
        let redact =
            |v: &Option<Sensitive<String>>| v.as_ref().map(|s| redact_third_parties(s.expose()));
        Ok(db.write(|conn| {
            let dek = match self.data_key(conn, case_id) {
                Ok(dek) => Some(dek),
                Err(DbError::Erased) => None,
                Err(e) => return Err(e),
            };
            let mut notes = Vec::new();
            if let Some(dek) = &dek {
                let rows: Vec<(String, i32, i64, Vec<u8>)> = case_note_revisions::table
                    .inner_join(case_notes::table.on(case_notes::id.eq(case_note_revisions::note_id)))
                    .filter(case_notes::case_id.eq(case_id))
                    .select((
                        case_note_revisions::note_id,
                        case_note_revisions::revision,
                        case_note_revisions::created_at,
                        case_note_revisions::body,
                    ))
                    .order_by((case_notes::created_at, case_note_revisions::note_id, case_note_revisions::revision))
                    .load(conn)?;
                for (note, revision, at, body) in rows {
                    let text = crate::cases::open_revision(dek, case_id, &note, revision, &body)?;
                    notes.push(json!({
                        "note": note, "revision": revision, "written_at": at,
                        "text": redact_third_parties(&text),
                    }));
                }
            }
            let mut calls_out = Vec::new();
            for call in &file.calls {
                let row: SealedCallFields = calls::table
                    .find(&call.id)
                    .select((calls::summary, calls::caller_name, calls::caller_phone))
                    .first(conn)?;
                let dek = match (&row.0, &row.1, &row.2) {
                    (None, None, None) => None,
                    _ => match self.data_key(conn, &call.id) {
                        Ok(d) => Some(d),
                        Err(DbError::Erased) => None,
                        Err(e) => return Err(e),
                    },
                };
                let open_field = |field: &str, sealed: &Option<Vec<u8>>| -> Result<Option<String>, DbError> {
                    match (sealed, &dek) {
                        (Some(s), Some(d)) => Ok(Some(
                            String::from_utf8_lossy(&d.open(
                                &FieldContext { table: "calls", field, record_id: &call.id, owner_id: &call.id },
                                s,
                            )?)
                            .into_owned(),
                        )),
                        _ => Ok(None),
                    }
                };
                calls_out.push(json!({
                    "started_at": call.started_at, "channel": call.channel, "outcome": call.outcome,
                    "summary": open_field("summary", &row.0)?.map(|t| redact_third_parties(&t)),
                    "caller_name": open_field("caller_name", &row.1)?,
                    "caller_phone": open_field("caller_phone", &row.2)?,
                }));
            }
            let shared: Vec<(String, String, i64)> = referral_ledger::table
                .filter(referral_ledger::case_id.eq(case_id))
                .select((referral_ledger::organisation_id, referral_ledger::fields, referral_ledger::shared_at))
                .order_by(referral_ledger::shared_at)
                .load(conn)?;
            let f = &file.facts;
            let export = json!({
                "reference": file.summary.reference,
                "status": file.summary.status,
                "opened_at": file.summary.opened_at,
                "closed_at": file.summary.closed_at,
                "erased_at": file.erased_at,
                "facts": {
                    "gender": f.gender, "age_band": f.age_band, "nationality": f.nationality,
                    "exploitation_types": f.exploitation_types, "control_methods": f.control_methods,
                    "recruitment": f.recruitment, "recruitment_countries": f.recruitment_countries,
                    "transit_countries": f.transit_countries, "exploitation_countries": f.exploitation_countries,
                    "exploitation_from": f.exploitation_from, "exploitation_to": f.exploitation_to,
                    "nrm_status": f.nrm_status, "risk_level": f.risk_level,
                },
                "profile": file.profile.as_ref().map(|p| serde_json::to_value(p.expose()).unwrap_or(Value::Null)),
                "exploitation_details": redact(&file.exploitation_details),
                "needs_assessment": redact(&file.needs_assessment),
                "notes": notes,
                "plan": file.plan.iter().map(|p| json!({
                    "domain": p.facts.domain, "status": p.facts.status, "due_on": p.facts.due_on,
                    "goal": redact_third_parties(p.goal.expose()),
                    "progress": p.progress.iter().map(|e| json!({"at": e.at, "text": redact_third_parties(&e.text)})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "consents": file.consents.iter().map(|c| json!({
                    "purpose": c.facts.purpose, "service_types": c.facts.service_types,
                    "given_at": c.facts.given_at, "expires_at": c.facts.expires_at,
                    "withdrawn_at": c.withdrawn_at, "scope": c.scope.as_ref().map(|s| s.expose()),
                })).collect::<Vec<_>>(),
                "calls": calls_out,
                "shared_with": shared.into_iter().map(|(org, fields, at)| json!({
                    "organisation": org, "fields": crate::clock::code_list(&fields), "shared_at": at,
                })).collect::<Vec<_>>(),
            });
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["everything".into()],
                    rule: Some(access.rule.into()),
                    purpose: Some("subject_access".into()),
                    ..actor.event("case.export")
                },
            )?;
            Ok(export)
        })?)
    }
}

fn conflict(e: DbError) -> AuthError {
    crate::error::conflict_among(e, &CONFLICTS)
}
