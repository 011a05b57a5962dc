//! Referrals, the provider directory, partners and mail, over HTTP on both databases, with a
//! real SMTP server on loopback.

use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::{call, staff_with, Staff, PASSWORD};
use crate::both;
use crate::support::http;
use crate::support::smtp::SmtpSink;
use crate::support::TestDb;
use persistence::testing::{execute, query_strings};

pub(crate) fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    let d = db.open();
    let out = query_strings(&d, sql).unwrap();
    d.close(Duration::from_secs(5));
    out
}

pub(crate) fn sql(db: &TestDb, statement: &str) {
    let d = db.open();
    execute(&d, statement).unwrap();
    d.close(Duration::from_secs(5));
}

pub(crate) fn ok(res: &http::Response, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.text());
    if res.text().is_empty() {
        Value::Null
    } else {
        res.json()
    }
}

/// Mail settings pointing at `port` on loopback, plain SMTP, quick retries.
fn mail_env(port: u16) -> Vec<(String, String)> {
    vec![
        ("HOTLINE__MAIL__ENABLED".into(), "true".into()),
        ("HOTLINE__MAIL__SMTP_PORT".into(), port.to_string()),
        ("HOTLINE__MAIL__TLS".into(), "none".into()),
        ("HOTLINE__MAIL__POLL_INTERVAL_MS".into(), "100".into()),
        ("HOTLINE__MAIL__RETRY_BASE_SECS".into(), "1".into()),
        ("HOTLINE__MAIL__RETRY_MAX_SECS".into(), "1".into()),
        ("HOTLINE__MAIL__TIMEOUT_SECS".into(), "3".into()),
        (
            "HOTLINE__MAIL__FROM".into(),
            "hotline <hotline@test.example.org>".into(),
        ),
    ]
}

fn staff_with_mail(db: &TestDb, port: u16) -> Staff {
    let env = mail_env(port);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    staff_with(db, &pairs)
}

