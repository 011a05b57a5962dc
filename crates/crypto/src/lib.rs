//! Cryptographic primitives with a small API: randomness, the master key ring, per-record data
//! keys, sealing and opening of fields with bound context, blind indexes, password hashing,
//! audit-chain hashing and checkpoint signing.
//!
//! This crate must not know about tables, rows, HTTP or configuration: callers pass bytes and
//! context labels in, and get bytes or typed errors out. It depends on ring (and the argon2
//! and zeroize crates), never on anything of ours. Key bytes are zeroized on drop and never
//! appear in `Debug` output or error messages.
#![forbid(unsafe_code)]

pub mod audit;
pub mod blind_index;
mod encoding;
pub mod envelope;
mod error;
pub mod keyring;
pub mod password;
pub mod random;
mod secret;
pub mod token;
pub mod totp;

pub use encoding::from_hex;
pub use error::CryptoError;
pub use secret::SecretKey;
