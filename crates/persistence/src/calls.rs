//! Hotline calls: logging (personal fields sealed, the phone blind-indexed), reading under the
//! policy, listing, and the repeat-caller lookup. Every read and write is authorized and
//! audited in the same transaction, with field names and never values.

use std::time::Duration;

use crypto::envelope::DataKey;
use diesel::prelude::*;
use domain::calls::{CallInput, ValidCall};
use domain::normalize::PhoneNumber;
use domain::policy::{Action, Relation};
use domain::Sensitive;

use crate::clock::now_micros;
use crate::error::AuthError;
use crate::identity::Actor;
use crate::prepared::write;
use crate::schema::{blind_indexes, calls, data_keys};
use crate::vault::{FieldContext, NewBlindIndex, NewDataKey};
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

const TABLE: &str = "calls";
const STALE: &str = "the call changed since it was read; read it again";

#[derive(Debug, Clone)]
pub struct CallSettings {
    /// How long after a call its counselor may still open it.
    pub counselor_window: Duration,
    /// Country calling code of national numbers (a leading 0), e.g. "380".
    pub default_country_code: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calls)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct CallRow {
    id: String,
    counselor_id: String,
    channel: String,
    direction: String,
    started_at: i64,
    ended_at: Option<i64>,
    caller_role: String,
    topics: String,
    region: String,
    caller_gender: String,
    caller_age_group: String,
    language: String,
    outcome: String,
    case_id: Option<String>,
    summary: Option<Vec<u8>>,
    caller_name: Option<Vec<u8>>,
    caller_phone: Option<Vec<u8>>,
    version: i32,
    created_at: i64,
    updated_at: i64,
}

/// The statistical, clear part of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    pub id: String,
    pub counselor_id: String,
    pub channel: String,
    pub direction: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub caller_role: String,
    pub topics: Vec<String>,
    pub region: String,
    pub caller_gender: String,
    pub caller_age_group: String,
    pub language: String,
    pub outcome: String,
    pub case_id: Option<String>,
    pub version: i32,
    pub updated_at: i64,
}

/// A call with its personal fields opened, for an actor allowed to see them.
#[derive(Debug, Clone)]
pub struct CallView {
    pub facts: CallFacts,
    pub summary: Option<Sensitive<String>>,
    pub caller_name: Option<Sensitive<String>>,
    pub caller_phone: Option<Sensitive<String>>,
}

/// What the repeat-caller lookup may say: how often and when, never what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerHistory {
    pub calls: usize,
    pub dates: Vec<i64>,
    pub case_ids: Vec<String>,
}

fn facts(row: &CallRow) -> CallFacts {
    let CallRow {
        id,
        counselor_id,
        channel,
        direction,
        started_at,
        ended_at,
        caller_role,
        topics,
        region,
        caller_gender,
        caller_age_group,
        language,
        outcome,
        case_id,
        summary: _,
        caller_name: _,
        caller_phone: _,
        version,
        created_at: _,
        updated_at,
    } = row.clone();
    CallFacts {
        id,
        counselor_id,
        channel,
        direction,
        started_at,
        ended_at,
        caller_role,
        topics: crate::clock::code_list(&topics),
        region,
        caller_gender,
        caller_age_group,
        language,
        outcome,
        case_id,
        version,
        updated_at,
    }
}

fn ctx<'a>(field: &'a str, id: &'a str) -> FieldContext<'a> {
    FieldContext {
        table: TABLE,
        field,
        record_id: id,
        owner_id: id,
    }
}

/// Every column a caller of the API decides, as stored: the same set for logging and changing
/// a call.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = calls)]
#[diesel(treat_none_as_null = true)]
struct CallColumns<'a> {
    channel: &'a str,
    direction: &'a str,
    started_at: i64,
    ended_at: Option<i64>,
    caller_role: &'a str,
    topics: String,
    region: &'a str,
    caller_gender: &'a str,
    caller_age_group: &'a str,
    language: &'a str,
    outcome: &'a str,
    summary: Option<Vec<u8>>,
    caller_name: Option<Vec<u8>>,
    caller_phone: Option<Vec<u8>>,
}