/// The directory entry every test uses: the partner account's organisation.
pub(crate) fn add_shelter(staff: &Staff) -> (String, String) {
    let admin = &staff.tokens["admin"];
    ok(
        &call(
            &staff.server,
            admin,
            "PUT",
            "/api/v1/directory/organisations/shelter-1",
            Some(json!({
                "name": "Притулок «Надія»", "notification_email": "intake@shelter-1.example.org",
                "language": "en", "languages": ["uk", "en"], "regions": ["UA-46"],
                "intake_criteria": "Women 18+ and their children",
                "services": [
                    { "service_type": "shelter", "description": "Twenty beds, open day and night" },
                    { "service_type": "medical", "description": "A nurse on site" }
                ]
            })),
        ),
        204,
    );
    let dir = ok(
        &call(&staff.server, admin, "GET", "/api/v1/directory", None),
        200,
    );
    let services = dir["organisations"][0]["services"].as_array().unwrap();
    let id = |kind: &str| {
        services.iter().find(|s| s["service_type"] == kind).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    (id("shelter"), id("medical"))
}

/// A case of the case worker with a profile full of canaries; returns its id.
pub(crate) fn case_with_profile(staff: &Staff, canary: &str) -> String {
    let res = call(
        &staff.server,
        &staff.tokens["case_worker"],
        "POST",
        "/api/v1/cases",
        Some(json!({
            "gender": "female", "age_band": "21-23", "nationality": "MD",
            "profile": {
                "given_name": "Ana", "family_name": format!("{canary}-family"),
                "birth_date": "2003-05-01", "languages": ["ro", "uk"],
                "contact": { "phones": ["+380671234567"], "safe_contact": format!("{canary}-safe"),
                             "address": format!("{canary}-address") },
                "documents": [{ "kind": "passport", "number": format!("{canary}-doc"), "status": "withheld" }]
            },
            "needs_assessment": format!("{canary}-needs"),
        })),
    );
    ok(&res, 201)["id"].as_str().unwrap().to_string()
}

pub(crate) fn consent(
    staff: &Staff,
    case_id: &str,
    types: &[&str],
    expires: Option<&str>,
) -> String {
    let res = call(
        &staff.server,
        &staff.tokens["case_worker"],
        "POST",
        &format!("/api/v1/cases/{case_id}/consents"),
        Some(
            json!({ "purpose": "referral_sharing", "service_types": types, "expires_at": expires }),
        ),
    );
    ok(&res, 201)["id"].as_str().unwrap().to_string()
}

fn set_worker_email(staff: &Staff) {
    ok(
        &call(
            &staff.server,
            &staff.tokens["admin"],
            "POST",
            &format!("/api/v1/admin/users/{}/contact", staff.ids["case_worker"]),
            Some(json!({ "email": "Ivan@NGO.example.org", "language": "uk" })),
        ),
        204,
    );
}

pub(crate) fn post(staff: &Staff, role: &str, path: &str, body: Value) -> http::Response {
    call(&staff.server, &staff.tokens[role], "POST", path, Some(body))
}

pub(crate) fn get(staff: &Staff, role: &str, path: &str) -> http::Response {
    call(&staff.server, &staff.tokens[role], "GET", path, None)
}

both!(a_referral_from_consent_to_completion, |db: TestDb| {
    let sink = SmtpSink::start();
    let staff = staff_with_mail(&db, sink.addr.port());
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let (shelter, _) = add_shelter(&staff);
    set_worker_email(&staff);
    let case_id = case_with_profile(&staff, &canary);
    consent(&staff, &case_id, &["shelter"], None);

    // The draft shows exactly what would go: the shelter's fields, nothing else.
    let draft = ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/referrals"),
            json!({ "service_id": shelter, "safety_needs": format!("{canary}-arrives-late"), "follow_up_on": "2026-12-07" }),
        ),
        201,
    );
    assert_eq!(draft["status"], "draft");
    let packet = draft["packet"].as_object().unwrap();
    let mut keys: Vec<&str> = packet.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "age_band",
            "first_name",
            "gender",
            "languages",
            "safety_needs"
        ]
    );
    assert_eq!(packet["first_name"], "Ana");
    let text = draft.to_string();
    for secret in [
        "-family",
        "-safe",
        "-address",
        "-doc",
        "-needs",
        "+380",
        "2003-05-01",
        "MD",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} must not be in a shelter packet: {text}"
        );
    }
    let id = draft["id"].as_str().unwrap().to_string();
    // The partner sees nothing of a draft.
    assert_eq!(
        get(&staff, "partner", &format!("/api/v1/referrals/{id}")).status,
        404
    );
    assert_eq!(
        ok(&get(&staff, "partner", "/api/v1/referrals"), 200)["referrals"],
        json!([])
    );

    ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/referrals/{id}/send"),
            json!({ "version": 1 }),
        ),
        200,
    );
    assert_eq!(
        post(
            &staff,
            "case_worker",
            &format!("/api/v1/referrals/{id}/send"),
            json!({ "version": 2 })
        )
        .status,
        409,
        "sent once"
    );
    // The provider's notice arrives: a link and an opaque reference, in its language.
    let mail = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, vec!["intake@shelter-1.example.org"]);
    assert!(
        mail[0].text().contains(&format!("/referrals/{id}")) && !mail[0].text().contains("/api/"),
        "{}",
        mail[0].data
    );
    assert!(mail[0]
        .header("Subject")
        .unwrap()
        .contains("A new referral"));
    assert!(mail[0].header("Message-ID").unwrap().ends_with("@hotline>"));

    // The partner reads it (recorded), and answers.
    let incoming = ok(&get(&staff, "partner", "/api/v1/referrals"), 200);
    assert_eq!(incoming["referrals"][0]["id"], json!(id));
    assert_eq!(incoming["referrals"][0]["case_id"], Value::Null);
    let seen = ok(
        &get(&staff, "partner", &format!("/api/v1/referrals/{id}")),
        200,
    );
    assert_eq!(seen["packet"]["first_name"], "Ana");
    assert_eq!(seen["case_id"], Value::Null);
    assert_eq!(seen["case_reference"], Value::Null);
    assert_eq!(seen["consent_id"], Value::Null);
    let by_worker = ok(
        &get(&staff, "case_worker", &format!("/api/v1/referrals/{id}")),
        200,
    );
    assert!(
        by_worker["first_opened_at"].is_string(),
        "opened by the shelter on ..."
    );
    for (path, body, version) in [
        ("accept", json!({}), 2),
        ("start", json!({}), 3),
        (
            "complete",
            json!({ "outcome": format!("{canary}-outcome: housed") }),
            4,
        ),
    ] {
        let mut body = body;
        body["version"] = json!(version);
        ok(
            &post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/{path}"),
                body,
            ),
            200,
        );
    }
    // Completed: the packet is shredded; the outcome stays for the case worker.
    let done = ok(
        &get(&staff, "case_worker", &format!("/api/v1/referrals/{id}")),
        200,
    );
    assert_eq!(done["status"], "completed");
    assert_eq!(done["packet"], Value::Null);
    assert!(done["partner_note"].as_str().unwrap().ends_with("housed"));
    assert_eq!(
        get(&staff, "partner", &format!("/api/v1/referrals/{id}")).status,
        404,
        "no longer live"
    );
    assert_eq!(
        strings(&db, &format!("SELECT CAST(wrapped IS NULL AS TEXT) AS item FROM data_keys WHERE owner_id = '{id}'")),
        vec![if db.backend == persistence::Backend::Postgres { "true" } else { "1" }]
    );
    // The ledger says what the shelter received.
    assert_eq!(
        strings(&db, &format!("SELECT organisation_id || ':' || fields AS item FROM referral_ledger WHERE referral_id = '{id}'")),
        vec!["shelter-1:age_band,first_name,gender,languages,safety_needs"]
    );
    // The case worker heard of the acceptance, in Ukrainian.
    let mail = sink.wait_for(2, Duration::from_secs(20));
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[1].to, vec!["ivan@ngo.example.org"]);
    // Partner reads are in the access log with the rule that allowed them.
    let reads = strings(&db, &format!(
        "SELECT actor_role || ' ' || rule AS item FROM audit_events WHERE action = 'referral.read' AND record_id = '{id}' AND actor_role = 'partner' AND outcome = 'allowed'"
    ));
    assert_eq!(reads, vec!["partner partner_reads_live_referrals"]);
    // No mail carries anything personal.
    for m in sink.messages() {
        assert!(
            !m.data.contains(&canary) && !m.data.contains("Ana"),
            "{}",
            m.data
        );
    }
    assert!(staff.server.terminate().success());
});

