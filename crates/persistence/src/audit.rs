//! The access log: every event is appended in the caller's transaction to one of K hash chains
//! (stripes), so the work and its audit event commit together or not at all, and appends do not
//! all queue on one lock. Signed checkpoints of all chain heads go to a table and to a file
//! outside the database; `verify` recomputes every link and checks every checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crypto::audit::{link, sign_checkpoint, verify_checkpoint, Canonical, GENESIS};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, Text};

use crate::clock::now_micros;
use crate::prepared::{part, Prepared, With};
use crate::schema::{audit_checkpoints, audit_events, audit_heads};
use crate::{Database, DbConnection, DbError, Vault};

/// Version of the canonical event encoding hashed into the chain.
const EVENT_ENCODING: u8 = 1;

#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Number of independent hash chains appends are spread over.
    pub stripes: u32,
    /// A checkpoint is due after this many new events...
    pub checkpoint_every: u64,
    /// ...or after this long with any new event.
    pub checkpoint_interval: Duration,
    /// Append-only file receiving every checkpoint (keep it on another host or volume).
    pub checkpoint_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// Who did what to which record, why, and with what outcome. Never values or search terms:
/// `fields` names the fields touched, nothing more.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    /// A pseudonym of the session (never the session id or a token).
    pub session_ref: Option<String>,
    /// The session passed a second factor.
    pub mfa: bool,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub fields: Vec<String>,
    pub purpose: Option<String>,
    pub outcome: Outcome,
    /// The policy rule that allowed or denied.
    pub rule: Option<String>,
    /// Pseudonymised source address, or "cli".
    pub source: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// An event of the system itself (a CLI maintenance command).
    pub fn system(action: &str) -> Self {
        AuditEvent {
            actor_role: Some("system".into()),
            action: action.into(),
            source: Some("cli".into()),
            ..Default::default()
        }
    }

    pub fn with_record(mut self, record_type: &str, record_id: &str) -> Self {
        self.record_type = Some(record_type.into());
        self.record_id = Some(record_id.into());
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// An absent value is bound as NULL, not written as DEFAULT: one statement text, kept prepared.
#[diesel(treat_none_as_default_value = false)]
struct EventRow {
    #[diesel(skip_insertion)]
    id: i64,
    stripe: i32,
    stripe_seq: i64,
    occurred_at: i64,
    actor_id: Option<String>,
    actor_role: Option<String>,
    session_ref: Option<String>,
    mfa: bool,
    action: String,
    record_type: Option<String>,
    record_id: Option<String>,
    fields: String,
    purpose: Option<String>,
    outcome: String,
    rule: Option<String>,
    source: Option<String>,
    request_id: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl EventRow {
    /// Everything but the id and the hashes, in a fixed order (destructured, so a new column
    /// cannot be left out of the hash by accident).
    fn canonical(&self) -> Canonical {
        let EventRow {
            id: _,
            stripe,
            stripe_seq,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
            prev_hash: _,
            hash: _,
        } = self;
        Canonical::new(EVENT_ENCODING)
            .int(i64::from(*stripe))
            .int(*stripe_seq)
            .int(*occurred_at)
            .opt_text(actor_id.as_deref())
            .opt_text(actor_role.as_deref())
            .opt_text(session_ref.as_deref())
            .int(i64::from(*mfa))
            .text(action)
            .opt_text(record_type.as_deref())
            .opt_text(record_id.as_deref())
            .text(fields)
            .opt_text(purpose.as_deref())
            .text(outcome)
            .opt_text(rule.as_deref())
            .opt_text(source.as_deref())
            .opt_text(request_id.as_deref())
    }
}

/// Creates the head row of every stripe that has none yet.
pub(crate) fn ensure_heads(conn: &mut DbConnection, stripes: u32) -> Result<(), DbError> {
    let existing: Vec<i32> = audit_heads::table.select(audit_heads::stripe).load(conn)?;
    for stripe in (0..stripes as i32).filter(|s| !existing.contains(s)) {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::stripe.eq(stripe),
                audit_heads::seq.eq(0i64),
                audit_heads::hash.eq(GENESIS.to_vec()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn to_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// The row of one event, its hash still empty.
fn event_row(
    event: &AuditEvent,
    stripe: i32,
    stripe_seq: i64,
    occurred_at: i64,
    prev: [u8; 32],
) -> EventRow {
    let AuditEvent {
        actor_id,
        actor_role,
        session_ref,
        mfa,
        action,
        record_type,
        record_id,
        fields,
        purpose,
        outcome,
        rule,
        source,
        request_id,
    } = event.clone();
    EventRow {
        id: 0,
        stripe,
        stripe_seq,
        occurred_at,
        actor_id,
        actor_role,
        session_ref,
        mfa,
        action,
        record_type,
        record_id,
        fields: fields.join(","),
        purpose,
        outcome: outcome.as_str().to_string(),
        rule,
        source,
        request_id,
        prev_hash: prev.to_vec(),
        hash: Vec::new(),
    }
}

/// Appends one event to a stripe chosen at random, inside the caller's transaction: the head
/// row of that stripe is locked (by the UPDATE) until the transaction ends, so each chain stays
/// linear while the other stripes take other writers.
pub(crate) fn append(
    conn: &mut DbConnection,
    stripes: u32,
    event: &AuditEvent,
) -> Result<(), DbError> {
    append_batch(conn, stripes, std::slice::from_ref(event))
}

/// The head update that takes `count` sequence numbers of `stripe` and returns the last of them
/// with the head's hash; it locks the head row until the transaction ends.
macro_rules! take_head {
    ($stripe:expr, $count:expr) => {
        diesel::update(audit_heads::table.find($stripe))
            .set(audit_heads::seq.eq(audit_heads::seq + $count))
            .returning((audit_heads::seq, audit_heads::hash))
    };
}

/// The head update that moves `stripe`'s hash to `hash` (returning the stripe, so that it can
/// be kept prepared).
macro_rules! advance_head {
    ($stripe:expr, $hash:expr) => {
        diesel::update(audit_heads::table.find($stripe))
            .set(audit_heads::hash.eq($hash))
            .returning(audit_heads::stripe)
    };
}

/// A stripe chosen at random.
fn pick_stripe(stripes: u32) -> Result<i32, DbError> {
    let pick = u32::from_be_bytes(crypto::random::bytes::<4>().map_err(crypto::CryptoError::from)?);
    Ok((pick % stripes.max(1)) as i32)
}

/// The rows of `events` chained after the head (`last_seq`, `prev`) of `stripe`, and the hash
/// the head moves to.
fn chain(
    stripe: i32,
    head: Option<(i64, Vec<u8>)>,
    events: &[AuditEvent],
) -> Result<(Vec<EventRow>, Vec<u8>), DbError> {
    let (last_seq, prev) =
        head.ok_or_else(|| DbError::Migration(format!("audit stripe {stripe} has no head row")))?;
    let mut prev = to_hash(&prev)
        .ok_or_else(|| DbError::Refused(format!("audit head of stripe {stripe} is corrupt")))?;
    let count = events.len() as i64;
    let occurred_at = now_micros();
    let mut rows = Vec::with_capacity(events.len());
    for (n, event) in events.iter().enumerate() {
        let mut row = event_row(
            event,
            stripe,
            last_seq - count + 1 + n as i64,
            occurred_at,
            prev,
        );
        prev = link(&prev, &row.canonical());
        row.hash = prev.to_vec();
        rows.push(row);
    }
    Ok((rows, prev.to_vec()))
}

/// Appends events to one stripe chosen at random, in the caller's transaction if there is one.
/// The stripe's head row is locked until the statement or transaction ends, so each chain stays
/// linear while the other stripes take other writers. On PostgreSQL one statement (one event:
/// [`append_with`]; a batch: [`append_chained`]); on SQLite [`append_sqlite`].
pub(crate) fn append_batch(
    conn: &mut DbConnection,
    stripes: u32,
    events: &[AuditEvent],
) -> Result<(), DbError> {
    match (conn, events) {
        (_, []) => Ok(()),
        (DbConnection::Pg(c), [event]) => append_with(c, stripes, event, Vec::new()),
        (DbConnection::Pg(c), events) => append_chained(c, stripes, events),
        (DbConnection::Sqlite(c), events) => append_sqlite(c, stripes, events),
    }
}

/// On SQLite (in process, no round trip to save): the head update that takes the sequence
/// numbers, the rows chained in the server, their insert, the head's new hash.
fn append_sqlite(
    conn: &mut diesel::SqliteConnection,
    stripes: u32,
    events: &[AuditEvent],
) -> Result<(), DbError> {
    let stripe = pick_stripe(stripes)?;
    let head = Prepared(take_head!(stripe, events.len() as i64))
        .get_result(conn)
        .optional()?;
    let (rows, hash) = chain(stripe, head, events)?;
    match rows.as_slice() {
        // One row: a prepared insert (a multi-row insert's text varies with its size).
        [row] => {
            Prepared(
                diesel::insert_into(audit_events::table)
                    .values(row)
                    .returning(audit_events::id),
            )
            .get_result::<i64, _>(conn)?;
        }
        rows => {
            diesel::insert_into(audit_events::table)
                .values(rows)
                .execute(conn)?;
        }
    }
    Prepared(advance_head!(stripe, hash)).get_result::<i32, _>(conn)?;
    Ok(())
}

/// Appends a batch of events to one stripe on PostgreSQL in one statement: the head locked,
/// each event's link computed by the database from the previous one (a recursive CTE over the
/// events, passed as arrays so that the statement's text is the same for every batch size and
/// stays prepared), the events inserted in chain order, the head moved to the last:
///
/// ```sql
/// WITH RECURSIVE sH AS (SELECT seq, hash FROM audit_heads WHERE stripe = $ FOR UPDATE),
///   sV AS (SELECT * FROM unnest($before[], $after[], $occurred_at[], ...) WITH ORDINALITY
///          AS v (before, after, occurred_at, ..., i)),
///   sC AS (SELECT 0 AS i, seq, hash, NULL AS prev FROM sH
///          UNION ALL SELECT v.i, c.seq + 1,
///                           sha256(v.before || int8send(c.seq + 1) || v.after || c.hash), c.hash
///          FROM sC c JOIN sV v ON v.i = c.i + 1),
///   sE AS (INSERT INTO audit_events (...) SELECT $stripe, c.seq, v.occurred_at, ..., c.prev,
///          c.hash FROM sC c JOIN sV v ON v.i = c.i ORDER BY c.i RETURNING stripe_seq, hash)
/// UPDATE audit_heads SET seq = l.stripe_seq, hash = l.hash
///   FROM (SELECT stripe_seq, hash FROM sE ORDER BY stripe_seq DESC LIMIT 1) AS l
///   WHERE stripe = $ RETURNING stripe
/// ```
///
/// The same links [`chain`] computes and `verify` recomputes. Atomic on its own (outside a
/// transaction too): a batch is in the log whole or not at all. A stripe without a head row
/// inserts nothing and returns no row, which is an error.
fn append_chained(
    pg: &mut diesel::PgConnection,
    stripes: u32,
    events: &[AuditEvent],
) -> Result<(), DbError> {
    let stripe = pick_stripe(stripes)?;
    let occurred_at = now_micros();
    let mut batch = ChainedBatch {
        stripe,
        ..ChainedBatch::default()
    };
    for event in events {
        let row = event_row(event, stripe, 0, occurred_at, GENESIS);
        let (before, after) =
            crypto::audit::link_around(&row.canonical(), SEQ_AT).ok_or_else(|| {
                DbError::Refused("the event encoding moved its sequence number".into())
            })?;
        batch.push(row, before, after);
    }
    Prepared(batch).get_result::<i32, _>(pg)?;
    Ok(())
}

/// The columns of a batch of events, one array each (see [`append_chained`]).
#[derive(Default)]
struct ChainedBatch {
    stripe: i32,
    before: Vec<Vec<u8>>,
    after: Vec<Vec<u8>>,
    occurred_at: Vec<i64>,
    actor_id: Vec<Option<String>>,
    actor_role: Vec<Option<String>>,
    session_ref: Vec<Option<String>>,
    mfa: Vec<bool>,
    action: Vec<String>,
    record_type: Vec<Option<String>>,
    record_id: Vec<Option<String>>,
    fields: Vec<String>,
    purpose: Vec<Option<String>>,
    outcome: Vec<String>,
    rule: Vec<Option<String>>,
    source: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
}

impl ChainedBatch {
    fn push(&mut self, row: EventRow, before: Vec<u8>, after: Vec<u8>) {
        let EventRow {
            id: _,
            stripe: _,
            stripe_seq: _,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
            prev_hash: _,
            hash: _,
        } = row;
        self.before.push(before);
        self.after.push(after);
        self.occurred_at.push(occurred_at);
        self.actor_id.push(actor_id);
        self.actor_role.push(actor_role);
        self.session_ref.push(session_ref);
        self.mfa.push(mfa);
        self.action.push(action);
        self.record_type.push(record_type);
        self.record_id.push(record_id);
        self.fields.push(fields);
        self.purpose.push(purpose);
        self.outcome.push(outcome);
        self.rule.push(rule);
        self.source.push(source);
        self.request_id.push(request_id);
    }
}

/// The event columns [`ChainedBatch`] passes, in the order of `unnest`'s arrays.
const BATCH_COLUMNS: &str = "occurred_at, actor_id, actor_role, session_ref, mfa, action, \
    record_type, record_id, fields, purpose, outcome, rule, source, request_id";

impl QueryFragment<diesel::pg::Pg> for ChainedBatch {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::Array;
        out.push_sql("WITH RECURSIVE sH AS (SELECT seq, hash FROM audit_heads WHERE stripe = ");
        out.push_bind_param::<Integer, _>(&self.stripe)?;
        out.push_sql(" FOR UPDATE), sV AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<Binary>, _>(&self.before)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Binary>, _>(&self.after)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.occurred_at)?;
        for texts in [&self.actor_id, &self.actor_role, &self.session_ref] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(texts)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Bool>, _>(&self.mfa)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.action)?;
        for texts in [&self.record_type, &self.record_id] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(texts)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.fields)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.purpose)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.outcome)?;
        for texts in [&self.rule, &self.source, &self.request_id] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(texts)?;
        }
        out.push_sql(") WITH ORDINALITY AS v (before, after, ");
        out.push_sql(BATCH_COLUMNS);
        out.push_sql(
            ", i)), sC AS (SELECT CAST(0 AS BIGINT) AS i, seq, hash, CAST(NULL AS BYTEA) AS prev \
             FROM sH UNION ALL SELECT v.i, c.seq + 1, \
             sha256(v.before || int8send(c.seq + 1) || v.after || c.hash), c.hash \
             FROM sC c JOIN sV v ON v.i = c.i + 1), \
             sE AS (INSERT INTO audit_events (stripe, stripe_seq, ",
        );
        out.push_sql(BATCH_COLUMNS);
        out.push_sql(", prev_hash, hash) SELECT ");
        out.push_bind_param::<Integer, _>(&self.stripe)?;
        out.push_sql(", c.seq");
        for column in BATCH_COLUMNS.split(", ") {
            out.push_sql(", v.");
            out.push_sql(column.trim());
        }
        out.push_sql(
            ", c.prev, c.hash FROM sC c JOIN sV v ON v.i = c.i ORDER BY c.i \
             RETURNING stripe_seq, hash) \
             UPDATE audit_heads SET seq = l.stripe_seq, hash = l.hash FROM \
             (SELECT stripe_seq, hash FROM sE ORDER BY stripe_seq DESC LIMIT 1) AS l \
             WHERE audit_heads.stripe = ",
        );
        out.push_bind_param::<Integer, _>(&self.stripe)?;
        out.push_sql(" RETURNING audit_heads.stripe");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for ChainedBatch {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for ChainedBatch {
    type SqlType = Integer;
}

impl<Conn> RunQueryDsl<Conn> for ChainedBatch {}

/// Appends one event on PostgreSQL in one statement, after the caller's own writes (`first`: a
/// new record's rows, say, none for a lone event), which share it:
///
/// ```sql
/// WITH s1 AS (first...), sH AS (SELECT seq, hash FROM audit_heads WHERE stripe = $ FOR UPDATE),
///      sE AS (INSERT INTO audit_events (...) SELECT ..., sH.seq + 1, ..., sH.hash,
///             sha256($before || int8send(sH.seq + 1) || $after || sH.hash) FROM sH
///             RETURNING stripe_seq, hash)
/// UPDATE audit_heads SET seq = sE.stripe_seq, hash = sE.hash FROM sE WHERE stripe = $
/// ```
///
/// The database takes the head (locked until the transaction ends, so each chain stays
/// linear; READ COMMITTED's `FOR UPDATE` reads the newest head even if another writer moved it
/// since the statement began) and computes the link itself, from the event's canonical encoding
/// around its sequence number ([`crypto::audit::link_around`]): the same hash `verify`
/// recomputes. One round trip instead of two, and outside a transaction one statement is
/// atomic on its own. Nothing in `first` may read the head.
pub(crate) fn append_with<'a>(
    pg: &mut diesel::PgConnection,
    stripes: u32,
    event: &AuditEvent,
    first: Vec<Box<dyn diesel::query_builder::QueryFragment<diesel::pg::Pg> + 'a>>,
) -> Result<(), DbError> {
    let stripe = pick_stripe(stripes)?;
    let row = event_row(event, stripe, 0, now_micros(), GENESIS);
    let (before, after) = crypto::audit::link_around(&row.canonical(), SEQ_AT)
        .ok_or_else(|| DbError::Refused("the event encoding moved its sequence number".into()))?;
    let mut parts = first;
    let head = format!("s{}", parts.len() + 1);
    let chained = format!("s{}", parts.len() + 2);
    parts.push(part(LockedHead(stripe)));
    parts.push(part(ChainedEvent {
        head,
        row: &row,
        before,
        after,
    }));
    Prepared(With::new(parts, AdvanceTo { chained, stripe })).get_result::<i32, _>(pg)?;
    Ok(())
}

/// Where the sequence number sits in an event's canonical encoding: after the version byte and
/// the stripe (a tag and 8 bytes) and its own tag.
const SEQ_AT: usize = 11;

/// A stripe's head row, locked: `SELECT seq, hash FROM audit_heads WHERE stripe = $ FOR UPDATE`.
struct LockedHead(i32);

impl QueryFragment<diesel::pg::Pg> for LockedHead {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("SELECT seq, hash FROM audit_heads WHERE stripe = ");
        out.push_bind_param::<Integer, _>(&self.0)?;
        out.push_sql(" FOR UPDATE");
        Ok(())
    }
}

/// The event row inserted after the head named `head`, its sequence number and hashes taken
/// from that head (see [`append_with`]).
struct ChainedEvent<'r> {
    head: String,
    row: &'r EventRow,
    before: Vec<u8>,
    after: Vec<u8>,
}

