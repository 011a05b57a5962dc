//! Victim case files: opening (alone or from a call), reading under the policy, changing with
//! optimistic concurrency and the status machine, notes with their revisions, reintegration
//! plan items, consent records, search through blind indexes, and break-glass.
//!
//! Everything personal is sealed under the case's own data key, so shredding that key erases
//! the profile, narratives, notes, plan goals, consent scopes and break-glass justifications at
//! once. Every read and write is authorized and audited in the same transaction, with field
//! names and never values.

use std::time::Duration;

use diesel::prelude::*;
use domain::cases::{CaseFacts, ConsentFacts, FieldErrors, PlanFacts, Status, VictimProfile};
use domain::identity::Role;
use domain::normalize::PhoneNumber;
use domain::policy::{Action, Relation};
use domain::Sensitive;
use serde::{Deserialize, Serialize};

use crate::calls::CallSettings;
use crate::clock::{code_list, now_micros};
use crate::error::{new_id, refuse, AuthError};
use crate::identity::{Actor, AuthSettings, Claim, SessionCheck};
use crate::prepared::{write, Prepared, Write};
use crate::schema::{
    break_glass_grants, calls, case_consents, case_note_revisions, case_notes, case_plan_items,
    cases, data_keys, sessions, users,
};
use crate::vault::{FieldContext, KeyRow};
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

const STALE: &str = "the case changed since it was read; read it again";
const STALE_ITEM: &str = "this item changed since it was read; read it again";
const BAD_TRANSITION: &str = "the case cannot move from its status to that one";
const ALREADY_WITHDRAWN: &str = "the consent is already withdrawn";
const ALREADY_REVIEWED: &str = "this break-glass use is already reviewed";
const ALREADY_ALLOWED: &str = "you can already open this case; break-glass is not needed";
const ALREADY_LINKED: &str = "the call is already linked to a case";
const ERASED: &str = "the case's personal data was erased; it can no longer change";
const CONFLICTS: [&str; 8] = [
    ERASED,
    STALE,
    STALE_ITEM,
    BAD_TRANSITION,
    ALREADY_WITHDRAWN,
    ALREADY_REVIEWED,
    ALREADY_ALLOWED,
    ALREADY_LINKED,
];

#[derive(Debug, Clone)]
pub struct CaseSettings {
    /// How long a break-glass grant lasts.
    pub break_glass_ttl: Duration,
    /// The address staff reach the server at, for links in e-mails.
    pub public_url: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cases)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct CaseRow {
    id: String,
    reference: String,
    status: String,
    assigned_to: Option<String>,
    opened_by: String,
    risk_level: String,
    opened_at: i64,
    closed_at: Option<i64>,
    gender: String,
    age_band: String,
    nationality: String,
    exploitation_types: String,
    control_methods: String,
    recruitment: String,
    recruitment_countries: String,
    transit_countries: String,
    exploitation_countries: String,
    exploitation_from: Option<String>,
    exploitation_to: Option<String>,
    nrm_status: String,
    profile: Option<Vec<u8>>,
    exploitation_details: Option<Vec<u8>>,
    needs_assessment: Option<Vec<u8>>,
    version: i32,
    updated_at: i64,
    erased_at: Option<i64>,
}

/// The session, user, case and case key rows of [`Vault::case_in_session_with`]'s one query.
type SessionAndCase = (SessionCheck, Option<CaseRow>, Option<KeyRow>);

/// The one query behind [`Vault::case_in_session_with`]: the session (with its user) by id, the
/// case and its key left-joined, and with `children` on PostgreSQL the case file's children as
/// one more column ([`CASE_CHILDREN_ARRAY`], kept prepared); `None` for them otherwise.
#[allow(clippy::type_complexity)]
fn session_and_case(
    conn: &mut DbConnection,
    claim: Claim<'_>,
    id: &str,
    children: bool,
) -> Result<(Option<SessionAndCase>, Option<Vec<ChildRow>>), DbError> {
    // The same joins and filter for both forms of the query.
    macro_rules! joined {
        () => {
            sessions::table
                .inner_join(users::table)
                .left_join(cases::table.on(cases::id.eq(id.to_owned())))
                .left_join(data_keys::table.on(data_keys::owner_id.eq(cases::id)))
                .filter(sessions::id.eq(claim.session_id))
        };
    }
    if let (DbConnection::Pg(pg), true) = (&mut *conn, children) {
        let row: Option<(SessionCheck, Option<CaseRow>, Option<KeyRow>, Option<Vec<ChildTuple>>)> =
            // No LIMIT: the session id is the key, one row at most. Diesel cannot prove raw
            // SQL fixed: `Prepared` keeps the statement prepared (its text is a constant).
            Prepared(joined!().select((
                SessionCheck::as_select(),
                <CaseRow as Selectable<diesel::pg::Pg>>::construct_selection().nullable(),
                (data_keys::dek_version, data_keys::wrapped).nullable(),
                diesel::dsl::sql::<ChildArray>(CASE_CHILDREN_ARRAY),
            )))
            .load(pg)?
            .into_iter()
            .next();
        return Ok(match row {
            Some((session, case, key, rows)) => (
                Some((session, case, key)),
                Some(
                    rows.unwrap_or_default()
                        .into_iter()
                        .map(ChildRow::from)
                        .collect(),
                ),
            ),
            None => (None, None),
        });
    }
    let row = joined!()
        .select((
            SessionCheck::as_select(),
            // The case's columns as one nullable tuple (a left join).
            <CaseRow as Selectable<crate::connection::MultiBackend>>::construct_selection()
                .nullable(),
            (data_keys::dek_version, data_keys::wrapped).nullable(),
        ))
        .first(conn)
        .optional()?;
    Ok((row, None))
}

/// How the actor relates to a case for `action`: as [`CaseRow::relation_to`], or, when that
/// relation allows nothing and the actor holds a live break-glass grant, `BreakGlassCase` with
/// the grant's end. The grant is looked up only then, so the usual read costs no extra query.
fn policy_relation(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &CaseRow,
    action: Action,
    now: i64,
) -> Result<(Relation, Option<i64>), DbError> {
    let relation = row.relation_to(actor);
    if relation != Relation::OtherCase
        || domain::policy::authorize(actor.role, action, relation).is_allowed()
    {
        return Ok((relation, None));
    }
    let grant: Option<i64> = break_glass_grants::table
        .filter(break_glass_grants::user_id.eq(&actor.user_id))
        .filter(break_glass_grants::case_id.eq(&row.id))
        .filter(break_glass_grants::expires_at.gt(now))
        .select(diesel::dsl::max(break_glass_grants::expires_at))
        .first(conn)?;
    Ok(match grant {
        Some(until) => (Relation::BreakGlassCase, Some(until)),
        None => (relation, None),
    })
}

