//! The vault: the diesel schema and rows for SQLite and PostgreSQL, the migrations of both
//! dialects, the connection pool, and (as the system grows) the use-case functions that take an
//! authenticated actor and authorize, encrypt or decrypt, and audit in one transaction.
//!
//! This crate must not depend on actix or on any HTTP type: the JSON API, the web pages and the
//! CLI all call the same functions here. Nothing outside this crate runs a query.
#![forbid(unsafe_code)]

pub mod audit;
pub mod calls;
pub mod cases;
mod clock;
mod connection;
mod database;
pub mod directory;
mod error;
pub mod identity;
pub mod installation;
pub mod lifecycle;
mod migrations;
pub mod outbox;
mod prepared;
pub mod referrals;
pub mod schema;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;
pub mod vault;

pub use audit::{AuditEvent, Outcome};
pub use clock::now_micros;
pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use database::{Database, DbSettings};
pub use error::{AuthError, DbError};
pub use migrations::MigrationStatus;
pub use vault::{Vault, VaultSettings};
