//! One connection type over both backends, and the r2d2 manager that opens and prepares it.

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use crate::error::DbError;

/// The connection the whole vault works with: SQLite (embedded default) or PostgreSQL.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed database URL. The backend comes from the scheme alone; anything else is an error,
/// never a guess.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`; a relative path is taken from the working directory.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, passed to libpq as it is.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::Config(
                    "sqlite:// URL has no file path (expected sqlite://PATH)".into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        // Only the scheme is named: the rest of a URL may hold a password.
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        Err(DbError::Config(if scheme.is_empty() {
            "database URL has no scheme (expected sqlite://PATH or postgres://...)".into()
        } else {
            format!(
                "unsupported database URL scheme `{}` (expected sqlite://PATH or postgres://...)",
                scheme.escape_debug()
            )
        }))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password replaced by `***`, for logs and `config check`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }
}

/// Replaces the password of `scheme://user:password@host/...` and of a `password=` parameter.
pub(crate) fn redact_password(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some((user, _)) = userinfo.split_once(':') {
                out = format!("{scheme}://{user}:***@{}", &rest[at + 1..]);
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out = format!("{base}{}", params.join("&"));
    }
    out
}

/// Per-connection settings applied every time a connection is opened.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSetup {
    pub connect_timeout: Duration,
    pub busy_timeout: Duration,
    pub statement_timeout: Duration,
}

/// A pooled connection and whether it was seen to break, so r2d2 drops it instead of reusing it.
pub struct PooledDb {
    pub(crate) conn: DbConnection,
    pub(crate) broken: bool,
    /// When the connection last went back to the pool in working order.
    returned_at: Option<Instant>,
}

/// A connection that went back to the pool in working order less than this long ago is handed
/// out without a ping: under load that saves a round trip per checkout, and a connection that
/// died in between fails its first statement as a connection loss (503), and is then discarded.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

pub(crate) struct Manager {
    url: DatabaseUrl,
    setup: ConnectionSetup,
    pub(crate) lifecycle: Arc<Lifecycle>,
}

/// Lets a process close its pool before exiting. r2d2 opens connections on its own threads; a
/// process that exits while one of them is in a TLS handshake with PostgreSQL crashes in
/// OpenSSL's exit-time cleanup (seen: SIGSEGV at exit in about 4% of short CLI runs). So
/// `Database::close` stops new connections and waits for those in flight.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    pub closing: AtomicBool,
    pub connecting: AtomicUsize,
}

pub(crate) const CLOSING: &str = "the connection pool is closing";

struct Connecting<'a>(&'a AtomicUsize);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Manager {
    pub fn new(url: DatabaseUrl, setup: ConnectionSetup) -> Self {
        Self {
            url,
            setup,
            lifecycle: Arc::new(Lifecycle::default()),
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PooledDb;
    type Error = DbError;

    fn connect(&self) -> Result<PooledDb, DbError> {
        self.lifecycle.connecting.fetch_add(1, Ordering::SeqCst);
        let _done = Connecting(&self.lifecycle.connecting);
        if self.lifecycle.closing.load(Ordering::SeqCst) {
            return Err(DbError::Unavailable(CLOSING.into()));
        }
        let conn = open(&self.url, &self.setup)?;
        Ok(PooledDb {
            conn,
            broken: false,
            returned_at: None,
        })
    }

    fn is_valid(&self, conn: &mut PooledDb) -> Result<(), DbError> {
        if conn
            .returned_at
            .is_some_and(|at| at.elapsed() < TRUSTED_FOR)
        {
            return Ok(());
        }
        conn.conn
            .ping()
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    fn has_broken(&self, conn: &mut PooledDb) -> bool {
        // r2d2 asks this as the connection goes back to the pool.
        let broken = conn.broken || conn.conn.is_broken();
        conn.returned_at = (!broken).then(Instant::now);
        broken
    }
}

/// Opens one connection and applies the per-connection settings of its backend.
pub(crate) fn open(url: &DatabaseUrl, setup: &ConnectionSetup) -> Result<DbConnection, DbError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            prepare_sqlite_file(path)?;
            let path_str = path
                .to_str()
                .ok_or_else(|| DbError::Config("the SQLite path is not valid UTF-8".into()))?;
            let mut conn = SqliteConnection::establish(path_str)
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            // busy_timeout first, so that switching to WAL waits for another process instead of
            // failing; WAL persists in the file, the others are per connection.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {};
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA secure_delete = ON;",
                setup.busy_timeout.as_millis()
            ))
            .map_err(DbError::from_query)?;
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(url) => {
            let url = with_connect_timeout(url, setup.connect_timeout);
            let mut conn = PgConnection::establish(&url)
                .map_err(|e| DbError::Unavailable(redact_error(&e.to_string(), &url)))?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {}; SET synchronous_commit = on;",
                setup.statement_timeout.as_millis()
            ))
            .map_err(DbError::from_query)?;
            Ok(DbConnection::Pg(conn))
        }
    }
}

/// libpq waits for an unreachable host as long as the kernel lets it unless told otherwise.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={}", timeout.as_secs().max(1))
}

/// libpq's messages may quote the URL; never let its password through.
fn redact_error(message: &str, url: &str) -> String {
    message.replace(url, &redact_password(url))
}

/// The database directory is created 0700 and the file 0600: a victim database is readable by
/// the service account only. An existing file with wider permissions is narrowed, loudly.
fn prepare_sqlite_file(path: &Path) -> Result<(), DbError> {
    let io = |what: &str, e: std::io::Error| {
        DbError::Unavailable(format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io("cannot create the directory of", e))?;
        }
    }
    // Never open (and so close) a descriptor on an existing database file: on POSIX, closing
    // any descriptor of a file drops every fcntl lock the process holds on it, including
    // SQLite's own, and other processes may then checkpoint and reset the WAL under this
    // process's readers (they read stale or inconsistent pages). Only a file that does not
    // exist yet is created here, before any connection of ours has it open.
    if !path.exists() {
        match OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(path)
        {
            // Created here, or a moment ago by another connection or process: either is fine.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("cannot create", e)),
        }
    }
    let mode = fs::metadata(path)
        .map_err(|e| io("cannot read", e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        log::warn!(
            "database file {} was readable by others (mode {:o}); narrowing it to 0600",
            path.display(),
            mode & 0o777
        );
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| io("cannot narrow the permissions of", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_schemes_and_nothing_else() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.sqlite3").unwrap(),
            DatabaseUrl::Sqlite("data/x.sqlite3".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        for bad in [
            "mysql://root:pw@h/db",
            "data/x.sqlite3",
            "sqlite://",
            "",
            "sqlite:x.db",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("expected sqlite://PATH"), "{bad}: {err}");
            assert!(!err.contains("pw"), "{err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://app:s3cret@db.internal:5432/hotline?sslmode=require"),
            "postgres://app:***@db.internal:5432/hotline?sslmode=require"
        );
        assert_eq!(
            redact_password("postgres://db/hotline?user=app&password=s3cret"),
            "postgres://db/hotline?user=app&password=***"
        );
        assert_eq!(
            redact_password("postgres://app@db/x"),
            "postgres://app@db/x"
        );
        let url = DatabaseUrl::parse("postgres://a:s3cret@h/d").unwrap();
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn connect_timeout_is_added_once() {
        let t = Duration::from_secs(3);
        assert_eq!(
            with_connect_timeout("postgres://h/d", t),
            "postgres://h/d?connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/d?sslmode=disable", t),
            "postgres://h/d?sslmode=disable&connect_timeout=3"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/d?connect_timeout=9", t),
            "postgres://h/d?connect_timeout=9"
        );
    }
}