impl QueryFragment<diesel::pg::Pg> for ChainedEvent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        let EventRow {
            id: _,
            stripe,
            stripe_seq: _,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
            prev_hash: _,
            hash: _,
        } = self.row;
        let head = self.head.as_str();
        out.push_sql(
            "INSERT INTO audit_events (stripe, stripe_seq, occurred_at, actor_id, actor_role, \
             session_ref, mfa, action, record_type, record_id, fields, purpose, outcome, rule, \
             source, request_id, prev_hash, hash) SELECT ",
        );
        out.push_bind_param::<Integer, _>(stripe)?;
        out.push_sql(", ");
        out.push_sql(head);
        out.push_sql(".seq + 1, ");
        out.push_bind_param::<BigInt, _>(occurred_at)?;
        for text in [actor_id, actor_role, session_ref] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(mfa)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(action)?;
        for text in [record_type, record_id] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(fields)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(purpose)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(outcome)?;
        for text in [rule, source, request_id] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        out.push_sql(", ");
        out.push_sql(head);
        out.push_sql(".hash, sha256(");
        out.push_bind_param::<Binary, _>(&self.before)?;
        out.push_sql(" || int8send(");
        out.push_sql(head);
        out.push_sql(".seq + 1) || ");
        out.push_bind_param::<Binary, _>(&self.after)?;
        out.push_sql(" || ");
        out.push_sql(head);
        // Joined to one row, not selected from the head: a stripe without a head row makes a
        // row of NULLs, which the NOT NULL columns refuse, so the whole statement fails (the
        // caller's writes with it) instead of inserting nothing.
        out.push_sql(".hash) FROM (SELECT 1) AS one LEFT JOIN ");
        out.push_sql(head);
        out.push_sql(" ON true RETURNING stripe_seq, hash");
        Ok(())
    }
}