impl<'a> CallColumns<'a> {
    /// The statistical columns of a call; no personal field.
    fn statistical(c: &'a CallInput) -> Self {
        CallColumns {
            channel: &c.channel,
            direction: &c.direction,
            started_at: c.started_at,
            ended_at: c.ended_at,
            caller_role: &c.caller_role,
            topics: c.topics.join(","),
            region: &c.region,
            caller_gender: &c.caller_gender,
            caller_age_group: &c.caller_age_group,
            language: &c.language,
            outcome: &c.outcome,
            summary: None,
            caller_name: None,
            caller_phone: None,
        }
    }
}

/// The personal fields of a call, sealed under its data key.
struct SealedPersonal {
    summary: Option<Vec<u8>>,
    caller_name: Option<Vec<u8>>,
    caller_phone: Option<Vec<u8>>,
}

impl SealedPersonal {
    fn seal(dek: &DataKey, id: &str, call: &ValidCall) -> Result<Self, DbError> {
        let c = &call.input;
        let seal = |field: &str, value: &str| dek.seal(&ctx(field, id), value.as_bytes());
        Ok(SealedPersonal {
            summary: c
                .summary
                .as_ref()
                .map(|v| seal("summary", v.expose()))
                .transpose()?,
            caller_name: c
                .caller_name
                .as_ref()
                .map(|v| seal("caller_name", v.expose().trim()))
                .transpose()?,
            caller_phone: call
                .phone
                .as_ref()
                .map(|p| seal("caller_phone", p.e164()))
                .transpose()?,
        })
    }

    fn none() -> Self {
        SealedPersonal {
            summary: None,
            caller_name: None,
            caller_phone: None,
        }
    }

    fn columns(self, call: &ValidCall) -> CallColumns<'_> {
        let SealedPersonal {
            summary,
            caller_name,
            caller_phone,
        } = self;
        CallColumns {
            summary,
            caller_name,
            caller_phone,
            ..CallColumns::statistical(&call.input)
        }
    }
}

/// What a new call's row is inserted with: its data key (when it holds personal data) and its
/// phone's blind index, so that PostgreSQL can take all three in one statement.
struct NewCall<'a> {
    columns: CallColumns<'a>,
    key: Option<NewDataKey<'a>>,
    index: Vec<NewBlindIndex<'a>>,
}

impl Vault {
    /// The stored form of a new call: personal fields sealed under a new data key, the rows of
    /// that key and of the phone's blind index, nothing written yet.
    fn new_call<'a>(&self, id: &'a str, call: &'a ValidCall) -> Result<NewCall<'a>, DbError> {
        let (sealed, key) = if call.has_personal_data() {
            let (dek, key) = self.new_data_key("call", id)?;
            (SealedPersonal::seal(&dek, id, call)?, Some(key))
        } else {
            (SealedPersonal::none(), None)
        };
        let phone = call.phone.as_ref().map(PhoneNumber::e164);
        let index = self.blind_index_rows(&ctx("caller_phone", id), phone.as_slice())?;
        Ok(NewCall {
            columns: sealed.columns(call),
            key,
            index,
        })
    }

    /// The stored form of a changed call: personal fields sealed under the call's data key
    /// (created when the call first has personal data), the phone's blind index replaced.
    fn call_columns<'a>(
        &self,
        conn: &mut DbConnection,
        id: &str,
        call: &'a ValidCall,
    ) -> Result<CallColumns<'a>, DbError> {
        let sealed = if call.has_personal_data() {
            let dek = match self.data_key(conn, id) {
                Ok(dek) => dek,
                Err(DbError::NotFound) => self.create_data_key(conn, "call", id)?,
                Err(e) => return Err(e),
            };
            SealedPersonal::seal(&dek, id, call)?
        } else {
            SealedPersonal::none()
        };
        let phone = call.phone.as_ref().map(PhoneNumber::e164);
        self.set_blind_index(conn, &ctx("caller_phone", id), phone)?;
        Ok(sealed.columns(call))
    }
}

