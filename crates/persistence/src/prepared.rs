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
use diesel::{QueryResult, RunQueryDsl};

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

/// Two statements as one, for PostgreSQL: `WITH first AS (first) second`. A data-modifying
/// statement in `WITH` runs exactly once, in the same snapshot as the second; one round trip
/// instead of two. SQLite allows no INSERT or UPDATE inside `WITH`.
pub(crate) struct With<A, B>(pub(crate) A, pub(crate) B);

impl<A, B> QueryId for With<A, B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A: QueryFragment<Pg>, B: QueryFragment<Pg>> QueryFragment<Pg> for With<A, B> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        pass.push_sql("WITH first AS (");
        self.0.walk_ast(pass.reborrow())?;
        pass.push_sql(") ");
        self.1.walk_ast(pass)
    }
}

impl<A, B: Query> Query for With<A, B> {
    type SqlType = B::SqlType;
}

/// Run as it is, `With` is kept prepared only if both parts could be (a multi-row insert never
/// is); wrap it in [`Prepared`] to keep it regardless.
impl<A, B, Conn> RunQueryDsl<Conn> for With<A, B> {}

/// Three statements as one, for PostgreSQL: `WITH first AS (first), second AS (second) third`.
pub(crate) struct With2<A, B, C>(pub(crate) A, pub(crate) B, pub(crate) C);

impl<A, B, C> QueryId for With2<A, B, C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<A, B, C> QueryFragment<Pg> for With2<A, B, C>
where
    A: QueryFragment<Pg>,
    B: QueryFragment<Pg>,
    C: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        pass.push_sql("WITH first AS (");
        self.0.walk_ast(pass.reborrow())?;
        pass.push_sql("), second AS (");
        self.1.walk_ast(pass.reborrow())?;
        pass.push_sql(") ");
        self.2.walk_ast(pass)
    }
}

impl<A, B, C: Query> Query for With2<A, B, C> {
    type SqlType = C::SqlType;
}