impl CaseRow {
    /// The actor's own relation to the case (break-glass aside).
    fn relation_to(&self, actor: &Actor) -> Relation {
        if self.assigned_to.as_deref() == Some(actor.user_id.as_str()) {
            Relation::AssignedCase
        } else {
            Relation::OtherCase
        }
    }

    fn facts(&self) -> CaseFacts {
        CaseFacts {
            risk_level: self.risk_level.clone(),
            gender: self.gender.clone(),
            age_band: self.age_band.clone(),
            nationality: self.nationality.clone(),
            exploitation_types: code_list(&self.exploitation_types),
            control_methods: code_list(&self.control_methods),
            recruitment: self.recruitment.clone(),
            recruitment_countries: code_list(&self.recruitment_countries),
            transit_countries: code_list(&self.transit_countries),
            exploitation_countries: code_list(&self.exploitation_countries),
            exploitation_from: self.exploitation_from.clone(),
            exploitation_to: self.exploitation_to.clone(),
            nrm_status: self.nrm_status.clone(),
        }
    }

    fn summary(&self) -> CaseSummary {
        CaseSummary {
            id: self.id.clone(),
            reference: self.reference.clone(),
            status: self.status.clone(),
            assigned_to: self.assigned_to.clone(),
            risk_level: self.risk_level.clone(),
            opened_at: self.opened_at,
            closed_at: self.closed_at,
            version: self.version,
            updated_at: self.updated_at,
        }
    }
}

/// What lists show of a case: no personal content (lists select these columns only, so
/// sealed content is not even read).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = cases)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CaseSummary {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub assigned_to: Option<String>,
    pub risk_level: String,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub version: i32,
    pub updated_at: i64,
}

/// A note at its current revision.
#[derive(Debug, Clone)]
pub struct NoteView {
    pub id: String,
    pub author_id: String,
    pub revision: i32,
    pub created_at: i64,
    pub updated_at: i64,
    pub body: Sensitive<String>,
}

/// One revision of a note.
#[derive(Debug, Clone)]
pub struct NoteRevision {
    pub revision: i32,
    pub author_id: String,
    pub created_at: i64,
    pub body: Sensitive<String>,
}

/// A progress note on a plan item (sealed with the item).
#[derive(Clone, Serialize, Deserialize)]
pub struct ProgressEntry {
    pub at: i64,
    pub author_id: String,
    pub text: String,
}

impl std::fmt::Debug for ProgressEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressEntry([redacted])")
    }
}

#[derive(Debug, Clone)]
pub struct PlanItemView {
    pub id: String,
    pub facts: PlanFacts,
    pub completed_at: Option<i64>,
    pub goal: Sensitive<String>,
    pub progress: Vec<ProgressEntry>,
    pub version: i32,
    pub created_by: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct ConsentView {
    pub id: String,
    pub facts: ConsentFacts,
    pub scope: Option<Sensitive<String>>,
    pub recorded_by: String,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_by: Option<String>,
    pub live: bool,
}

/// A call linked to the case (statistical fields only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCall {
    pub id: String,
    pub started_at: i64,
    pub channel: String,
    pub outcome: String,
}

/// A whole case file, opened for an actor allowed to read it.
#[derive(Debug, Clone)]
pub struct CaseFile {
    pub summary: CaseSummary,
    pub opened_by: String,
    pub facts: CaseFacts,
    pub profile: Option<Sensitive<VictimProfile>>,
    pub exploitation_details: Option<Sensitive<String>>,
    pub needs_assessment: Option<Sensitive<String>>,
    pub notes: Vec<NoteView>,
    pub plan: Vec<PlanItemView>,
    pub consents: Vec<ConsentView>,
    pub calls: Vec<LinkedCall>,
    /// Read under a break-glass grant that ends at this time.
    pub break_glass_until: Option<i64>,
    /// When the case's personal data was erased (only its statistical facts remain).
    pub erased_at: Option<i64>,
}

/// Changes to a case: `None` leaves a field as it is; for the optional ones `Some(None)`
/// removes the value. The same shape opens a case (over the defaults, or over what a call
/// carries over).
#[derive(Debug, Clone, Default)]
pub struct CaseChanges {
    pub risk_level: Option<String>,
    pub gender: Option<String>,
    pub age_band: Option<String>,
    pub nationality: Option<String>,
    pub exploitation_types: Option<Vec<String>>,
    pub control_methods: Option<Vec<String>>,
    pub recruitment: Option<String>,
    pub recruitment_countries: Option<Vec<String>>,
    pub transit_countries: Option<Vec<String>>,
    pub exploitation_countries: Option<Vec<String>>,
    pub exploitation_from: Option<Option<String>>,
    pub exploitation_to: Option<Option<String>>,
    pub nrm_status: Option<String>,
    pub status: Option<String>,
    pub profile: Option<Option<Sensitive<VictimProfile>>>,
    pub exploitation_details: Option<Option<Sensitive<String>>>,
    pub needs_assessment: Option<Option<Sensitive<String>>>,
}

/// The sealed parts of a case, in clear, while being changed.
struct Content {
    profile: Option<VictimProfile>,
    exploitation_details: Option<String>,
    needs_assessment: Option<String>,
}

/// The new value if there is one (noting the field as changed).
fn take<T>(changed: &mut Vec<&'static str>, field: &'static str, new: Option<T>, old: &mut T) {
    if let Some(value) = new {
        changed.push(field);
        *old = value;
    }
}