/// The head moved to the event named `chained`; returns the stripe.
struct AdvanceTo {
    chained: String,
    stripe: i32,
}

impl QueryFragment<diesel::pg::Pg> for AdvanceTo {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        let chained = self.chained.as_str();
        out.push_sql("UPDATE audit_heads SET seq = ");
        out.push_sql(chained);
        out.push_sql(".stripe_seq, hash = ");
        out.push_sql(chained);
        out.push_sql(".hash FROM ");
        out.push_sql(chained);
        out.push_sql(" WHERE audit_heads.stripe = ");
        out.push_bind_param::<Integer, _>(&self.stripe)?;
        out.push_sql(" RETURNING audit_heads.stripe");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for AdvanceTo {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for AdvanceTo {
    type SqlType = Integer;
}

/// Group commit of the audit events of reads. A read's event need not share a transaction with
/// any write, only be durable before the read's data leaves the server. Requests queue their
/// events here; a waiting request that finds events queued and a leader slot free becomes a
/// leader, writes every queued event in one transaction, and wakes the others. So under load
/// one commit (and one head-row lock) serves many requests, and at rest a lone request writes
/// its own event at once. No thread of its own: nothing to start or stop.
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    done: Condvar,
}

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: Vec<(u64, AuditEvent)>,
    /// Outcome of written batches, by ticket, until their requests take them.
    outcomes: HashMap<u64, Result<(), BatchError>>,
    leaders: usize,
}

