//! Pure types and rules of the hotline: records, enums, validation, state machines, the access
//! policy and disclosure control for statistics.
//!
//! This crate must not depend on any I/O, on cryptography, on diesel or on actix: everything in
//! it is a plain function of its inputs, so the rules can be tested without a database or a
//! server, and every front end (JSON API, web pages, CLI) shares the same ones.
#![forbid(unsafe_code)]

pub mod calls;
pub mod cases;
mod countries;
pub mod identity;
pub mod mail;
pub mod normalize;
pub mod policy;
pub mod referrals;
pub mod sensitive;
pub mod stats;
pub mod vocabulary;

pub use sensitive::Sensitive;
