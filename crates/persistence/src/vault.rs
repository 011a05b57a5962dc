//! The vault's key plumbing: the master key ring (loaded from its file, reloaded when it
//! changes), per-owner data keys, blind indexes, crypto-shredding and master-key rotation.
//!
//! Every later record type stores personal data through here: it creates a data key for its
//! owner, seals each field with `DataKey::seal` under a [`FieldContext`] naming the table, field,
//! row and owner, and registers blind index values with [`Vault::set_blind_index`]. An unwrapped
//! data key lives only inside one operation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crypto::blind_index::BlindIndexer;
use crypto::envelope::DataKey;
use crypto::keyring::{KeyEnvironment, KeyRing};
use crypto::CryptoError;
use diesel::prelude::*;

pub use crypto::envelope::FieldContext;

use crate::audit::{AuditEvent, AuditSettings};
use crate::clock::now_micros;
use crate::prepared::Write;
use crate::schema::{blind_indexes, data_keys};
use crate::{Database, DbConnection, DbError};
use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;

/// A data key's row as read: (`dek_version`, `wrapped`, `None` once shredded).
pub(crate) type KeyRow = (i32, Option<Vec<u8>>);

/// A data key's row as inserted.
#[derive(Insertable)]
#[diesel(table_name = data_keys)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewDataKey<'a> {
    owner_id: &'a str,
    owner_kind: &'a str,
    dek_version: i32,
    kek_version: Option<i32>,
    wrapped: Option<Vec<u8>>,
    created_at: i64,
}

/// A blind index row as inserted.
#[derive(Insertable)]
#[diesel(table_name = blind_indexes)]
pub(crate) struct NewBlindIndex<'a> {
    table_name: &'a str,
    field: &'a str,
    value: i64,
    record_id: &'a str,
    owner_id: &'a str,
}

#[derive(Debug, Clone)]
pub struct VaultSettings {
    pub keys_file: PathBuf,
    /// `HOTLINE_ENV=production`: a missing or development key file is refused.
    pub production: bool,
    pub blind_index_bits: u32,
    pub blind_index_expected_rows: u64,
    pub audit: AuditSettings,
}

/// How the key ring was obtained, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Loaded,
    /// A development key file was generated because none existed.
    GeneratedForDevelopment,
}

/// Loads the key file, or in development generates one when it is missing. In production a
/// missing file or a development key is refused, with the reason.
pub fn load_key_ring(path: &Path, production: bool) -> Result<(KeyRing, KeySource), DbError> {
    if !path.exists() {
        if production {
            return Err(DbError::Refused(format!(
                "the master key file {} does not exist; production never generates keys \
                 (create one with `hotline keys init` on a secure machine and install it)",
                path.display()
            )));
        }
        let ring = KeyRing::generate(KeyEnvironment::Development)?;
        ring.save(path)?;
        return Ok((ring, KeySource::GeneratedForDevelopment));
    }
    let ring = KeyRing::load(path)?;
    if production && ring.environment() == KeyEnvironment::Development {
        return Err(DbError::Refused(format!(
            "{} holds a development key; production refuses it (development keys are generated \
             on developer machines and may have been copied anywhere)",
            path.display()
        )));
    }
    Ok((ring, KeySource::Loaded))
}

struct KeyStore {
    path: PathBuf,
    current: RwLock<(Arc<KeyRing>, Option<SystemTime>)>,
    /// When the file was last looked at (µs since the epoch): an atomic, since every seal and
    /// open asks for the ring and a lock here would serialise them.
    last_check: AtomicI64,
}

/// How often a running server looks at the key file's modification time, so that a rotation by
/// `hotline keys rotate` in another process is picked up.
const KEY_FILE_CHECK: Duration = Duration::from_secs(1);

impl KeyStore {
    fn ring(&self) -> Arc<KeyRing> {
        let now = now_micros();
        let last = self.last_check.load(Ordering::Relaxed);
        let due = now - last >= KEY_FILE_CHECK.as_micros() as i64
            // One thread wins the right to look; the others go on with the ring they have.
            && self
                .last_check
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if due {
            let _ = self.reload_if_changed();
        }
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    fn reload_if_changed(&self) -> Result<bool, DbError> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let stale = self.current.read().unwrap_or_else(|p| p.into_inner()).1 != mtime;
        if stale {
            let ring = KeyRing::load(&self.path)?;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = (Arc::new(ring), mtime);
            log::info!("master key file changed; reloaded it");
        }
        Ok(stale)
    }