both!(
    withdrawing_consent_revokes_the_referral_at_once,
    |db: TestDb| {
        let sink = SmtpSink::start();
        let staff = staff_with_mail(&db, sink.addr.port());
        let (shelter, _) = add_shelter(&staff);
        let case_id = case_with_profile(&staff, "CNRY-w");
        let consent_id = consent(&staff, &case_id, &["shelter"], None);
        let make = || {
            ok(
                &post(
                    &staff,
                    "case_worker",
                    &format!("/api/v1/cases/{case_id}/referrals"),
                    json!({ "service_id": shelter }),
                ),
                201,
            )["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (sent, draft) = (make(), make());
        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{sent}/send"),
                json!({ "version": 1 }),
            ),
            200,
        );
        ok(
            &get(&staff, "partner", &format!("/api/v1/referrals/{sent}")),
            200,
        );

        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/consents/{consent_id}/withdraw"),
                json!({}),
            ),
            204,
        );
        for id in [&sent, &draft] {
            let r = ok(
                &get(&staff, "case_worker", &format!("/api/v1/referrals/{id}")),
                200,
            );
            assert_eq!(r["status"], "revoked");
            assert_eq!(r["packet"], Value::Null, "the packet no longer opens");
        }
        assert_eq!(
            get(&staff, "partner", &format!("/api/v1/referrals/{sent}")).status,
            404
        );
        // The shelter that had the packet is told; nobody is told about the draft.
        let mail = sink.wait_for(2, Duration::from_secs(20));
        assert_eq!(mail.len(), 2, "{mail:?}");
        assert!(mail[1].header("Subject").unwrap().contains("withdrawn"));
        assert!(mail[1].text().contains(&sent) && !mail[1].text().contains(&draft));
        assert_eq!(
        strings(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM referral_ledger WHERE notice_sent_at IS NOT NULL"),
        vec!["1"]
    );
        // A new referral needs a new consent.
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/referrals"),
                json!({ "service_id": shelter })
            )
            .status,
            409
        );
        let revoked = strings(
            &db,
            "SELECT rule AS item FROM audit_events WHERE action = 'referral.revoke'",
        );
        assert_eq!(revoked, vec!["consent_withdrawn", "consent_withdrawn"]);
        assert!(staff.server.terminate().success());
    }
);