impl CaseChanges {
    /// Applies the changes to facts and content, validates everything, and returns the names
    /// of the fields changed (sorted) and the new status.
    fn apply(
        self,
        facts: &mut CaseFacts,
        content: &mut Content,
        status: &mut Status,
        country_code: &str,
    ) -> Result<Vec<&'static str>, AuthError> {
        let CaseChanges {
            risk_level,
            gender,
            age_band,
            nationality,
            exploitation_types,
            control_methods,
            recruitment,
            recruitment_countries,
            transit_countries,
            exploitation_countries,
            exploitation_from,
            exploitation_to,
            nrm_status,
            status: new_status,
            profile,
            exploitation_details,
            needs_assessment,
        } = self;
        let mut changed = Vec::new();
        let c = &mut changed;
        take(c, "risk_level", risk_level, &mut facts.risk_level);
        take(c, "gender", gender, &mut facts.gender);
        take(c, "age_band", age_band, &mut facts.age_band);
        take(c, "nationality", nationality, &mut facts.nationality);
        take(
            c,
            "exploitation_types",
            exploitation_types,
            &mut facts.exploitation_types,
        );
        take(
            c,
            "control_methods",
            control_methods,
            &mut facts.control_methods,
        );
        take(c, "recruitment", recruitment, &mut facts.recruitment);
        take(
            c,
            "recruitment_countries",
            recruitment_countries,
            &mut facts.recruitment_countries,
        );
        take(
            c,
            "transit_countries",
            transit_countries,
            &mut facts.transit_countries,
        );
        take(
            c,
            "exploitation_countries",
            exploitation_countries,
            &mut facts.exploitation_countries,
        );
        take(
            c,
            "exploitation_from",
            exploitation_from,
            &mut facts.exploitation_from,
        );
        take(
            c,
            "exploitation_to",
            exploitation_to,
            &mut facts.exploitation_to,
        );
        take(c, "nrm_status", nrm_status, &mut facts.nrm_status);
        take(
            c,
            "profile",
            profile.map(|p| p.map(Sensitive::into_inner)),
            &mut content.profile,
        );
        take(
            c,
            "exploitation_details",
            exploitation_details.map(|p| p.map(Sensitive::into_inner)),
            &mut content.exploitation_details,
        );
        take(
            c,
            "needs_assessment",
            needs_assessment.map(|p| p.map(Sensitive::into_inner)),
            &mut content.needs_assessment,
        );
        let mut errors = FieldErrors::new();
        facts.validate(&mut errors);
        if let Some(p) = &mut content.profile {
            p.validate(&mut errors, country_code);
        }
        if content
            .profile
            .as_ref()
            .is_some_and(VictimProfile::is_empty)
        {
            content.profile = None;
        }
        for (field, value) in [
            ("exploitation_details", &mut content.exploitation_details),
            ("needs_assessment", &mut content.needs_assessment),
        ] {
            domain::cases::optional_text(&mut errors, field, value, domain::cases::TEXT_MAX_CHARS);
        }
        let mut transition = None;
        if let Some(code) = new_status {
            match Status::parse(&code) {
                None => {
                    errors.insert(
                        "status".into(),
                        "must be one of the codes of the case_status vocabulary".into(),
                    );
                }
                Some(next) => transition = Some(next),
            }
        }
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        if let Some(next) = transition {
            if !status.can_become(next) {
                return Err(AuthError::Conflict(BAD_TRANSITION));
            }
            *status = next;
            changed.push("status");
        }
        changed.sort_unstable();
        Ok(changed)
    }
}

fn ctx<'a>(table: &'a str, field: &'a str, record_id: &'a str, case: &'a str) -> FieldContext<'a> {
    FieldContext {
        table,
        field,
        record_id,
        owner_id: case,
    }
}

fn open_text(
    dek: &crypto::envelope::DataKey,
    context: &FieldContext<'_>,
    sealed: &[u8],
) -> Result<String, DbError> {
    Ok(String::from_utf8_lossy(&dek.open(context, sealed)?).into_owned())
}

/// Every column of a case that its facts and content decide.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = cases)]
#[diesel(treat_none_as_null = true)]
struct CaseColumns {
    risk_level: String,
    gender: String,
    age_band: String,
    nationality: String,
    exploitation_types: String,
    control_methods: String,
    recruitment: String,
    recruitment_countries: String,
    transit_countries: String,
    exploitation_countries: String,
    exploitation_from: Option<String>,
    exploitation_to: Option<String>,
    nrm_status: String,
    status: String,
    closed_at: Option<i64>,
    profile: Option<Vec<u8>>,
    exploitation_details: Option<Vec<u8>>,
    needs_assessment: Option<Vec<u8>>,
}