    fn replace(&self, ring: KeyRing) -> Result<(), DbError> {
        ring.save(&self.path)?;
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (Arc::new(ring), mtime);
        Ok(())
    }
}

pub struct Vault {
    keys: KeyStore,
    indexer: BlindIndexer,
    audit: AuditSettings,
    origin: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("keys_file", &self.keys.path)
            .finish_non_exhaustive()
    }
}

/// Data keys per master key version, for `hotline keys status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub primary: u32,
    pub versions_in_file: Vec<u32>,
    /// (master key version, live data keys wrapped under it)
    pub data_keys: Vec<(i32, i64)>,
    pub shredded: i64,
}

impl Vault {
    /// Opens the vault: loads (or in development generates) the key ring, checks the blind index
    /// size against the leakage budget, and makes sure every audit chain has its head row.
    pub fn open(db: &Database, settings: &VaultSettings) -> Result<(Self, KeySource), DbError> {
        crypto::blind_index::check_budget(
            settings.blind_index_bits,
            settings.blind_index_expected_rows,
        )
        .map_err(|e| DbError::Refused(format!("crypto.blind_index_bits: {e}")))?;
        if settings.audit.stripes == 0 {
            return Err(DbError::Refused("audit.stripes must be at least 1".into()));
        }
        let (ring, source) = load_key_ring(&settings.keys_file, settings.production)?;
        let indexer = BlindIndexer::new(&ring, settings.blind_index_bits)?;
        let mtime = std::fs::metadata(&settings.keys_file)
            .and_then(|m| m.modified())
            .ok();
        let installation = db.installation()?.ok_or_else(|| {
            DbError::Migration("the database has not been migrated (run `hotline migrate`)".into())
        })?;
        let vault = Vault {
            keys: KeyStore {
                path: settings.keys_file.clone(),
                current: RwLock::new((Arc::new(ring), mtime)),
                last_check: AtomicI64::new(now_micros()),
            },
            indexer,
            audit: settings.audit.clone(),
            origin: format!("hotline/{}", installation.id),
        };
        db.write(|conn| crate::audit::ensure_heads(conn, vault.audit.stripes))?;
        Ok((vault, source))
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        self.keys.ring()
    }

    pub(crate) fn audit_settings(&self) -> &AuditSettings {
        &self.audit
    }

    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// Creates the data key of a new owner (a case, a call, a referral packet), stored wrapped.
    pub fn create_data_key(
        &self,
        conn: &mut DbConnection,
        owner_kind: &str,
        owner_id: &str,
    ) -> Result<DataKey, DbError> {
        let (dek, row) = self.new_data_key(owner_kind, owner_id)?;
        diesel::insert_into(data_keys::table)
            .values(&row)
            .execute(conn)?;
        Ok(dek)
    }

