//! Victim case files: opening (alone or from a call), reading under the policy, changing with
//! optimistic concurrency and the status machine, notes with their revisions, reintegration
//! plan items, consent records, search through blind indexes, and break-glass.
//!
//! Everything personal is sealed under the case's own data key, so shredding that key erases
//! the profile, narratives, notes, plan goals, consent scopes and break-glass justifications at
//! once. Every read and write is authorized and audited in the same transaction, with field
//! names and never values.
//!
//! This file holds what every part shares (the case row, the views, the settings, the session
//! and case query); each part has its own file: `open` (create, link a call), `access` (the
//! policy's answer for a case), `file` (the case file read), `change` (update, assign), `list`
//! (list, search), `notes`, `plan`, `consents` and `break_glass`.

mod access;
mod break_glass;
mod change;
mod consents;
mod file;
mod list;
mod notes;
mod open;
mod plan;

use self::{
    file::{ChildArray, ChildRow, ChildTuple, CASE_CHILDREN_ARRAY},
    plan::PlanRow,
};

pub(crate) use access::CaseForReferral;
pub use break_glass::{GrantView, Verdict};
pub(crate) use consents::{live, ConsentRow};
pub use list::{CaseFilter, CaseHit, ListedCase};
pub(crate) use notes::open_revision;
pub use open::References;
pub use plan::PlanChanges;

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
    /// Under a legal hold: retention and erasure skip it.
    pub legal_hold: bool,
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
