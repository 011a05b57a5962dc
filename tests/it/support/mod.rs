//! The test harness: one test body run against both backends, the real binary on port 0, and a
//! small HTTP client (loopback only, with timeouts everywhere so nothing can hang).

pub mod http;
pub mod proxy;
pub mod server;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use persistence::{Backend, Database, DatabaseUrl, DbSettings};

/// Generates `mod NAME { fn sqlite(); fn postgres(); }` running `BODY(TestDb)` on each backend.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                let db = $crate::support::TestDb::sqlite();
                ($body)(db);
            }

            #[test]
            fn postgres() {
                if let Some(db) = $crate::support::TestDb::postgres(concat!(module_path!())) {
                    ($body)(db);
                }
            }
        }
    };
}

/// A directory of its own under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("hotline-test-{}", unique_suffix()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unique within this machine: process id, a counter and the clock's nanoseconds.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty database: a temp SQLite file, or a new PostgreSQL schema dropped afterwards.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// For SQLite: the directory holding the file (and its -wal and -shm).
    pub dir: TempDir,
    pg_cleanup: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = TempDir::new();
        let url = format!("sqlite://{}", dir.path().join("hotline.sqlite3").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            dir,
            pg_cleanup: None,
        }
    }

    /// `None` (after a loud line on stderr) when no PostgreSQL is configured for the tests;
    /// a failure instead when `HOTLINE_REQUIRE_POSTGRES=1`.
    pub fn postgres(test: &str) -> Option<Self> {
        let Some(base) = std::env::var("HOTLINE_TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())
        else {
            if std::env::var("HOTLINE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("HOTLINE_REQUIRE_POSTGRES=1 but HOTLINE_TEST_POSTGRES_URL is unset");
            }
            eprintln!(
                "\n!!!!! SKIPPED: PostgreSQL half of {test}: set HOTLINE_TEST_POSTGRES_URL to run it !!!!!\n"
            );
            return None;
        };
        let schema = format!("t_{}", unique_suffix());
        let admin = open(&base, 1);
        persistence::testing::execute(&admin, &format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("cannot create a schema on HOTLINE_TEST_POSTGRES_URL: {e}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Some(TestDb {
            backend: Backend::Postgres,
            url,
            dir: TempDir::new(),
            pg_cleanup: Some((base, schema)),
        })
    }

    /// A handle on this database, as a server process would hold it.
    pub fn open(&self) -> Database {
        open(&self.url, 4)
    }

    /// The PostgreSQL schema of this database and the server URL it lives in.
    pub fn pg_schema(&self) -> Option<(&str, &str)> {
        self.pg_cleanup
            .as_ref()
            .map(|(base, schema)| (schema.as_str(), base.as_str()))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("hotline.sqlite3")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_cleanup {
            let admin = open(base, 1);
            let _ = persistence::testing::execute(&admin, &format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

/// A handle as the test process holds it. The test process's own PostgreSQL connections skip
/// TLS: it exits right after each test, possibly while r2d2 is still opening a connection, and
/// OpenSSL's exit-time cleanup then crashes the process (the binary under test keeps TLS and
/// closes its pool before exiting: `Database::close`).
pub fn open(url: &str, pool_size: u32) -> Database {
    let url = if url.starts_with("postgres") && !url.contains("sslmode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    } else {
        url.to_string()
    };
    Database::open(&DbSettings {
        url: DatabaseUrl::parse(&url).expect("test database URL"),
        pool_size,
        connect_timeout: Duration::from_secs(5),
        // Long: the tests run two pools on one SQLite file (as two processes would), and
        // SQLite's busy handler lets one process wait while the other keeps the lock busy.
        busy_timeout: Duration::from_secs(60),
        statement_timeout: Duration::from_secs(30),
    })
    .expect("open database")
}

/// The repository root (for `config/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Names of the migrations in the repository, oldest first (e.g. `2026-11-30-000001_installation`).
pub fn migration_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("migrations/sqlite"))
        .expect("migrations/sqlite")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The versions diesel reports for them (the name's digits before the `_`).
pub fn migration_versions() -> Vec<String> {
    migration_names()
        .iter()
        .map(|n| n.split('_').next().unwrap_or("").replace('-', ""))
        .collect()
}
