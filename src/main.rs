//! `hotline`: the server and its command line. Reads the configuration, wires it into the
//! crates, and runs what was asked: `cli` is the command line's shape, `serve` the server and
//! its maintenance thread, `commands` the other commands; this file dispatches.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod config;
mod demo;
mod logging;
mod mail;
mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use std::sync::{Arc, OnceLock};

use persistence::vault::{load_key_ring, KeySource};
use persistence::{Database, DbError, Vault, VaultSettings};

use crate::cli::*;
use crate::commands::*;
use crate::config::{Config, Sources};
use crate::serve::*;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let sources = Sources::from_process(cli.config_dir.clone(), bind);
    let config = match Config::load(&sources) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hotline: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(&config.log.level);
    logging::install_panic_hook();

    let production = sources.env_name() == "production";
    let result = match cli.command {
        Command::Serve { .. } => serve(&config, production),
        Command::Migrate => migrate(&config),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("# environment: {}", sources.env_name());
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Init { file },
        } => keys_init(&file),
        Command::Keys { action } => {
            with_vault(&config, production, |db, vault| keys(db, vault, action))
        }
        Command::Openapi => {
            print!("{}", api::openapi_json());
            Ok(())
        }
        Command::Policy => {
            print!("{}", domain::policy::matrix_markdown());
            Ok(())
        }
        Command::DemoData { calls, cases, seed } => {
            if production {
                Err(
                    "demo data is for trying the system; refused with HOTLINE_ENV=production"
                        .into(),
                )
            } else {
                with_vault(&config, production, |db, vault| {
                    let settings = demo::DemoSettings {
                        calls: config.call_settings(),
                        cases: config.case_settings(),
                        referrals: config.referral_settings(),
                    };
                    let out = demo::fill(db, vault, &settings, calls, cases, seed)?;
                    println!(
                        "demo data: {} calls, {} cases, {} referrals (one in every status)",
                        out.calls, out.cases, out.referrals
                    );
                    println!("sign in with any of these (invented) accounts:");
                    for (login, role, password) in &out.users {
                        println!("  {login:<22} {:<12} {password}", role.as_str());
                    }
                    println!("supervisors, auditors and admins set up a second factor (TOTP) at their first sign-in");
                    Ok(())
                })
            }
        }
        Command::Outbox {
            action: OutboxAction::Status,
        } => with_vault(&config, production, |db, _| {
            let s = db.outbox_status().map_err(|e| e.to_string())?;
            println!(
                "pending: {}\nsent: {}\nfailed: {}",
                s.pending, s.sent, s.failed
            );
            Ok(())
        }),
        Command::Stats {
            action:
                StatsAction::Export {
                    from,
                    to,
                    format,
                    layout,
                    period,
                },
        } => with_vault(&config, production, |db, vault| {
            stats_export(db, vault, &config, &from, &to, &format, &layout, &period)
        }),
        Command::Retention {
            action: RetentionAction::Run { apply, .. },
        } => with_vault(&config, production, |db, vault| {
            let settings = config.retention_settings();
            let report = if apply {
                vault.apply_retention(db, &settings)
            } else {
                vault.retention_plan(db, &settings)
            }
            .map_err(|e| e.to_string())?;
            let verb = if apply { "erased" } else { "would erase" };
            for item in &report.items {
                let since = chrono::DateTime::<chrono::Utc>::from_timestamp_micros(item.since)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default();
                match &item.reference {
                    Some(r) => println!("{verb}: case {r} ({}; closed {since})", item.id),
                    None => println!("{verb}: call {} (of {since}): personal details", item.id),
                }
            }
            for r in &report.held {
                println!("skipped: case {r} is under a legal hold");
            }
            println!(
                "{} record(s) {verb}; {} held; {} access-log event(s) past retention (kept: the log is append-only)",
                report.items.len(),
                report.held.len(),
                report.audit_events_past_retention
            );
            Ok(())
        }),
        Command::Referrals {
            action: ReferralsAction::RunJobs,
        } => with_vault(&config, production, |db, vault| {
            let r = vault
                .run_referral_jobs(db, &config.referral_settings(), &utc_date(0))
                .map_err(|e| e.to_string())?;
            println!(
                "expired without an answer: {}\nexpired with their consent: {}\nfollow-ups due: {}",
                r.expired_unanswered, r.expired_consent, r.follow_ups_due
            );
            Ok(())
        }),
        Command::User { action } => {
            with_vault(&config, production, |db, vault| user(db, vault, action))
        }
        Command::Audit { action } => {
            with_vault(&config, production, |db, vault| audit(db, vault, action))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log::error!("{message}");
            eprintln!("hotline: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_database(config: &Config) -> Result<Database, String> {
    let settings = config.db_settings().map_err(|e| e.to_string())?;
    Database::open(&settings).map_err(|e| e.to_string())
}

fn migrate(config: &Config) -> Result<(), String> {
    let db = open_database(config)?;
    let status = db.migrate().map_err(|e| e.to_string());
    db.close(db.connect_timeout());
    let status = status?;
    println!(
        "{} migration(s) applied{}; the {} database is current (installation {})",
        status.applied_now.len(),
        if status.applied_now.is_empty() {
            String::new()
        } else {
            format!(": {}", status.applied_now.join(", "))
        },
        db.backend().name(),
        status.installation_id.as_deref().unwrap_or("-")
    );
    Ok(())
}

/// Opens the database (migrated) and the vault for a CLI command.
fn with_vault(
    config: &Config,
    production: bool,
    f: impl FnOnce(&Database, &Vault) -> Result<(), String>,
) -> Result<(), String> {
    let db = open_database(config)?;
    let result = (|| {
        if !db
            .pending_migrations()
            .map_err(|e| e.to_string())?
            .is_empty()
        {
            db.migrate().map_err(|e| e.to_string())?;
        }
        let settings = config.vault_settings(production);
        let (vault, source) = Vault::open(&db, &settings).map_err(|e| e.to_string())?;
        warn_if_generated(source, &settings.keys_file);
        f(&db, &vault)
    })();
    db.close(db.connect_timeout());
    result
}
