//! Helpers for tests of this workspace only (feature `testing`): raw SQL and schema snapshots,
//! which production code has no business running.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;

use crate::migrations::{POSTGRES, SQLITE};
use crate::{Database, DbConnection, DbError};

#[derive(QueryableByName)]
struct Item {
    #[diesel(sql_type = Text)]
    item: String,
}

/// Runs raw SQL statements (as an attacker with database access, or a test fixture, would).
pub fn execute(db: &Database, sql: &str) -> Result<(), DbError> {
    db.with_conn(|conn| conn.batch_execute(sql).map_err(DbError::from_query))
}

/// Rows of a one-text-column query named `item`.
pub fn query_strings(db: &Database, sql: &str) -> Result<Vec<String>, DbError> {
    db.with_conn(|conn| {
        Ok(diesel::sql_query(sql)
            .load::<Item>(conn)?
            .into_iter()
            .map(|i| i.item)
            .collect())
    })
}

const SQLITE_SNAPSHOT: &str = "SELECT type || ' ' || name || ' ' || IFNULL(sql, '') AS item
    FROM sqlite_master
    WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY 1";

const PG_SNAPSHOT: &str = "SELECT item FROM (
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
        || is_nullable || ' ' || coalesce(column_default, '') AS item
      FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'
    UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename <> '__diesel_schema_migrations'
    UNION ALL SELECT 'trigger ' || event_object_table || '.' || trigger_name || ' '
        || action_timing || ' ' || event_manipulation || ' ' || action_statement
      FROM information_schema.triggers WHERE trigger_schema = current_schema()
    UNION ALL SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()
    UNION ALL SELECT 'constraint ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = current_schema()
        AND c.conrelid::regclass::text NOT LIKE '%__diesel_schema_migrations'
    UNION ALL SELECT 'sequence ' || sequence_name FROM information_schema.sequences
      WHERE sequence_schema = current_schema()
    UNION ALL SELECT 'type ' || t.typname FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'c')
        AND NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.reltype = t.oid)
) s ORDER BY 1";

/// Every object of the current schema (tables, columns, indexes, triggers, functions...), one
/// line each, sorted: two snapshots are equal when the schemas are.
pub fn schema_snapshot(db: &Database) -> Result<Vec<String>, DbError> {
    query_strings(
        db,
        match db.backend() {
            crate::Backend::Sqlite => SQLITE_SNAPSHOT,
            crate::Backend::Postgres => PG_SNAPSHOT,
        },
    )
}

/// Applies the migrations one at a time on an empty database, and after each one checks that
/// its down migration restores exactly the schema before it, then re-applies it. Returns the
/// number of migrations checked.
pub fn check_down_undoes_up(db: &Database) -> Result<usize, String> {
    let total = match db.backend() {
        crate::Backend::Sqlite => crate::migrations::names(&SQLITE).len(),
        crate::Backend::Postgres => crate::migrations::names(&POSTGRES).len(),
    };
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    for _ in 0..total {
        let before = schema_snapshot(db).map_err(|e| fail(&e))?;
        let name = step(db, Step::Up)?;
        let after_up = schema_snapshot(db).map_err(|e| fail(&e))?;
        if after_up == before {
            return Err(format!("migration {name} changed nothing"));
        }
        step(db, Step::Down)?;
        let after_down = schema_snapshot(db).map_err(|e| fail(&e))?;
        if after_down != before {
            let extra: Vec<_> = after_down.iter().filter(|i| !before.contains(i)).collect();
            let missing: Vec<_> = before.iter().filter(|i| !after_down.contains(i)).collect();
            return Err(format!(
                "down of {name} does not undo its up: left behind {extra:?}, lost {missing:?}"
            ));
        }
        step(db, Step::Up)?;
    }
    Ok(total)
}

enum Step {
    Up,
    Down,
}

fn step(db: &Database, step: Step) -> Result<String, String> {
    db.with_conn(|conn| {
        let r = match (conn, &step) {
            (DbConnection::Sqlite(c), Step::Up) => {
                c.run_next_migration(SQLITE).map(|v| v.to_string())
            }
            (DbConnection::Sqlite(c), Step::Down) => {
                c.revert_last_migration(SQLITE).map(|v| v.to_string())
            }
            (DbConnection::Pg(c), Step::Up) => {
                c.run_next_migration(POSTGRES).map(|v| v.to_string())
            }
            (DbConnection::Pg(c), Step::Down) => {
                c.revert_last_migration(POSTGRES).map(|v| v.to_string())
            }
        };
        r.map_err(|e| DbError::Migration(e.to_string()))
    })
    .map_err(|e| e.to_string())
}

/// Appends `n` synthetic audit events fast, keeping every chain and head correct.
pub fn bulk_audit_events(db: &Database, vault: &crate::Vault, n: u64) -> Result<(), DbError> {
    crate::audit::bulk_append(db, vault.audit_settings().stripes, n)
}

/// One bare one-row insert in its own write transaction (the database's ceiling, measured by
/// the load generator into a scratch table `bench_ceiling (id TEXT PRIMARY KEY, v BIGINT)`).
pub fn insert_one(db: &Database, id: &str) -> Result<(), DbError> {
    db.write(|conn| {
        diesel::sql_query("INSERT INTO bench_ceiling (id, v) VALUES ($1, 1)")
            .bind::<Text, _>(id)
            .execute(conn)?;
        Ok(())
    })
}

/// Appends `events` as one batch, the way the group commit of reads writes them (one statement
/// on PostgreSQL), so that tests can hold batches of chosen sizes to `verify`.
pub fn append_batch(
    db: &Database,
    stripes: u32,
    events: &[crate::AuditEvent],
) -> Result<(), DbError> {
    db.write_single(|conn| crate::audit::append_batch(conn, stripes, events))
}
