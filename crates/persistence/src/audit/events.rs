//! Reading the log for the auditor console: events by filter, and the anomalies worth a look.

use super::*;

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
pub(super) const ODD_HOURS: std::ops::Range<i64> = 0..5;

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
