//! Embedded migrations of both dialects, run under a lock so two starting servers cannot race.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::installation::{self, Installation};
use crate::{Database, DbConnection, DbError};

pub(crate) const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub(crate) const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Key of the PostgreSQL advisory lock held while migrating ("hotline" in ASCII).
const MIGRATION_LOCK: i64 = 0x0068_6f74_6c69_6e65;

/// What `hotline migrate` reports.
#[derive(Debug, Clone)]
pub struct MigrationStatus {
    /// Migrations this call applied, oldest first.
    pub applied_now: Vec<String>,
    pub installation_id: Option<String>,
}

fn err(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}

impl Database {
    /// Applies every pending migration and makes sure the installation row exists. Safe to call
    /// from several processes at once: PostgreSQL serialises them on an advisory lock, SQLite on
    /// its write lock (the whole run is one IMMEDIATE transaction).
    pub fn migrate(&self) -> Result<MigrationStatus, DbError> {
        let mut pooled = self.checkout()?;
        let conn: &mut DbConnection = &mut pooled.conn;
        // Take the lock: the advisory lock on PostgreSQL, the write lock on SQLite (the whole
        // run, installation row included, is one IMMEDIATE transaction: a deferred one could
        // fail at once with "database is locked" when it upgrades to writing).
        match conn {
            DbConnection::Pg(pg) => diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg)
                .map(drop),
            DbConnection::Sqlite(lite) => {
                AnsiTransactionManager::begin_transaction_sql(&mut *lite, "BEGIN IMMEDIATE")
            }
        }
        .map_err(DbError::from_query)?;
        let outcome = run_locked(conn);
        let released = match conn {
            DbConnection::Pg(pg) => diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg)
                .map(drop),
            DbConnection::Sqlite(lite) if outcome.is_ok() => {
                AnsiTransactionManager::commit_transaction(&mut *lite)
            }
            DbConnection::Sqlite(lite) => AnsiTransactionManager::rollback_transaction(&mut *lite),
        };
        let (applied_now, inst) = outcome?;
        released.map_err(DbError::from_query)?;
        Ok(MigrationStatus {
            applied_now,
            installation_id: Some(inst.id),
        })
    }

    /// The migrations of this build that the database has not applied yet.
    pub fn pending_migrations(&self) -> Result<Vec<String>, DbError> {
        self.pending_migrations_within(self.connect_timeout())
    }

    /// Like [`Database::pending_migrations`], waiting at most `timeout` for a connection (for
    /// health probes, which must answer quickly).
    pub fn pending_migrations_within(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Vec<String>, DbError> {
        let embedded = match self.backend() {
            crate::Backend::Postgres => versions(&POSTGRES),
            crate::Backend::Sqlite => versions(&SQLITE),
        }?;
        self.with_conn_within(timeout, |conn| {
            // Read-only on purpose: diesel's own check creates its table if missing, which a
            // production role without CREATE rights may not do.
            let applied: Vec<String> =
                match diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
                    .load::<Applied>(conn)
                {
                    Ok(rows) => rows.into_iter().map(|r| r.version).collect(),
                    Err(e) if DbError::is_connection_loss(&e) => {
                        return Err(DbError::from_query(e))
                    }
                    Err(e @ diesel::result::Error::DatabaseError(..)) => {
                        // No migrations table yet: everything is pending.
                        log::debug!("reading the migrations table: {e}");
                        Vec::new()
                    }
                    Err(e) => return Err(DbError::from_query(e)),
                };
            Ok(embedded
                .iter()
                .filter(|(version, _)| !applied.contains(version))
                .map(|(_, name)| name.clone())
                .collect())
        })
    }

    /// The installation row, if migrations have run.
    pub fn installation(&self) -> Result<Option<Installation>, DbError> {
        use crate::schema::installation::dsl::installation as table;
        self.with_conn(|conn| {
            Ok(table
                .select(Installation::as_select())
                .first(conn)
                .optional()?)
        })
    }
}

/// The migrations and the installation row, with the migration lock held.
fn run_locked(conn: &mut DbConnection) -> Result<(Vec<String>, Installation), DbError> {
    let applied = match conn {
        DbConnection::Pg(pg) => pg.run_pending_migrations(POSTGRES),
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE),
    }
    .map(|versions| versions.iter().map(ToString::to_string).collect())
    .map_err(err)?;
    let inst = match conn {
        DbConnection::Pg(_) => conn.transaction(installation::ensure)?,
        DbConnection::Sqlite(_) => installation::ensure(conn)?,
    };
    Ok((applied, inst))
}

#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// (version, name) of each embedded migration of one dialect.
fn versions(source: &EmbeddedMigrations) -> Result<Vec<(String, String)>, DbError> {
    let migrations: Vec<Box<dyn diesel::migration::Migration<diesel::sqlite::Sqlite>>> =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(source).map_err(err)?;
    Ok(migrations
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .collect())
}

/// Names of the embedded migrations of one dialect, oldest first.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn names(source: &EmbeddedMigrations) -> Vec<String> {
    let migrations: Vec<Box<dyn diesel::migration::Migration<diesel::sqlite::Sqlite>>> =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(source).unwrap_or_default();
    migrations.iter().map(|m| m.name().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn folder(dialect: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(dialect);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn both_dialects_have_the_same_migrations() {
        let sqlite = folder("sqlite");
        let postgres = folder("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres differ"
        );
        // What is embedded in the binary is what is in the folders, in the same order.
        let embedded_sqlite = names(&SQLITE);
        assert_eq!(embedded_sqlite, names(&POSTGRES));
        assert_eq!(embedded_sqlite.into_iter().collect::<BTreeSet<_>>(), sqlite);
        for dialect in ["sqlite", "postgres"] {
            for name in folder(dialect) {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../migrations")
                    .join(dialect)
                    .join(&name);
                for file in ["up.sql", "down.sql"] {
                    let text = std::fs::read_to_string(dir.join(file)).unwrap();
                    assert!(!text.trim().is_empty(), "{dialect}/{name}/{file} is empty");
                }
            }
        }
    }
}
