//! End-to-end tests of the `hotline` binary and its crates, on SQLite and PostgreSQL.
//! One test binary for the whole workspace (a link is expensive on two cores).

mod support;

mod auth;
mod browser;
mod calls;
mod cases;
mod cli;
mod database;
mod http_surface;
mod lifecycle;
mod passkeys;
mod referrals;
mod reliability;
mod stats;
mod vault;
mod web;
mod web_case;
mod web_roles;