/// Why a batch failed, for every request in it (`DbError` is not `Clone`).
#[derive(Clone)]
enum BatchError {
    Unavailable(String),
    Failed(String),
}

/// Batches in flight at once (each on its own stripe, most likely): one commit flushes while
/// the next batch fills.
const GROUP_LEADERS: usize = 2;
/// Events in one batch (18 bind parameters each; PostgreSQL allows 65,535 per statement).
const GROUP_MAX: usize = 512;

impl GroupCommit {
    pub(crate) fn new() -> Self {
        GroupCommit {
            queue: Mutex::new(Queue::default()),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once `event` is committed (or its batch failed).
    pub(crate) fn append(
        &self,
        db: &Database,
        stripes: u32,
        event: AuditEvent,
    ) -> Result<(), DbError> {
        let mut queue = self.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push((ticket, event));
        loop {
            if let Some(outcome) = queue.outcomes.remove(&ticket) {
                return outcome.map_err(|e| match e {
                    BatchError::Unavailable(m) => DbError::Unavailable(m),
                    BatchError::Failed(m) => DbError::Refused(m),
                });
            }
            if queue.leaders < GROUP_LEADERS && !queue.pending.is_empty() {
                queue.leaders += 1;
                let take = queue.pending.len().min(GROUP_MAX);
                let (tickets, events): (Vec<u64>, Vec<AuditEvent>) =
                    queue.pending.drain(..take).unzip();
                drop(queue);
                // A panic must not leave the others of the batch waiting for ever.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    write_group(db, stripes, &events)
                }))
                .unwrap_or_else(|_| {
                    Err(BatchError::Failed(
                        "the access log could not be written".into(),
                    ))
                });
                let outcomes: Vec<Result<(), BatchError>> = match outcome {
                    // One event the database refuses must not fail its neighbours: each is
                    // then written alone.
                    Err(BatchError::Failed(_)) if events.len() > 1 => events
                        .iter()
                        .map(|e| write_group(db, stripes, std::slice::from_ref(e)))
                        .collect(),
                    outcome => vec![outcome; events.len()],
                };
                queue = self.lock();
                queue.leaders -= 1;
                for (t, outcome) in tickets.into_iter().zip(outcomes) {
                    queue.outcomes.insert(t, outcome);
                }
                self.done.notify_all();
                continue;
            }
            queue = self.done.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }
}

