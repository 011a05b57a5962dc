//! Verifying the log: every link of every chain recomputed (stripes walked in parallel, page by page) and every checkpoint checked against the table, the file and the chains.

use super::*;

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

pub(super) const PAGE: i64 = 20_000;
/// Chains walked at once by `verify`.
pub(super) const VERIFY_THREADS: usize = 4;

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

/// What one chain's walk found.
pub(super) struct StripeWalk {
    pub(super) events: u64,
    pub(super) problems: Vec<Problem>,
    pub(super) last_seq: Option<i64>,
    /// Hashes of the events that checkpoints name.
    pub(super) found: HashMap<(i32, i64), [u8; 32]>,
}

/// Walks one chain in sequence order, page by page (each page one index range scan), checking
/// that each event is the next number, links to the one before it, comes after it in id order,
/// and hashes to its stored hash.
pub(super) fn walk_stripe(
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
