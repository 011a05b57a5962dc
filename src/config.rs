//! Configuration in layers: compiled-in defaults < CONFIG_DIR/default.toml <
//! CONFIG_DIR/$HOTLINE_ENV.toml < HOTLINE__SECTION__KEY < HOTLINE__SECTION__KEY_FILE.
//!
//! Every key must exist in the compiled-in defaults, so a typo anywhere is an error that names
//! the key instead of a setting silently ignored. Error messages never repeat a value: values may
//! be secrets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use persistence::{DatabaseUrl, DbSettings};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The defaults, compiled in.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Keys whose values are secrets: `config check` masks them.
const SECRET_KEYS: &[&str] = &["database.url", "mail.password"];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub crypto: CryptoConfig,
    pub audit: AuditConfig,
    pub auth: AuthConfig,
    pub calls: CallsConfig,
    pub cases: CasesConfig,
    pub referrals: ReferralsConfig,
    pub mail: MailConfig,
    pub retention: RetentionConfig,
    pub stats: StatsConfig,
    pub web: WebConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub quick_exit_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    pub counselor_window_hours: u64,
    pub default_country_code: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralsConfig {
    pub answer_within_days: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatsConfig {
    pub k_internal: u64,
    pub k_export: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    pub call_details_months: u64,
    pub case_years_after_closure: u64,
    pub audit_years: u64,
    pub run_every_minutes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub poll_interval_ms: u64,
    pub max_attempts: u32,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CasesConfig {
    pub break_glass_minutes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub access_token_secs: u64,
    pub session_idle_minutes: u64,
    pub session_absolute_hours: u64,
    pub lock_after_failures: u32,
    pub lock_minutes: u64,
    pub throttle_after_failures: u32,
    pub throttle_base_ms: u64,
    pub throttle_max_secs: u64,
    pub max_concurrent_logins: usize,
    pub totp_required_roles: Vec<String>,
    pub passkey_required_roles: Vec<String>,
    pub issuer: String,
    pub audience: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoConfig {
    pub master_keys_file: String,
    pub blind_index_bits: u32,
    pub blind_index_expected_rows: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub stripes: u32,
    pub checkpoint_every_events: u64,
    pub checkpoint_interval_secs: u64,
    pub checkpoint_file: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub workers: usize,
    pub body_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    pub public_url: String,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub busy_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &"***")
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{file}: line {line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
    #[error("unknown key `{key}` in {origin}")]
    UnknownKey { key: String, origin: String },
    #[error("key `{key}` in {origin}: {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
    #[error("{0}")]
    Io(String),
}

/// Where configuration comes from, gathered by the caller (so tests can pass their own).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config-dir` or `HOTLINE_CONFIG_DIR`; when unset, `./config` is read if it exists.
    pub config_dir: Option<PathBuf>,
    /// `HOTLINE_ENV`, `development` when unset.
    pub env_name: Option<String>,
    /// The process environment (only `HOTLINE__*` variables are looked at).
    pub vars: Vec<(String, String)>,
    /// `hotline serve --bind`, applied last.
    pub bind_override: Option<String>,
}

impl Sources {
    pub fn from_process(config_dir: Option<PathBuf>, bind_override: Option<String>) -> Self {
        Self {
            config_dir: config_dir
                .or_else(|| std::env::var_os("HOTLINE_CONFIG_DIR").map(PathBuf::from)),
            env_name: std::env::var("HOTLINE_ENV").ok().filter(|s| !s.is_empty()),
            vars: std::env::vars().collect(),
            bind_override,
        }
    }

    pub fn env_name(&self) -> &str {
        self.env_name.as_deref().unwrap_or("development")
    }
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut merged = parse(DEFAULTS, "the compiled-in defaults")?;
        let schema = merged.clone();

        let dir = match &sources.config_dir {
            Some(dir) if !dir.is_dir() => {
                return Err(ConfigError::Io(format!(
                    "config directory {} does not exist",
                    dir.display()
                )))
            }
            Some(dir) => Some(dir.clone()),
            None => Some(PathBuf::from("config")).filter(|d| d.is_dir()),
        };
        if let Some(dir) = dir {
            let env_name = sources.env_name();
            if env_name.is_empty()
                || !env_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ConfigError::Io(
                    "HOTLINE_ENV must be a plain name such as production".into(),
                ));
            }
            for file in [
                dir.join("default.toml"),
                dir.join(format!("{env_name}.toml")),
            ] {
                if file.is_file() {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| ConfigError::Io(format!("{}: {e}", file.display())))?;
                    let layer = parse(&text, &file.display().to_string())?;
                    merge_file(&mut merged, &schema, layer, &file)?;
                }
            }
        }

        apply_env(&mut merged, &schema, &sources.vars)?;
        if let Some(bind) = &sources.bind_override {
            set(&mut merged, "server", "bind", Value::String(bind.clone()));
        }

        let config =
            Config::deserialize(Value::Table(merged)).map_err(|e| ConfigError::Invalid {
                key: "(configuration)".into(),
                origin: "the merged configuration".into(),
                message: e.message().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            origin: "the merged configuration".into(),
            message: message.into(),
        };
        self.bind_addr()
            .map_err(|_| bad("server.bind", "not a socket address such as 127.0.0.1:8080"))?;
        if let Some(rest) = self.server.public_url.strip_prefix("http://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            let loopback =
                host == "localhost" || host.starts_with("127.") || rest.starts_with("[::1]");
            if !loopback {
                return Err(bad(
                    "server.public_url",
                    "plain http is only for a loopback address: the sign-in cookie needs https",
                ));
            }
        } else if !self.server.public_url.starts_with("https://") {
            return Err(bad(
                "server.public_url",
                "must start with https:// (or http:// on loopback)",
            ));
        }
        let exit = &self.web.quick_exit_url;
        if !exit.starts_with("https://") && !exit.starts_with("http://127.") {
            return Err(bad(
                "web.quick_exit_url",
                "must be an https:// address (http only on loopback, for tests)",
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(bad("server.body_limit_bytes", "must be at least 1024"));
        }
        DatabaseUrl::parse(&self.database.url).map_err(|e| bad("database.url", &e.to_string()))?;
        if self.database.pool_size == 0 {
            return Err(bad("database.pool_size", "must be at least 1"));
        }
        if self.database.connect_timeout_secs == 0 {
            return Err(bad("database.connect_timeout_secs", "must be at least 1"));
        }
        if self.crypto.master_keys_file.trim().is_empty() {
            return Err(bad("crypto.master_keys_file", "must name a file"));
        }
        crypto::blind_index::check_budget(
            self.crypto.blind_index_bits,
            self.crypto.blind_index_expected_rows,
        )
        .map_err(|e| bad("crypto.blind_index_bits", &e.to_string()))?;
        if !(1..=1024).contains(&self.audit.stripes) {
            return Err(bad("audit.stripes", "must be between 1 and 1024"));
        }
        if self.audit.checkpoint_every_events == 0 {
            return Err(bad("audit.checkpoint_every_events", "must be at least 1"));
        }
        if self.audit.checkpoint_file.trim().is_empty() {
            return Err(bad("audit.checkpoint_file", "must name a file"));
        }
        if !(1..=300).contains(&self.auth.access_token_secs) {
            return Err(bad("auth.access_token_secs", "must be between 1 and 300"));
        }
        if self.auth.session_idle_minutes == 0 || self.auth.session_absolute_hours == 0 {
            return Err(bad(
                "auth.session_idle_minutes",
                "session lifetimes must be at least 1",
            ));
        }
        if !(1..=100).contains(&self.auth.lock_after_failures) {
            return Err(bad("auth.lock_after_failures", "must be between 1 and 100"));
        }
        for (key, roles) in [
            ("auth.totp_required_roles", &self.auth.totp_required_roles),
            (
                "auth.passkey_required_roles",
                &self.auth.passkey_required_roles,
            ),
        ] {
            if roles
                .iter()
                .any(|r| domain::identity::Role::parse(r).is_none())
            {
                return Err(bad(key, "lists a role that does not exist"));
            }
        }
        persistence::identity::RelyingParty::new(&self.server.public_url)
            .map_err(|message| bad("server.public_url", message))?;
        if self.auth.max_concurrent_logins == 0 {
            return Err(bad("auth.max_concurrent_logins", "must be at least 1"));
        }
        let cc = &self.calls.default_country_code;
        if !(1..=3).contains(&cc.len())
            || !cc.bytes().all(|b| b.is_ascii_digit())
            || cc.starts_with('0')
        {
            return Err(bad(
                "calls.default_country_code",
                "must be a country calling code such as 380",
            ));
        }
        if self.mail.enabled {
            self.mail_settings()?;
        }
        if self.stats.k_internal < 2 || self.stats.k_export < self.stats.k_internal {
            return Err(bad(
                "stats.k_internal",
                "k_internal must be at least 2 and k_export at least k_internal",
            ));
        }
        if self.retention.call_details_months == 0
            || self.retention.case_years_after_closure == 0
            || self.retention.audit_years == 0
            || self.retention.run_every_minutes == 0
        {
            return Err(bad(
                "retention.call_details_months",
                "every retention period and run_every_minutes must be at least 1",
            ));
        }
        if !(1..=365).contains(&self.referrals.answer_within_days) {
            return Err(bad(
                "referrals.answer_within_days",
                "must be between 1 and 365",
            ));
        }
        if !(1..=24 * 60).contains(&self.cases.break_glass_minutes) {
            return Err(bad(
                "cases.break_glass_minutes",
                "must be between 1 and 1440 (a day)",
            ));
        }
        let url = &self.server.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            return Err(bad(
                "server.public_url",
                "must be an http:// or https:// address",
            ));
        }
        if self.log.level.trim().is_empty() {
            return Err(bad("log.level", "must not be empty"));
        }
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.server.bind.parse()
    }

    pub fn db_settings(&self) -> Result<DbSettings, persistence::DbError> {
        Ok(DbSettings {
            url: DatabaseUrl::parse(&self.database.url)?,
            pool_size: self.database.pool_size,
            connect_timeout: Duration::from_secs(self.database.connect_timeout_secs),
            busy_timeout: Duration::from_millis(self.database.busy_timeout_ms),
            statement_timeout: Duration::from_millis(self.database.statement_timeout_ms),
        })
    }

    pub fn vault_settings(&self, production: bool) -> persistence::VaultSettings {
        persistence::VaultSettings {
            keys_file: PathBuf::from(&self.crypto.master_keys_file),
            production,
            blind_index_bits: self.crypto.blind_index_bits,
            blind_index_expected_rows: self.crypto.blind_index_expected_rows,
            audit: persistence::audit::AuditSettings {
                stripes: self.audit.stripes,
                checkpoint_every: self.audit.checkpoint_every_events,
                checkpoint_interval: Duration::from_secs(self.audit.checkpoint_interval_secs),
                checkpoint_file: PathBuf::from(&self.audit.checkpoint_file),
            },
        }
    }

    /// The sign-in settings; the relying party of passkeys is `server.public_url` (checked).
    pub fn auth_settings(&self) -> Result<persistence::identity::AuthSettings, ConfigError> {
        let roles = |names: &[String]| -> Vec<domain::identity::Role> {
            names
                .iter()
                .filter_map(|r| domain::identity::Role::parse(r))
                .collect()
        };
        let relying_party = persistence::identity::RelyingParty::new(&self.server.public_url)
            .map_err(|message| ConfigError::Invalid {
                key: "server.public_url".into(),
                origin: "the merged configuration".into(),
                message: message.into(),
            })?;
        Ok(persistence::identity::AuthSettings {
            session_absolute: Duration::from_secs(self.auth.session_absolute_hours * 3600),
            session_idle: Duration::from_secs(self.auth.session_idle_minutes * 60),
            lock_after: self.auth.lock_after_failures,
            lock_for: Duration::from_secs(self.auth.lock_minutes * 60),
            totp_required: roles(&self.auth.totp_required_roles),
            totp_issuer: self.auth.issuer.clone(),
            passkey_required: roles(&self.auth.passkey_required_roles),
            relying_party,
            throttle_after: self.auth.throttle_after_failures,
            throttle_base: Duration::from_millis(self.auth.throttle_base_ms),
            throttle_max: Duration::from_secs(self.auth.throttle_max_secs),
        })
    }

    pub fn token_settings(&self) -> persistence::tokens::TokenSettings {
        persistence::tokens::TokenSettings {
            issuer: self.auth.issuer.clone(),
            audience: self.auth.audience.clone(),
            access_ttl: Duration::from_secs(self.auth.access_token_secs),
        }
    }

    pub fn call_settings(&self) -> persistence::calls::CallSettings {
        persistence::calls::CallSettings {
            counselor_window: Duration::from_secs(self.calls.counselor_window_hours * 3600),
            default_country_code: self.calls.default_country_code.clone(),
        }
    }

    /// The mail worker's settings (checked).
    pub fn mail_settings(&self) -> Result<crate::mail::MailSettings, ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            origin: "the merged configuration".into(),
            message: message.into(),
        };
        let m = &self.mail;
        let tls = crate::mail::TlsMode::parse(&m.tls)
            .ok_or_else(|| bad("mail.tls", "must be none, starttls or tls"))?;
        let from = m.from.parse().map_err(|_| {
            bad(
                "mail.from",
                "must be an address such as \"hotline <hotline@ngo.example.org>\"",
            )
        })?;
        if m.smtp_host.trim().is_empty() {
            return Err(bad("mail.smtp_host", "must not be empty"));
        }
        if m.max_attempts == 0 || m.poll_interval_ms == 0 || m.retry_base_secs == 0 {
            return Err(bad(
                "mail.max_attempts",
                "max_attempts, poll_interval_ms and retry_base_secs must be at least 1",
            ));
        }
        Ok(crate::mail::MailSettings {
            host: m.smtp_host.clone(),
            port: m.smtp_port,
            tls,
            username: m.username.clone(),
            password: m.password.clone(),
            from,
            poll_interval: Duration::from_millis(m.poll_interval_ms),
            max_attempts: m.max_attempts,
            retry_base: Duration::from_secs(m.retry_base_secs),
            retry_max: Duration::from_secs(m.retry_max_secs.max(m.retry_base_secs)),
            timeout: Duration::from_secs(m.timeout_secs.max(1)),
        })
    }

    /// The pages' settings. The session cookie is Secure whenever `server.public_url` is https;
    /// plain http is accepted only on a loopback address (checked in `validate`).
    pub fn web_settings(&self) -> api::WebSettings {
        api::WebSettings {
            secure_cookie: !self.server.public_url.starts_with("http://"),
            quick_exit_url: self.web.quick_exit_url.clone(),
        }
    }

    pub fn stats_settings(&self) -> api::stats::StatsSettings {
        api::stats::StatsSettings {
            k_internal: self.stats.k_internal,
            k_export: self.stats.k_export,
        }
    }

    pub fn retention_settings(&self) -> persistence::lifecycle::RetentionSettings {
        const DAY: u64 = 24 * 3600;
        persistence::lifecycle::RetentionSettings {
            call_details: Duration::from_secs(self.retention.call_details_months * 30 * DAY),
            case_after_closure: Duration::from_secs(
                self.retention.case_years_after_closure * 365 * DAY,
            ),
            audit_events: Duration::from_secs(self.retention.audit_years * 365 * DAY),
            public_url: self.server.public_url.clone(),
        }
    }

    pub fn referral_settings(&self) -> persistence::referrals::ReferralSettings {
        persistence::referrals::ReferralSettings {
            answer_within: Duration::from_secs(self.referrals.answer_within_days * 24 * 3600),
            public_url: self.server.public_url.clone(),
        }
    }

    pub fn case_settings(&self) -> persistence::cases::CaseSettings {
        persistence::cases::CaseSettings {
            break_glass_ttl: Duration::from_secs(self.cases.break_glass_minutes * 60),
            public_url: self.server.public_url.clone(),
        }
    }

    pub fn server_settings(&self) -> Result<api::ServerSettings, std::net::AddrParseError> {
        Ok(api::ServerSettings {
            bind: self.bind_addr()?,
            workers: self.server.workers,
            body_limit: self.server.body_limit_bytes,
            shutdown_timeout: Duration::from_secs(self.server.shutdown_timeout_secs),
        })
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_redacted_toml(&self) -> String {
        let mut value = match Value::try_from(self.clone()) {
            Ok(Value::Table(t)) => t,
            _ => return String::new(),
        };
        for key in SECRET_KEYS {
            let (section, name) = key.split_once('.').unwrap_or(("", key));
            if let Some(Value::Table(t)) = value.get_mut(section) {
                if let Some(v) = t.get_mut(name) {
                    *v = Value::String(match (*key, v.as_str()) {
                        ("database.url", Some(url)) => DatabaseUrl::parse(url)
                            .map(|u| u.redacted())
                            .unwrap_or_else(|_| "***".into()),
                        _ => "***".into(),
                    });
                }
            }
        }
        toml::to_string_pretty(&value).unwrap_or_default()
    }
}