impl Vault {
    /// The stored form of a case's facts and content: sealed under the case's key, the name and
    /// phone blind indexes replaced.
    fn case_columns(
        &self,
        conn: &mut DbConnection,
        dek: &crypto::envelope::DataKey,
        id: &str,
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
        self.set_blind_index_values(conn, &ctx("cases", "victim_name", id, id), &names)?;
        self.set_blind_index_values(conn, &ctx("cases", "victim_phone", id, id), &phones)?;
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

    fn open_content(
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
    fn next_reference(conn: &mut DbConnection, year: i32) -> Result<String, DbError> {
        diesel::sql_query(
            "INSERT INTO case_counters (year, last_number) VALUES ($1, 1)
             ON CONFLICT (year) DO UPDATE SET last_number = case_counters.last_number + 1",
        )
        .bind::<diesel::sql_types::Integer, _>(year)
        .execute(conn)?;
        let n: i64 = crate::schema::case_counters::table
            .find(year)
            .select(crate::schema::case_counters::last_number)
            .first(conn)?;
        Ok(format!("{year}-{n:06}"))
    }

    /// Whether `user_id` is an active case worker or supervisor (someone a case can go to).
    fn assignable(conn: &mut DbConnection, user_id: &str) -> Result<bool, DbError> {
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
        let year = year_of(now);
        let result = db.write(|conn| {
            if let Some(user) = &assigned_to {
                if !Self::assignable(conn, user)? {
                    return Ok(Err(AuthError::Invalid {
                        field: "assigned_to",
                        message: "must be an active case worker or supervisor",
                    }));
                }
            }
            let reference = Self::next_reference(conn, year)?;
            let dek = self.create_data_key(conn, "case", &id)?;
            let columns = self.case_columns(conn, &dek, &id, &facts, &content, (status, None))?;
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
            Ok(Ok(reference))
        });
        let reference = result.map_err(conflict)??;
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

    /// The case and how the actor relates to it, if the policy lets them do `action`; else
    /// `NotFound` (a case that does not exist and one the actor may not touch look the same),
    /// except that a holder of a break-glass grant who tries to change the case learns it is
    /// read-only (`Forbidden`).
    fn case_for(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<(CaseRow, &'static str, Option<i64>), AuthError> {
        let (row, rule, grant, _) = self.case_and_key_for(db, actor, action, id, false)?;
        Ok((row, rule, grant))
    }

    /// [`Vault::case_for`], and with `with_key` the case's data key row in the same query.
    #[allow(clippy::type_complexity)]
    fn case_and_key_for(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
        with_key: bool,
    ) -> Result<(CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let found: Option<(CaseRow, Relation, Option<i64>, Option<KeyRow>)> =
            db.with_conn(|conn| {
                let row = if with_key {
                    case_with_key(conn, id)?
                } else {
                    cases::table
                        .find(id)
                        .select(CaseRow::as_select())
                        .first(conn)
                        .optional()?
                        .map(|row| (row, None))
                };
                let Some((row, key)) = row else {
                    return Ok(None);
                };
                let (relation, grant) = policy_relation(conn, actor, &row, action, now_micros())?;
                Ok(Some((row, relation, grant, key)))
            })?;
        self.decide_case(db, actor, action, id, found)
    }

    /// The policy's decision on a case found (or not) with the actor's relation to it: the
    /// decision is in the access log; a denial answers as if the case did not exist (a
    /// break-glass grant's read-only denial aside), and an erased case cannot change.
    #[allow(clippy::type_complexity)]
    fn decide_case(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
        found: Option<(CaseRow, Relation, Option<i64>, Option<KeyRow>)>,
    ) -> Result<(CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let Some((row, relation, grant, key)) = found else {
            return Err(AuthError::NotFound);
        };
        match self.authorize(db, actor, action, relation, Some(("case", id))) {
            Ok(_)
                if row.erased_at.is_some()
                    && !matches!(action, Action::CaseRead | Action::ReferralRead) =>
            {
                Err(AuthError::Conflict(ERASED))
            }
            Ok(rule) => Ok((row, rule, grant, key)),
            Err(AuthError::Forbidden(r)) if relation == Relation::BreakGlassCase => {
                Err(AuthError::Forbidden(r))
            }
            Err(AuthError::Forbidden(_)) => Err(AuthError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The session check and the case with its data key in one query (DESIGN.md section 9:
    /// one query for session and record), then the policy's decision on `action` as
    /// [`Vault::case_and_key_for`] makes it. Nothing of the case is used before the session is
    /// found valid and allowed to work (401 and 403 come first, as with
    /// [`Vault::authenticate`]); the case's row, read in the same query, is ciphertext and facts
    /// and is dropped unused otherwise.
    #[allow(clippy::type_complexity)]
    fn case_in_session(
        &self,
        db: &Database,
        settings: &AuthSettings,
        claim: Claim<'_>,
        action: Action,
        id: &str,
    ) -> Result<(Actor, CaseRow, &'static str, Option<i64>, Option<KeyRow>), AuthError> {
        let (actor, row, rule, grant, key, _) =
            self.case_in_session_with(db, settings, claim, action, id, false)?;
        Ok((actor, row, rule, grant, key))
    }

    /// [`Vault::case_in_session`], and with `children` on PostgreSQL the case file's notes,
    /// plan items, consents and linked calls in the same query ([`CASE_CHILDREN_ARRAY`];
    /// `None` on SQLite, where the file's own query is in process and costs no round trip).
    #[allow(clippy::type_complexity)]
    fn case_in_session_with(
        &self,
        db: &Database,
        settings: &AuthSettings,
        claim: Claim<'_>,
        action: Action,
        id: &str,
        children: bool,
    ) -> Result<
        (
            Actor,
            CaseRow,
            &'static str,
            Option<i64>,
            Option<KeyRow>,
            Option<Vec<ChildRow>>,
        ),
        AuthError,
    > {
        let now = now_micros();
        let (actor, last_seen, found, rows) = db.with_conn(|conn| {
            let (row, rows) = session_and_case(conn, claim, id, children)?;
            let (session, case, key) = match row {
                Some((session, case, key)) => (Some(session), case, key),
                None => (None, None, None),
            };
            let (actor, last_seen) = match self.session_actor(
                settings,
                claim.session_id,
                Some(claim.user_id),
                session,
                now,
            )? {
                Ok(valid) => valid,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = actor.may_work() {
                return Ok(Err(e));
            }
            let found = match case {
                Some(row) => {
                    let (relation, grant) = policy_relation(conn, &actor, &row, action, now)?;
                    Some((row, relation, grant, key))
                }
                None => None,
            };
            Ok(Ok((actor, last_seen, found, rows)))
        })??;
        self.touch_session(db, claim.session_id, last_seen, now)?;
        let (row, rule, grant, key) = self.decide_case(db, &actor, action, id, found)?;
        Ok((actor, row, rule, grant, key, rows))
    }

    /// The whole case file, if the policy allows; one audit event names what was opened. For a
    /// request whose session is not checked yet: see [`Vault::case_in_session`].
    pub fn read_case_in_session(
        &self,
        db: &Database,
        settings: &AuthSettings,
        claim: Claim<'_>,
        id: &str,
    ) -> Result<CaseFile, AuthError> {
        let (actor, row, rule, grant, key, children) =
            self.case_in_session_with(db, settings, claim, Action::CaseRead, id, true)?;
        self.load_case(db, row, Some((&actor, rule)), grant, key, children)
    }

    /// The case file for a caller that authorized and audits itself (the subject access export).
    pub(crate) fn read_case_unaudited(
        &self,
        db: &Database,
        id: &str,
    ) -> Result<CaseFile, AuthError> {
        let (row, key) = db.with_conn(|conn| case_with_key(conn, id)?.ok_or(DbError::NotFound))?;
        self.load_case(db, row, None, None, key, None)
    }

    fn load_case(
        &self,
        db: &Database,
        row: CaseRow,
        audit: Option<(&Actor, &'static str)>,
        break_glass_until: Option<i64>,
        // The data key row, read with the case (`None`: the case has no key row).
        key: Option<KeyRow>,
        // The file's children, when read with the case (see `Vault::case_in_session_with`).
        children: Option<Vec<ChildRow>>,
    ) -> Result<CaseFile, AuthError> {
        let id = row.id.clone();
        let id = id.as_str();
        // The read, then its audit event committed (grouped with concurrent reads' events)
        // before the file is returned.
        let (file, event) = db.read(|conn| {
            // An erased case keeps only its statistical facts (and linked calls' facts).
            let (content, dek) = match self.unwrap_data_key(id, key) {
                Ok(dek) => (self.open_content(&dek, &row)?, Some(dek)),
                Err(DbError::Erased) => (
                    Content {
                        profile: None,
                        exploitation_details: None,
                        needs_assessment: None,
                    },
                    None,
                ),
                Err(e) => return Err(e),
            };
            let CaseChildren {
                notes,
                plan,
                consents,
                calls: linked,
            } = self.case_children(conn, dek.as_ref(), id, children)?;
            let mut fields = vec!["facts".to_string()];
            for (name, present) in [
                ("profile", content.profile.is_some()),
                (
                    "exploitation_details",
                    content.exploitation_details.is_some(),
                ),
                ("needs_assessment", content.needs_assessment.is_some()),
                ("notes", !notes.is_empty()),
                ("plan", !plan.is_empty()),
                ("consents", !consents.is_empty()),
            ] {
                if present {
                    fields.push(name.into());
                }
            }
            let event = audit.map(|(actor, rule)| AuditEvent {
                record_type: Some("case".into()),
                record_id: Some(id.to_string()),
                fields,
                rule: Some(rule.into()),
                purpose: break_glass_until.map(|_| "break_glass".into()),
                ..actor.event("case.read")
            });
            let file = CaseFile {
                summary: row.summary(),
                opened_by: row.opened_by.clone(),
                facts: row.facts(),
                profile: content.profile.map(Sensitive::new),
                exploitation_details: content.exploitation_details.map(Sensitive::new),
                needs_assessment: content.needs_assessment.map(Sensitive::new),
                notes,
                plan,
                consents,
                calls: linked,
                break_glass_until,
                erased_at: row.erased_at,
            };
            Ok((file, event))
        })?;
        if let Some(event) = event {
            self.record_durably(db, event)?;
        }
        Ok(file)
    }

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
                self.case_columns(conn, &dek, id, &facts, &content, (status, closed_at))?;
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

/// Filters of the case list; a case worker's list is always their own cases.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub risk_level: Option<String>,
    /// A user id, or "none" for unassigned cases (supervisors).
    pub assigned_to: Option<String>,
    /// `(opened_at, id)` of the last case of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl Vault {
    /// Cases, newest first, without personal content: a case worker's own, or (supervisors)
    /// all with filters. Keyset paging on (opened_at, id), so a page costs the same however many
    /// cases there are.
    pub fn list_cases(
        &self,
        db: &Database,
        actor: &Actor,
        filter: &CaseFilter,
    ) -> Result<Vec<CaseSummary>, AuthError> {
        let rule = self.authorize(db, actor, Action::CaseList, Relation::NoObject, None)?;
        let rows = db.with_conn(|conn| {
            let mut q = cases::table.select(CaseSummary::as_select()).into_boxed();
            let assignee = if actor.role == Role::Supervisor {
                filter.assigned_to.clone()
            } else {
                Some(actor.user_id.clone())
            };
            match assignee.as_deref() {
                Some("none") => q = q.filter(cases::assigned_to.is_null()),
                Some(user) => q = q.filter(cases::assigned_to.eq(user.to_string())),
                None => {}
            }
            if let Some(s) = &filter.status {
                q = q.filter(cases::status.eq(s.clone()));
            }
            if let Some(r) = &filter.risk_level {
                q = q.filter(cases::risk_level.eq(r.clone()));
            }
            if let Some((at, id)) = &filter.before {
                q = q.filter(
                    cases::opened_at
                        .lt(*at)
                        .or(cases::opened_at.eq(*at).and(cases::id.lt(id.clone()))),
                );
            }
            let rows: Vec<CaseSummary> = q
                .order_by((cases::opened_at.desc(), cases::id.desc()))
                .limit(filter.limit.clamp(1, 200))
                .load::<CaseSummary>(conn)?;
            Ok(rows)
        })?;
        self.record_durably(
            db,
            AuditEvent {
                record_type: Some("case".into()),
                rule: Some(rule.into()),
                ..actor.event("case.list")
            },
        )?;
        Ok(rows)
    }
}

/// A search hit: enough to recognise the person and open the case.
#[derive(Debug, Clone)]
pub struct CaseHit {
    pub summary: CaseSummary,
    pub name: Sensitive<String>,
}

impl Vault {
    /// Cases whose victim has this name (exactly, after normalisation) or this phone number,
    /// among the cases the actor may read. Candidates come from the blind indexes; each is
    /// opened and compared, so collisions never show. The terms are in no log and no audit
    /// event: the event says which index was searched and nothing else.
    pub fn search_cases(
        &self,
        db: &Database,
        actor: &Actor,
        name: Option<&Sensitive<String>>,
        phone: Option<&PhoneNumber>,
    ) -> Result<Vec<CaseHit>, AuthError> {
        let rule = self.authorize(db, actor, Action::CaseSearch, Relation::NoObject, None)?;
        let name = name.map(|n| domain::normalize::name(n.expose()));
        let now = now_micros();
        Ok(db.write(|conn| {
            let mut candidates = Vec::new();
            let mut fields = Vec::new();
            if let Some(n) = &name {
                candidates.extend(self.blind_index_candidates(conn, "cases", "victim_name", n)?);
                fields.push("victim_name".to_string());
            }
            if let Some(p) = phone {
                candidates.extend(self.blind_index_candidates(
                    conn,
                    "cases",
                    "victim_phone",
                    p.e164(),
                )?);
                fields.push("victim_phone".to_string());
            }
            let mut ids: Vec<String> = candidates.into_iter().map(|(owner, _)| owner).collect();
            ids.sort();
            ids.dedup();
            // The candidate cases in one query (index collisions make them a few, never many).
            let rows: Vec<CaseRow> = cases::table
                .filter(cases::id.eq_any(&ids))
                .select(CaseRow::as_select())
                .load(conn)?;
            let mut hits = Vec::new();
            for row in rows {
                let id = row.id.clone();
                if !self.may_read(conn, actor, &row, now)? {
                    continue;
                }
                let dek = match self.data_key(conn, &id) {
                    Ok(dek) => dek,
                    Err(DbError::Erased) => continue,
                    Err(e) => return Err(e),
                };
                let Some(profile) = self.open_content(&dek, &row)?.profile else {
                    continue;
                };
                let matches = name
                    .as_ref()
                    .is_some_and(|n| profile.search_names().contains(n))
                    || phone.is_some_and(|p| profile.phones().iter().any(|x| x == p.e164()));
                if matches {
                    let full = [&profile.given_name, &profile.family_name]
                        .iter()
                        .filter_map(|n| n.as_deref())
                        .collect::<Vec<_>>()
                        .join(" ");
                    hits.push(CaseHit {
                        summary: row.summary(),
                        name: Sensitive::new(full),
                    });
                }
            }
            hits.sort_by_key(|h| std::cmp::Reverse(h.summary.opened_at));
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    fields,
                    rule: Some(rule.into()),
                    ..actor.event("case.search")
                },
            )?;
            Ok(hits)
        })?)
    }

    /// Whether the policy lets the actor read this case (no audit event: used to filter).
    fn may_read(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        row: &CaseRow,
        now: i64,
    ) -> Result<bool, DbError> {
        let (relation, _) = policy_relation(conn, actor, row, Action::CaseRead, now)?;
        Ok(domain::policy::authorize(actor.role, Action::CaseRead, relation).is_allowed())
    }
}

// ---------------------------------------------------------------------------------------------
// A case file's children in one query

/// Everything under a case that its file shows: current notes (with their current revision),
/// plan items, consents and linked calls, one `UNION ALL` of four selects in one common row
/// shape, so opening a case is one round trip for all of them instead of four. `$1` is the
/// case id in every branch: PostgreSQL binds it once, and SQLite takes `$1` as one named
/// parameter wherever it appears. Ordered by kind, then each kind's own order (creation, given,
/// start time) and id. Every NULL is cast: PostgreSQL types a `UNION` pair by pair, and a
/// column NULL in the first two branches would be typed text.
macro_rules! children_union {
    ($case:literal) => {
        concat!(
            "SELECT 0 AS kind, n.id AS id, n.author_id AS t1, CAST(NULL AS TEXT) AS t2, \
CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4, CAST(NULL AS TEXT) AS t5, \
n.created_at AS n1, n.updated_at AS n2, CAST(NULL AS BIGINT) AS n3, n.revision AS v, \
r.body AS x1, CAST(NULL AS BYTEA) AS x2, n.created_at AS s \
FROM case_notes n JOIN case_note_revisions r ON r.note_id = n.id AND r.revision = n.revision \
WHERE n.case_id = ",
            $case,
            " \
UNION ALL \
SELECT 1, id, domain, status, due_on, created_by, CAST(NULL AS TEXT), completed_at, \
updated_at, CAST(NULL AS BIGINT), version, goal, progress, created_at \
FROM case_plan_items WHERE case_id = ",
            $case,
            " \
UNION ALL \
SELECT 2, id, purpose, service_types, organisations, recorded_by, withdrawn_by, given_at, \
expires_at, withdrawn_at, CAST(NULL AS INTEGER), scope, CAST(NULL AS BYTEA), given_at \
FROM case_consents WHERE case_id = ",
            $case,
            " \
UNION ALL \
SELECT 3, id, channel, outcome, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
started_at, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS INTEGER), \
CAST(NULL AS BYTEA), CAST(NULL AS BYTEA), started_at \
FROM calls WHERE case_id = ",
            $case,
            " \
",
        )
    };
}

const CASE_CHILDREN: &str = concat!(children_union!("$1"), "ORDER BY 1, 14, 2");

/// On PostgreSQL, [`CASE_CHILDREN`] as one more column of the query that checks the session and
/// reads the case (`Vault::case_in_session`): an array of rows, correlated on the joined case's
/// id (NULL when there is no case or no child), so opening a case is one round trip for the
/// session, the case, its key and its file. Rows of the shape of [`ChildRow`], in its order.
const CASE_CHILDREN_ARRAY: &str = concat!(
    "(SELECT array_agg(ROW(c.kind, c.id, c.t1, c.t2, c.t3, c.t4, c.t5, c.n1, c.n2, c.n3, c.v, \
     c.x1, c.x2) ORDER BY c.kind, c.s, c.id) FROM (",
    children_union!("\"cases\".\"id\""),
    ") AS c)"
);

/// The SQL type of [`CASE_CHILDREN_ARRAY`].
type ChildArray = diesel::sql_types::Nullable<
    diesel::sql_types::Array<
        diesel::pg::sql_types::Record<(
            diesel::sql_types::Integer,
            diesel::sql_types::Text,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
            diesel::sql_types::Nullable<diesel::sql_types::Integer>,
            diesel::sql_types::Nullable<diesel::sql_types::Binary>,
            diesel::sql_types::Nullable<diesel::sql_types::Binary>,
        )>,
    >,
>;

/// One element of [`CASE_CHILDREN_ARRAY`].
type ChildTuple = (
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

impl From<ChildTuple> for ChildRow {
    fn from((kind, id, t1, t2, t3, t4, t5, n1, n2, n3, v, x1, x2): ChildTuple) -> Self {
        ChildRow {
            kind,
            id,
            t1,
            t2,
            t3,
            t4,
            t5,
            n1,
            n2,
            n3,
            v,
            x1,
            x2,
        }
    }
}

const NOTE: i32 = 0;
const PLAN_ITEM: i32 = 1;
const CONSENT: i32 = 2;
const LINKED_CALL: i32 = 3;

/// One row of [`CASE_CHILDREN`]; what each column holds depends on `kind`.
#[derive(QueryableByName)]
struct ChildRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    kind: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t1: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t2: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t3: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t4: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    t5: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    n1: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    n2: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    n3: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    v: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    x1: Option<Vec<u8>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Binary>)]
    x2: Option<Vec<u8>>,
}

/// A column the row's table declares NOT NULL.
fn present<T>(value: Option<T>) -> Result<T, DbError> {
    value.ok_or_else(|| DbError::Refused("a stored case file row lacks a required column".into()))
}

#[derive(Default)]
struct CaseChildren {
    notes: Vec<NoteView>,
    plan: Vec<PlanItemView>,
    consents: Vec<ConsentView>,
    calls: Vec<LinkedCall>,
}

impl Vault {
    /// The case's notes, plan items, consents and linked calls. Without a data key (an erased
    /// case) only the linked calls' statistical fields.
    fn case_children(
        &self,
        conn: &mut DbConnection,
        dek: Option<&crypto::envelope::DataKey>,
        case_id: &str,
        // The rows, when the case's first query brought them already.
        rows: Option<Vec<ChildRow>>,
    ) -> Result<CaseChildren, DbError> {
        let rows: Vec<ChildRow> = match rows {
            Some(rows) => rows,
            None => Prepared(
                diesel::sql_query(CASE_CHILDREN).bind::<diesel::sql_types::Text, _>(case_id),
            )
            .load(conn)?,
        };
        let now = now_micros();
        let mut children = CaseChildren::default();
        for row in rows {
            let ChildRow {
                kind,
                id,
                t1,
                t2,
                t3,
                t4,
                t5,
                n1,
                n2,
                n3,
                v,
                x1,
                x2,
            } = row;
            let dek = match (kind, dek) {
                (LINKED_CALL, _) => {
                    children.calls.push(LinkedCall {
                        id,
                        started_at: present(n1)?,
                        channel: present(t1)?,
                        outcome: present(t2)?,
                    });
                    continue;
                }
                (_, None) => continue,
                (_, Some(dek)) => dek,
            };
            match kind {
                NOTE => {
                    let revision = present(v)?;
                    let body = open_revision(dek, case_id, &id, revision, &present(x1)?)?;
                    children.notes.push(NoteView {
                        id,
                        author_id: present(t1)?,
                        revision,
                        created_at: present(n1)?,
                        updated_at: present(n2)?,
                        body: Sensitive::new(body),
                    });
                }
                PLAN_ITEM => children.plan.push(self.open_plan_item(
                    dek,
                    PlanRow {
                        id,
                        case_id: case_id.to_string(),
                        domain: present(t1)?,
                        status: present(t2)?,
                        due_on: t3,
                        completed_at: n1,
                        goal: present(x1)?,
                        progress: x2,
                        version: present(v)?,
                        created_by: present(t4)?,
                        updated_at: present(n2)?,
                    },
                )?),
                CONSENT => {
                    let row = ConsentRow {
                        id,
                        purpose: present(t1)?,
                        service_types: present(t2)?,
                        organisations: present(t3)?,
                        scope: x1,
                        given_at: present(n1)?,
                        expires_at: n2,
                        recorded_by: present(t4)?,
                        withdrawn_at: n3,
                        withdrawn_by: t5,
                    };
                    let facts = row.facts();
                    children.consents.push(ConsentView {
                        live: facts.is_live(row.withdrawn_at, now),
                        scope: row
                            .scope
                            .as_ref()
                            .map(|s| {
                                open_text(dek, &ctx("case_consents", "scope", &row.id, case_id), s)
                            })
                            .transpose()?
                            .map(Sensitive::new),
                        facts,
                        id: row.id,
                        recorded_by: row.recorded_by,
                        withdrawn_at: row.withdrawn_at,
                        withdrawn_by: row.withdrawn_by,
                    });
                }
                _ => return Err(DbError::Refused("unknown case file row".into())),
            }
        }
        Ok(children)
    }
}

// ---------------------------------------------------------------------------------------------
// Notes

/// Opens one revision of a note of `case_id` (sealed under the case's key, bound to the note
/// and the revision number).
pub(crate) fn open_revision(
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    note_id: &str,
    revision: i32,
    sealed: &[u8],
) -> Result<String, DbError> {
    let record = format!("{note_id}/{revision}");
    open_text(
        dek,
        &ctx("case_note_revisions", "body", &record, case_id),
        sealed,
    )
}

/// One revision of a note of `case_id`, sealed under the case's key (bound to the note and the
/// revision number).
fn seal_revision(
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    (note_id, revision): (&str, i32),
    body: &str,
) -> Result<Vec<u8>, DbError> {
    let record = format!("{note_id}/{revision}");
    Ok(dek.seal(
        &ctx("case_note_revisions", "body", &record, case_id),
        body.as_bytes(),
    )?)
}

/// The insert of a sealed revision.
fn revision_insert<'a>(
    sealed: &'a Vec<u8>,
    (note_id, revision): (&'a str, i32),
    author_id: &'a str,
    now: i64,
) -> impl Write + 'a {
    diesel::insert_into(case_note_revisions::table).values((
        case_note_revisions::note_id.eq(note_id),
        case_note_revisions::revision.eq(revision),
        case_note_revisions::author_id.eq(author_id),
        case_note_revisions::body.eq(sealed),
        case_note_revisions::created_at.eq(now),
    ))
}

/// Seals and stores one revision of a note, in the caller's transaction.
fn add_revision(
    conn: &mut DbConnection,
    dek: &crypto::envelope::DataKey,
    case_id: &str,
    (note_id, revision): (&str, i32),
    author_id: &str,
    body: &str,
    now: i64,
) -> Result<(), DbError> {
    let sealed = seal_revision(dek, case_id, (note_id, revision), body)?;
    crate::prepared::execute(
        conn,
        &revision_insert(&sealed, (note_id, revision), author_id, now),
    )?;
    Ok(())
}

impl Vault {
    fn note_body(errors_field: &'static str, body: Sensitive<String>) -> Result<String, AuthError> {
        let mut errors = FieldErrors::new();
        let mut text = body.into_inner();
        domain::cases::required_text(
            &mut errors,
            errors_field,
            &mut text,
            domain::cases::TEXT_MAX_CHARS,
        );
        if errors.is_empty() {
            Ok(text)
        } else {
            Err(AuthError::InvalidMany(errors))
        }
    }

    /// Adds a note to the case's timeline. Returns its id.
    pub fn add_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        body: Sensitive<String>,
    ) -> Result<String, AuthError> {
        let body = Self::note_body("body", body)?;
        let (_, rule, _, key) =
            self.case_and_key_for(db, actor, Action::CaseUpdate, case_id, true)?;
        self.write_note(db, actor, case_id, rule, key, body)
    }

    /// [`Vault::add_note`] for a request whose session is not checked yet (see
    /// [`Vault::case_in_session`]): the input is answered after the session and the case, its
    /// other checks (`input`: the caller's own) first.
    pub fn add_note_in_session(
        &self,
        db: &Database,
        settings: &AuthSettings,
        claim: Claim<'_>,
        case_id: &str,
        input: Result<(), AuthError>,
        body: Sensitive<String>,
    ) -> Result<String, AuthError> {
        let (actor, _, rule, _, key) =
            self.case_in_session(db, settings, claim, Action::CaseUpdate, case_id)?;
        input?;
        let body = Self::note_body("body", body)?;
        self.write_note(db, &actor, case_id, rule, key, body)
    }

    /// A new note and its first revision, sealed with the case's key (read with the case), and
    /// its event: one statement on PostgreSQL.
    fn write_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        rule: &'static str,
        key: Option<KeyRow>,
        body: String,
    ) -> Result<String, AuthError> {
        let dek = self.unwrap_data_key(case_id, key)?;
        let id = new_id()?;
        let now = now_micros();
        let event = AuditEvent {
            record_type: Some("case".into()),
            record_id: Some(case_id.to_string()),
            fields: vec!["notes".into()],
            rule: Some(rule.into()),
            ..actor.event("case.note.add")
        };
        db.write_single(|conn| {
            let note = diesel::insert_into(case_notes::table).values((
                case_notes::id.eq(&id),
                case_notes::case_id.eq(case_id),
                case_notes::author_id.eq(&actor.user_id),
                case_notes::revision.eq(1),
                case_notes::created_at.eq(now),
                case_notes::updated_at.eq(now),
            ));
            let sealed = seal_revision(&dek, case_id, (&id, 1), &body)?;
            let revision = revision_insert(&sealed, (&id, 1), &actor.user_id, now);
            // The note and its first revision (one statement on PostgreSQL).
            self.record_with(conn, vec![write(note), write(revision)], &event)
        })?;
        Ok(id)
    }

    /// Edits a note (its author only), keeping every earlier revision. `revision` is the one
    /// read: a stale edit is a `Conflict`. Returns the new revision.
    pub fn edit_note(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        note_id: &str,
        revision: i32,
        body: Sensitive<String>,
    ) -> Result<i32, AuthError> {
        let body = Self::note_body("body", body)?;
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
        let author: Option<String> = db.with_conn(|conn| {
            Ok(case_notes::table
                .find(note_id)
                .filter(case_notes::case_id.eq(case_id))
                .select(case_notes::author_id)
                .first(conn)
                .optional()?)
        })?;
        let Some(author) = author else {
            return Err(AuthError::NotFound);
        };
        if author != actor.user_id {
            db.write(|conn| {
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("case".into()),
                        record_id: Some(case_id.to_string()),
                        outcome: crate::Outcome::Denied,
                        rule: Some("only_the_author_edits_a_note".into()),
                        ..actor.event("case.note.edit")
                    },
                )
            })?;
            return Err(AuthError::Forbidden("only_the_author_edits_a_note"));
        }
        let now = now_micros();
        db.write(|conn| {
            let next = revision + 1;
            let updated = diesel::update(
                case_notes::table
                    .find(note_id)
                    .filter(case_notes::revision.eq(revision)),
            )
            .set((
                case_notes::revision.eq(next),
                case_notes::updated_at.eq(now),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(refuse(STALE_ITEM));
            }
            let dek = self.data_key(conn, case_id)?;
            add_revision(
                conn,
                &dek,
                case_id,
                (note_id, next),
                &actor.user_id,
                &body,
                now,
            )?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["notes".into()],
                    rule: Some(rule.into()),
                    ..actor.event("case.note.edit")
                },
            )?;
            Ok(next)
        })
        .map_err(conflict)
    }

    /// Every revision of one note, oldest first.
    pub fn note_history(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        note_id: &str,
    ) -> Result<Vec<NoteRevision>, AuthError> {
        let (_, rule, until) = self.case_for(db, actor, Action::CaseRead, case_id)?;
        let revisions = db.write(|conn| {
            let rows: Vec<(i32, String, i64, Vec<u8>)> = case_note_revisions::table
                .inner_join(case_notes::table.on(case_notes::id.eq(case_note_revisions::note_id)))
                .filter(case_notes::case_id.eq(case_id))
                .filter(case_note_revisions::note_id.eq(note_id))
                .select((
                    case_note_revisions::revision,
                    case_note_revisions::author_id,
                    case_note_revisions::created_at,
                    case_note_revisions::body,
                ))
                .order_by(case_note_revisions::revision)
                .load(conn)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let dek = self.data_key(conn, case_id)?;
            let revisions = rows
                .into_iter()
                .map(|(revision, author_id, created_at, body)| {
                    Ok(NoteRevision {
                        revision,
                        author_id,
                        created_at,
                        body: Sensitive::new(open_revision(
                            &dek, case_id, note_id, revision, &body,
                        )?),
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("case".into()),
                    record_id: Some(case_id.to_string()),
                    fields: vec!["notes".into()],
                    rule: Some(rule.into()),
                    purpose: until.map(|_| "break_glass".into()),
                    ..actor.event("case.note.history")
                },
            )?;
            Ok(Some(revisions))
        })?;
        revisions.ok_or(AuthError::NotFound)
    }
}

// ---------------------------------------------------------------------------------------------
// Reintegration plan

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = case_plan_items)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct PlanRow {
    id: String,
    case_id: String,
    domain: String,
    status: String,
    due_on: Option<String>,
    completed_at: Option<i64>,
    goal: Vec<u8>,
    progress: Option<Vec<u8>>,
    version: i32,
    created_by: String,
    updated_at: i64,
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
    fn open_plan_item(
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
    fn plan_apply(
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

    fn seal_plan(
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
        Self::plan_apply(&mut facts, &mut goal, &mut progress, changes, actor)?;
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
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

// ---------------------------------------------------------------------------------------------
// Consent

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = case_consents)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct ConsentRow {
    id: String,
    purpose: String,
    service_types: String,
    organisations: String,
    scope: Option<Vec<u8>>,
    given_at: i64,
    expires_at: Option<i64>,
    recorded_by: String,
    withdrawn_at: Option<i64>,
    withdrawn_by: Option<String>,
}

impl ConsentRow {
    fn facts(&self) -> ConsentFacts {
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
        let (_, rule, _) = self.case_for(db, actor, Action::CaseUpdate, case_id)?;
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

/// A case as a referral's creation needs it (see [`Vault::case_for_referral`]).
pub(crate) struct CaseForReferral {
    pub access: CaseAccess,
    pub facts: CaseFacts,
    pub profile: Option<VictimProfile>,
    pub dek: crypto::envelope::DataKey,
}

/// What other modules need of a case the actor may act on.
pub(crate) struct CaseAccess {
    pub rule: &'static str,
    pub reference: String,
    /// How the actor relates to the case (break-glass aside), for a further policy question.
    pub relation: Relation,
}

impl Vault {
    /// The policy's answer for `action` on a case, as for the case's own routes (404 for a case
    /// the actor may not touch).
    pub(crate) fn case_access(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<CaseAccess, AuthError> {
        let (row, rule, _) = self.case_for(db, actor, action, id)?;
        Ok(CaseAccess {
            rule,
            relation: row.relation_to(actor),
            reference: row.reference,
        })
    }

    /// What a referral's creation needs of its case: the policy's answer for creating one, the
    /// clear facts, the opened profile and the case's data key, from the case and its key read
    /// in one query.
    pub(crate) fn case_for_referral(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
    ) -> Result<CaseForReferral, AuthError> {
        let (row, rule, _, key) =
            self.case_and_key_for(db, actor, Action::ReferralCreate, id, true)?;
        self.opened_for_referral(actor, row, rule, key)
    }

    /// [`Vault::case_for_referral`] for a request whose session is not checked yet (see
    /// [`Vault::case_in_session`]).
    pub(crate) fn case_for_referral_in_session(
        &self,
        db: &Database,
        settings: &AuthSettings,
        claim: Claim<'_>,
        id: &str,
    ) -> Result<(Actor, CaseForReferral), AuthError> {
        let (actor, row, rule, _, key) =
            self.case_in_session(db, settings, claim, Action::ReferralCreate, id)?;
        let case = self.opened_for_referral(&actor, row, rule, key)?;
        Ok((actor, case))
    }

    fn opened_for_referral(
        &self,
        actor: &Actor,
        row: CaseRow,
        rule: &'static str,
        key: Option<KeyRow>,
    ) -> Result<CaseForReferral, AuthError> {
        let dek = self.unwrap_data_key(&row.id, key)?;
        let content = self.open_content(&dek, &row)?;
        Ok(CaseForReferral {
            facts: row.facts(),
            profile: content.profile,
            dek,
            access: CaseAccess {
                rule,
                relation: row.relation_to(actor),
                reference: row.reference,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Break-glass

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
}

impl Vault {
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
        self.reauthenticate(db, auth, actor, reauth)?;
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

    /// Marks a break-glass use as reviewed.
    pub fn review_break_glass(
        &self,
        db: &Database,
        actor: &Actor,
        grant_id: &str,
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
                    fields: vec!["reviewed_at".into()],
                    rule: Some(rule.into()),
                    ..actor.event("break_glass.review")
                },
            )?;
            Ok(Ok(()))
        })
        .map_err(conflict)?
    }
}

/// The UTC calendar year of a time in microseconds.
fn year_of(us: i64) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_micros(us).map_or(1970, |t| t.year())
}

fn conflict(e: DbError) -> AuthError {
    crate::error::conflict_among(e, &CONFLICTS)
}

/// A case and its data key row in one query (`None` for the key: no key row).
fn case_with_key(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<(CaseRow, Option<KeyRow>)>, DbError> {
    Ok(cases::table
        .left_join(data_keys::table.on(data_keys::owner_id.eq(cases::id)))
        .filter(cases::id.eq(id))
        .select((
            CaseRow::as_select(),
            (data_keys::dek_version, data_keys::wrapped).nullable(),
        ))
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn years_of_times() {
        assert_eq!(super::year_of(0), 1970);
        // 2026-12-31T23:59:59Z and 2027-01-01T00:00:00Z
        assert_eq!(super::year_of(1_798_761_599_000_000), 2026);
        assert_eq!(super::year_of(1_798_761_600_000_000), 2027);
    }
}
