//! The privacy lifecycle over HTTP and the CLI on both databases: retention, legal holds, the
//! subject access export, erasure under the two-person rule, and erasure reaching backups.

use serde_json::{json, Value};

use crate::auth::{call, staff_for_tests, Staff};
use crate::both;
use crate::referrals::{add_shelter, case_with_profile, consent, get, ok, post, sql, strings};
use crate::support::TestDb;

const YEAR_US: i64 = 365 * 24 * 3600 * 1_000_000;

fn new_call(staff: &Staff, canary: Option<&str>) -> String {
    let mut body = crate::calls::anonymous_call();
    if let Some(c) = canary {
        body["summary"] = json!(format!("{c}-summary"));
        body["caller_name"] = json!(format!("{c}-name"));
    }
    ok(&post(staff, "counselor", "/api/v1/calls", body), 201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn close(staff: &Staff, case_id: &str) {
    let file = ok(
        &get(staff, "supervisor", &format!("/api/v1/cases/{case_id}")),
        200,
    );
    ok(
        &call(
            &staff.server,
            &staff.tokens["supervisor"],
            "PATCH",
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({ "version": file["version"], "status": "Closed" })),
        ),
        200,
    );
}

/// Statistics that must survive erasure: counts by the clear fields.
fn statistics(db: &TestDb) -> Vec<String> {
    let mut out = strings(
        db,
        "SELECT topics || '/' || region || '/' || caller_gender || '/' || outcome || '=' || CAST(COUNT(*) AS TEXT) AS item FROM calls GROUP BY topics, region, caller_gender, outcome ORDER BY 1",
    );
    out.extend(strings(
        db,
        "SELECT status || '/' || gender || '/' || age_band || '/' || nationality || '=' || CAST(COUNT(*) AS TEXT) AS item FROM cases GROUP BY status, gender, age_band, nationality ORDER BY 1",
    ));
    out.extend(strings(
        db,
        "SELECT domain || '/' || status || '=' || CAST(COUNT(*) AS TEXT) AS item FROM case_plan_items GROUP BY domain, status ORDER BY 1",
    ));
    out
}

both!(
    retention_erases_exactly_what_is_due_and_keeps_statistics,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let old_call = new_call(&staff, Some("CNRY-ret-a"));
        let recent_call = new_call(&staff, Some("CNRY-ret-b"));
        let old_anonymous = new_call(&staff, None);
        let due = case_with_profile(&staff, "CNRY-ret-x");
        let recent = case_with_profile(&staff, "CNRY-ret-y");
        let held = case_with_profile(&staff, "CNRY-ret-z");
        let open = case_with_profile(&staff, "CNRY-ret-w");
        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{due}/plan"),
                json!({ "domain": "legal", "goal": "a goal" }),
            ),
            201,
        );
        for case in [&due, &recent, &held] {
            close(&staff, case);
        }
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{held}/legal-hold"),
                json!({ "reason": "court order 1/2" }),
            ),
            204,
        );
        assert_eq!(
            post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{held}/legal-hold"),
                json!({ "reason": "again" })
            )
            .status,
            409
        );
        // Time passes: two years for the old calls, six years since two closures.
        sql(&db, &format!("UPDATE calls SET started_at = started_at - {} WHERE id IN ('{old_call}', '{old_anonymous}')", 2 * YEAR_US));
        sql(
            &db,
            &format!(
                "UPDATE cases SET closed_at = closed_at - {} WHERE id IN ('{due}', '{held}')",
                6 * YEAR_US
            ),
        );
        let before = statistics(&db);

        let (ran, dry) = crate::auth::cli(&db, &["retention", "run", "--dry-run"], "");
        assert!(ran, "{dry}");
        let listed: Vec<&str> = dry
            .lines()
            .filter(|l| l.starts_with("would erase:"))
            .collect();
        assert_eq!(listed.len(), 2, "{dry}");
        assert!(listed.iter().any(|l| l.contains(&old_call)), "{dry}");
        assert!(listed.iter().any(|l| l.contains(&due)), "{dry}");
        assert!(
            dry.contains("skipped: case") && dry.contains("under a legal hold"),
            "{dry}"
        );
        // The dry run changed nothing.
        assert_eq!(
            ok(
                &get(&staff, "supervisor", &format!("/api/v1/calls/{old_call}")),
                200
            )["summary"],
            "CNRY-ret-a-summary"
        );

        let (ran, applied) = crate::auth::cli(&db, &["retention", "run", "--apply"], "");
        assert!(ran, "{applied}");
        assert_eq!(
            applied.lines().filter(|l| l.starts_with("erased:")).count(),
            2,
            "{applied}"
        );
        // Statistics survive erasure, exactly.
        assert_eq!(statistics(&db), before);
        let c = ok(
            &get(&staff, "supervisor", &format!("/api/v1/calls/{old_call}")),
            200,
        );
        assert_eq!(
            (c["summary"].clone(), c["caller_name"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(c["topics"], json!(["safe_migration", "trafficking_labour"]));
        let c = ok(
            &get(
                &staff,
                "supervisor",
                &format!("/api/v1/calls/{recent_call}"),
            ),
            200,
        );
        assert_eq!(c["summary"], "CNRY-ret-b-summary");
        let x = ok(
            &get(&staff, "supervisor", &format!("/api/v1/cases/{due}")),
            200,
        );
        assert_eq!(x["profile"], Value::Null);
        assert!(x["erased_at"].is_string());
        assert_eq!(
            (x["gender"].as_str(), x["nationality"].as_str()),
            (Some("female"), Some("MD"))
        );
        for case in [&recent, &held, &open] {
            let f = ok(
                &get(&staff, "supervisor", &format!("/api/v1/cases/{case}")),
                200,
            );
            assert!(
                f["profile"]["family_name"]
                    .as_str()
                    .unwrap()
                    .starts_with("CNRY-ret-"),
                "{case}"
            );
        }
        // An erased case takes no more changes.
        assert_eq!(
            post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{due}/notes"),
                json!({ "body": "x" })
            )
            .status,
            409
        );
        // Each shred is an audit event; a second run finds nothing.
        let shreds = strings(&db, "SELECT record_type || ' ' || rule AS item FROM audit_events WHERE action = 'vault.shred' ORDER BY id");
        assert_eq!(shreds, vec!["call retention_call", "case retention_case"]);
        let (_, again) = crate::auth::cli(&db, &["retention", "run", "--dry-run"], "");
        assert!(again.contains("0 record(s) would erase"), "{again}");
        // The hold is lifted: now it goes too, and erasure may be asked for.
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{held}/legal-hold/lift"),
                json!({}),
            ),
            204,
        );
        assert_eq!(
            post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{held}/legal-hold/lift"),
                json!({})
            )
            .status,
            409
        );
        let (_, after) = crate::auth::cli(&db, &["retention", "run", "--dry-run"], "");
        assert!(after.contains("1 record(s) would erase"), "{after}");
        // Only supervisors hold cases.
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{open}/legal-hold"),
                json!({ "reason": "x" })
            )
            .status,
            404
        );
        assert!(staff.server.terminate().success());
    }
);

