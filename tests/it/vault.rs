//! The vault on both backends, attacked as someone with database access would: swapped and
//! flipped ciphertexts, shredding, blind indexes, concurrent audit writers, tampering with the
//! access log, and a master-key rotation killed half way.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crypto::CryptoError;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Text};
use persistence::audit::{AuditSettings, VerifyReport};
use persistence::testing::{execute, query_strings};
use persistence::vault::FieldContext;
use persistence::{
    AuditEvent, Backend, Database, DbConnection, DbError, Outcome, Vault, VaultSettings,
};

use crate::both;
use crate::support::server::command;
use crate::support::TestDb;

/// Vault settings for a test database: keys and checkpoints in its own directory.
pub fn settings(db: &TestDb, stripes: u32) -> VaultSettings {
    VaultSettings {
        keys_file: db.dir.path().join("master.keys"),
        production: false,
        blind_index_bits: 16,
        blind_index_expected_rows: 1_000_000,
        audit: AuditSettings {
            stripes,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            checkpoint_file: db.dir.path().join("checkpoints.log"),
        },
    }
}

pub fn open_vault(db: &TestDb, stripes: u32) -> (Database, Vault) {
    let d = db.open();
    d.migrate().expect("migrate");
    let (vault, _) = Vault::open(&d, &settings(db, stripes)).expect("open vault");
    (d, vault)
}

fn blob(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    }
}

/// A table of sealed values, as later record types will have.
fn create_sealed_table(d: &Database) {
    let b = blob(d.backend());
    execute(d, &format!("CREATE TABLE sealed (id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, name {b} NOT NULL, phone {b} NOT NULL)"))
        .unwrap();
}

fn ctx<'a>(field: &'a str, record: &'a str, owner: &'a str) -> FieldContext<'a> {
    FieldContext {
        table: "sealed",
        field,
        record_id: record,
        owner_id: owner,
    }
}

/// Stores a row of two sealed fields, creating the owner's data key if needed.
fn store(
    vault: &Vault,
    conn: &mut DbConnection,
    record: &str,
    owner: &str,
    name: &str,
    phone: &str,
) -> Result<(), DbError> {
    let dek = match vault.data_key(conn, owner) {
        Ok(k) => k,
        Err(DbError::NotFound) => vault.create_data_key(conn, "test_owner", owner)?,
        Err(e) => return Err(e),
    };
    diesel::sql_query("INSERT INTO sealed (id, owner, name, phone) VALUES ($1, $2, $3, $4)")
        .bind::<Text, _>(record)
        .bind::<Text, _>(owner)
        .bind::<Binary, _>(dek.seal(&ctx("name", record, owner), name.as_bytes())?)
        .bind::<Binary, _>(dek.seal(&ctx("phone", record, owner), phone.as_bytes())?)
        .execute(conn)?;
    vault.set_blind_index(conn, &ctx("phone", record, owner), Some(phone))?;
    Ok(())
}

#[derive(QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = Text)]
    owner: String,
    #[diesel(sql_type = Binary)]
    name: Vec<u8>,
    #[diesel(sql_type = Binary)]
    phone: Vec<u8>,
}

/// Opens both fields of a row, each in its own place.
fn load(vault: &Vault, d: &Database, record: &str) -> Result<(String, String), DbError> {
    d.read(|conn| {
        let row: SealedRow =
            diesel::sql_query("SELECT owner, name, phone FROM sealed WHERE id = $1")
                .bind::<Text, _>(record)
                .get_result(conn)?;
        let dek = vault.data_key(conn, &row.owner)?;
        let name = dek.open(&ctx("name", record, &row.owner), &row.name)?;
        let phone = dek.open(&ctx("phone", record, &row.owner), &row.phone)?;
        Ok((
            String::from_utf8_lossy(&name).into_owned(),
            String::from_utf8_lossy(&phone).into_owned(),
        ))
    })
}

fn integrity(result: Result<(String, String), DbError>) {
    match result {
        Err(DbError::Crypto(CryptoError::Integrity)) => {}
        other => panic!("expected an integrity failure, got {other:?}"),
    }
}

