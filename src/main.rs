//! `hotline`: the server and its command line. Reads the configuration, wires it into the
//! crates, and runs what was asked.
#![forbid(unsafe_code)]

mod config;
mod demo;
mod logging;
mod mail;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use std::sync::{Arc, OnceLock};

use persistence::vault::{load_key_ring, KeySource};
use persistence::{Database, DbError, Vault, VaultSettings};

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
    /// Manage the master keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Check the access log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print the access policy as the Markdown matrix of docs/access.md.
    Policy,
    /// Print the OpenAPI document of the HTTP API (docs/openapi.json).
    Openapi,
    /// Fill an empty database with clearly fake but realistic data to try the system: staff of
    /// every role (their passwords are printed), calls, and cases with notes, plans and consents.
    DemoData {
        /// Calls to log.
        #[arg(long, default_value_t = 400)]
        calls: usize,
        /// Cases to open (from calls of potential victims).
        #[arg(long, default_value_t = 40)]
        cases: usize,
        /// Seed of the generator, for the same data again.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// The mail outbox.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Statistics for sharing outside the organisation (k = stats.k_export).
    Stats {
        #[command(subcommand)]
        action: StatsAction,
    },
    /// Retention: erase personal data whose time is up (statistical fields stay).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// Referral housekeeping.
    Referrals {
        #[command(subcommand)]
        action: ReferralsAction,
    },
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user (the first admin on a fresh install, or anyone). The password is prompted
    /// for, or read from standard input with --password-stdin; never taken as an argument.
    Add {
        #[arg(long)]
        login: String,
        /// counselor, case_worker, supervisor, auditor, admin or partner
        #[arg(long)]
        role: String,
        /// The service provider organisation (partners only).
        #[arg(long)]
        organisation: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Where the user's notifications go (break-glass alerts, referral answers, lockouts).
        #[arg(long)]
        email: Option<String>,
        /// The language of their messages: uk or en.
        #[arg(long, default_value = "uk")]
        language: String,
    },
    /// Disable a user; their sessions end at once.
    Disable {
        #[arg(long)]
        login: String,
    },
    /// Remove a user's second factor (lost phone); they enrol again after their next login.
    ResetTotp {
        #[arg(long)]
        login: String,
    },
}

#[derive(Subcommand)]
enum StatsAction {
    /// Write every statistics table of a period (or HTCDS case records) to standard output.
    Export {
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (UTC), included.
        #[arg(long)]
        to: String,
        /// csv or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// tables (the aggregates) or htcds (k-anonymous case records in HTCDS columns).
        #[arg(long, default_value = "tables")]
        layout: String,
        /// Calls by day, week, month, quarter or year.
        #[arg(long, default_value = "month")]
        period: String,
    },
}