fn write_group(db: &Database, stripes: u32, events: &[AuditEvent]) -> Result<(), BatchError> {
    // One statement on PostgreSQL, whatever the batch's size: no BEGIN and COMMIT needed.
    db.write_single(|conn| append_batch(conn, stripes, events))
        .map_err(|e| match e {
            DbError::Unavailable(m) => BatchError::Unavailable(m),
            DbError::Query(q) if DbError::is_connection_loss(&q) => {
                BatchError::Unavailable(q.to_string())
            }
            other => {
                log::error!("audit batch of {} events failed: {other}", events.len());
                BatchError::Failed("the access log could not be written".into())
            }
        })
}

/// A signed statement of every chain head at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub body: String,
    pub signature: Vec<u8>,
}

/// Parsed checkpoint body.
struct CheckpointBody {
    origin: String,
    heads: BTreeMap<i32, (i64, [u8; 32])>,
}

fn checkpoint_body(origin: &str, heads: &[(i32, i64, Vec<u8>)]) -> String {
    let mut body = format!(
        "hotline audit checkpoint v1\norigin {origin}\ntime {}\n",
        now_micros()
    );
    for (stripe, seq, hash) in heads {
        body.push_str(&format!(
            "stripe {stripe} {seq} {}\n",
            crypto::random::hex(hash)
        ));
    }
    body
}

fn parse_body(body: &str) -> Option<CheckpointBody> {
    let mut lines = body.lines();
    if lines.next()? != "hotline audit checkpoint v1" {
        return None;
    }
    let origin = lines.next()?.strip_prefix("origin ")?.to_string();
    lines.next()?.strip_prefix("time ")?;
    let mut heads = BTreeMap::new();
    for line in lines {
        let parts: Vec<&str> = line.split(' ').collect();
        let ["stripe", stripe, seq, hash] = parts.as_slice() else {
            return None;
        };
        let hash = crypto::from_hex(hash).and_then(|h| to_hash(&h))?;
        heads.insert(stripe.parse().ok()?, (seq.parse().ok()?, hash));
    }
    Some(CheckpointBody { origin, heads })
}

impl Vault {
    /// Writes a checkpoint now if any event was appended since the last one.
    pub fn checkpoint(&self, db: &Database) -> Result<Option<Checkpoint>, DbError> {
        self.checkpoint_when(db, |_, _| true)
    }

    /// Writes a checkpoint if one is due: `checkpoint_every` new events, or new events and
    /// `checkpoint_interval` since the last checkpoint.
    pub fn checkpoint_if_due(&self, db: &Database) -> Result<Option<Checkpoint>, DbError> {
        let settings = self.audit_settings().clone();
        self.checkpoint_when(db, move |new_events, age_us| {
            new_events >= settings.checkpoint_every as i64
                || age_us >= settings.checkpoint_interval.as_micros() as i64
        })
    }

    fn checkpoint_when(
        &self,
        db: &Database,
        due: impl Fn(i64, i64) -> bool,
    ) -> Result<Option<Checkpoint>, DbError> {
        let ring = self.ring();
        let written = db.write(|conn| {
            let heads: Vec<(i32, i64, Vec<u8>)> = audit_heads::table
                .select((audit_heads::stripe, audit_heads::seq, audit_heads::hash))
                .order_by(audit_heads::stripe)
                .load(conn)?;
            let total: i64 = heads.iter().map(|(_, seq, _)| seq).sum();
            let last: Option<(i64, i64)> = audit_checkpoints::table
                .select((
                    audit_checkpoints::total_events,
                    audit_checkpoints::created_at,
                ))
                .order_by(audit_checkpoints::id.desc())
                .first(conn)
                .optional()?;
            let (last_total, last_at) = last.unwrap_or((0, 0));
            if total == last_total || !due(total - last_total, now_micros() - last_at) {
                return Ok(None);
            }
            let body = checkpoint_body(self.origin(), &heads);
            let signature = sign_checkpoint(&ring, body.as_bytes());
            diesel::insert_into(audit_checkpoints::table)
                .values((
                    audit_checkpoints::created_at.eq(now_micros()),
                    audit_checkpoints::total_events.eq(total),
                    audit_checkpoints::body.eq(&body),
                    audit_checkpoints::signature.eq(&signature),
                ))
                .execute(conn)?;
            Ok(Some(Checkpoint { body, signature }))
        })?;
        if let Some(cp) = &written {
            append_to_file(&self.audit_settings().checkpoint_file, cp)?;
        }
        Ok(written)
    }
}

/// One line per checkpoint: `checkpoint <hex body> <hex signature>`, fsynced.
fn append_to_file(path: &Path, cp: &Checkpoint) -> Result<(), DbError> {
    let io =
        |e: std::io::Error| DbError::Refused(format!("checkpoint file {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    writeln!(
        file,
        "checkpoint {} {}",
        crypto::random::hex(cp.body.as_bytes()),
        crypto::random::hex(&cp.signature)
    )
    .map_err(io)?;
    file.sync_all().map_err(io)
}

fn read_file(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("checkpoint file {}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let parts: Vec<&str> = line.split(' ').collect();
            let parsed = match parts.as_slice() {
                ["checkpoint", body, sig] => crypto::from_hex(body)
                    .and_then(|b| String::from_utf8(b).ok())
                    .zip(crypto::from_hex(sig)),
                _ => None,
            };
            parsed
                .map(|(body, signature)| Checkpoint { body, signature })
                .ok_or_else(|| {
                    format!(
                        "checkpoint file {} line {}: unreadable",
                        path.display(),
                        n + 1
                    )
                })
        })
        .collect()
}