    /// A new data key and its row (the key wrapped), for a caller that inserts the row itself
    /// in one statement with others.
    pub(crate) fn new_data_key<'a>(
        &self,
        owner_kind: &'a str,
        owner_id: &'a str,
    ) -> Result<(DataKey, NewDataKey<'a>), DbError> {
        let dek = DataKey::generate()?;
        let ring = self.ring();
        let wrapped = dek.wrap(&ring, owner_id)?;
        let row = NewDataKey {
            owner_id,
            owner_kind,
            dek_version: dek.version() as i32,
            kek_version: Some(ring.primary() as i32),
            wrapped: Some(wrapped),
            created_at: now_micros(),
        };
        Ok((dek, row))
    }

    /// The data key of an owner, unwrapped. `Erased` after shredding, `NotFound` if it never
    /// existed.
    pub fn data_key(&self, conn: &mut DbConnection, owner_id: &str) -> Result<DataKey, DbError> {
        let row: Option<KeyRow> = data_keys::table
            .find(owner_id)
            .select((data_keys::dek_version, data_keys::wrapped))
            .first(conn)
            .optional()?;
        self.unwrap_data_key(owner_id, row)
    }

    /// A data key from its row (`dek_version`, `wrapped`) read by the caller, e.g. joined to
    /// the owner's own row; `None` if there was no row. Same errors as [`Vault::data_key`].
    pub(crate) fn unwrap_data_key(
        &self,
        owner_id: &str,
        row: Option<KeyRow>,
    ) -> Result<DataKey, DbError> {
        let (dek_version, wrapped) = row.ok_or(DbError::NotFound)?;
        let wrapped = wrapped.ok_or(DbError::Erased)?;
        match DataKey::unwrap(&self.ring(), owner_id, dek_version as u32, &wrapped) {
            // Another process may have rotated the master key since we loaded the file.
            Err(CryptoError::MissingKeyVersion(_)) if self.keys.reload_if_changed()? => Ok(
                DataKey::unwrap(&self.ring(), owner_id, dek_version as u32, &wrapped)?,
            ),
            other => Ok(other?),
        }
    }

    /// Records the blind index value of one field of one row (replacing any previous value).
    /// `normalized` must already be normalised (see `crypto::blind_index`).
    pub fn set_blind_index(
        &self,
        conn: &mut DbConnection,
        ctx: &FieldContext<'_>,
        normalized: Option<&str>,
    ) -> Result<(), DbError> {
        self.set_blind_index_values(conn, ctx, normalized.as_slice())
    }

    /// Records the blind index values of one field of one row that holds several (a person's
    /// names, phone numbers), replacing the previous ones. Values must already be normalised.
    pub fn set_blind_index_values<S: AsRef<str>>(
        &self,
        conn: &mut DbConnection,
        ctx: &FieldContext<'_>,
        normalized: &[S],
    ) -> Result<(), DbError> {
        diesel::delete(
            blind_indexes::table
                .filter(blind_indexes::table_name.eq(ctx.table))
                .filter(blind_indexes::field.eq(ctx.field))
                .filter(blind_indexes::record_id.eq(ctx.record_id)),
        )
        .execute(conn)?;
        self.add_blind_index_values(conn, ctx, normalized)
    }

    /// Records blind index values of a field that has none yet (a row being created): no
    /// delete first.
    pub(crate) fn add_blind_index_values<S: AsRef<str>>(
        &self,
        conn: &mut DbConnection,
        ctx: &FieldContext<'_>,
        normalized: &[S],
    ) -> Result<(), DbError> {
        for row in self.blind_index_rows(ctx, normalized)? {
            diesel::insert_into(blind_indexes::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// The blind index rows of a field's normalised values, for a caller that inserts them
    /// itself. Two values may share a truncated index value; one row covers both.
    pub(crate) fn blind_index_rows<'a, S: AsRef<str>>(
        &self,
        ctx: &FieldContext<'a>,
        normalized: &[S],
    ) -> Result<Vec<NewBlindIndex<'a>>, DbError> {
        let mut values = normalized
            .iter()
            .map(|v| self.indexer.compute(ctx.table, ctx.field, v.as_ref()))
            .collect::<Result<Vec<i64>, _>>()?;
        values.sort_unstable();
        values.dedup();
        Ok(values
            .into_iter()
            .map(|value| NewBlindIndex {
                table_name: ctx.table,
                field: ctx.field,
                value,
                record_id: ctx.record_id,
                owner_id: ctx.owner_id,
            })
            .collect())
    }

    /// Rows whose blind index matches a normalised value: candidates only. Collisions are
    /// expected by design; callers decrypt and compare before using a hit.
    pub fn blind_index_candidates(
        &self,
        conn: &mut DbConnection,
        table: &str,
        field: &str,
        normalized: &str,
    ) -> Result<Vec<(String, String)>, DbError> {
        let value = self.indexer.compute(table, field, normalized)?;
        Ok(blind_indexes::table
            .filter(blind_indexes::table_name.eq(table))
            .filter(blind_indexes::field.eq(field))
            .filter(blind_indexes::value.eq(value))
            .select((blind_indexes::owner_id, blind_indexes::record_id))
            .load(conn)?)
    }

    /// Crypto-shredding: deletes the owner's wrapped data key and all its blind index values, in
    /// the caller's transaction, and records the audit event there too. Afterwards every sealed
    /// field of the owner fails to open with `Erased`. Returns false if it was already shredded.
    pub fn shred(
        &self,
        conn: &mut DbConnection,
        owner_id: &str,
        event: AuditEvent,
    ) -> Result<bool, DbError> {
        let kind: Option<String> = data_keys::table
            .find(owner_id)
            .select(data_keys::owner_kind)
            .first(conn)
            .optional()?;
        let kind = kind.ok_or(DbError::NotFound)?;
        let shredded = diesel::update(
            data_keys::table
                .find(owner_id)
                .filter(data_keys::wrapped.is_not_null()),
        )
        .set((
            data_keys::wrapped.eq(None::<Vec<u8>>),
            data_keys::kek_version.eq(None::<i32>),
            data_keys::shredded_at.eq(Some(now_micros())),
        ))
        .execute(conn)?
            == 1;
        diesel::delete(blind_indexes::table.filter(blind_indexes::owner_id.eq(owner_id)))
            .execute(conn)?;
        self.record(
            conn,
            &AuditEvent {
                action: "vault.shred".into(),
                record_type: Some(kind),
                record_id: Some(owner_id.to_string()),
                ..event
            },
        )?;
        Ok(shredded)
    }

    /// Records an audit event in the caller's transaction (see [`crate::audit`]).
    pub fn record(&self, conn: &mut DbConnection, event: &AuditEvent) -> Result<(), DbError> {
        crate::audit::append(conn, self.audit.stripes, event)
    }

    /// The caller's writes (a new record's rows), then [`Vault::record`] of their event. On
    /// PostgreSQL all of it is one statement (see [`crate::audit::append_with`]), so the caller
    /// needs no transaction ([`Database::write_single`]); on SQLite, in process, each runs
    /// alone, in order, in the caller's transaction.
    pub(crate) fn record_with<'a>(
        &self,
        conn: &mut DbConnection,
        writes: Vec<Box<dyn Write + 'a>>,
        event: &AuditEvent,
    ) -> Result<(), DbError> {
        match conn {
            DbConnection::Pg(pg) => {
                let first = writes
                    .into_iter()
                    .map(|w| -> Box<dyn QueryFragment<Pg> + 'a> { w });
                crate::audit::append_with(pg, self.audit.stripes, event, first.collect())
            }
            conn => {
                for w in &writes {
                    crate::prepared::execute(conn, w.as_ref())?;
                }
                self.record(conn, event)
            }
        }
    }

    /// Records the audit event of a read, outside the read's transaction, and returns once it
    /// is committed: group commit with the events of concurrent reads (see
    /// [`crate::audit::GroupCommit`]). Call it after the read and before its data leaves.
    pub fn record_durably(&self, db: &Database, event: AuditEvent) -> Result<(), DbError> {
        db.audit_group.append(db, self.audit.stripes, event)
    }

    pub fn key_status(&self, db: &Database) -> Result<KeyStatus, DbError> {
        let _ = self.keys.reload_if_changed()?;
        let ring = self.ring();
        let (data_keys, shredded) = db.read(|conn| {
            let counts: Vec<(Option<i32>, i64)> = data_keys::table
                .group_by(data_keys::kek_version)
                .select((data_keys::kek_version, diesel::dsl::count_star()))
                .order_by(data_keys::kek_version)
                .load(conn)?;
            let shredded = counts
                .iter()
                .filter(|(v, _)| v.is_none())
                .map(|(_, n)| n)
                .sum();
            let live = counts
                .into_iter()
                .filter_map(|(v, n)| v.map(|v| (v, n)))
                .collect();
            Ok((live, shredded))
        })?;
        Ok(KeyStatus {
            primary: ring.primary(),
            versions_in_file: ring.versions(),
            data_keys,
            shredded,
        })
    }

    /// Master-key rotation. If data keys are still wrapped under a version other than the
    /// primary (an interrupted rotation), it resumes; otherwise it adds a new primary version to
    /// the key file first. Then it re-wraps those data keys in transactions of `batch`, calling
    /// `progress` with the running total after each. Safe to kill at any point and run again.
    pub fn rotate(
        &self,
        db: &Database,
        batch: usize,
        mut progress: impl FnMut(u64),
    ) -> Result<RotateOutcome, DbError> {
        let _ = self.keys.reload_if_changed()?;
        let ring = self.ring();
        let pending = self.count_not_on(db, ring.primary())?;
        let (version, resumed) = if pending > 0 {
            (ring.primary(), true)
        } else {
            let mut next = KeyRing::parse(&ring.to_text())?;
            let v = next.add_version()?;
            self.keys.replace(next)?;
            db.write(|conn| {
                self.record(
                    conn,
                    &AuditEvent::system("keys.rotate").with_record("master_key", &v.to_string()),
                )
            })?;
            (v, false)
        };
        let ring = self.ring();
        let mut done = 0u64;
        loop {
            let n = db.write(|conn| {
                let rows: Vec<(String, i32, Option<Vec<u8>>)> = data_keys::table
                    .filter(data_keys::kek_version.ne(version as i32))
                    .filter(data_keys::wrapped.is_not_null())
                    .select((
                        data_keys::owner_id,
                        data_keys::dek_version,
                        data_keys::wrapped,
                    ))
                    .order_by(data_keys::owner_id)
                    .limit(batch as i64)
                    .load(conn)?;
                for (owner, dek_version, wrapped) in &rows {
                    let Some(wrapped) = wrapped else { continue };
                    let old = DataKey::wrapped_kek_version(wrapped)?;
                    let rewrapped = DataKey::unwrap(&ring, owner, *dek_version as u32, wrapped)?
                        .wrap(&ring, owner)?;
                    diesel::update(
                        data_keys::table
                            .find(owner)
                            .filter(data_keys::kek_version.eq(old as i32)),
                    )
                    .set((
                        data_keys::wrapped.eq(Some(rewrapped)),
                        data_keys::kek_version.eq(Some(version as i32)),
                    ))
                    .execute(conn)?;
                }
                Ok(rows.len())
            })?;
            if n == 0 {
                break;
            }
            done += n as u64;
            progress(done);
        }
        db.write(|conn| {
            self.record(
                conn,
                &AuditEvent::system("keys.rewrap.done")
                    .with_record("master_key", &version.to_string()),
            )
        })?;
        Ok(RotateOutcome {
            version,
            resumed,
            rewrapped: done,
        })
    }

    fn count_not_on(&self, db: &Database, version: u32) -> Result<i64, DbError> {
        db.read(|conn| {
            Ok(data_keys::table
                .filter(data_keys::kek_version.ne(version as i32))
                .filter(data_keys::wrapped.is_not_null())
                .count()
                .get_result(conn)?)
        })
    }

    /// Destroys a master key version: refused while it is the primary or any data key still
    /// uses it. After this, copies of the database (backups) whose data keys were wrapped only
    /// under that version cannot be opened by anyone.
    pub fn retire(&self, db: &Database, version: u32) -> Result<(), DbError> {
        let _ = self.keys.reload_if_changed()?;
        let ring = self.ring();
        if version == ring.primary() {
            return Err(DbError::Refused(format!(
                "version {version} is the primary master key; rotate first"
            )));
        }
        if !ring.versions().contains(&version) {
            return Err(DbError::Refused(format!(
                "version {version} is not in the key file"
            )));
        }
        let in_use: i64 = db.read(|conn| {
            Ok(data_keys::table
                .filter(data_keys::kek_version.eq(version as i32))
                .count()
                .get_result(conn)?)
        })?;
        if in_use > 0 {
            return Err(DbError::Refused(format!(
                "{in_use} data key(s) still use master key version {version}; run `hotline keys rotate` to finish re-wrapping"
            )));
        }
        let mut next = KeyRing::parse(&ring.to_text())?;
        next.remove_version(version)?;
        self.keys.replace(next)?;
        db.write(|conn| {
            self.record(
                conn,
                &AuditEvent::system("keys.retire").with_record("master_key", &version.to_string()),
            )
        })?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateOutcome {
    pub version: u32,
    pub resumed: bool,
    pub rewrapped: u64,
}