both!(sealed_values_open_only_in_their_own_place, |db: TestDb| {
    let (d, vault) = open_vault(&db, 2);
    create_sealed_table(&d);
    d.write(|c| {
        store(&vault, c, "r1", "owner-a", "Olena Koval", "+380441111111")?;
        store(
            &vault,
            c,
            "r2",
            "owner-b",
            "Iryna Shevchuk",
            "+380442222222",
        )?;
        store(&vault, c, "r3", "owner-a", "Mariia Bondar", "+380443333333")
    })
    .unwrap();
    assert_eq!(
        load(&vault, &d, "r1").unwrap(),
        ("Olena Koval".into(), "+380441111111".into())
    );

    // Nothing readable is stored.
    let raw = query_strings(
        &d,
        "SELECT id AS item FROM sealed WHERE name LIKE '%Olena%' OR phone LIKE '%380%'",
    );
    if let Ok(hits) = raw {
        assert!(
            hits.is_empty(),
            "plaintext found in the sealed table: {hits:?}"
        );
    }

    // Another owner's value moved into this row.
    execute(
        &d,
        "UPDATE sealed SET name = (SELECT name FROM sealed WHERE id = 'r2') WHERE id = 'r1'",
    )
    .unwrap();
    integrity(load(&vault, &d, "r1"));
    // Same owner, another record.
    execute(
        &d,
        "UPDATE sealed SET phone = (SELECT phone FROM sealed WHERE id = 'r1') WHERE id = 'r3'",
    )
    .unwrap();
    integrity(load(&vault, &d, "r3"));
    // Same row, the two fields swapped.
    d.write(|c| {
        store(&vault, c, "r4", "owner-b", "Name Four", "+380444444444")?;
        Ok(())
    })
    .unwrap();
    execute(
        &d,
        "UPDATE sealed SET name = phone, phone = name WHERE id = 'r4'",
    )
    .unwrap();
    integrity(load(&vault, &d, "r4"));
    // The row moved to another owner.
    d.write(|c| store(&vault, c, "r5", "owner-b", "Name Five", "+380445555555"))
        .unwrap();
    execute(&d, "UPDATE sealed SET owner = 'owner-a' WHERE id = 'r5'").unwrap();
    integrity(load(&vault, &d, "r5"));

    // One byte flipped, anywhere.
    d.write(|c| store(&vault, c, "r6", "owner-b", "Name Six", "+380446666666"))
        .unwrap();
    let row: SealedRow = d
        .read(|c| {
            Ok(
                diesel::sql_query("SELECT owner, name, phone FROM sealed WHERE id = 'r6'")
                    .get_result(c)?,
            )
        })
        .unwrap();
    for i in [0, 4, 9, row.name.len() / 2, row.name.len() - 1] {
        let mut bad = row.name.clone();
        bad[i] ^= 0x01;
        d.with_conn(|c| {
            Ok(
                diesel::sql_query("UPDATE sealed SET name = $1 WHERE id = 'r6'")
                    .bind::<Binary, _>(bad)
                    .execute(c)?,
            )
        })
        .unwrap();
        assert!(
            load(&vault, &d, "r6").is_err(),
            "a flipped byte {i} still opened"
        );
    }

    // Wrapped data keys swapped between owners: neither opens.
    execute(
        &d,
        "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE owner_id = 'owner-b') WHERE owner_id = 'owner-a'",
    )
    .unwrap();
    let err = d
        .read(|c| vault.data_key(c, "owner-a").map(drop))
        .unwrap_err();
    assert!(
        matches!(err, DbError::Crypto(CryptoError::Integrity)),
        "{err:?}"
    );
});