both!(expiry_jobs_and_due_follow_ups, |db: TestDb| {
    let staff = crate::auth::staff_for_tests(&db);
    let (shelter, _) = add_shelter(&staff);
    set_worker_email(&staff);
    let case_id = case_with_profile(&staff, "CNRY-e");
    consent(&staff, &case_id, &["shelter"], None);
    let second_case = case_with_profile(&staff, "CNRY-f");
    consent(
        &staff,
        &second_case,
        &["shelter"],
        Some("2099-01-01T00:00:00Z"),
    );
    let send = |case: &str, follow: &str| {
        let id = ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case}/referrals"),
                json!({ "service_id": shelter, "follow_up_on": follow }),
            ),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{id}/send"),
                json!({ "version": 1 }),
            ),
            200,
        );
        id
    };
    let unanswered = send(&case_id, "2020-01-01");
    let consent_ends = send(&second_case, "2199-01-01");
    // Overdue follow-ups are listed for their case worker.
    let due = ok(&get(&staff, "case_worker", "/api/v1/referrals/due"), 200);
    let due_ids: Vec<&str> = due["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(due_ids, vec![unanswered.as_str()]);
    assert_eq!(
        ok(&get(&staff, "supervisor", "/api/v1/referrals/due"), 200)["referrals"],
        json!([])
    );

    // Nothing is due yet.
    let (ran, out) = crate::auth::cli(&db, &["referrals", "run-jobs"], "");
    assert!(ran, "{out}");
    assert!(
        out.contains("expired without an answer: 0") && out.contains("follow-ups due: 1"),
        "{out}"
    );
    // Time passes: the answer window closes for one, the consent ends for the other.
    sql(
        &db,
        &format!("UPDATE referrals SET answer_due_at = 1 WHERE id = '{unanswered}'"),
    );
    sql(&db, "UPDATE case_consents SET expires_at = given_at + 1");
    let (ran, out) = crate::auth::cli(&db, &["referrals", "run-jobs"], "");
    assert!(ran, "{out}");
    assert!(
        out.contains("expired without an answer: 1")
            && out.contains("expired with their consent: 1"),
        "{out}"
    );
    assert!(
        out.contains("follow-ups due: 0"),
        "one notice per date: {out}"
    );
    for id in [&unanswered, &consent_ends] {
        let r = ok(
            &get(&staff, "case_worker", &format!("/api/v1/referrals/{id}")),
            200,
        );
        assert_eq!(r["status"], "expired");
        assert_eq!(r["packet"], Value::Null);
    }
    // The mail: two notices sent, one follow-up, two withdrawals (mail delivery is off here).
    let kinds = strings(
        &db,
        "SELECT kind AS item FROM mail_outbox ORDER BY created_at, kind",
    );
    assert_eq!(
        kinds,
        vec![
            "referral_sent",
            "referral_sent",
            "follow_up_due",
            "referral_withdrawn",
            "referral_withdrawn"
        ]
    );
    let (ran, out) = crate::auth::cli(&db, &["outbox", "status"], "");
    assert!(ran && out.contains("pending: 5"), "{out}");
    assert!(staff.server.terminate().success());
});

