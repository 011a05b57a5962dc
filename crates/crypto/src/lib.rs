//! Cryptographic primitives with a small API: randomness, and (as the vault grows) the master key
//! ring, per-record data keys, sealing and opening of fields with bound context, blind indexes,
//! password hashing, audit-chain hashing and checkpoint signing, TOTP.
//!
//! This crate must not know about tables, rows, HTTP or configuration files: callers pass bytes
//! and context labels in, and get bytes or typed errors out. It depends on ring, never on
//! anything of ours.
#![forbid(unsafe_code)]

pub mod random;
