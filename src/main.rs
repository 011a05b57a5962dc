//! `hotline`: the server and its command line. Reads the configuration, wires it into the
//! crates, and runs what was asked.
#![forbid(unsafe_code)]

mod config;
mod logging;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use persistence::{Database, DbError};

use crate::config::{Config, Sources};

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Case management for an anti-trafficking and domestic-violence hotline"
)]
struct Cli {
    /// Directory holding default.toml and $HOTLINE_ENV.toml (also HOTLINE_CONFIG_DIR; default ./config when present).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first unless database.migrate_on_start = false).
    Serve {
        /// Address to listen on, overriding server.bind (127.0.0.1:0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective configuration (secrets as ***); exit 1 naming the offending key on error.
    Check,
}

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

    let result = match cli.command {
        Command::Serve { .. } => serve(&config),
        Command::Migrate => migrate(&config),
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("# environment: {}", sources.env_name());
            print!("{}", config.to_redacted_toml());
            Ok(())
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
    let status = db.migrate().map_err(|e| e.to_string())?;
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

fn serve(config: &Config) -> Result<(), String> {
    let db = open_database(config)?;
    log::info!("database: {}", db.url().redacted());
    if config.database.migrate_on_start {
        match db.migrate() {
            Ok(status) => log_migrations(&status),
            // The database may simply not be up yet: serve anyway (not ready) and keep trying.
            Err(DbError::Unavailable(reason)) => {
                log::warn!("cannot migrate yet, will retry in the background: {reason}");
                spawn_migration_retry(db.clone());
            }
            Err(e) => return Err(format!("{e}; the server was not started")),
        }
    }
    let settings = config.server_settings().map_err(|e| e.to_string())?;
    actix_web::rt::System::new().block_on(async move {
        let (server, addrs) = api::start(&settings, db)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
        let mut out = std::io::stdout().lock();
        for addr in &addrs {
            // One line per address; tests and scripts read the port chosen for :0 from it.
            let _ = writeln!(out, "listening on http://{addr}");
        }
        let _ = out.flush();
        drop(out);
        server.await.map_err(|e| format!("server error: {e}"))?;
        log::info!("stopped");
        Ok(())
    })
}

fn log_migrations(status: &persistence::MigrationStatus) {
    if status.applied_now.is_empty() {
        log::info!("database schema is current");
    } else {
        log::info!("applied migrations: {}", status.applied_now.join(", "));
    }
}

/// Retries the migrations until the database answers; readiness stays 503 until they succeed.
fn spawn_migration_retry(db: Database) {
    std::thread::spawn(move || {
        let mut delay = Duration::from_millis(500);
        loop {
            std::thread::sleep(delay);
            match db.migrate() {
                Ok(status) => {
                    log_migrations(&status);
                    return;
                }
                Err(DbError::Unavailable(_)) => delay = (delay * 2).min(Duration::from_secs(10)),
                Err(e) => {
                    log::error!("{e}; the server stays not ready until it is fixed and restarted");
                    return;
                }
            }
        }
    });
}