both!(
    consent_rules_packets_and_partners_are_enforced,
    |db: TestDb| {
        let staff = crate::auth::staff_for_tests(&db);
        let (shelter, medical) = add_shelter(&staff);
        let case_id = case_with_profile(&staff, "CNRY-c");
        let refer = |role: &str, body: Value| {
            post(
                &staff,
                role,
                &format!("/api/v1/cases/{case_id}/referrals"),
                body,
            )
        };
        // Another case's consent covers nothing here.
        let other = case_with_profile(&staff, "CNRY-o");
        consent(&staff, &other, &["shelter", "medical"], None);
        // No consent: refused, unless a supervisor overrides in writing (flagged).
        assert_eq!(
            refer("case_worker", json!({ "service_id": shelter })).status,
            409
        );
        let no = refer(
            "case_worker",
            json!({ "service_id": shelter, "override_justification": "urgent" }),
        );
        assert_eq!(no.status, 403, "{}", no.text());
        let forced = ok(
            &refer(
                "supervisor",
                json!({ "service_id": shelter, "override_justification": "She is in danger tonight" }),
            ),
            201,
        );
        assert_eq!(forced["overridden"], true);
        assert_eq!(forced["override_justification"], "She is in danger tonight");
        let flagged = strings(
            &db,
            "SELECT purpose AS item FROM audit_events WHERE action = 'referral.create'",
        );
        assert_eq!(flagged, vec!["consent_override"]);
        // A consent for shelters does not cover medical services; a shelter packet takes no health needs.
        consent(&staff, &case_id, &["shelter"], None);
        assert_eq!(
            refer("case_worker", json!({ "service_id": medical })).status,
            409
        );
        let wrong = refer(
            "case_worker",
            json!({ "service_id": shelter, "health_needs": "insulin" }),
        );
        assert_eq!(wrong.status, 422);
        assert!(wrong.json()["fields"]["health_needs"].is_string());
        assert_eq!(
            refer("case_worker", json!({ "service_id": "nope" })).status,
            422
        );
        assert_eq!(
            refer(
                "case_worker",
                json!({ "service_id": shelter, "follow_up_on": "soon" })
            )
            .status,
            422
        );
        // Others' cases and roles without the right see nothing.
        for role in ["counselor", "auditor", "admin", "partner"] {
            assert_eq!(
                refer(role, json!({ "service_id": shelter })).status,
                404,
                "{role}"
            );
        }
        // A partner of another organisation cannot see a live referral; the right partner can.
        let id = ok(&refer("case_worker", json!({ "service_id": shelter })), 201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{id}/send"),
                json!({ "version": 1 }),
            ),
            200,
        );
        let (made, out) = crate::auth::cli(
            &db,
            &[
                "user",
                "add",
                "--login",
                "other-partner",
                "--role",
                "partner",
                "--organisation",
                "lawyers-1",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(made, "{out}");
        let other = crate::auth::tokens(&crate::auth::login(
            &staff.server,
            "other-partner",
            PASSWORD,
        ))
        .0;
        assert_eq!(
            call(
                &staff.server,
                &other,
                "GET",
                &format!("/api/v1/referrals/{id}"),
                None
            )
            .status,
            404
        );
        assert_eq!(
            call(
                &staff.server,
                &other,
                "POST",
                &format!("/api/v1/referrals/{id}/accept"),
                Some(json!({ "version": 2 }))
            )
            .status,
            404
        );
        // Partners cannot do the hotline's moves, nor case workers the partner's.
        assert_eq!(
            post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/cancel"),
                json!({ "version": 2 })
            )
            .status,
            404
        );
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{id}/accept"),
                json!({ "version": 2 })
            )
            .status,
            404
        );
        // A decline needs its reason; stale versions and moves out of order are 409.
        assert_eq!(
            post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/decline"),
                json!({ "version": 2 })
            )
            .status,
            422
        );
        assert_eq!(
            post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/start"),
                json!({ "version": 2 })
            )
            .status,
            409
        );
        assert_eq!(
            post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/accept"),
                json!({ "version": 1 })
            )
            .status,
            409
        );
        ok(
            &post(
                &staff,
                "partner",
                &format!("/api/v1/referrals/{id}/decline"),
                json!({ "version": 2, "reason": "no free place" }),
            ),
            200,
        );
        let r = ok(
            &get(&staff, "case_worker", &format!("/api/v1/referrals/{id}")),
            200,
        );
        assert_eq!(
            (r["status"].as_str(), r["packet"].is_null()),
            (Some("declined"), true)
        );
        assert_eq!(
            post(
                &staff,
                "case_worker",
                &format!("/api/v1/referrals/{id}/cancel"),
                json!({ "version": 3 })
            )
            .status,
            409
        );
        let list = ok(
            &get(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{case_id}/referrals"),
            ),
            200,
        );
        assert_eq!(list["referrals"].as_array().unwrap().len(), 2);
        assert!(staff.server.terminate().success());
    }
);