#[derive(Subcommand)]
enum RetentionAction {
    /// List what is due (--dry-run), or erase it (--apply).
    Run {
        /// List exactly what would be erased; change nothing.
        #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
        dry_run: bool,
        /// Erase it: shred the keys, clear the sealed fields, one audit event per record.
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Count pending, sent and failed messages.
    Status,
}

#[derive(Subcommand)]
enum ReferralsAction {
    /// Run the scheduled jobs now (`hotline serve` runs them every minute): expire referrals
    /// without an answer in time or whose consent expired, and queue due follow-up notices.
    RunJobs,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a new production key file (refuses to overwrite one).
    Init {
        /// Where to write it (mode 0600).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
    /// Data keys per master key version.
    Status,
    /// Add a new primary master key version and re-wrap every data key under it (resumable).
    Rotate {
        /// Data keys re-wrapped per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Destroy a master key version no data key uses any more.
    Retire { version: u32 },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Recompute every link of the access log and check every signed checkpoint.
    Verify {
        /// Start at this event id (trusting its stored predecessor hash).
        #[arg(long, value_name = "ID")]
        from: Option<i64>,
    },
    /// Write a signed checkpoint of the chain heads now.
    Checkpoint,
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

/// `hotline stats export`: every table of the period, protected with k = stats.k_export, or
/// HTCDS case records k-anonymous with the same k.
#[allow(clippy::too_many_arguments)]
fn stats_export(
    db: &Database,
    vault: &Vault,
    config: &Config,
    from: &str,
    to: &str,
    format: &str,
    layout: &str,
    period: &str,
) -> Result<(), String> {
    use persistence::stats::{
        count_table, htcds_records, Period, StatsQuery, HTCDS_COLUMNS, TABLES,
    };
    let day = |flag: &str, d: &str| -> Result<i64, String> {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros())
            .ok_or_else(|| format!("--{flag} must be a date as YYYY-MM-DD"))
    };
    let from_us = day("from", from)?;
    let to_us = day("to", to)? + 86_400_000_000;
    if from_us >= to_us {
        return Err("--to must not be before --from".into());
    }
    if !matches!(format, "csv" | "json") {
        return Err("--format must be csv or json".into());
    }
    let period =
        Period::parse(period).ok_or("--period must be day, week, month, quarter or year")?;
    let k = config.stats.k_export;
    let mut out = String::new();
    match layout {
        "tables" => {
            let mut all = Vec::new();
            for table in TABLES {
                let q = StatsQuery {
                    table: table.to_string(),
                    from: from_us,
                    to: to_us,
                    period,
                    by: "topic".into(),
                };
                let counted = db
                    .with_conn(|conn| count_table(conn, &q))
                    .map_err(|e| e.to_string())?;
                let published = domain::stats::protect(&counted, k);
                if format == "csv" {
                    out.push_str(&format!("# {table} (k = {k})\n"));
                    out.push_str(&published.to_csv(table));
                    out.push('\n');
                } else {
                    all.push(api::stats::published_json(table, &published));
                }
            }
            if format == "json" {
                out = serde_json::to_string_pretty(&serde_json::json!({
                    "from": from, "to": to, "k": k, "tables": all,
                }))
                .map_err(|e| e.to_string())?;
                out.push('\n');
            }
        }
        "htcds" => {
            let (records, left_out) = db
                .with_conn(|conn| htcds_records(conn, from_us, to_us, k as usize))
                .map_err(|e| e.to_string())?;
            if format == "csv" {
                let mut w = csv_line(HTCDS_COLUMNS.iter().map(|s| s.to_string()));
                for r in &records {
                    w.push_str(&csv_line(r.iter().cloned()));
                }
                out = w;
            } else {
                let rows: Vec<serde_json::Value> = records
                    .iter()
                    .map(|r| {
                        serde_json::Value::Object(
                            HTCDS_COLUMNS
                                .iter()
                                .zip(r)
                                .map(|(c, v)| (c.to_string(), serde_json::json!(v)))
                                .collect(),
                        )
                    })
                    .collect();
                out = serde_json::to_string_pretty(&serde_json::json!({
                    "from": from, "to": to, "k": k, "left_out": left_out, "records": rows,
                }))
                .map_err(|e| e.to_string())?;
                out.push('\n');
            }
            eprintln!(
                "{} case record(s); {left_out} left out to keep every group of at least {k}",
                records.len()
            );
        }
        _ => return Err("--layout must be tables or htcds".into()),
    }
    db.write(|conn| {
        vault.record(
            conn,
            &persistence::AuditEvent {
                fields: vec![layout.to_string()],
                ..persistence::AuditEvent::system("stats.export")
            },
        )
    })
    .map_err(|e| e.to_string())?;
    print!("{out}");
    Ok(())
}

fn csv_line(fields: impl Iterator<Item = String>) -> String {
    let mut line = fields
        .map(|f| domain::stats::csv_field(&f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// The UTC date `days` from today, as YYYY-MM-DD.
pub(crate) fn utc_date(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
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

fn serve(config: &Config, production: bool) -> Result<(), String> {
    let db = open_database(config)?;
    log::info!("database: {}", db.url().redacted());
    let vault_settings = config.vault_settings(production);
    // Keys first: a missing or wrong key stops the start, whatever the database's state.
    let (_, source) =
        load_key_ring(&vault_settings.keys_file, production).map_err(|e| e.to_string())?;
    warn_if_generated(source, &vault_settings.keys_file);
    let migrated = if !config.database.migrate_on_start {
        true
    } else if matches!(db.pending_migrations().as_deref(), Ok([])) {
        // Nothing to apply: skip the migration lock (and the rights it needs, which a
        // production role may not have).
        true
    } else {
        match db.migrate() {
            Ok(status) => {
                log_migrations(&status);
                true
            }
            // The database may simply not be up yet: serve anyway (not ready) and keep trying.
            Err(DbError::Unavailable(reason)) => {
                log::warn!("cannot migrate yet, will retry in the background: {reason}");
                false
            }
            Err(e) => return Err(format!("{e}; the server was not started")),
        }
    };
    let vault = if migrated {
        match Vault::open(&db, &vault_settings) {
            Ok((vault, _)) => Some(vault),
            Err(DbError::Unavailable(_)) => None,
            Err(e) => return Err(format!("{e}; the server was not started")),
        }
    } else {
        None
    };
    let slot: VaultSlot = Arc::new(OnceLock::new());
    if let Some(vault) = vault {
        let _ = slot.set(Arc::new(vault));
    }
    let maintenance = Maintenance::start(
        db.clone(),
        vault_settings,
        slot.clone(),
        !migrated,
        config.referral_settings(),
        (
            config.retention_settings(),
            Duration::from_secs(config.retention.run_every_minutes * 60),
        ),
    );
    let mailer = if config.mail.enabled {
        let settings = config.mail_settings().map_err(|e| e.to_string())?;
        log::info!(
            "mail: delivering the outbox through {}:{}",
            settings.host,
            settings.port
        );
        Some(mail::MailWorker::start(db.clone(), settings)?)
    } else {
        log::info!("mail: delivery is off (mail.enabled = false); messages wait in the outbox");
        None
    };
    let services = api::Services {
        db: db.clone(),
        vault: slot,
        auth: config.auth_settings(),
        tokens: config.token_settings(),
        calls: config.call_settings(),
        cases: config.case_settings(),
        referrals: config.referral_settings(),
        stats: config.stats_settings(),
        login_permits: tokio::sync::Semaphore::new(config.auth.max_concurrent_logins),
    };
    let settings = config.server_settings().map_err(|e| e.to_string())?;
    let served = actix_web::rt::System::new().block_on({
        async move {
            let (server, addrs) = api::start(&settings, services)
                .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
            let mut out = std::io::stdout().lock();
            for addr in &addrs {
                // One line per address; tests and scripts read the port chosen for :0 from it.
                let _ = writeln!(out, "listening on http://{addr}");
            }
            let _ = out.flush();
            drop(out);
            server.await.map_err(|e| format!("server error: {e}"))
        }
    });
    maintenance.stop();
    if let Some(m) = mailer {
        m.stop();
    }
    db.close(db.connect_timeout());
    served?;
    log::info!("stopped");
    Ok(())
}

fn log_migrations(status: &persistence::MigrationStatus) {
    if status.applied_now.is_empty() {
        log::info!("database schema is current");
    } else {
        log::info!("applied migrations: {}", status.applied_now.join(", "));
    }
}

/// The vault, shared by the HTTP handlers and the maintenance thread; empty until it opens.
type VaultSlot = Arc<OnceLock<Arc<Vault>>>;

/// The server's background duties: until the database answers, retry the start-up migrations
/// (readiness stays 503 until they succeed) and open the vault; then write audit checkpoints
/// when they are due.
struct Maintenance {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Maintenance {
    fn start(
        db: Database,
        settings: VaultSettings,
        vault: VaultSlot,
        migrate: bool,
        referrals: persistence::referrals::ReferralSettings,
        retention: (persistence::lifecycle::RetentionSettings, Duration),
    ) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut migrated = !migrate;
            // The scheduled jobs first run one interval after start (a restart loop must not
            // turn into a burst of jobs; `hotline retention run` and `hotline referrals
            // run-jobs` run them at once).
            let started = std::time::Instant::now();
            let mut last_jobs = started;
            let mut last_retention = started;
            let mut delay = Duration::from_millis(500);
            // Sleeps `delay`, or ends the loop when asked to stop.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(delay)
            {
                if !migrated {
                    match db.migrate() {
                        Ok(status) => {
                            log_migrations(&status);
                            migrated = true;
                        }
                        Err(DbError::Unavailable(_)) => {
                            delay = (delay * 2).min(Duration::from_secs(10));
                            continue;
                        }
                        Err(e) => {
                            log::error!(
                                "{e}; the server stays not ready until it is fixed and restarted"
                            );
                            return;
                        }
                    }
                }
                let Some(v) = vault.get() else {
                    match Vault::open(&db, &settings) {
                        Ok((v, _)) => {
                            let _ = vault.set(Arc::new(v));
                            delay = Duration::from_secs(1);
                        }
                        Err(DbError::Unavailable(_) | DbError::Migration(_)) => {
                            delay = (delay * 2).min(Duration::from_secs(10))
                        }
                        Err(e) => {
                            log::error!("cannot open the vault: {e}");
                            return;
                        }
                    }
                    continue;
                };
                delay = Duration::from_secs(1);
                if let Err(e) = v.checkpoint_if_due(&db) {
                    log::warn!("audit checkpoint not written: {e}");
                }
                if last_retention.elapsed() >= retention.1 {
                    last_retention = std::time::Instant::now();
                    match v.apply_retention(&db, &retention.0) {
                        Ok(r) if !r.items.is_empty() => {
                            log::info!("retention: {} record(s) erased", r.items.len())
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("retention: {e}"),
                    }
                }
                // Referral expiry and follow-up notices, once a minute.
                if last_jobs.elapsed() >= Duration::from_secs(60) {
                    last_jobs = std::time::Instant::now();
                    match v.run_referral_jobs(&db, &referrals, &utc_date(0)) {
                        Ok(r) if r != Default::default() => log::info!(
                            "referrals: {} expired unanswered, {} expired with their consent, {} follow-ups due",
                            r.expired_unanswered, r.expired_consent, r.follow_ups_due
                        ),
                        Ok(_) => {}
                        Err(e) => log::warn!("referral jobs: {e}"),
                    }
                }
            }
        });
        Maintenance { stop, thread }
    }

    /// Asks the thread to stop and waits for it to finish what it is doing.
    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn warn_if_generated(source: KeySource, path: &std::path::Path) {
    if source == KeySource::GeneratedForDevelopment {
        let line = "*".repeat(78);
        log::warn!("{line}");
        log::warn!(
            "generated a DEVELOPMENT master key file at {}",
            path.display()
        );
        log::warn!("it protects every record of this database: losing it loses them; never use it in production");
        log::warn!("{line}");
    }
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

fn keys_init(file: &std::path::Path) -> Result<(), String> {
    if file.exists() {
        return Err(format!(
            "{} exists; refusing to overwrite a key file",
            file.display()
        ));
    }
    let ring = crypto::keyring::KeyRing::generate(crypto::keyring::KeyEnvironment::Production)
        .map_err(|e| e.to_string())?;
    ring.save(file).map_err(|e| e.to_string())?;
    println!(
        "wrote a new production key file to {} (mode 0600)",
        file.display()
    );
    println!("keep a copy in a safe place apart from the database backups: without it no record can be read");
    Ok(())
}

fn keys(db: &Database, vault: &Vault, action: KeysAction) -> Result<(), String> {
    match action {
        // Handled before any database or vault is opened (see main).
        KeysAction::Init { file } => keys_init(&file),
        KeysAction::Status => {
            let s = vault.key_status(db).map_err(|e| e.to_string())?;
            println!("primary master key version: {}", s.primary);
            println!(
                "versions in the key file: {}",
                s.versions_in_file
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if s.data_keys.is_empty() {
                println!("data keys: none");
            }
            for (version, count) in &s.data_keys {
                println!("data keys wrapped under version {version}: {count}");
            }
            println!("data keys shredded: {}", s.shredded);
            Ok(())
        }
        KeysAction::Rotate { batch } => {
            let batch = batch.max(1);
            let mut out = std::io::stdout();
            let outcome = vault
                .rotate(db, batch, |done| {
                    let _ = writeln!(out, "re-wrapped {done} data keys");
                    let _ = out.flush();
                })
                .map_err(|e| e.to_string())?;
            println!(
                "{} master key version {}: {} data keys re-wrapped; retire the old version with `hotline keys retire` once backups made under it have expired",
                if outcome.resumed { "resumed and finished rotation to" } else { "rotated to" },
                outcome.version,
                outcome.rewrapped
            );
            vault.checkpoint(db).map_err(|e| e.to_string())?;
            Ok(())
        }
        KeysAction::Retire { version } => {
            vault.retire(db, version).map_err(|e| e.to_string())?;
            vault.checkpoint(db).map_err(|e| e.to_string())?;
            println!("master key version {version} destroyed");
            Ok(())
        }
    }
}

fn user(db: &Database, vault: &Vault, action: UserAction) -> Result<(), String> {
    use domain::identity::{Login, Role};
    let by = persistence::AuditEvent::system("cli");
    match action {
        UserAction::Add {
            login,
            role,
            organisation,
            password_stdin,
            email,
            language,
        } => {
            let login = Login::parse(&login).map_err(|m| format!("--login {m}"))?;
            let role = Role::parse(&role).ok_or(
                "--role must be one of counselor, case_worker, supervisor, auditor, admin, partner",
            )?;
            // Checked before the account exists, so a bad address leaves nothing behind.
            persistence::identity::check_contact(email.clone(), &language)
                .map_err(|e| e.to_string())?;
            let password = read_password(password_stdin)?;
            let id = vault
                .create_user(
                    db,
                    &login,
                    role,
                    organisation.as_deref(),
                    &password,
                    by.clone(),
                )
                .map_err(|e| e.to_string())?;
            if email.is_some() || language != "uk" {
                vault
                    .set_user_contact(db, &id, email, &language, by)
                    .map_err(|e| e.to_string())?;
            }
            println!("created {role} {} (id {id})", login.as_str());
            Ok(())
        }
        UserAction::ResetTotp { login } => {
            let login = Login::parse(&login).map_err(|m| format!("--login {m}"))?;
            vault
                .reset_totp(db, &login, by)
                .map_err(|e| e.to_string())?;
            println!(
                "second factor of {} removed; their sessions have ended",
                login.as_str()
            );
            Ok(())
        }
        UserAction::Disable { login } => {
            let login = Login::parse(&login).map_err(|m| format!("--login {m}"))?;
            vault
                .disable_user(db, &login, by)
                .map_err(|e| e.to_string())?;
            println!("disabled {}; their sessions have ended", login.as_str());
            Ok(())
        }
    }
}

/// A password from the first line of standard input, or typed twice at the terminal without
/// echo. Never from an argument (process lists are visible to every local user).
fn read_password(from_stdin: bool) -> Result<domain::Sensitive<String>, String> {
    use std::io::{BufRead, IsTerminal};
    let read_line = || -> Result<String, String> {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading the password: {e}"))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    };
    if from_stdin {
        return Ok(read_line()?.into());
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to prompt for the password on: use --password-stdin".into());
    }
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let prompt = |text: &str| -> Result<String, String> {
        eprint!("{text}");
        let hidden = stty("-echo");
        let line = read_line();
        if hidden {
            stty("echo");
        }
        eprintln!();
        line
    };
    let first = prompt("password: ")?;
    if prompt("again: ")? != first {
        return Err("the two passwords differ".into());
    }
    Ok(first.into())
}

fn audit(db: &Database, vault: &Vault, action: AuditAction) -> Result<(), String> {
    match action {
        AuditAction::Checkpoint => {
            match vault.checkpoint(db).map_err(|e| e.to_string())? {
                Some(_) => println!("checkpoint written"),
                None => println!("no new events since the last checkpoint"),
            }
            Ok(())
        }
        AuditAction::Verify { from } => {
            let report = vault.verify(db, from).map_err(|e| e.to_string())?;
            if report.ok() {
                println!(
                    "audit log intact: {} events and {} checkpoints checked",
                    report.events_checked, report.checkpoints_checked
                );
                return Ok(());
            }
            println!(
                "audit log BROKEN: {} events and {} checkpoints checked, {} problem(s)",
                report.events_checked,
                report.checkpoints_checked,
                report.problems.len()
            );
            if let Some(first) = report.first_problem() {
                println!("first broken: {first}");
            }
            for p in report.problems.iter().take(50) {
                println!("  {p}");
            }
            Err("the audit log failed verification".into())
        }
    }
}