/// One thing `verify` found wrong. `event_id` is the event where the chain breaks, when there is
/// one to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub event_id: Option<i64>,
    pub stripe: Option<i32>,
    pub seq: Option<i64>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.event_id, self.stripe, self.seq) {
            (Some(id), Some(s), Some(q)) => {
                write!(f, "event {id} (stripe {s}, #{q}): {}", self.message)
            }
            (None, Some(s), Some(q)) => write!(f, "stripe {s}, #{q}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub events_checked: u64,
    pub checkpoints_checked: u64,
    /// Chain problems in chain order (stripe, then sequence), then checkpoint problems.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first broken place: the first problem in chain order (stripe, then sequence), else
    /// the first checkpoint problem.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

const PAGE: i64 = 20_000;
/// Chains walked at once by `verify`.
const VERIFY_THREADS: usize = 4;

impl Vault {
    /// Recomputes every link of every chain (from event `from` on, if given) and checks every
    /// checkpoint in the table and in the checkpoint file: its signature, its origin, and that
    /// each chain head it names is still there with the same hash.
    pub fn verify(&self, db: &Database, from: Option<i64>) -> Result<VerifyReport, DbError> {
        let ring = self.ring();
        let public_key = ring.signing_public_key();
        let mut report = VerifyReport::default();
        // Problems with the checkpoints themselves are reported after those of the chains.
        let mut checkpoint_problems = VerifyReport::default();
        let problem = |report: &mut VerifyReport, event_id, stripe, seq, message: String| {
            report.problems.push(Problem {
                event_id,
                stripe,
                seq,
                message,
            })
        };

        // Checkpoints first, so the walk can note the hashes they name.
        let mut checkpoints: Vec<(String, Checkpoint)> = db
            .read(|conn| {
                Ok(audit_checkpoints::table
                    .select((
                        audit_checkpoints::id,
                        audit_checkpoints::body,
                        audit_checkpoints::signature,
                    ))
                    .order_by(audit_checkpoints::id)
                    .load::<(i64, String, Vec<u8>)>(conn)?)
            })?
            .into_iter()
            .map(|(id, body, signature)| {
                (
                    format!("checkpoint {id} (table)"),
                    Checkpoint { body, signature },
                )
            })
            .collect();
        match read_file(&self.audit_settings().checkpoint_file) {
            Ok(from_file) => {
                for (n, cp) in from_file.into_iter().enumerate() {
                    if !checkpoints.iter().any(|(_, c)| *c == cp) {
                        checkpoints.push((format!("checkpoint {} of the file", n + 1), cp));
                    }
                }
            }
            Err(message) => problem(&mut checkpoint_problems, None, None, None, message),
        }
        let mut wanted: HashMap<(i32, i64), Option<[u8; 32]>> = HashMap::new();
        let mut parsed = Vec::new();
        for (name, cp) in &checkpoints {
            report.checkpoints_checked += 1;
            if !verify_checkpoint(&public_key, cp.body.as_bytes(), &cp.signature) {
                problem(
                    &mut report,
                    None,
                    None,
                    None,
                    format!("{name}: the signature does not verify"),
                );
                continue;
            }
            let Some(body) = parse_body(&cp.body) else {
                problem(
                    &mut report,
                    None,
                    None,
                    None,
                    format!("{name}: unreadable body"),
                );
                continue;
            };
            if body.origin != self.origin() {
                problem(
                    &mut report,
                    None,
                    None,
                    None,
                    format!(
                        "{name}: it belongs to another installation ({})",
                        body.origin
                    ),
                );
                continue;
            }
            for (&stripe, &(seq, _)) in &body.heads {
                if seq > 0 && from.is_none() {
                    wanted.insert((stripe, seq), None);
                }
            }
            parsed.push((name.clone(), body));
        }

        let heads_at_start: BTreeMap<i32, i64> = db
            .read(|conn| {
                Ok(audit_heads::table
                    .select((audit_heads::stripe, audit_heads::seq))
                    .load(conn)?)
            })?
            .into_iter()
            .collect();

        // The walk: every chain in sequence order. Chains are independent, so several are
        // walked at once (the database serialises rows while we hash).
        let (min_stripe, max_stripe): (Option<i32>, Option<i32>) = db.read(|conn| {
            Ok(audit_events::table
                .select((
                    diesel::dsl::min(audit_events::stripe),
                    diesel::dsl::max(audit_events::stripe),
                ))
                .first(conn)?)
        })?;
        let stripes: Vec<i32> = match (min_stripe, max_stripe) {
            (Some(lo), Some(hi)) => (lo..=hi).collect(),
            _ => Vec::new(),
        };
        let wanted_keys: std::collections::HashSet<(i32, i64)> = wanted.keys().copied().collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..VERIFY_THREADS.min(stripes.len()) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&stripe) = stripes.get(i) else { break };
                    let walked = walk_stripe(db, stripe, from, &wanted_keys);
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((stripe, walked));
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|(stripe, _)| *stripe);
        let mut last_seen: BTreeMap<i32, i64> = BTreeMap::new();
        for (stripe, walked) in results {
            let walked = walked?;
            report.events_checked += walked.events;
            report.problems.extend(walked.problems);
            if let Some(seq) = walked.last_seq {
                last_seen.insert(stripe, seq);
            }
            for (key, hash) in walked.found {
                wanted.insert(key, Some(hash));
            }
        }

        // A chain shorter than its head says was cut at the tail.
        for (stripe, head) in &heads_at_start {
            let seen = last_seen.get(stripe).copied().unwrap_or(0);
            if from.is_none() && seen < *head {
                problem(
                    &mut report,
                    None,
                    Some(*stripe),
                    Some(seen + 1),
                    format!(
                        "missing: the chain ends at #{seen} but its head says #{head} (truncated)"
                    ),
                );
            }
        }
        for (name, body) in &parsed {
            for (&stripe, &(seq, hash)) in &body.heads {
                if from.is_some() && seq > 0 {
                    continue;
                }
                let found = if seq == 0 {
                    Some(GENESIS)
                } else {
                    wanted.get(&(stripe, seq)).copied().flatten()
                };
                match found {
                    None => problem(
                        &mut report,
                        None,
                        Some(stripe),
                        Some(seq),
                        format!(
                            "{name} names this event, which is missing (the log was truncated)"
                        ),
                    ),
                    Some(h) if h != hash => problem(
                        &mut report,
                        None,
                        Some(stripe),
                        Some(seq),
                        format!("{name} names a different hash for this event (rewritten)"),
                    ),
                    _ => {}
                }
            }
        }
        report.problems.extend(checkpoint_problems.problems);
        Ok(report)
    }
}

