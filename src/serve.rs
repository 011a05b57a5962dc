//! `hotline serve`: the HTTP server, and its maintenance thread (start-up migrations retried until the database answers, the vault opened, audit checkpoints written when due).

use crate::*;

pub(crate) fn serve(config: &Config, production: bool) -> Result<(), String> {
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
        auth: config.auth_settings().map_err(|e| e.to_string())?,
        tokens: config.token_settings(),
        calls: config.call_settings(),
        cases: config.case_settings(),
        referrals: config.referral_settings(),
        stats: config.stats_settings(),
        retention: config.retention_settings(),
        web: config.web_settings(),
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

pub(crate) fn log_migrations(status: &persistence::MigrationStatus) {
    if status.applied_now.is_empty() {
        log::info!("database schema is current");
    } else {
        log::info!("applied migrations: {}", status.applied_now.join(", "));
    }
}

/// The vault, shared by the HTTP handlers and the maintenance thread; empty until it opens.
pub(crate) type VaultSlot = Arc<OnceLock<Arc<Vault>>>;

/// The server's background duties: until the database answers, retry the start-up migrations
/// (readiness stays 503 until they succeed) and open the vault; then write audit checkpoints
/// when they are due.
pub(crate) struct Maintenance {
    pub(crate) stop: std::sync::mpsc::Sender<()>,
    pub(crate) thread: std::thread::JoinHandle<()>,
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

pub(crate) fn warn_if_generated(source: KeySource, path: &std::path::Path) {
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
