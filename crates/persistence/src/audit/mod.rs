//! The access log: every event is appended in the caller's transaction to one of K hash chains
//! (stripes), so the work and its audit event commit together or not at all, and appends do not
//! all queue on one lock. Signed checkpoints of all chain heads go to a table and to a file
//! outside the database; `verify` recomputes every link and checks every checkpoint.
//!
//! This file holds the event and its canonical form; the parts are `append`, `checkpoint`,
//! `verify` and `events` (the auditor console's reads).

mod append;
mod checkpoint;
mod events;
mod verify;

pub(crate) use self::append::*;
pub use self::{checkpoint::*, events::*, verify::*};

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