impl Vault {
    /// Logs a call. Personal fields are sealed under the call's own data key (created only
    /// when there is one), the phone number is blind-indexed, and the audit event names the
    /// fields stored.
    pub fn create_call(
        &self,
        db: &Database,
        actor: &Actor,
        call: &ValidCall,
    ) -> Result<String, AuthError> {
        let rule = self.authorize(db, actor, Action::CallCreate, Relation::NoObject, None)?;
        let id = crypto::random::hex_id::<16>().map_err(crypto::CryptoError::from)?;
        db.write_single(|conn| {
            let mut fields = vec![
                "channel",
                "direction",
                "started_at",
                "ended_at",
                "caller_role",
                "topics",
                "region",
                "caller_gender",
                "caller_age_group",
                "language",
                "outcome",
            ];
            let NewCall {
                columns,
                key,
                index,
            } = self.new_call(&id, call)?;
            for (name, present) in [
                ("summary", columns.summary.is_some()),
                ("caller_name", columns.caller_name.is_some()),
                ("caller_phone", columns.caller_phone.is_some()),
            ] {
                if present {
                    fields.push(name);
                }
            }
            let now = now_micros();
            let insert = diesel::insert_into(calls::table).values((
                columns,
                calls::id.eq(&id),
                calls::counselor_id.eq(&actor.user_id),
                calls::version.eq(1),
                calls::created_at.eq(now),
                calls::updated_at.eq(now),
            ));
            let event = AuditEvent {
                record_type: Some("call".into()),
                record_id: Some(id.clone()),
                fields: fields.into_iter().map(String::from).collect(),
                rule: Some(rule.into()),
                ..actor.event("call.create")
            };
            // The key, the phone's index, then the call (one statement on PostgreSQL).
            let mut writes: Vec<_> = key
                .map(|k| write(diesel::insert_into(data_keys::table).values(k)))
                .into_iter()
                .collect();
            writes.extend(
                index
                    .iter()
                    .map(|row| write(diesel::insert_into(blind_indexes::table).values(row))),
            );
            writes.push(write(insert));
            self.record_with(conn, writes, &event)
        })?;
        Ok(id)
    }

    fn call_relation(actor: &Actor, row: &CallRow, settings: &CallSettings, now: i64) -> Relation {
        let window = crate::clock::duration_micros(settings.counselor_window);
        if row.counselor_id == actor.user_id && row.created_at.saturating_add(window) > now {
            Relation::OwnRecentCall
        } else {
            Relation::OtherCall
        }
    }

