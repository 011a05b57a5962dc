//! The schema, kept by hand with types that mean the same on SQLite and PostgreSQL.
//!
//! Conventions: timestamps are BIGINT microseconds since the Unix epoch, UTC (portable, and they
//! sort the same on both backends); identifiers are TEXT.

diesel::table! {
    installation (singleton) {
        singleton -> Integer,
        id -> Text,
        created_at -> BigInt,
    }
}
