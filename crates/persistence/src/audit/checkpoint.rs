//! Signed checkpoints of every chain head, to a table and to a file outside the database.

use super::*;

/// A signed statement of every chain head at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub body: String,
    pub signature: Vec<u8>,
}

/// Parsed checkpoint body.
pub(super) struct CheckpointBody {
    pub(super) origin: String,
    pub(super) heads: BTreeMap<i32, (i64, [u8; 32])>,
}

pub(super) fn checkpoint_body(origin: &str, heads: &[(i32, i64, Vec<u8>)]) -> String {
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

pub(super) fn parse_body(body: &str) -> Option<CheckpointBody> {
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

    pub(super) fn checkpoint_when(
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
pub(super) fn append_to_file(path: &Path, cp: &Checkpoint) -> Result<(), DbError> {
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

pub(super) fn read_file(path: &Path) -> Result<Vec<Checkpoint>, String> {
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