    /// The call and the rule that lets the actor do `action` to it. A call that does not
    /// exist and one the actor may not touch give the same `NotFound` (the denial is logged).
    fn call_for(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CallSettings,
        action: Action,
        id: &str,
    ) -> Result<(CallRow, &'static str), AuthError> {
        let row: Option<CallRow> = db.with_conn(|conn| {
            Ok(calls::table
                .find(id)
                .select(CallRow::as_select())
                .first(conn)
                .optional()?)
        })?;
        let Some(row) = row else {
            return Err(AuthError::NotFound);
        };
        let relation = Self::call_relation(actor, &row, settings, now_micros());
        match self.authorize(db, actor, action, relation, Some(("call", id))) {
            Ok(rule) => Ok((row, rule)),
            Err(AuthError::Forbidden(_)) => Err(AuthError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The statistical fields of a call the actor may open a case from or link to a case.
    pub(crate) fn call_for_linking(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CallSettings,
        id: &str,
    ) -> Result<(CallFacts, &'static str), AuthError> {
        let (row, rule) = self.call_for(db, actor, settings, Action::CallLinkCase, id)?;
        Ok((facts(&row), rule))
    }

    /// One call with its personal fields, if the policy allows; else `NotFound`.
    pub fn read_call(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CallSettings,
        id: &str,
    ) -> Result<CallView, AuthError> {
        let (row, rule) = self.call_for(db, actor, settings, Action::CallRead, id)?;
        Ok(db.write(|conn| {
            let view = self.open_call(conn, &row)?;
            let mut fields = vec!["facts".to_string()];
            for (name, present) in [
                ("summary", row.summary.is_some()),
                ("caller_name", row.caller_name.is_some()),
                ("caller_phone", row.caller_phone.is_some()),
            ] {
                if present {
                    fields.push(name.into());
                }
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("call".into()),
                    record_id: Some(id.to_string()),
                    fields,
                    rule: Some(rule.into()),
                    ..actor.event("call.read")
                },
            )?;
            Ok(view)
        })?)
    }

    fn open_call(&self, conn: &mut DbConnection, row: &CallRow) -> Result<CallView, DbError> {
        let open = |dek: &crypto::envelope::DataKey,
                    field: &str,
                    sealed: &Option<Vec<u8>>|
         -> Result<Option<Sensitive<String>>, DbError> {
            sealed
                .as_ref()
                .map(|bytes| {
                    let plain = dek.open(&ctx(field, &row.id), bytes)?;
                    Ok(Sensitive::new(String::from_utf8_lossy(&plain).into_owned()))
                })
                .transpose()
        };
        if row.summary.is_none() && row.caller_name.is_none() && row.caller_phone.is_none() {
            return Ok(CallView {
                facts: facts(row),
                summary: None,
                caller_name: None,
                caller_phone: None,
            });
        }
        let dek = self.data_key(conn, &row.id)?;
        Ok(CallView {
            facts: facts(row),
            summary: open(&dek, "summary", &row.summary)?,
            caller_name: open(&dek, "caller_name", &row.caller_name)?,
            caller_phone: open(&dek, "caller_phone", &row.caller_phone)?,
        })
    }

    /// Calls, newest first, statistical fields only: a counselor sees the calls they logged
    /// within the window, a supervisor all; filtered by period, topic, outcome and region.
    pub fn list_calls(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CallSettings,
        filter: &CallFilter,
    ) -> Result<Vec<CallFacts>, AuthError> {
        let rule = self.authorize(db, actor, Action::CallList, Relation::NoObject, None)?;
        let now = now_micros();
        Ok(db.write(|conn| {
            let mut q = calls::table.select(CallRow::as_select()).into_boxed();
            if actor.role != domain::identity::Role::Supervisor {
                let window = crate::clock::duration_micros(settings.counselor_window);
                q = q
                    .filter(calls::counselor_id.eq(actor.user_id.clone()))
                    .filter(calls::created_at.gt(now - window));
            }
            if let Some(from) = filter.from {
                q = q.filter(calls::started_at.ge(from));
            }
            if let Some(to) = filter.to {
                q = q.filter(calls::started_at.lt(to));
            }
            if let Some(outcome) = &filter.outcome {
                q = q.filter(calls::outcome.eq(outcome.clone()));
            }
            if let Some(region) = &filter.region {
                q = q.filter(calls::region.eq(region.clone()));
            }
            if let Some(t) = &filter.topic {
                // Topics are stored as sorted, comma-separated codes.
                q = q.filter(
                    calls::topics
                        .eq(t.clone())
                        .or(calls::topics.like(format!("{t},%")))
                        .or(calls::topics.like(format!("%,{t}")))
                        .or(calls::topics.like(format!("%,{t},%"))),
                );
            }
            if let Some((started, id)) = filter.before.clone() {
                q = q.filter(
                    calls::started_at
                        .lt(started)
                        .or(calls::started_at.eq(started).and(calls::id.lt(id))),
                );
            }
            let rows: Vec<CallRow> = q
                .order_by((calls::started_at.desc(), calls::id.desc()))
                .limit(filter.limit.clamp(1, 200))
                .load(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("call".into()),
                    rule: Some(rule.into()),
                    ..actor.event("call.list")
                },
            )?;
            Ok(rows.iter().map(facts).collect())
        })?)
    }

    /// Whether this number called before: how many calls and when, and the cases they are
    /// linked to. Candidates from the blind index are opened and compared, so collisions never
    /// count. The number itself is in no log and no audit event.
    pub fn lookup_caller(
        &self,
        db: &Database,
        actor: &Actor,
        phone: &PhoneNumber,
    ) -> Result<CallerHistory, AuthError> {
        let rule = self.authorize(db, actor, Action::CallLookup, Relation::NoObject, None)?;
        let mut matches = db.read(|conn| {
            let candidates =
                self.blind_index_candidates(conn, TABLE, "caller_phone", phone.e164())?;
            let mut matches: Vec<(i64, Option<String>)> = Vec::new();
            for (owner, record) in candidates {
                let row: Option<CallRow> = calls::table
                    .find(&record)
                    .select(CallRow::as_select())
                    .first(conn)
                    .optional()?;
                let Some(row) = row else { continue };
                let Some(sealed) = &row.caller_phone else {
                    continue;
                };
                let dek = match self.data_key(conn, &owner) {
                    Ok(dek) => dek,
                    Err(DbError::Erased) => continue,
                    Err(e) => return Err(e),
                };
                if dek.open(&ctx("caller_phone", &record), sealed)?.as_slice()
                    == phone.e164().as_bytes()
                {
                    matches.push((row.started_at, row.case_id.clone()));
                }
            }
            Ok(matches)
        })?;
        self.record_durably(
            db,
            AuditEvent {
                record_type: Some("call".into()),
                fields: vec!["caller_phone".into()],
                rule: Some(rule.into()),
                ..actor.event("call.lookup")
            },
        )?;
        matches.sort();
        let mut case_ids: Vec<String> = matches.iter().filter_map(|(_, c)| c.clone()).collect();
        case_ids.sort();
        case_ids.dedup();
        Ok(CallerHistory {
            calls: matches.len(),
            dates: matches.iter().map(|(d, _)| *d).collect(),
            case_ids,
        })
    }
}

/// Filters of the call list, all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Calls that started at or after this time (µs).
    pub from: Option<i64>,
    /// Calls that started before this time (µs).
    pub to: Option<i64>,
    /// A topic code the call has (among others).
    pub topic: Option<String>,
    pub outcome: Option<String>,
    pub region: Option<String>,
    /// `(started_at, id)` of the last call of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// Changes to a call: `None` leaves a field as it is; for the personal fields `Some(None)`
/// removes the value.
#[derive(Debug, Clone, Default)]
pub struct CallPatch {
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub started_at: Option<i64>,
    pub ended_at: Option<Option<i64>>,
    pub caller_role: Option<String>,
    pub topics: Option<Vec<String>>,
    pub region: Option<String>,
    pub caller_gender: Option<String>,
    pub caller_age_group: Option<String>,
    pub language: Option<String>,
    pub outcome: Option<String>,
    pub summary: Option<Option<Sensitive<String>>>,
    pub caller_name: Option<Option<Sensitive<String>>>,
    pub caller_phone: Option<Option<Sensitive<String>>>,
}

impl Vault {
    /// Applies a patch if the call is still at `version` (optimistic concurrency: a stale
    /// update is a `Conflict` and changes nothing). The whole call is validated again.
    pub fn update_call(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &CallSettings,
        id: &str,
        version: i32,
        patch: CallPatch,
    ) -> Result<i32, AuthError> {
        let (row, rule) = self.call_for(db, actor, settings, Action::CallUpdate, id)?;
        let current = db.with_conn(|conn| self.open_call(conn, &row))?;
        let f = current.facts;
        let CallPatch {
            channel,
            direction,
            started_at,
            ended_at,
            caller_role,
            topics,
            region,
            caller_gender,
            caller_age_group,
            language,
            outcome,
            summary,
            caller_name,
            caller_phone,
        } = patch;
        let mut changed: Vec<&'static str> = Vec::new();
        let input = domain::calls::CallInput {
            channel: changed_or(&mut changed, "channel", channel, f.channel),
            direction: changed_or(&mut changed, "direction", direction, f.direction),
            started_at: changed_or(&mut changed, "started_at", started_at, f.started_at),
            ended_at: changed_or(&mut changed, "ended_at", ended_at, f.ended_at),
            caller_role: changed_or(&mut changed, "caller_role", caller_role, f.caller_role),
            topics: changed_or(&mut changed, "topics", topics, f.topics),
            region: changed_or(&mut changed, "region", region, f.region),
            caller_gender: changed_or(
                &mut changed,
                "caller_gender",
                caller_gender,
                f.caller_gender,
            ),
            caller_age_group: changed_or(
                &mut changed,
                "caller_age_group",
                caller_age_group,
                f.caller_age_group,
            ),
            language: changed_or(&mut changed, "language", language, f.language),
            outcome: changed_or(&mut changed, "outcome", outcome, f.outcome),
            summary: changed_or(&mut changed, "summary", summary, current.summary),
            caller_name: changed_or(
                &mut changed,
                "caller_name",
                caller_name,
                current.caller_name,
            ),
            caller_phone: changed_or(
                &mut changed,
                "caller_phone",
                caller_phone,
                current.caller_phone,
            ),
        };
        changed.sort_unstable();
        let call = domain::calls::validate(input, now_micros(), &settings.default_country_code)
            .map_err(AuthError::InvalidMany)?;
        db.write(|conn| {
            let columns = self.call_columns(conn, id, &call)?;
            let updated = diesel::update(calls::table.find(id).filter(calls::version.eq(version)))
                .set((
                    columns,
                    calls::version.eq(version + 1),
                    calls::updated_at.eq(now_micros()),
                ))
                .execute(conn)?;
            if updated == 0 {
                // Rolls back whatever `call_columns` wrote (a data key, the blind index).
                return Err(DbError::Refused(STALE.into()));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("call".into()),
                    record_id: Some(id.to_string()),
                    fields: changed.iter().map(|f| f.to_string()).collect(),
                    rule: Some(rule.into()),
                    ..actor.event("call.update")
                },
            )?;
            Ok(version + 1)
        })
        .map_err(|e| match e {
            DbError::Refused(m) if m == STALE => AuthError::Conflict(STALE),
            other => AuthError::from(other),
        })
    }
}

