//! The HTTP surface: actix-web routes, extractors, request and response types, error mapping,
//! and (as the system grows) OpenAPI, server-rendered pages and mail delivery.
//!
//! Handlers have one shape (`auth::Session`, or `auth::Public` for sign-in): extract the request,
//! `run` one vault function on one blocking thread after the caller is judged (input is read
//! inside, so 401 and 403 always come before 422), map the result to a response.
//!
//! This crate must never run a query itself or depend on diesel: everything that touches stored
//! data goes through the `persistence` crate.
#![forbid(unsafe_code)]

mod admin;
pub mod auth;
mod bodies;
mod calls;
mod cases;
mod error;
mod health;
mod lifecycle;
mod middleware;
mod openapi;
mod passkeys;
mod referrals;
mod server;
pub mod stats;
#[cfg(feature = "test-routes")]
mod test_routes;
mod vocabularies;
mod web;

pub use error::ApiError;
pub use openapi::openapi_json;
pub use server::{start, ServerSettings, Services};
pub use web::{WebSettings, PAGE_ROUTES};