both!(shredding_erases_one_owner_and_nothing_else, |db: TestDb| {
    let (d, vault) = open_vault(&db, 2);
    create_sealed_table(&d);
    d.write(|c| {
        store(
            &vault,
            c,
            "r1",
            "victim",
            "CNRY-shred-name",
            "+380447777777",
        )?;
        store(&vault, c, "r2", "neighbour", "Neighbour", "+380448888888")
    })
    .unwrap();
    let wrapped_before = query_strings(
        &d,
        "SELECT owner_id AS item FROM data_keys WHERE wrapped IS NOT NULL",
    )
    .unwrap();
    assert_eq!(wrapped_before.len(), 2);
    let found = d
        .read(|c| vault.blind_index_candidates(c, "sealed", "phone", "+380447777777"))
        .unwrap();
    assert_eq!(found, vec![("victim".to_string(), "r1".to_string())]);

    let event = AuditEvent {
        actor_id: Some("supervisor-1".into()),
        actor_role: Some("supervisor".into()),
        ..Default::default()
    };
    assert!(d
        .write(|c| vault.shred(c, "victim", event.clone()))
        .unwrap());

    assert!(matches!(load(&vault, &d, "r1"), Err(DbError::Erased)));
    assert!(matches!(
        d.read(|c| vault.data_key(c, "victim").map(drop)),
        Err(DbError::Erased)
    ));
    assert_eq!(load(&vault, &d, "r2").unwrap().0, "Neighbour");
    assert!(d
        .read(|c| vault.blind_index_candidates(c, "sealed", "phone", "+380447777777"))
        .unwrap()
        .is_empty());
    assert_eq!(
        query_strings(&d, "SELECT owner_id AS item FROM blind_indexes").unwrap(),
        vec!["neighbour"]
    );
    assert_eq!(
        query_strings(
            &d,
            "SELECT owner_id AS item FROM data_keys WHERE wrapped IS NOT NULL"
        )
        .unwrap(),
        vec!["neighbour"]
    );
    // Once only; unknown owners are not found; the shred is in the access log.
    assert!(!d
        .write(|c| vault.shred(c, "victim", event.clone()))
        .unwrap());
    assert!(matches!(
        d.write(|c| vault.shred(c, "nobody", event.clone())),
        Err(DbError::NotFound)
    ));
    let actions = query_strings(
        &d,
        "SELECT action || ' ' || record_id AS item FROM audit_events",
    )
    .unwrap();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "vault.shred victim")
            .count(),
        2,
        "{actions:?}"
    );
    assert!(vault.verify(&d, None).unwrap().ok());

    // A rolled-back shred shreds nothing.
    let rolled_back: Result<(), DbError> = d.write(|c| {
        vault.shred(c, "neighbour", event.clone())?;
        Err(DbError::Refused("changed my mind".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(load(&vault, &d, "r2").unwrap().0, "Neighbour");
});

#[test]
fn sqlite_shredding_leaves_no_key_bytes_in_the_file() {
    let db = TestDb::sqlite();
    let (d, vault) = open_vault(&db, 1);
    create_sealed_table(&d);
    d.write(|c| store(&vault, c, "r1", "victim", "x", "+380447777777"))
        .unwrap();
    #[derive(QueryableByName)]
    struct W {
        #[diesel(sql_type = Binary)]
        wrapped: Vec<u8>,
    }
    let w: W = d
        .read(|c| Ok(diesel::sql_query("SELECT wrapped FROM data_keys").get_result(c)?))
        .unwrap();
    d.write(|c| vault.shred(c, "victim", AuditEvent::default()))
        .unwrap();
    execute(&d, "PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    for file in ["hotline.sqlite3", "hotline.sqlite3-wal"] {
        let bytes = std::fs::read(db.dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(w.wrapped.len())
                .any(|win| win == w.wrapped.as_slice()),
            "the shredded wrapped key is still in {file}"
        );
    }
}

both!(
    concurrent_audit_writers_through_two_pools_keep_every_chain_intact,
    |db: TestDb| {
        let (d1, v1) = open_vault(&db, 4);
        let d2 = db.open();
        let (v2, _) = Vault::open(&d2, &settings(&db, 4)).unwrap();
        let (v1, v2) = (Arc::new(v1), Arc::new(v2));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (d, v) = if t % 2 == 0 {
                    (d1.clone(), v1.clone())
                } else {
                    (d2.clone(), v2.clone())
                };
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let event = AuditEvent {
                            actor_id: Some(format!("user-{t}")),
                            action: "test.event".into(),
                            record_id: Some(i.to_string()),
                            ..Default::default()
                        };
                        // Half the writers append in their own transaction, half through
                        // the group commit of reads.
                        if t % 4 < 2 {
                            d.write(|c| v.record(c, &event)).expect("append");
                        } else {
                            v.record_durably(&d, event).expect("append");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        let count = query_strings(
            &d1,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events",
        )
        .unwrap();
        assert_eq!(count, vec!["16000"]);
        // Contiguous per chain, and the heads agree with the chains.
        let gaps = query_strings(
        &d1,
        "SELECT CAST(h.stripe AS TEXT) AS item FROM audit_heads h
         WHERE h.seq <> (SELECT COUNT(*) FROM audit_events e WHERE e.stripe = h.stripe)
            OR h.seq <> (SELECT COALESCE(MAX(stripe_seq), 0) FROM audit_events e WHERE e.stripe = h.stripe)",
    )
    .unwrap();
        assert!(gaps.is_empty(), "stripes with gaps or forks: {gaps:?}");
        v1.checkpoint(&d1).unwrap().expect("a checkpoint");
        let report = v2.verify(&d2, None).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.events_checked, 16000);
        assert_eq!(report.checkpoints_checked, 1);
    }
);

both!(
    a_batch_of_events_chains_like_events_appended_one_by_one,
    |db: TestDb| {
        // The group commit writes a batch of reads' events as one statement on PostgreSQL, the
        // links computed by the database: every size, every absent field, any text must give
        // the chain `verify` recomputes, between single appends on the same stripes.
        let (d, vault) = open_vault(&db, 2);
        let event = |n: usize| AuditEvent {
            actor_id: (!n.is_multiple_of(3)).then(|| format!("user-{n}")),
            actor_role: (!n.is_multiple_of(4)).then(|| "case_worker".to_string()),
            session_ref: (!n.is_multiple_of(5)).then(|| format!("s-{n:x}")),
            mfa: n.is_multiple_of(2),
            action: if n.is_multiple_of(7) {
                "case.list"
            } else {
                "case.read"
            }
            .into(),
            record_type: (!n.is_multiple_of(6)).then(|| "case".to_string()),
            record_id: (!n.is_multiple_of(6)).then(|| format!("case-ü'\\\"-{n}")),
            fields: (0..n % 4).map(|f| format!("field_{f}")).collect(),
            purpose: (n.is_multiple_of(8)).then(|| "break_glass".to_string()),
            outcome: if n.is_multiple_of(9) {
                persistence::Outcome::Denied
            } else {
                persistence::Outcome::Allowed
            },
            rule: (!n.is_multiple_of(10)).then(|| "assigned_case_worker".to_string()),
            source: (!n.is_multiple_of(11)).then(|| "p-1a2b".to_string()),
            request_id: (!n.is_multiple_of(12)).then(|| format!("{n:016x}")),
        };
        let mut total = 0;
        for size in [0usize, 1, 2, 3, 17, 512] {
            let events: Vec<AuditEvent> = (total..total + size).map(event).collect();
            persistence::testing::append_batch(&d, 2, &events).expect("batch");
            total += size;
            d.write(|c| vault.record(c, &event(total))).unwrap();
            total += 1;
        }
        let count = query_strings(
            &d,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events",
        )
        .unwrap();
        assert_eq!(count, vec![total.to_string()]);
        // Every event's values stored as given, in order along the chains.
        let stored = query_strings(
            &d,
            "SELECT COALESCE(record_id, '-') || '|' || fields || '|' || outcome AS item \
         FROM audit_events ORDER BY id",
        )
        .unwrap();
        assert!(
            stored.contains(&format!(
                "case-ü'\\\"-{}|field_0,field_1,field_2|allowed",
                523
            )),
            "{:?}",
            &stored[stored.len() - 3..]
        );
        let report = vault.verify(&d, None).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.events_checked as usize, total);
        let gaps = query_strings(
            &d,
            "SELECT CAST(h.stripe AS TEXT) AS item FROM audit_heads h \
         WHERE h.seq <> (SELECT COUNT(*) FROM audit_events e WHERE e.stripe = h.stripe)",
        )
        .unwrap();
        assert!(gaps.is_empty(), "stripes with gaps: {gaps:?}");
    }
);

both!(the_access_log_refuses_update_and_delete, |db: TestDb| {
    let (d, vault) = open_vault(&db, 1);
    d.write(|c| vault.record(c, &AuditEvent::system("test")))
        .unwrap();
    vault.checkpoint(&d).unwrap();
    for sql in [
        "UPDATE audit_events SET action = 'nothing happened'",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET body = 'x'",
        "DELETE FROM audit_checkpoints",
    ] {
        let err = execute(&d, sql).expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if d.backend() == Backend::Postgres {
        assert!(execute(&d, "TRUNCATE audit_events")
            .unwrap_err()
            .to_string()
            .contains("append-only"));
    }
    // A failed work transaction leaves no audit event behind (they commit together).
    let failed: Result<(), DbError> = d.write(|c| {
        vault.record(c, &AuditEvent::system("never committed"))?;
        Err(DbError::Refused("the work failed".into()))
    });
    assert!(failed.is_err());
    assert!(query_strings(
        &d,
        "SELECT action AS item FROM audit_events WHERE action = 'never committed'"
    )
    .unwrap()
    .is_empty());
    assert!(vault.verify(&d, None).unwrap().ok());
});

/// A populated log: 2 chains, 120 events, a checkpoint, then 30 more events.
fn populated(db: &TestDb) -> (Database, Vault) {
    let (d, vault) = open_vault(db, 2);
    let append = |n: usize| {
        for i in 0..n {
            let event = AuditEvent {
                actor_id: Some(format!("user-{}", i % 7)),
                actor_role: Some("case_worker".into()),
                action: "case.read".into(),
                record_type: Some("case".into()),
                record_id: Some(format!("case-{i}")),
                fields: vec!["victim.name".into(), "victim.phone".into()],
                outcome: if i % 11 == 0 {
                    Outcome::Denied
                } else {
                    Outcome::Allowed
                },
                ..Default::default()
            };
            d.write(|c| vault.record(c, &event)).unwrap();
        }
    };
    append(120);
    vault.checkpoint(&d).unwrap().expect("checkpoint");
    append(30);
    let report = vault.verify(&d, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.events_checked, 150);
    (d, vault)
}

/// Deletes one event in the middle of a chain behind the triggers' back (an attacker with the
/// database); its stripe and position.
pub(crate) fn delete_an_audit_event(db: &TestDb) -> (String, String) {
    let d = db.open();
    unlock(&d);
    let victim = query_strings(
        &d,
        "SELECT CAST(a.stripe AS TEXT) || ' ' || CAST(a.stripe_seq AS TEXT) AS item FROM audit_events a \
         WHERE a.stripe_seq > 1 AND EXISTS (SELECT 1 FROM audit_events b WHERE b.stripe = a.stripe AND b.stripe_seq = a.stripe_seq + 1) \
         ORDER BY a.id LIMIT 1",
    )
    .unwrap()
    .remove(0);
    let (stripe, seq) = victim.split_once(' ').unwrap();
    execute(
        &d,
        &format!("DELETE FROM audit_events WHERE stripe = {stripe} AND stripe_seq = {seq}"),
    )
    .unwrap();
    d.close(std::time::Duration::from_secs(5));
    (stripe.to_string(), seq.to_string())
}

pub(crate) fn unlock(d: &Database) {
    match d.backend() {
        Backend::Sqlite => execute(
            d,
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;
             DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete;",
        ),
        Backend::Postgres => execute(
            d,
            "ALTER TABLE audit_events DISABLE TRIGGER USER; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER;",
        ),
    }
    .unwrap();
}

fn one(d: &Database, sql: &str) -> String {
    query_strings(d, sql)
        .unwrap()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no row: {sql}"))
}

/// The event at (stripe, seq): its id.
fn id_at(d: &Database, stripe: i32, seq: i64) -> i64 {
    one(d, &format!("SELECT CAST(id AS TEXT) AS item FROM audit_events WHERE stripe = {stripe} AND stripe_seq = {seq}"))
        .parse()
        .unwrap()
}

fn broken(vault: &Vault, d: &Database) -> VerifyReport {
    let report = vault.verify(d, None).unwrap();
    assert!(!report.ok(), "tampering went unnoticed");
    report
}

both!(verify_names_an_altered_event, |db: TestDb| {
    let (d, vault) = populated(&db);
    unlock(&d);
    let victim = id_at(&d, 1, 17);
    execute(
        &d,
        &format!("UPDATE audit_events SET actor_id = 'someone-else' WHERE id = {victim}"),
    )
    .unwrap();
    let p = broken(&vault, &d).first_problem().cloned().unwrap();
    assert_eq!(
        (p.event_id, p.stripe, p.seq),
        (Some(victim), Some(1), Some(17)),
        "{p}"
    );
    assert!(p.message.contains("altered"), "{p}");
});

both!(verify_names_a_deleted_event, |db: TestDb| {
    let (d, vault) = populated(&db);
    unlock(&d);
    let victim = id_at(&d, 0, 9);
    execute(&d, &format!("DELETE FROM audit_events WHERE id = {victim}")).unwrap();
    let p = broken(&vault, &d).first_problem().cloned().unwrap();
    assert_eq!((p.stripe, p.seq), (Some(0), Some(9)), "{p}");
    assert!(p.message.contains("missing"), "{p}");
});

both!(verify_names_an_inserted_event, |db: TestDb| {
    let (d, vault) = populated(&db);
    unlock(&d);
    // Make room at stripe 0, #5 and put a forged event there.
    execute(&d, "UPDATE audit_events SET stripe_seq = stripe_seq + 1000000 WHERE stripe = 0 AND stripe_seq >= 5").unwrap();
    execute(&d, "UPDATE audit_events SET stripe_seq = stripe_seq - 999999 WHERE stripe = 0 AND stripe_seq >= 1000000").unwrap();
    let prev = one(
        &d,
        "SELECT CAST(id AS TEXT) AS item FROM audit_events WHERE stripe = 0 AND stripe_seq = 4",
    );
    execute(
        &d,
        &format!(
            "INSERT INTO audit_events (stripe, stripe_seq, occurred_at, action, fields, outcome, prev_hash, hash)
             SELECT 0, 5, occurred_at, 'case.read', '', 'allowed', hash, hash FROM audit_events WHERE id = {prev}"
        ),
    )
    .unwrap();
    let forged = id_at(&d, 0, 5);
    let p = broken(&vault, &d).first_problem().cloned().unwrap();
    assert_eq!(
        (p.event_id, p.stripe, p.seq),
        (Some(forged), Some(0), Some(5)),
        "{p}"
    );
});

both!(verify_names_reordered_events, |db: TestDb| {
    let (d, vault) = populated(&db);
    unlock(&d);
    // Swap #20 and #21 of stripe 1 (their places in the chain, not their ids).
    let (a, b) = (id_at(&d, 1, 20), id_at(&d, 1, 21));
    execute(
        &d,
        &format!("UPDATE audit_events SET stripe_seq = -1 WHERE id = {a}"),
    )
    .unwrap();
    execute(
        &d,
        &format!("UPDATE audit_events SET stripe_seq = 20 WHERE id = {b}"),
    )
    .unwrap();
    execute(
        &d,
        &format!("UPDATE audit_events SET stripe_seq = 21 WHERE id = {a}"),
    )
    .unwrap();
    let p = broken(&vault, &d).first_problem().cloned().unwrap();
    assert_eq!(
        (p.event_id, p.stripe, p.seq),
        (Some(b), Some(1), Some(20)),
        "{p}"
    );
});

both!(
    verify_detects_a_tail_truncated_behind_the_last_checkpoint,
    |db: TestDb| {
        let (d, vault) = populated(&db);
        unlock(&d);
        // The checkpoint covered stripe 0 up to #N. Cut the chain back to #N-10, fix the head so it
        // agrees, and remove the checkpoint from the table: only the file still knows.
        let body = one(&d, "SELECT body AS item FROM audit_checkpoints");
        let covered: i64 = body
            .lines()
            .find_map(|l| l.strip_prefix("stripe 0 "))
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let keep = covered - 10;
        execute(
            &d,
            &format!("DELETE FROM audit_events WHERE stripe = 0 AND stripe_seq > {keep}"),
        )
        .unwrap();
        execute(
        &d,
        &format!(
            "UPDATE audit_heads SET seq = {keep}, hash = (SELECT hash FROM audit_events WHERE stripe = 0 AND stripe_seq = {keep}) WHERE stripe = 0"
        ),
    )
    .unwrap();
        execute(&d, "DELETE FROM audit_checkpoints").unwrap();
        let report = broken(&vault, &d);
        let p = report.first_problem().cloned().unwrap();
        assert_eq!((p.stripe, p.seq), (Some(0), Some(covered)), "{p}");
        assert!(p.message.contains("truncated"), "{p}");

        // And a checkpoint whose signature was forged is refused.
        let path = db.dir.path().join("checkpoints.log");
        let text = std::fs::read_to_string(&path).unwrap();
        let last = text.trim_end().rsplit(' ').next().unwrap();
        let forged = text.replace(last, &"00".repeat(last.len() / 2));
        std::fs::write(&path, forged).unwrap();
        assert!(vault
            .verify(&d, None)
            .unwrap()
            .problems
            .iter()
            .any(|p| p.message.contains("signature")));
    }
);

both!(
    a_killed_rotation_resumes_and_everything_opens,
    |db: TestDb| {
        const KEYS: usize = 10_000;
        let (d, vault) = open_vault(&db, 4);
        create_sealed_table(&d);
        d.write(|c| {
            for i in 0..KEYS {
                let owner = format!("owner-{i:05}");
                let dek = vault.create_data_key(c, "test_owner", &owner)?;
                diesel::sql_query(
                    "INSERT INTO sealed (id, owner, name, phone) VALUES ($1, $2, $3, $4)",
                )
                .bind::<Text, _>(&owner)
                .bind::<Text, _>(&owner)
                .bind::<Binary, _>(
                    dek.seal(&ctx("name", &owner, &owner), format!("name {i}").as_bytes())?,
                )
                .bind::<Binary, _>(dek.seal(&ctx("phone", &owner, &owner), b"+380441234567")?)
                .execute(c)?;
            }
            Ok(())
        })
        .unwrap();
        let s = settings(&db, 4);
        let cli = |args: &[&str]| {
            let mut cmd = command(&db.url, db.dir.path());
            cmd.args(args)
                .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", &s.keys_file)
                .env("HOTLINE__AUDIT__CHECKPOINT_FILE", &s.audit.checkpoint_file)
                .env("HOTLINE__AUDIT__STRIPES", "4")
                .env("HOTLINE_LOG", "trace");
            cmd
        };

        // Start a rotation and kill -9 it once it has committed some batches.
        let mut child = cli(&["keys", "rotate", "--batch", "50"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("progress").expect("a line");
        assert!(first.starts_with("re-wrapped "), "{first}");
        Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap();
        let _ = child.wait();

        let status = vault.key_status(&d).unwrap();
        assert_eq!(status.primary, 2);
        let on = |v: i32| {
            status
                .data_keys
                .iter()
                .find(|(k, _)| *k == v)
                .map(|(_, n)| *n)
                .unwrap_or(0)
        };
        assert!(
            on(1) > 0 && on(2) > 0,
            "the kill did not land mid-way: {status:?}"
        );
        assert_eq!(on(1) + on(2), KEYS as i64);
        // Half-rotated: everything opens (this vault reloads the key file it did not write).
        for i in (0..KEYS).step_by(997) {
            assert_eq!(
                load(&vault, &d, &format!("owner-{i:05}")).unwrap().0,
                format!("name {i}")
            );
        }
        // Retiring the old version is refused while keys use it.
        let out = cli(&["keys", "retire", "1"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("still use master key version 1"));

        // Run it again: it resumes (no third version) and finishes.
        let out = cli(&["keys", "rotate", "--batch", "500"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("resumed and finished rotation to master key version 2"),
            "{stdout}"
        );
        let out = cli(&["keys", "retire", "1"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = vault.key_status(&d).unwrap();
        assert_eq!(status.versions_in_file, vec![2]);
        assert_eq!(status.data_keys, vec![(2, KEYS as i64)]);
        for i in 0..KEYS {
            let owner = format!("owner-{i:05}");
            assert_eq!(
                load(&vault, &d, &owner).unwrap().0,
                format!("name {i}"),
                "{owner}"
            );
        }

        // The CLI's own output, at trace level, never shows key material; the log verifies.
        let key_text = std::fs::read_to_string(&s.keys_file).unwrap();
        let out = cli(&["audit", "verify"]).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{all}");
        for line in key_text
            .lines()
            .filter(|l| l.starts_with("key ") || l.starts_with("index "))
        {
            let material = line.rsplit(' ').next().unwrap();
            assert!(!all.contains(&material[..24]), "key material in the output");
        }
        let actions =
            query_strings(&d, "SELECT action AS item FROM audit_events ORDER BY id").unwrap();
        for expected in ["keys.rotate", "keys.rewrap.done", "keys.retire"] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{expected} not audited: {actions:?}"
            );
        }
    }
);

#[test]
fn postgres_production_role_works_but_cannot_rewrite_history() {
    let Some(db) = TestDb::postgres("postgres_production_role_works_but_cannot_rewrite_history")
    else {
        return;
    };
    let (owner, _) = open_vault(&db, 2);
    let (schema, _) = db.pg_schema().unwrap();
    let role = format!("app_{}", crate::support::unique_suffix());
    // The grants exactly as docs/operations.md gives them.
    let docs =
        std::fs::read_to_string(crate::support::repo_root().join("docs/operations.md")).unwrap();
    let grants = docs
        .split("```sql")
        .map(|block| block.split("```").next().unwrap())
        .find(|block| block.contains("GRANT SELECT ON installation"))
        .expect("the grants block in docs/operations.md")
        .replace("hotline_app", &role);
    execute(
        &owner,
        &format!("CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {role};"),
    )
    .unwrap();
    execute(&owner, &grants).unwrap();
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let app_url = format!(
        "{scheme}://{role}@{}",
        rest.split_once('@').map(|(_, r)| r).unwrap_or(rest)
    );

    let result = std::panic::catch_unwind(|| {
        let app = crate::support::open(&app_url, 2);
        assert!(
            app.pending_migrations().unwrap().is_empty(),
            "the app role sees the schema as current"
        );
        let (vault, _) =
            Vault::open(&app, &settings(&db, 2)).expect("the app role opens the vault");
        app.write(|c| {
            let dek = vault.create_data_key(c, "test_owner", "o1")?;
            let _ = dek.seal(&ctx("name", "r1", "o1"), b"x")?;
            vault.set_blind_index(c, &ctx("phone", "r1", "o1"), Some("+380441234567"))?;
            vault.record(c, &AuditEvent::system("test.app_role"))?;
            vault.shred(c, "o1", AuditEvent::system("test"))
        })
        .unwrap();
        vault.checkpoint(&app).unwrap().expect("checkpoint");
        assert!(vault.verify(&app, None).unwrap().ok());
        for sql in [
            "UPDATE audit_events SET action = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "DELETE FROM audit_checkpoints",
            "DROP TRIGGER audit_events_no_update ON audit_events",
            "CREATE TABLE sneaky (id INT)",
        ] {
            let err = execute(&app, sql).expect_err(sql).to_string();
            assert!(
                err.contains("permission denied") || err.contains("must be owner"),
                "{sql}: {err}"
            );
        }
    });
    execute(&owner, &format!("DROP OWNED BY {role}; DROP ROLE {role};")).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The forms a leaked value could take in a file: as is, in other letter case, base64, hex and
/// UTF-16LE.
fn encodings(canary: &str) -> Vec<Vec<u8>> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let base64: String = canary
        .as_bytes()
        .chunks(3)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            (0..=c.len()).map(move |i| B64[(n >> (18 - 6 * i) & 63) as usize] as char)
        })
        .collect();
    vec![
        canary.as_bytes().to_vec(),
        canary.to_lowercase().into_bytes(),
        canary.to_uppercase().into_bytes(),
        base64.into_bytes(),
        crypto::random::hex(canary.as_bytes()).into_bytes(),
        canary.encode_utf16().flat_map(u16::to_le_bytes).collect(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// All canaries start with `prefix`: its encodings are searched first (one pass each), the
/// canaries themselves only where a prefix shows up. Base64 is cut to whole 3-byte groups, so
/// that the prefix encodes the same way at the start of every canary.
pub(crate) fn assert_no_canary(what: &str, haystack: &[u8], prefix: &str, canaries: &[String]) {
    assert!(canaries.iter().all(|c| c.starts_with(prefix)));
    let mut forms = encodings(prefix);
    forms[3] = encodings(&prefix[..prefix.len() / 3 * 3])[3].clone();
    for (i, form) in forms.iter().enumerate() {
        if contains(haystack, form) {
            for canary in canaries {
                assert!(
                    !contains(haystack, &encodings(canary)[i]),
                    "canary {canary} (encoding {i}) found in {what}"
                );
            }
        }
    }
}

both!(
    no_canary_reaches_the_database_files_or_a_dump,
    |db: TestDb| {
        let (d, vault) = open_vault(&db, 4);
        create_sealed_table(&d);
        let prefix = format!("CNRY-{}-", crate::support::unique_suffix());
        let canaries: Vec<String> = (0..200).map(|i| format!("{prefix}{i:03}")).collect();
        d.write(|c| {
            for (i, canary) in canaries.iter().enumerate() {
                let record = format!("r{i}");
                let owner = format!("owner-{}", i % 50);
                store(
                    &vault,
                    c,
                    &record,
                    &owner,
                    canary,
                    &format!("+38044{:07}", i),
                )?;
                vault.record(
                    c,
                    &AuditEvent {
                        record_id: Some(record),
                        fields: vec!["name".into()],
                        ..AuditEvent::system("case.read")
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
        // Everything opens: the canaries are really stored.
        assert_eq!(load(&vault, &d, "r7").unwrap().0, canaries[7]);
        // Shredding some owners must not leave their values behind anywhere either.
        d.write(|c| vault.shred(c, "owner-3", AuditEvent::system("test")))
            .unwrap();

        match db.backend {
            Backend::Sqlite => {
                for checkpoint in [false, true] {
                    if checkpoint {
                        execute(&d, "PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
                    }
                    for file in [
                        "hotline.sqlite3",
                        "hotline.sqlite3-wal",
                        "hotline.sqlite3-shm",
                    ] {
                        let bytes = std::fs::read(db.dir.path().join(file)).unwrap_or_default();
                        assert_no_canary(file, &bytes, &prefix, &canaries);
                    }
                }
            }
            Backend::Postgres => {
                let (schema, base) = db.pg_schema().unwrap();
                let out = std::process::Command::new("pg_dump")
                    .args(["--schema", schema, "--format", "plain", "--dbname", base])
                    .output()
                    .expect("pg_dump");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains("data_keys"),
                    "the dump is of the right schema"
                );
                assert_no_canary("pg_dump", &out.stdout, &prefix, &canaries);
            }
        }
        // The key file is not next to the data in production; here it is, and it holds no canary.
        assert_no_canary(
            "the key file",
            &std::fs::read(db.dir.path().join("master.keys")).unwrap(),
            &prefix,
            &canaries,
        );
    }
);

/// Every write appends its audit event; on PostgreSQL that must not cost a parse and a plan
/// per request, nor more than one statement. One pooled connection, two writes: the append is
/// one of the connection's prepared statements (diesel names only what it keeps), which locks
/// the head, inserts the event with the link the database computes, and moves the head; and
/// the chain it wrote verifies.
#[test]
fn postgres_keeps_the_audit_append_prepared() {
    let Some(db) = TestDb::postgres("postgres_keeps_the_audit_append_prepared") else {
        return;
    };
    let d = crate::support::open(&db.url, 1);
    d.migrate().expect("migrate");
    let (vault, _) = Vault::open(&d, &settings(&db, 2)).expect("open vault");
    for _ in 0..2 {
        d.write(|conn| vault.record(conn, &AuditEvent::system("test.prepared")))
            .unwrap();
    }
    let prepared =
        query_strings(&d, "SELECT statement AS item FROM pg_prepared_statements").unwrap();
    assert!(
        prepared.iter().any(|s| s.contains("FOR UPDATE")
            && s.contains("INSERT INTO audit_events")
            && s.contains("sha256(")
            && s.contains("UPDATE audit_heads SET seq")),
        "the append is not one prepared statement: {prepared:?}"
    );
    // A batch (the group commit of reads) is one statement whatever its size: one text,
    // prepared once.
    for size in [2, 5, 9] {
        let events = vec![AuditEvent::system("test.batch"); size];
        persistence::testing::append_batch(&d, 2, &events).unwrap();
    }
    let prepared =
        query_strings(&d, "SELECT statement AS item FROM pg_prepared_statements").unwrap();
    let batches = prepared
        .iter()
        .filter(|s| s.contains("WITH RECURSIVE") && s.contains("INSERT INTO audit_events"))
        .count();
    assert_eq!(batches, 1, "{prepared:?}");
    assert!(vault.verify(&d, None).unwrap().ok());
}
