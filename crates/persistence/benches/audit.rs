//! Access-log figures on both databases (`make bench`): audit append throughput with 1 and 8
//! writers, and `audit verify` throughput over 1,000,000 events. PostgreSQL runs when
//! HOTLINE_TEST_POSTGRES_URL names a server (a fresh schema is created and dropped).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use persistence::audit::AuditSettings;
use persistence::testing::{bulk_audit_events, execute};
use persistence::{AuditEvent, Database, DatabaseUrl, DbSettings, Vault, VaultSettings};

const VERIFY_EVENTS: u64 = 1_000_000;

fn open(url: &str) -> Database {
    Database::open(&DbSettings {
        url: DatabaseUrl::parse(url).expect("url"),
        pool_size: 10,
        connect_timeout: Duration::from_secs(5),
        busy_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(600),
    })
    .expect("open")
}

fn vault(db: &Database, dir: &std::path::Path) -> Vault {
    db.migrate().expect("migrate");
    Vault::open(
        db,
        &VaultSettings {
            keys_file: dir.join("master.keys"),
            production: false,
            blind_index_bits: 16,
            blind_index_expected_rows: 1_000_000,
            audit: AuditSettings {
                stripes: 8,
                checkpoint_every: 1000,
                checkpoint_interval: Duration::from_secs(60),
                checkpoint_file: dir.join("checkpoints.log"),
            },
        },
    )
    .expect("vault")
    .0
}

fn appends(db: &Database, vault: &Arc<Vault>, writers: usize, per_writer: usize) -> f64 {
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (db, vault) = (db.clone(), vault.clone());
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    let event = AuditEvent {
                        actor_id: Some(format!("user-{w}")),
                        action: "case.read".into(),
                        record_type: Some("case".into()),
                        record_id: Some(i.to_string()),
                        ..Default::default()
                    };
                    db.write(|c| vault.record(c, &event)).expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    (writers * per_writer) as f64 / started.elapsed().as_secs_f64()
}

fn run(name: &str, url: &str, dir: &std::path::Path) {
    let db = open(url);
    let vault = Arc::new(vault(&db, dir));
    let one = appends(&db, &vault, 1, 2000);
    let eight = appends(&db, &vault, 8, 500);
    println!("{name}: audit append, one event per transaction: {one:.0}/s with 1 writer, {eight:.0}/s with 8 writers");

    let fill = Instant::now();
    bulk_audit_events(&db, &vault, VERIFY_EVENTS).expect("fill");
    let filled = fill.elapsed();
    vault.checkpoint(&db).expect("checkpoint");
    let started = Instant::now();
    let report = vault.verify(&db, None).expect("verify");
    let took = started.elapsed();
    assert!(report.ok(), "{:?}", report.problems.first());
    println!(
        "{name}: audit verify: {} events in {:.2} s ({:.0} events/s; generating them took {:.1} s)",
        report.events_checked,
        took.as_secs_f64(),
        report.events_checked as f64 / took.as_secs_f64(),
        filled.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let dir = std::env::temp_dir().join(format!("hotline-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    run(
        "sqlite",
        &format!("sqlite://{}", dir.join("bench.sqlite3").display()),
        &dir,
    );

    match std::env::var("HOTLINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        None => println!("postgres: skipped (set HOTLINE_TEST_POSTGRES_URL)"),
        Some(base) => {
            let schema = format!("bench_{}", std::process::id());
            let admin = open(&base);
            execute(&admin, &format!("CREATE SCHEMA {schema}")).expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let pg_dir: PathBuf = dir.join("pg");
            std::fs::create_dir_all(&pg_dir).expect("dir");
            run(
                "postgres",
                &format!("{base}{sep}options=-csearch_path%3D{schema}"),
                &pg_dir,
            );
            execute(&admin, &format!("DROP SCHEMA {schema} CASCADE")).expect("drop schema");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