/// A case with a canary in every personal field, a note edited once, a plan item, a consent,
/// a linked call and a sent referral. Returns (case id, canaries that must be exported,
/// third-party canaries that must not).
fn rich_case(staff: &Staff, shelter: &str, tag: &str) -> (String, Vec<String>, Vec<String>) {
    let c = |f: &str| format!("CNRY-{tag}-{f}");
    let case_id = case_with_profile(staff, &c("p"));
    let file = ok(
        &get(staff, "case_worker", &format!("/api/v1/cases/{case_id}")),
        200,
    );
    ok(
        &call(
            &staff.server,
            &staff.tokens["case_worker"],
            "PATCH",
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({
                "version": file["version"],
                "exploitation_details": format!("{} by [[{}]] at the border", c("details"), c("recruiter")),
            })),
        ),
        200,
    );
    let note = ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/notes"),
            json!({ "body": c("note1") }),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &call(
            &staff.server,
            &staff.tokens["case_worker"],
            "PUT",
            &format!("/api/v1/cases/{case_id}/notes/{note}"),
            Some(
                json!({ "revision": 1, "body": format!("{} met [[{}]]", c("note2"), c("employer")) }),
            ),
        ),
        200,
    );
    ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/plan"),
            json!({ "domain": "housing", "goal": c("goal"), "progress_note": c("progress") }),
        ),
        201,
    );
    let mut body = crate::calls::anonymous_call();
    body["summary"] = json!(c("callsummary"));
    body["caller_phone"] = json!("+380931112233");
    let call_id = ok(&post(staff, "counselor", "/api/v1/calls", body), 201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &call(
            &staff.server,
            &staff.tokens["case_worker"],
            "PUT",
            &format!("/api/v1/calls/{call_id}/case"),
            Some(json!({ "case_id": case_id })),
        ),
        204,
    );
    consent(staff, &case_id, &["shelter"], None);
    let r = ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/referrals"),
            json!({ "service_id": shelter, "safety_needs": c("safety") }),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/referrals/{r}/send"),
            json!({ "version": 1 }),
        ),
        200,
    );
    let exported = [
        "p-family",
        "p-safe",
        "p-address",
        "p-doc",
        "p-needs",
        "details",
        "note1",
        "note2",
        "goal",
        "progress",
        "callsummary",
    ]
    .iter()
    .map(|f| c(f))
    .collect();
    (case_id, exported, vec![c("recruiter"), c("employer")])
}

