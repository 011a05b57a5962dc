//! The command line's shape: every command and option, parsed by clap.

use crate::*;

#[derive(Parser)]
#[command(
    name = "hotline",
    version,
    about = "Case management for an anti-trafficking and domestic-violence hotline"
)]
pub(crate) struct Cli {
    /// Directory holding default.toml and $HOTLINE_ENV.toml (also HOTLINE_CONFIG_DIR; default ./config when present).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum UserAction {
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
pub(crate) enum StatsAction {
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
pub(crate) enum RetentionAction {
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
pub(crate) enum OutboxAction {
    /// Count pending, sent and failed messages.
    Status,
}

#[derive(Subcommand)]
pub(crate) enum ReferralsAction {
    /// Run the scheduled jobs now (`hotline serve` runs them every minute): expire referrals
    /// without an answer in time or whose consent expired, and queue due follow-up notices.
    RunJobs,
}

#[derive(Subcommand)]
pub(crate) enum KeysAction {
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
pub(crate) enum AuditAction {
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
pub(crate) enum ConfigAction {
    /// Print the effective configuration (secrets as ***); exit 1 naming the offending key on error.
    Check,
}