fn parse(text: &str, file: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Syntax {
        file: file.to_string(),
        // Only the line number: toml's own rendering quotes the line, which may hold a secret.
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0),
        message: e.message().to_string(),
    })
}

fn set(table: &mut Table, section: &str, key: &str, value: Value) {
    if let Some(Value::Table(t)) = table.get_mut(section) {
        t.insert(key.to_string(), value);
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

/// Overlays a file on the merged table: every key must exist, with the type of its default.
fn merge_file(
    merged: &mut Table,
    schema: &Table,
    layer: Table,
    file: &Path,
) -> Result<(), ConfigError> {
    let source = file.display().to_string();
    for (section, value) in layer {
        let Some(Value::Table(known)) = schema.get(&section) else {
            return Err(ConfigError::UnknownKey {
                key: section,
                origin: source,
            });
        };
        let Value::Table(entries) = value else {
            return Err(ConfigError::Invalid {
                key: section,
                origin: source.clone(),
                message: "must be a table ([section])".into(),
            });
        };
        for (key, value) in entries {
            let name = format!("{section}.{key}");
            let Some(default) = known.get(&key) else {
                return Err(ConfigError::UnknownKey {
                    key: name,
                    origin: source,
                });
            };
            if std::mem::discriminant(default) != std::mem::discriminant(&value) {
                return Err(ConfigError::Invalid {
                    key: name,
                    origin: source.clone(),
                    message: format!("must be {}", type_name(default)),
                });
            }
            set(merged, &section, &key, value);
        }
    }
    Ok(())
}

/// Applies `HOTLINE__SECTION__KEY`, then `HOTLINE__SECTION__KEY_FILE`, variables.
fn apply_env(
    merged: &mut Table,
    schema: &Table,
    vars: &[(String, String)],
) -> Result<(), ConfigError> {
    let mut plain = BTreeMap::new();
    let mut from_file = BTreeMap::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("HOTLINE__") else {
            continue;
        };
        let unknown = || ConfigError::UnknownKey {
            key: rest.to_ascii_lowercase().replace("__", "."),
            origin: format!("environment variable {name}"),
        };
        let (section, key) = rest.split_once("__").ok_or_else(unknown)?;
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let known = |k: &str| {
            schema
                .get(&section)
                .and_then(Value::as_table)
                .and_then(|t| t.get(k))
                .is_some()
        };
        if known(&key) {
            plain.insert((section, key), (name.clone(), value.clone()));
        } else if let Some(base) = key.strip_suffix("_file").filter(|b| known(b)) {
            let base = base.to_string();
            let text = std::fs::read_to_string(value).map_err(|e| {
                ConfigError::Io(format!("{name}: cannot read the file it names: {e}"))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text).to_string();
            from_file.insert((section, base), (name.clone(), text));
        } else {
            return Err(unknown());
        }
    }
    for ((section, key), (name, raw)) in plain.into_iter().chain(from_file) {
        let default = &schema[&section][&key];
        let invalid = |what: &str| ConfigError::Invalid {
            key: format!("{section}.{key}"),
            origin: format!("environment variable {name}"),
            message: format!("must be {what}"),
        };
        let value = match default {
            Value::String(_) => Value::String(raw),
            Value::Integer(_) => {
                Value::Integer(raw.trim().parse().map_err(|_| invalid("an integer"))?)
            }
            Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| invalid("a number"))?),
            Value::Boolean(_) => Value::Boolean(match raw.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(invalid("true or false")),
            }),
            // Lists of strings: comma-separated.
            Value::Array(_) => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            other => return Err(invalid(type_name(other))),
        };
        set(merged, &section, &key, value);
    }
    Ok(())
}