/// The new value if the patch has one (noting the field as changed), else the old one.
fn changed_or<T>(
    changed: &mut Vec<&'static str>,
    field: &'static str,
    new: Option<T>,
    old: T,
) -> T {
    match new {
        Some(value) => {
            changed.push(field);
            value
        }
        None => old,
    }
}

/// An anonymous call as stored by a bulk import (no personal field, so no data key).
#[derive(Insertable)]
#[diesel(table_name = calls)]
struct AnonymousCallRow<'a> {
    id: String,
    counselor_id: &'a str,
    #[diesel(embed)]
    columns: CallColumns<'a>,
    version: i32,
    created_at: i64,
    updated_at: i64,
}

impl Vault {
    /// Logs many anonymous calls at once (the demo and load generators): 500 calls per
    /// transaction, one audit event per batch. Calls with personal data are refused:
    /// those go through [`Vault::create_call`], one by one.
    pub fn bulk_anonymous_calls(
        &self,
        db: &Database,
        actor: &Actor,
        calls: &[ValidCall],
    ) -> Result<usize, AuthError> {
        if calls.iter().any(ValidCall::has_personal_data) {
            return Err(AuthError::Invalid {
                field: "calls",
                message: "a bulk import takes anonymous calls only",
            });
        }
        let rule = self.authorize(db, actor, Action::CallCreate, Relation::NoObject, None)?;
        let now = now_micros();
        for batch in calls.chunks(500) {
            let rows = batch
                .iter()
                .map(|call| {
                    Ok(AnonymousCallRow {
                        id: crypto::random::hex_id::<16>().map_err(crypto::CryptoError::from)?,
                        counselor_id: &actor.user_id,
                        columns: CallColumns::statistical(&call.input),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    })
                })
                .collect::<Result<Vec<_>, AuthError>>()?;
            db.write(|conn| {
                // One statement and one transaction per batch (multi-row inserts are not
                // available through the multi-backend connection, so per backend).
                let insert = diesel::insert_into(calls::table).values(&rows);
                match conn {
                    DbConnection::Sqlite(c) => insert.execute(c)?,
                    DbConnection::Pg(c) => insert.execute(c)?,
                };
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("call".into()),
                        fields: vec![format!("{} anonymous calls", rows.len())],
                        rule: Some(rule.into()),
                        purpose: Some("bulk_import".into()),
                        ..actor.event("call.create")
                    },
                )
            })?;
        }
        Ok(calls.len())
    }
}
