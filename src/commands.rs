//! The command line's other commands: statistics export, keys, users and the audit log.

use crate::*;

/// `hotline stats export`: every table of the period, protected with k = stats.k_export, or
/// HTCDS case records k-anonymous with the same k.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stats_export(
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

pub(crate) fn csv_line(fields: impl Iterator<Item = String>) -> String {
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

pub(crate) fn keys_init(file: &std::path::Path) -> Result<(), String> {
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

pub(crate) fn keys(db: &Database, vault: &Vault, action: KeysAction) -> Result<(), String> {
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

pub(crate) fn user(db: &Database, vault: &Vault, action: UserAction) -> Result<(), String> {
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
pub(crate) fn read_password(from_stdin: bool) -> Result<domain::Sensitive<String>, String> {
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

pub(crate) fn audit(db: &Database, vault: &Vault, action: AuditAction) -> Result<(), String> {
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
