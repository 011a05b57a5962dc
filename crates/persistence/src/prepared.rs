//! Keeping hot statements prepared.
//!
//! Diesel keeps a statement prepared on its connection only when it can prove the SQL never
//! varies: never for an UPDATE, nor for an INSERT with optional values, nor for raw SQL. Every
//! other execution sends PostgreSQL the text to parse and plan again (the "unnamed" statement),
//! which measured as a third more server time for a wide insert and commit than a prepared one
//! (pgbench, concurrency 8, this machine). [`Prepared`] marks a statement whose SQL text takes
//! only a few forms as safe to keep, so diesel caches it by its text.
//!
//! Only for statements built from a fixed shape: the cache grows by one entry per distinct text,
//! so a statement with a variable number of rows or `IN` items must never be wrapped.
//!
//! Only queries that return rows can be wrapped (give an INSERT or UPDATE a RETURNING clause):
//! diesel's `execute` asks a reference to the statement whether it may be cached, and a
//! reference does not pass the question on, so an executed statement would still be parsed
//! every time. Hence no `RunQueryDsl` here, only [`Prepared::get_result`] and [`Prepared::load`].

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

use crate::DbConnection;

/// A statement to keep prepared; run it with [`Prepared::get_result`] or [`Prepared::load`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<Q>(pub(crate) Q);

impl<Q> Prepared<Q> {
    /// Runs the statement and returns its one row.
    pub(crate) fn get_result<'a, U, C>(self, conn: &mut C) -> QueryResult<U>
    where
        Q: Query,
        Cacheable<Q>: LoadQuery<'a, C, U>,
    {
        Cacheable(self.0).get_result(conn)
    }

    /// Runs the query and returns its rows.
    pub(crate) fn load<'a, U, C>(self, conn: &mut C) -> QueryResult<Vec<U>>
    where
        Q: Query,
        Cacheable<Q>: LoadQuery<'a, C, U>,
    {
        Cacheable(self.0).load(conn)
    }
}

/// What diesel runs: private, so nothing can `execute` it by reference.
pub(crate) struct Cacheable<Q>(Q);

impl<Q> QueryId for Cacheable<Q> {
    type QueryId = ();
    // Cached by its SQL text, not by type: diesel caches by type only what it proves fixed.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Cacheable<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Cacheable<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cacheable<Q> {}

/// Statements as one, for PostgreSQL: `WITH s1 AS (first[0]), s2 AS (first[1]), ... last`.
/// A data-modifying statement in `WITH` runs exactly once, in the same snapshot as the others,
/// whether or not anything refers to it: one round trip instead of several. SQLite allows no
/// INSERT or UPDATE inside `WITH`. The statements in `first` must not depend on each other's
/// effects (they see the same snapshot), and a `WITH` cannot nest inside another.
pub(crate) struct With<'a, L> {
    first: Vec<Box<dyn QueryFragment<Pg> + 'a>>,
    last: L,
}

impl<'a, L> With<'a, L> {
    pub(crate) fn new(first: Vec<Box<dyn QueryFragment<Pg> + 'a>>, last: L) -> Self {
        With { first, last }
    }
}

/// A statement for [`With::new`]'s list.
pub(crate) fn part<'a>(statement: impl QueryFragment<Pg> + 'a) -> Box<dyn QueryFragment<Pg> + 'a> {
    Box::new(statement)
}

/// A write either database can run: joined into a [`With`] on PostgreSQL, alone on SQLite
/// (see `Vault::record_with`).
pub(crate) trait Write: QueryFragment<Pg> + QueryFragment<Sqlite> {}

impl<T: QueryFragment<Pg> + QueryFragment<Sqlite>> Write for T {}

/// A write for a list of them.
pub(crate) fn write<'a>(statement: impl Write + 'a) -> Box<dyn Write + 'a> {
    Box::new(statement)
}

/// Runs one write by itself, on either database; returns the rows it changed.
pub(crate) fn execute(conn: &mut DbConnection, statement: &dyn Write) -> QueryResult<usize> {
    match conn {
        DbConnection::Pg(c) => Alone(statement).execute(c),
        DbConnection::Sqlite(c) => Alone(statement).execute(c),
    }
}

/// A [`Write`] as diesel runs it.
struct Alone<'w, 'a>(&'w (dyn Write + 'a));

impl QueryId for Alone<'_, '_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Alone<'_, '_> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        QueryFragment::<Pg>::walk_ast(self.0, pass)
    }
}

impl QueryFragment<Sqlite> for Alone<'_, '_> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        QueryFragment::<Sqlite>::walk_ast(self.0, pass)
    }
}

impl<Conn> RunQueryDsl<Conn> for Alone<'_, '_> {}

impl<L> QueryId for With<'_, L> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<L: QueryFragment<Pg>> QueryFragment<Pg> for With<'_, L> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (n, statement) in self.first.iter().enumerate() {
            pass.push_sql(if n == 0 { "WITH s" } else { ", s" });
            pass.push_sql(&(n + 1).to_string());
            pass.push_sql(" AS (");
            statement.walk_ast(pass.reborrow())?;
            pass.push_sql(")");
        }
        if !self.first.is_empty() {
            pass.push_sql(" ");
        }
        self.last.walk_ast(pass)
    }
}

impl<L: Query> Query for With<'_, L> {
    type SqlType = L::SqlType;
}

/// Run as it is, `With` is kept prepared only if every part could be (a multi-row insert never
/// is); wrap it in [`Prepared`] to keep it regardless.
impl<L, Conn> RunQueryDsl<Conn> for With<'_, L> {}