/// Appends `n` synthetic events quickly (multi-row inserts, one transaction per chunk), with
/// correct chains and heads: for benchmarks and large tests only.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn bulk_append(db: &Database, stripes: u32, n: u64) -> Result<(), DbError> {
    const CHUNK: u64 = 500;
    let mut done = 0;
    while done < n {
        let take = CHUNK.min(n - done);
        db.write(|conn| {
            let mut heads: BTreeMap<i32, (i64, [u8; 32])> = audit_heads::table
                .select((audit_heads::stripe, audit_heads::seq, audit_heads::hash))
                .load::<(i32, i64, Vec<u8>)>(conn)?
                .into_iter()
                .filter(|(s, ..)| (*s as u32) < stripes)
                .map(|(s, q, h)| (s, (q, to_hash(&h).unwrap_or(GENESIS))))
                .collect();
            let mut rows = Vec::with_capacity(take as usize);
            for i in 0..take {
                let stripe = ((done + i) % u64::from(stripes)) as i32;
                let (seq, prev) = heads.get(&stripe).copied().unwrap_or((0, GENESIS));
                let mut row = EventRow {
                    id: 0,
                    stripe,
                    stripe_seq: seq + 1,
                    occurred_at: now_micros(),
                    actor_id: Some(format!("user-{}", (done + i) % 100)),
                    actor_role: Some("case_worker".into()),
                    session_ref: Some("s-bench".into()),
                    mfa: true,
                    action: "case.read".into(),
                    record_type: Some("case".into()),
                    record_id: Some(format!("case-{}", (done + i) % 5000)),
                    fields: "victim.name,victim.phone".into(),
                    purpose: Some("casework".into()),
                    outcome: "allowed".into(),
                    rule: Some("assigned_case_worker".into()),
                    source: Some("p-1a2b".into()),
                    request_id: Some(format!("{:016x}", done + i)),
                    prev_hash: prev.to_vec(),
                    hash: Vec::new(),
                };
                let hash = link(&prev, &row.canonical());
                row.hash = hash.to_vec();
                heads.insert(stripe, (seq + 1, hash));
                rows.push(row);
            }
            // Multi-row inserts are not available through the multi-backend connection.
            let insert = diesel::insert_into(audit_events::table).values(&rows);
            match conn {
                DbConnection::Sqlite(c) => insert.execute(c)?,
                DbConnection::Pg(c) => insert.execute(c)?,
            };
            for (stripe, (seq, hash)) in heads {
                diesel::update(audit_heads::table.find(stripe))
                    .set((
                        audit_heads::seq.eq(seq),
                        audit_heads::hash.eq(hash.to_vec()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        done += take;
    }
    Ok(())
}

/// What one chain's walk found.
struct StripeWalk {
    events: u64,
    problems: Vec<Problem>,
    last_seq: Option<i64>,
    /// Hashes of the events that checkpoints name.
    found: HashMap<(i32, i64), [u8; 32]>,
}

/// Walks one chain in sequence order, page by page (each page one index range scan), checking
/// that each event is the next number, links to the one before it, comes after it in id order,
/// and hashes to its stored hash.
fn walk_stripe(
    db: &Database,
    stripe: i32,
    from: Option<i64>,
    wanted: &std::collections::HashSet<(i32, i64)>,
) -> Result<StripeWalk, DbError> {
    let mut walk = StripeWalk {
        events: 0,
        problems: Vec::new(),
        last_seq: None,
        found: HashMap::new(),
    };
    let mut problem = |event_id, seq, message: String| {
        walk.problems.push(Problem {
            event_id,
            stripe: Some(stripe),
            seq: Some(seq),
            message,
        })
    };
    let mut previous: Option<(i64, [u8; 32], i64)> = None; // seq, hash, id
    let mut after = i64::MIN;
    let mut events = 0u64;
    let mut found = HashMap::new();
    loop {
        let rows: Vec<EventRow> = db.read(|conn| {
            let mut q = audit_events::table
                .select(EventRow::as_select())
                .filter(audit_events::stripe.eq(stripe))
                .filter(audit_events::stripe_seq.gt(after))
                .order_by(audit_events::stripe_seq)
                .limit(PAGE)
                .into_boxed();
            if let Some(from) = from {
                q = q.filter(audit_events::id.ge(from));
            }
            Ok(q.load(conn)?)
        })?;
        let Some(last) = rows.last() else { break };
        after = last.stripe_seq;
        for row in rows {
            events += 1;
            let (q, id) = (row.stripe_seq, row.id);
            let (expected_seq, expected_prev, prev_id) = match previous {
                Some((pq, ph, pid)) => (pq + 1, Some(ph), Some(pid)),
                // The first event: from the start it is #1 after the genesis hash; with
                // --from, its stored predecessor hash is trusted as the start.
                None if from.is_some() => (q, None, None),
                None => (1, Some(GENESIS), None),
            };
            if q > expected_seq {
                problem(
                    None,
                    expected_seq,
                    if previous.is_none() {
                        format!("missing: the chain starts at #{q}")
                    } else {
                        format!("missing (deleted?): next present is event {id} (#{q})")
                    },
                );
            }
            let stored_prev = to_hash(&row.prev_hash);
            match (expected_prev, stored_prev) {
                (_, None) => problem(Some(id), q, "malformed previous-hash".into()),
                (Some(p), Some(sp)) if q == expected_seq && p != sp => problem(
                    Some(id),
                    q,
                    "does not link to the event before it (inserted, reordered or altered)".into(),
                ),
                _ => {}
            }
            if let Some(pid) = prev_id.filter(|pid| id <= *pid) {
                problem(
                    Some(id),
                    q,
                    format!("out of order: its id is not after event {pid}"),
                );
            }
            let computed = link(&stored_prev.unwrap_or(GENESIS), &row.canonical());
            let stored = to_hash(&row.hash);
            if stored != Some(computed) {
                problem(
                    Some(id),
                    q,
                    "its content does not match its hash (altered)".into(),
                );
            }
            let hash = stored.unwrap_or(computed);
            if wanted.contains(&(stripe, q)) {
                found.insert((stripe, q), hash);
            }
            previous = Some((q, hash, id));
        }
    }
    walk.events = events;
    walk.found = found;
    walk.last_seq = previous.map(|(q, ..)| q);
    Ok(walk)
}

/// An access-log event as the auditor console shows it (everything but the hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    pub id: i64,
    pub occurred_at: i64,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub session_ref: Option<String>,
    pub mfa: bool,
    pub action: String,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub fields: Vec<String>,
    pub purpose: Option<String>,
    pub outcome: String,
    pub rule: Option<String>,
    pub source: Option<String>,
    pub request_id: Option<String>,
}

impl From<EventRow> for EventView {
    fn from(row: EventRow) -> Self {
        let EventRow {
            id,
            stripe: _,
            stripe_seq: _,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
            prev_hash: _,
            hash: _,
        } = row;
        EventView {
            id,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields: crate::clock::code_list(&fields),
            purpose,
            outcome,
            rule,
            source,
            request_id,
        }
    }
}

/// Filters of the auditor console; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub actor_id: Option<String>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Microseconds since the epoch, inclusive.
    pub from: Option<i64>,
    /// Microseconds since the epoch, exclusive.
    pub to: Option<i64>,
    /// Events with an id below this (the `next_cursor` of the previous page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Signals worth an auditor's look in a time window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Actors whose record reads exceed the threshold: (actor, reads).
    pub heavy_readers: Vec<(String, i64)>,
    /// Actors (or, for failed sign-ins, pseudonymous sources) with many denials: (who, denials).
    pub denial_bursts: Vec<(String, i64)>,
    /// Break-glass uses (event ids).
    pub break_glass: Vec<i64>,
    /// Successful sign-ins at unusual hours (event ids).
    pub odd_hour_logins: Vec<i64>,
}

/// Sign-ins between these UTC hours count as unusual.
const ODD_HOURS: std::ops::Range<i64> = 0..5;

impl Vault {
    /// Events matching the filter, newest first (the caller has been authorized and records
    /// the read).
    pub fn list_events(
        &self,
        conn: &mut DbConnection,
        filter: &EventFilter,
    ) -> Result<Vec<EventView>, DbError> {
        let mut q = audit_events::table
            .select(EventRow::as_select())
            .into_boxed();
        if let Some(v) = &filter.actor_id {
            q = q.filter(audit_events::actor_id.eq(v.clone()));
        }
        if let Some(v) = &filter.record_type {
            q = q.filter(audit_events::record_type.eq(v.clone()));
        }
        if let Some(v) = &filter.record_id {
            q = q.filter(audit_events::record_id.eq(v.clone()));
        }
        if let Some(v) = &filter.action {
            q = q.filter(audit_events::action.eq(v.clone()));
        }
        if let Some(v) = &filter.outcome {
            q = q.filter(audit_events::outcome.eq(v.clone()));
        }
        if let Some(v) = filter.from {
            q = q.filter(audit_events::occurred_at.ge(v));
        }
        if let Some(v) = filter.to {
            q = q.filter(audit_events::occurred_at.lt(v));
        }
        if let Some(v) = filter.before_id {
            q = q.filter(audit_events::id.lt(v));
        }
        let rows: Vec<EventRow> = q
            .order_by(audit_events::id.desc())
            .limit(filter.limit.clamp(1, 1000))
            .load(conn)?;
        Ok(rows.into_iter().map(EventView::from).collect())
    }

    /// Anomalies among the events since `since` (microseconds).
    pub fn anomalies(
        &self,
        conn: &mut DbConnection,
        since: i64,
        read_threshold: i64,
        denial_threshold: i64,
    ) -> Result<Anomalies, DbError> {
        use diesel::dsl::count_star;
        let heavy_readers: Vec<(Option<String>, i64)> = audit_events::table
            .filter(audit_events::occurred_at.ge(since))
            .filter(audit_events::action.like("%.read"))
            .filter(audit_events::outcome.eq("allowed"))
            .group_by(audit_events::actor_id)
            .select((audit_events::actor_id, count_star()))
            .load(conn)?;
        let denials: Vec<(Option<String>, Option<String>, i64)> = audit_events::table
            .filter(audit_events::occurred_at.ge(since))
            .filter(audit_events::outcome.eq("denied"))
            .group_by((audit_events::actor_id, audit_events::source))
            .select((audit_events::actor_id, audit_events::source, count_star()))
            .load(conn)?;
        let break_glass: Vec<i64> = audit_events::table
            .filter(audit_events::occurred_at.ge(since))
            .filter(audit_events::action.eq("case.break_glass"))
            .filter(audit_events::outcome.eq("allowed"))
            .select(audit_events::id)
            .order_by(audit_events::id)
            .load(conn)?;
        let logins: Vec<(i64, i64)> = audit_events::table
            .filter(audit_events::occurred_at.ge(since))
            .filter(audit_events::action.eq("auth.login"))
            .filter(audit_events::outcome.eq("allowed"))
            .select((audit_events::id, audit_events::occurred_at))
            .order_by(audit_events::id)
            .load(conn)?;
        let mut denial_bursts: BTreeMap<String, i64> = BTreeMap::new();
        for (actor, source, n) in denials {
            let who = actor
                .or(source.map(|s| format!("source {s}")))
                .unwrap_or_else(|| "unknown".into());
            *denial_bursts.entry(who).or_default() += n;
        }
        Ok(Anomalies {
            heavy_readers: heavy_readers
                .into_iter()
                .filter_map(|(a, n)| a.filter(|_| n > read_threshold).map(|a| (a, n)))
                .collect(),
            denial_bursts: denial_bursts
                .into_iter()
                .filter(|(_, n)| *n >= denial_threshold)
                .collect(),
            break_glass,
            odd_hour_logins: logins
                .into_iter()
                .filter(|(_, at)| ODD_HOURS.contains(&((at / 1_000_000 / 3600) % 24)))
                .map(|(id, _)| id)
                .collect(),
        })
    }
}
