//! The pool and the two ways to use it: a read and a write transaction.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::Connection;

use crate::connection::{
    ConnectionSetup, DatabaseUrl, DbConnection, Lifecycle, Manager, PooledDb, CLOSING,
};
use crate::error::DbError;
use crate::Backend;

/// Everything the vault needs to know to open its database.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    /// How long a request waits for a free connection, and libpq for a TCP connection.
    pub connect_timeout: Duration,
    /// SQLite: how long to wait for another process's write lock.
    pub busy_timeout: Duration,
    /// PostgreSQL: longest time one statement may run.
    pub statement_timeout: Duration,
}

/// A handle on the database, cheap to clone. All blocking work: call it from a blocking thread
/// (`web::block` in the server), never from the async executor.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    lifecycle: Arc<Lifecycle>,
    url: DatabaseUrl,
    connect_timeout: Duration,
    /// SQLite allows one writer at a time. Writers of this process queue here, in order, instead
    /// of spinning in SQLite's busy handler (which stalled for seconds under load in the
    /// prototype); the busy timeout remains for writers in other processes.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Audit events of reads waiting for their group commit.
    pub(crate) audit_group: Arc<crate::audit::GroupCommit>,
    /// The block of case references this process hands out next (`cases::References`).
    pub(crate) references: Arc<crate::cases::References>,
}

impl Database {
    /// Builds the pool without connecting: a server whose database is down still starts, reports
    /// "not ready", and connects once the database is back.
    pub fn open(settings: &DbSettings) -> Result<Self, DbError> {
        if settings.pool_size == 0 {
            return Err(DbError::Config("pool size must be at least 1".into()));
        }
        let manager = Manager::new(
            settings.url.clone(),
            ConnectionSetup {
                connect_timeout: settings.connect_timeout,
                busy_timeout: settings.busy_timeout,
                statement_timeout: settings.statement_timeout,
            },
        );
        let lifecycle = manager.lifecycle.clone();
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.connect_timeout)
            .error_handler(Box::new(QuietErrors))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            lifecycle,
            url: settings.url.clone(),
            connect_timeout: settings.connect_timeout,
            sqlite_writer: match settings.url.backend() {
                Backend::Sqlite => Some(Arc::new(Mutex::new(()))),
                Backend::Postgres => None,
            },
            audit_group: Arc::new(crate::audit::GroupCommit::new()),
            references: Arc::new(crate::cases::References::default()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` on a pooled connection without an explicit transaction (for reads that need
    /// no snapshot across statements, and for health checks).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.with_conn_within(self.connect_timeout, f)
    }

    /// Like [`Database::with_conn`], waiting at most `timeout` for a connection.
    pub fn with_conn_within<T>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut pooled = self
            .pool
            .get_timeout(timeout)
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let result = f(&mut pooled.conn);
        if_lost(&mut pooled, result)
    }

    /// Runs `f`, which only reads. On SQLite in a read transaction: one consistent snapshot for
    /// all its statements. On PostgreSQL without BEGIN and COMMIT: at the READ COMMITTED level a
    /// transaction gives every statement its own snapshot anyway, so for reads the pair would
    /// add two round trips and no consistency.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut pooled = self.checkout()?;
        let result = match &pooled.conn {
            DbConnection::Sqlite(_) => pooled.conn.transaction(f),
            DbConnection::Pg(_) => f(&mut pooled.conn),
        };
        if_lost(&mut pooled, result)
    }

    /// Runs `f` in a write transaction that commits only if `f` returns `Ok`. On SQLite the
    /// transaction starts IMMEDIATE (it takes the write lock at BEGIN, so it can never fail half
    /// way on a lock upgrade) and writers of this process are serialised before it.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut pooled = self.checkout()?;
        let result = match &self.sqlite_writer {
            None => pooled.conn.transaction(f),
            Some(lock) => {
                let _turn = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                immediate_transaction(&mut pooled.conn, f)
            }
        };
        if_lost(&mut pooled, result)
    }

    /// Runs `f`, whose one change to the database is a single statement (a record's rows with
    /// its audit event, `Vault::record_with`); anything else it does only reads. On PostgreSQL
    /// without BEGIN and COMMIT: one statement is atomic on its own (all of it, or none of it,
    /// is committed), and the pair would cost two more round trips. On SQLite as
    /// [`Database::write`], which also takes this process's writer's turn.
    pub(crate) fn write_single<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        if self.sqlite_writer.is_some() {
            return self.write(f);
        }
        let mut pooled = self.checkout()?;
        let result = f(&mut pooled.conn);
        if_lost(&mut pooled, result)
    }

    /// A pooled connection, for callers that manage transactions themselves (migrations).
    pub(crate) fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool
            .get_timeout(self.connect_timeout)
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Stops opening connections and waits (at most `timeout`) for those being opened on the
    /// pool's threads to finish. Call it before the process exits (see `Lifecycle`).
    pub fn close(&self, timeout: Duration) {
        self.lifecycle.closing.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        while self.lifecycle.connecting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `BEGIN IMMEDIATE` on SQLite, with diesel's own transaction bookkeeping, so nested
/// `transaction()` calls inside `f` become savepoints as usual.
fn immediate_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
                .map_err(DbError::from_query)?;
        }
        DbConnection::Pg(_) => {
            <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)
                .map_err(DbError::from_query)?;
        }
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)
                .map_err(DbError::from_query)?;
            Ok(value)
        }
        Err(err) => {
            // The original error is what the caller needs; a failed rollback leaves the
            // connection broken, and the pool discards it.
            let _ = <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// A connection that failed as a connection (not as a query) must not go back to the pool, and
/// the caller gets `Unavailable` (503), not a query failure (500). libpq does not always say
/// which it was (a connection cut in the middle of a TLS read is "SSL SYSCALL error: EOF
/// detected", of unknown kind), so after an error of unknown kind the connection is pinged:
/// only on the error path, and never after a constraint violation.
fn if_lost<T>(pooled: &mut PooledDb, result: Result<T, DbError>) -> Result<T, DbError> {
    let lost = match &result {
        Err(DbError::Unavailable(_)) => true,
        Err(DbError::Query(e)) if DbError::is_connection_loss(e) => true,
        Err(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            _,
        ))) => pooled.conn.ping().is_err(),
        _ => false,
    };
    pooled.broken |= lost;
    match result {
        Err(DbError::Query(e)) if lost => Err(DbError::Unavailable(e.to_string())),
        other => other,
    }
}

/// r2d2 logs every failed connection attempt at error level, which floods the log while the
/// database is down; one line at warn level is enough (readiness says the rest).
#[derive(Debug)]
struct QuietErrors;

impl r2d2::HandleError<DbError> for QuietErrors {
    fn handle_error(&self, error: DbError) {
        if !matches!(&error, DbError::Unavailable(m) if m == CLOSING) {
            log::warn!("{error}");
        }
    }
}