both!(
    the_export_holds_every_canary_of_its_case_and_no_other,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let (shelter, _) = add_shelter(&staff);
        let (mine, canaries, third) = rich_case(&staff, &shelter, "one");
        let (_, others, _) = rich_case(&staff, &shelter, "two");
        let res = post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{mine}/export"),
            json!({}),
        );
        let json_text = res.text();
        assert_eq!(res.status, 200, "{json_text}");
        assert!(res
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment"));
        let html = post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{mine}/export?format=html"),
            json!({}),
        );
        assert_eq!(html.status, 200);
        assert!(html
            .header("content-type")
            .unwrap()
            .starts_with("text/html"));
        let html = html.text();
        for text in [&json_text, &html] {
            for c in &canaries {
                assert!(text.contains(c.as_str()), "{c} missing from the export");
            }
            for c in others.iter().chain(&third) {
                assert!(!text.contains(c.as_str()), "{c} must not be in the export");
            }
            assert!(text.contains("[third party]"));
            assert!(text.contains("+380931112233"), "the linked call's phone");
        }
        let v: Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(v["notes"].as_array().unwrap().len(), 2, "every revision");
        // Every time is readable, the plan's progress notes' too.
        assert!(
            v["plan"][0]["progress"][0]["at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{}",
            v["plan"][0]["progress"][0]["at"]
        );
        assert_eq!(v["shared_with"][0]["organisation"], "shelter-1");
        assert!(v["shared_with"][0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("safety_needs")));
        // Audited as a subject access; others cannot export.
        let events = strings(&db, &format!("SELECT purpose AS item FROM audit_events WHERE action = 'case.export' AND record_id = '{mine}'"));
        assert_eq!(events, vec!["subject_access", "subject_access"]);
        for role in ["counselor", "auditor", "admin", "partner"] {
            assert_eq!(
                post(
                    &staff,
                    role,
                    &format!("/api/v1/cases/{mine}/export"),
                    json!({})
                )
                .status,
                404,
                "{role}"
            );
        }
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{mine}/export?format=pdf"),
                json!({})
            )
            .status,
            422
        );
        assert!(staff.server.terminate().success());
    }
);

