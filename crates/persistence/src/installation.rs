//! The row that names this installation, written once by the first migration run.

use diesel::prelude::*;

use crate::schema::installation;
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = installation)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Installation {
    pub singleton: i32,
    pub id: String,
    pub created_at: i64,
}

/// Reads the installation row, creating it on first call.
pub(crate) fn ensure(conn: &mut DbConnection) -> Result<Installation, DbError> {
    if let Some(found) = installation::table
        .select(Installation::as_select())
        .first(conn)
        .optional()?
    {
        return Ok(found);
    }
    let row = Installation {
        singleton: 1,
        id: crypto::random::hex_id::<16>().map_err(|e| DbError::Migration(e.to_string()))?,
        created_at: crate::clock::now_micros(),
    };
    diesel::insert_into(installation::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}
