//! Appending events: to one of the stripes' hash chains in the caller's transaction (PostgreSQL in one statement, SQLite with its write lock), in batches, and by group commit for events that must outlive a rolled-back transaction.

use super::*;

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

pub(super) fn to_hash(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// The row of one event, its hash still empty.
pub(super) fn event_row(
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
pub(super) fn pick_stripe(stripes: u32) -> Result<i32, DbError> {
    let pick = u32::from_be_bytes(crypto::random::bytes::<4>().map_err(crypto::CryptoError::from)?);
    Ok((pick % stripes.max(1)) as i32)
}

/// The rows of `events` chained after the head (`last_seq`, `prev`) of `stripe`, and the hash
/// the head moves to.
pub(super) fn chain(
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
pub(super) fn append_sqlite(
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
pub(super) fn append_chained(
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
pub(super) struct ChainedBatch {
    pub(super) stripe: i32,
    pub(super) before: Vec<Vec<u8>>,
    pub(super) after: Vec<Vec<u8>>,
    pub(super) occurred_at: Vec<i64>,
    pub(super) actor_id: Vec<Option<String>>,
    pub(super) actor_role: Vec<Option<String>>,
    pub(super) session_ref: Vec<Option<String>>,
    pub(super) mfa: Vec<bool>,
    pub(super) action: Vec<String>,
    pub(super) record_type: Vec<Option<String>>,
    pub(super) record_id: Vec<Option<String>>,
    pub(super) fields: Vec<String>,
    pub(super) purpose: Vec<Option<String>>,
    pub(super) outcome: Vec<String>,
    pub(super) rule: Vec<Option<String>>,
    pub(super) source: Vec<Option<String>>,
    pub(super) request_id: Vec<Option<String>>,
}

impl ChainedBatch {
    pub(super) fn push(&mut self, row: EventRow, before: Vec<u8>, after: Vec<u8>) {
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
pub(super) const BATCH_COLUMNS: &str =
    "occurred_at, actor_id, actor_role, session_ref, mfa, action, \
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
pub(super) const SEQ_AT: usize = 11;

/// A stripe's head row, locked: `SELECT seq, hash FROM audit_heads WHERE stripe = $ FOR UPDATE`.
pub(super) struct LockedHead(i32);

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
pub(super) struct ChainedEvent<'r> {
    pub(super) head: String,
    pub(super) row: &'r EventRow,
    pub(super) before: Vec<u8>,
    pub(super) after: Vec<u8>,
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
pub(super) struct AdvanceTo {
    pub(super) chained: String,
    pub(super) stripe: i32,
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
    pub(super) queue: Mutex<Queue>,
    pub(super) done: Condvar,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) next_ticket: u64,
    pub(super) pending: Vec<(u64, AuditEvent)>,
    /// Outcome of written batches, by ticket, until their requests take them.
    pub(super) outcomes: HashMap<u64, Result<(), BatchError>>,
    pub(super) leaders: usize,
}

/// Why a batch failed, for every request in it (`DbError` is not `Clone`).
#[derive(Clone)]
pub(super) enum BatchError {
    Unavailable(String),
    Failed(String),
}

/// Batches in flight at once (each on its own stripe, most likely): one commit flushes while
/// the next batch fills.
pub(super) const GROUP_LEADERS: usize = 2;
/// Events in one batch (18 bind parameters each; PostgreSQL allows 65,535 per statement).
pub(super) const GROUP_MAX: usize = 512;

impl GroupCommit {
    pub(crate) fn new() -> Self {
        GroupCommit {
            queue: Mutex::new(Queue::default()),
            done: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
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

pub(super) fn write_group(
    db: &Database,
    stripes: u32,
    events: &[AuditEvent],
) -> Result<(), BatchError> {
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