both!(
    erasure_takes_two_people_and_leaves_no_canary,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let (shelter, _) = add_shelter(&staff);
        let (case_id, canaries, third) = rich_case(&staff, &shelter, "erase");
        let (_, keep, _) = rich_case(&staff, &shelter, "keep");
        let referral = ok(
            &get(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/referrals"),
            ),
            200,
        )["referrals"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &get(&staff, "partner", &format!("/api/v1/referrals/{referral}")),
            200,
        );

        // A hold blocks the request; lifted, the case worker asks.
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{case_id}/legal-hold"),
                json!({ "reason": "police inquiry" }),
            ),
            204,
        );
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/erasure"),
                json!({})
            )
            .status,
            409
        );
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/cases/{case_id}/legal-hold/lift"),
                json!({}),
            ),
            204,
        );
        let request = ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/erasure"),
                json!({}),
            ),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/erasure"),
                json!({})
            )
            .status,
            409,
            "one at a time"
        );
        // Only a supervisor decides, and never their own request.
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/erasure-requests/{request}/approve"),
                json!({})
            )
            .status,
            403
        );
        let listed = ok(
            &get(
                &staff,
                "supervisor",
                "/api/v1/erasure-requests?status=pending",
            ),
            200,
        );
        assert_eq!(listed["requests"][0]["id"], json!(request));
        let own = ok(
            &post(
                &staff,
                "supervisor",
                &format!(
                    "/api/v1/cases/{}/erasure",
                    case_with_profile(&staff, "CNRY-own")
                ),
                json!({}),
            ),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        let refused = post(
            &staff,
            "supervisor",
            &format!("/api/v1/erasure-requests/{own}/approve"),
            json!({}),
        );
        assert_eq!(refused.status, 403, "two-person rule: {}", refused.text());
        assert_eq!(
        strings(&db, "SELECT rule AS item FROM audit_events WHERE action = 'case.erasure.decide' AND outcome = 'denied'"),
        vec!["no_rule_allows", "two_person_rule"],
        "the case worker's attempt, then the requester's own approval"
    );
        let before = statistics(&db);
        // A different person approves: erased, irreversibly.
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/erasure-requests/{request}/approve"),
                json!({}),
            ),
            204,
        );
        assert_eq!(
            post(
                &staff,
                "supervisor",
                &format!("/api/v1/erasure-requests/{request}/approve"),
                json!({})
            )
            .status,
            409
        );
        let file = ok(
            &get(&staff, "supervisor", &format!("/api/v1/cases/{case_id}")),
            200,
        );
        assert_eq!(
            (file["profile"].clone(), file["notes"].clone()),
            (Value::Null, json!([]))
        );
        assert!(file["erased_at"].is_string());
        assert_eq!(
            get(&staff, "partner", &format!("/api/v1/referrals/{referral}")).status,
            404
        );
        let r = ok(
            &get(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{referral}"),
            ),
            200,
        );
        assert_eq!(
            (r["status"].as_str(), r["packet"].is_null()),
            (Some("revoked"), true)
        );
        assert_eq!(statistics(&db), before, "statistics survive");
        // The shelter that had the packet was told.
        let notices = strings(&db, &format!("SELECT kind AS item FROM mail_outbox WHERE body LIKE '%{referral}%' ORDER BY created_at"));
        assert_eq!(notices, vec!["referral_sent", "referral_withdrawn"]);
        // The export of an erased case holds nothing personal.
        let export = post(
            &staff,
            "supervisor",
            &format!("/api/v1/cases/{case_id}/export"),
            json!({}),
        )
        .text();
        assert!(
            canaries.iter().all(|c| !export.contains(c.as_str())),
            "{export}"
        );
        assert!(staff.server.terminate().success());

        // No canary of the erased case anywhere on disk; the other case's are sealed too.
        let mut all = canaries.clone();
        all.extend(third);
        let check = |what: &str, bytes: &[u8]| {
            crate::vault::assert_no_canary(what, bytes, "CNRY-erase-", &all);
            crate::vault::assert_no_canary(what, bytes, "CNRY-keep-", &keep);
        };
        match db.backend {
            persistence::Backend::Sqlite => {
                for file in ["hotline.sqlite3", "hotline.sqlite3-wal"] {
                    check(
                        file,
                        &std::fs::read(db.dir.path().join(file)).unwrap_or_default(),
                    );
                }
            }
            persistence::Backend::Postgres => {
                let (schema, base) = db.pg_schema().unwrap();
                let out = std::process::Command::new("pg_dump")
                    .args(["--schema", schema, "--format", "plain", "--dbname", base])
                    .output()
                    .expect("pg_dump");
                assert!(out.status.success());
                check("pg_dump", &out.stdout);
            }
        }
    }
);

both!(
    a_backup_from_before_an_erasure_stops_opening_once_the_old_key_is_retired,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let case_id = case_with_profile(&staff, "CNRY-backup");
        // The backup: a copy of the wrapped keys as they are now (what a dump or file copy holds).
        sql(
            &db,
            "CREATE TABLE backup_keys AS SELECT owner_id, dek_version, wrapped FROM data_keys",
        );
        let hex = match db.backend {
            persistence::Backend::Sqlite => "hex(wrapped)",
            persistence::Backend::Postgres => "encode(wrapped, 'hex')",
        };
        let backed_up = strings(&db, &format!("SELECT CAST(dek_version AS TEXT) || ':' || {hex} AS item FROM backup_keys WHERE owner_id = '{case_id}'"));
        let (version, wrapped) = backed_up[0].split_once(':').unwrap();
        let wrapped: Vec<u8> = (0..wrapped.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&wrapped[i..i + 2], 16).unwrap())
            .collect();
        let version: u32 = version.parse().unwrap();
        let keys = db.dir.path().join("master.keys");
        let opens = || {
            let (ring, _) = persistence::vault::load_key_ring(&keys, false).unwrap();
            crypto::envelope::DataKey::unwrap(&ring, &case_id, version, &wrapped).is_ok()
        };
        assert!(opens(), "the backup opens today");

        // Erase the case (two people), rotate the master key: the backup still opens...
        let request = ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/erasure"),
                json!({}),
            ),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &post(
                &staff,
                "supervisor",
                &format!("/api/v1/erasure-requests/{request}/approve"),
                json!({}),
            ),
            204,
        );
        assert!(staff.server.terminate().success());
        let (ran, out) = crate::auth::cli(&db, &["keys", "rotate"], "");
        assert!(ran, "{out}");
        assert!(
            opens(),
            "until the old version is retired, an old backup still opens"
        );
        // ...until the old version is retired after the backup retention period.
        let (ran, out) = crate::auth::cli(&db, &["keys", "retire", "1"], "");
        assert!(ran, "{out}");
        assert!(
            !opens(),
            "the backup's copy of the erased case no longer opens"
        );
        let (ran, out) = crate::auth::cli(&db, &["audit", "verify"], "");
        assert!(ran, "{out}");
    }
);