both!(
    the_directory_is_searched_by_everyone_and_kept_by_admins,
    |db: TestDb| {
        let staff = crate::auth::staff_for_tests(&db);
        add_shelter(&staff);
        let admin = &staff.tokens["admin"];
        let s = &staff.server;
        let found = |role: &str, query: &str| -> Vec<String> {
            let res = get(&staff, role, &format!("/api/v1/directory{query}"));
            ok(&res, 200)["organisations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        };
        for role in crate::auth::ROLES {
            assert_eq!(
                found(role, "?service_type=shelter&region=UA-46"),
                vec!["shelter-1"],
                "{role}"
            );
        }
        assert_eq!(
            found("counselor", "?text=%D0%BD%D0%B0%D0%B4%D1%96%D1%8F"),
            vec!["shelter-1"],
            "Cyrillic, any case"
        );
        assert_eq!(found("counselor", "?text=NURSE%20site"), vec!["shelter-1"]);
        assert!(found("counselor", "?service_type=legal").is_empty());
        assert!(found("counselor", "?region=UA-30").is_empty());
        assert_eq!(
            get(&staff, "counselor", "/api/v1/directory?service_type=spa").status,
            422
        );
        assert_eq!(
            call(
                s,
                &staff.tokens["case_worker"],
                "PUT",
                "/api/v1/directory/organisations/x-1",
                Some(json!({ "name": "x", "services": [] }))
            )
            .status,
            403
        );
        let bad = call(
            s,
            admin,
            "PUT",
            "/api/v1/directory/organisations/Bad%20Id",
            Some(json!({ "name": "", "services": [] })),
        );
        assert_eq!(bad.status, 422);
        assert_eq!(
            bad.json()["fields"].as_object().unwrap().len(),
            3,
            "{}",
            bad.text()
        );

        // CSV: a file with one bad row changes nothing and names the line.
        let header = "organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description\n";
        let rows = "lawyers-1,Lawyers for all,help@lawyers.example.org,en,uk;en,UA-30;UA-46,Adults,true,legal,Free advice\n\
                clinic-1,Clinic,,uk,uk,UA-46,,true,medical,\"Check-ups, tests\"\n";
        let import = |body: String| {
            crate::support::http::request(
                s.addr,
                "POST",
                "/api/v1/directory/import",
                &[
                    ("Authorization", &format!("Bearer {admin}")),
                    ("Content-Type", "text/csv"),
                ],
                body.as_bytes(),
            )
        };
        let bad = import(format!(
            "{header}{rows}clinic-2,Clinic 2,,uk,uk,Kyiv,,true,medical,\n"
        ));
        assert_eq!(bad.status, 422, "{}", bad.text());
        assert!(
            bad.json()["fields"]["line 4"]
                .as_str()
                .unwrap()
                .starts_with("regions"),
            "{}",
            bad.text()
        );
        assert_eq!(found("admin", ""), vec!["shelter-1"], "nothing imported");
        let good = ok(&import(format!("{header}{rows}")), 200);
        assert_eq!(good["organisations"], 2);
        let mut all = found("admin", "");
        all.sort();
        assert_eq!(all, vec!["clinic-1", "lawyers-1", "shelter-1"]);
        // Export, and the export imports back unchanged.
        let export = crate::support::http::request(
            s.addr,
            "GET",
            "/api/v1/directory/export",
            &[("Authorization", &format!("Bearer {admin}"))],
            b"",
        );
        assert_eq!(export.status, 200);
        assert!(export
            .header("content-type")
            .unwrap()
            .starts_with("text/csv"));
        let csv = export.text();
        assert!(csv.starts_with(header.trim_end()));
        assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
        ok(&import(csv.clone()), 200);
        let again = crate::support::http::request(
            s.addr,
            "GET",
            "/api/v1/directory/export",
            &[("Authorization", &format!("Bearer {admin}"))],
            b"",
        );
        assert_eq!(again.text(), csv);
        assert_eq!(import(csv).status, 200);
        assert_eq!(
            get(&staff, "supervisor", "/api/v1/directory/export").status,
            403
        );
        assert!(staff.server.terminate().success());
    }
);

both!(
    mail_is_retried_while_the_server_is_down_and_never_repeated,
    |db: TestDb| {
        // A port nobody listens on yet.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let staff = staff_with_mail(&db, port);
        let (shelter, _) = add_shelter(&staff);
        set_worker_email(&staff);
        let case_id = case_with_profile(&staff, "CNRY-m");
        consent(&staff, &case_id, &["shelter"], None);
        for _ in 0..3 {
            let id = ok(
                &post(
                    &staff,
                    "case_worker",
                    &format!("/api/v1/cases/{case_id}/referrals"),
                    json!({ "service_id": shelter }),
                ),
                201,
            )["id"]
                .as_str()
                .unwrap()
                .to_string();
            ok(
                &post(
                    &staff,
                    "case_worker",
                    &format!("/api/v1/referrals/{id}/send"),
                    json!({ "version": 1 }),
                ),
                200,
            );
        }
        // The SMTP server is down: attempts are made and recorded, nothing is lost.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let tried = strings(
                &db,
                "SELECT CAST(COUNT(*) AS TEXT) AS item FROM mail_outbox WHERE attempts > 0",
            );
            if tried != vec!["0"] || std::time::Instant::now() > deadline {
                assert_ne!(tried, vec!["0"], "messages were tried");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let errors = strings(&db, "SELECT COALESCE(last_error, '') || ' ' || CAST(sent_at IS NULL AS TEXT) AS item FROM mail_outbox WHERE attempts > 0");
        assert!(
            !errors.is_empty() && errors.iter().all(|e| e.starts_with("unreachable ")),
            "{errors:?}"
        );
        // It comes up: everything is delivered, once.
        let sink = SmtpSink::start_on(port);
        let got = sink.wait_for(3, Duration::from_secs(30));
        assert_eq!(got.len(), 3, "{got:?}");
        // A restart of the hotline sends nothing again.
        assert!(staff.server.terminate().success());
        let env = mail_env(port);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let again = crate::auth::start_with(&db, &pairs);
        std::thread::sleep(Duration::from_millis(1500));
        let ids: Vec<String> = sink
            .messages()
            .iter()
            .map(|m| m.header("Message-ID").unwrap())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((ids.len(), unique.len()), (3, 3), "{ids:?}");
        let (ran, out) = crate::auth::cli(&db, &["outbox", "status"], "");
        assert!(
            ran && out.contains("pending: 0") && out.contains("sent: 3"),
            "{out}"
        );
        assert!(again.terminate().success());
    }
);

both!(
    a_locked_account_is_told_by_mail_in_its_language,
    |db: TestDb| {
        let staff = crate::auth::staff_for_tests(&db);
        ok(
            &call(
                &staff.server,
                &staff.tokens["admin"],
                "POST",
                &format!("/api/v1/admin/users/{}/contact", staff.ids["counselor"]),
                Some(json!({ "email": "olena@ngo.example.org", "language": "en" })),
            ),
            204,
        );
        let bad = call(
            &staff.server,
            &staff.tokens["admin"],
            "POST",
            &format!("/api/v1/admin/users/{}/contact", staff.ids["counselor"]),
            Some(json!({ "email": "CNRY-not an address", "language": "fr" })),
        );
        assert_eq!(bad.status, 422);
        assert!(!bad.text().contains("CNRY"));
        assert_eq!(bad.json()["fields"].as_object().unwrap().len(), 2);
        for _ in 0..10 {
            crate::auth::login(&staff.server, "counselor-user", "not the password at all");
        }
        let mail = strings(
            &db,
            &format!(
            "SELECT kind || '|' || subject AS item FROM mail_outbox WHERE recipient_user_id = '{}'",
            staff.ids["counselor"]
        ),
        );
        assert_eq!(mail, vec!["account_locked|Your account was locked"]);
        assert!(staff.server.terminate().success());
    }
);

// The case list names each case's next follow-up: the earliest due date of an open plan item
// or follow-up date of an open referral; a finished item or a cancelled referral no longer
// counts, an overdue date still does, and a case with nothing due has none.
both!(the_case_list_names_the_next_follow_up, |db: TestDb| {
    let staff = crate::auth::staff_for_tests(&db);
    let (shelter, _) = add_shelter(&staff);
    let busy = case_with_profile(&staff, "CNRY-next");
    let quiet = case_with_profile(&staff, "CNRY-quiet");
    consent(&staff, &busy, &["shelter"], None);
    let next_of = |case: &str| -> Value {
        let list = ok(&get(&staff, "case_worker", "/api/v1/cases"), 200);
        list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == case)
            .expect("the case is listed")["next_follow_up"]
            .clone()
    };
    let plan = |due: &str| {
        ok(
            &post(
                &staff,
                "case_worker",
                &format!("/api/v1/cases/{busy}/plan"),
                json!({ "domain": "housing", "goal": "a flat", "due_on": due }),
            ),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(next_of(&busy), Value::Null);
    plan("2027-03-01");
    let early = plan("2027-01-15");
    assert_eq!(next_of(&busy), "2027-01-15");
    let done = call(
        &staff.server,
        &staff.tokens["case_worker"],
        "PATCH",
        &format!("/api/v1/cases/{busy}/plan/{early}"),
        Some(json!({ "version": 1, "status": "achieved" })),
    );
    ok(&done, 200);
    assert_eq!(next_of(&busy), "2027-03-01", "an achieved item is not due");
    let referral = ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{busy}/referrals"),
            json!({ "service_id": shelter, "follow_up_on": "2026-01-02" }),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(next_of(&busy), "2026-01-02", "overdue, and first");
    ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/referrals/{referral}/cancel"),
            json!({ "version": 1 }),
        ),
        200,
    );
    assert_eq!(
        next_of(&busy),
        "2027-03-01",
        "a cancelled referral is not due"
    );
    assert_eq!(next_of(&quiet), Value::Null);
    assert!(staff.server.terminate().success());
});
