//! Victim case files over HTTP on both databases: a counselor's and a case worker's day, who may
//! see and change a case, break-glass, bad input, concurrency, and canaries.

use serde_json::{json, Value};

use crate::auth::{add_user, call, login, staff_for_tests, tokens, Staff, PASSWORD, ROLES};
use crate::both;
use crate::calls::anonymous_call;
use crate::support::http::{self, request};
use crate::support::TestDb;
use persistence::testing::{execute, query_strings};

fn count(db: &TestDb, sql: &str) -> i64 {
    let d = db.open();
    let n = query_strings(&d, sql).unwrap()[0].parse().unwrap();
    d.close(std::time::Duration::from_secs(5));
    n
}

fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    let d = db.open();
    let out = query_strings(&d, sql).unwrap();
    d.close(std::time::Duration::from_secs(5));
    out
}

fn ok(res: &http::Response, status: u16) -> Value {
    assert_eq!(res.status, status, "{}", res.text());
    if res.text().is_empty() {
        Value::Null
    } else {
        res.json()
    }
}

/// Opens a case as `token` with `body`; returns (id, reference).
fn open_case(staff: &Staff, token: &str, body: Value) -> (String, String) {
    let res = call(&staff.server, token, "POST", "/api/v1/cases", Some(body));
    let v = ok(&res, 201);
    (
        v["id"].as_str().unwrap().to_string(),
        v["reference"].as_str().unwrap().to_string(),
    )
}

fn get_case(staff: &Staff, token: &str, id: &str) -> http::Response {
    call(
        &staff.server,
        token,
        "GET",
        &format!("/api/v1/cases/{id}"),
        None,
    )
}

fn audit_events(db: &TestDb, action: &str, record: &str) -> Vec<String> {
    strings(
        db,
        &format!(
            "SELECT outcome || ' ' || COALESCE(fields, '') || ' ' || COALESCE(purpose, '') AS item \
             FROM audit_events WHERE action = '{action}' AND record_id = '{record}' ORDER BY id"
        ),
    )
}

both!(a_counselors_and_a_case_workers_day, |db: TestDb| {
    let staff = staff_for_tests(&db);
    let s = &staff.server;
    let counselor = &staff.tokens["counselor"];
    let case_worker = &staff.tokens["case_worker"];
    let supervisor = &staff.tokens["supervisor"];
    let canary = format!("CNRY-{}", crate::support::unique_suffix());

    // 09:00 an anonymous call; 09:30 the same woman calls again, this time from her phone.
    ok(
        &call(
            s,
            counselor,
            "POST",
            "/api/v1/calls",
            Some(anonymous_call()),
        ),
        201,
    );
    let mut second = anonymous_call();
    second["started_at"] = json!("2026-11-30T09:30:00Z");
    second["ended_at"] = json!("2026-11-30T09:50:00Z");
    second["caller_phone"] = json!("050 765 43 21");
    second["summary"] = json!(format!("{canary} summary: passport taken by employer"));
    let call_id = ok(
        &call(s, counselor, "POST", "/api/v1/calls", Some(second.clone())),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    second["started_at"] = json!("2026-11-30T10:30:00Z");
    second["ended_at"] = json!("2026-11-30T10:35:00Z");
    let third_call = ok(
        &call(s, counselor, "POST", "/api/v1/calls", Some(second)),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let repeat = ok(
        &call(
            s,
            counselor,
            "POST",
            "/api/v1/calls/lookup",
            Some(json!({ "phone": "+380507654321" })),
        ),
        200,
    );
    assert_eq!(repeat["calls"], 2, "{repeat}");

    // The counselor escalates: a case from the call, waiting in the supervisor's queue.
    let opened = ok(
        &call(
            s,
            counselor,
            "POST",
            &format!("/api/v1/calls/{call_id}/case"),
            Some(json!({ "risk_level": "high" })),
        ),
        201,
    );
    let case_id = opened["id"].as_str().unwrap().to_string();
    let reference = opened["reference"].as_str().unwrap().to_string();
    assert!(
        reference.len() == 11 && reference.as_bytes()[4] == b'-',
        "{reference}"
    );
    assert_eq!(
        call(
            s,
            counselor,
            "POST",
            &format!("/api/v1/calls/{call_id}/case"),
            Some(json!({}))
        )
        .status,
        409,
        "a call opens one case"
    );
    // The counselor cannot read the case; the repeat-caller lookup now names it.
    assert_eq!(get_case(&staff, counselor, &case_id).status, 404);
    let repeat = ok(
        &call(
            s,
            counselor,
            "POST",
            "/api/v1/calls/lookup",
            Some(json!({ "phone": "0507654321" })),
        ),
        200,
    );
    assert_eq!(repeat["case_ids"], json!([case_id]));

    // The supervisor's queue; assignment to the case worker.
    let queue = ok(
        &call(s, supervisor, "GET", "/api/v1/cases?assigned_to=none", None),
        200,
    );
    assert_eq!(queue["cases"][0]["id"], json!(case_id), "{queue}");
    let worker_id = staff.ids["case_worker"].clone();
    let v = ok(
        &call(
            s,
            supervisor,
            "POST",
            &format!("/api/v1/cases/{case_id}/assignment"),
            Some(json!({ "version": 1, "assigned_to": worker_id })),
        ),
        200,
    );
    assert_eq!(v["version"], 2);
    let mine = ok(&call(s, case_worker, "GET", "/api/v1/cases", None), 200);
    assert_eq!(mine["cases"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["cases"][0]["reference"], json!(reference));
    assert!(
        mine["cases"][0].get("profile").is_none(),
        "lists carry no content"
    );

    // Her 10:30 call belongs to the same case: the case worker links it.
    let link = |token: &str, case: &str| {
        call(
            s,
            token,
            "PUT",
            &format!("/api/v1/calls/{third_call}/case"),
            Some(json!({ "case_id": case })),
        )
    };
    assert_eq!(
        link(counselor, &case_id).status,
        404,
        "not a case the counselor may change"
    );
    assert_eq!(link(case_worker, "no-such-case").status, 404);
    assert_eq!(link(case_worker, &case_id).status, 204);
    assert_eq!(
        link(case_worker, &case_id).status,
        204,
        "linking again changes nothing"
    );

    // What the call carried over.
    let file = ok(&get_case(&staff, case_worker, &case_id), 200);
    assert_eq!(file["gender"], "female");
    assert_eq!(file["age_band"], "24-26");
    assert_eq!(file["exploitation_types"], json!(["forced_labour"]));
    assert_eq!(file["risk_level"], "high");
    assert_eq!(file["status"], "Active");
    assert_eq!(file["calls"][0]["id"], json!(call_id));
    assert_eq!(file["calls"][0]["outcome"], "case_opened");
    assert_eq!(file["calls"][1]["id"], json!(third_call));
    assert_eq!(file["profile"], Value::Null);

    // The profile, with safe-contact instructions travelling with the phone.
    let v = ok(
        &call(
            s,
            case_worker,
            "PATCH",
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({
                "version": 2,
                "nationality": "UA",
                "exploitation_countries": ["PL"],
                "nrm_status": "pending",
                "profile": {
                    "given_name": "Olena", "family_name": format!("{canary}-Family"),
                    "birth_date": "1999-04-12", "languages": ["uk", "pl"],
                    "contact": {
                        "phones": ["050 765 43 21"],
                        "safe_contact": format!("{canary} text only, never after 18:00")
                    },
                    "documents": [{ "kind": "passport", "status": "withheld" }]
                },
                "exploitation_details": format!("{canary} details"),
                "needs_assessment": format!("{canary} needs a shelter"),
            })),
        ),
        200,
    );
    assert_eq!(v["version"], 3);
    let file = ok(&get_case(&staff, case_worker, &case_id), 200);
    let contact = &file["profile"]["contact"];
    assert_eq!(contact["phones"], json!(["+380507654321"]));
    assert!(contact["safe_contact"]
        .as_str()
        .unwrap()
        .contains("never after 18:00"));
    assert_eq!(file["nationality"], "UA");

    // Notes: an edit keeps the earlier text.
    let note = ok(
        &call(
            s,
            case_worker,
            "POST",
            &format!("/api/v1/cases/{case_id}/notes"),
            Some(json!({ "body": format!("{canary} first contact went well") })),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A new note has no revision yet, and an empty one is no note: each refused by field,
    // and nothing written.
    for (bad, field) in [
        (json!({ "revision": 1, "body": "x" }), "revision"),
        (json!({ "body": "  " }), "body"),
    ] {
        let res = call(
            s,
            case_worker,
            "POST",
            &format!("/api/v1/cases/{case_id}/notes"),
            Some(bad),
        );
        assert_eq!(res.status, 422, "{}", res.text());
        assert!(res.json()["fields"].get(field).is_some(), "{}", res.text());
    }
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_notes WHERE case_id = '{case_id}'"
            )
        ),
        1
    );
    let note_path = format!("/api/v1/cases/{case_id}/notes/{note}");
    let edit = |revision: i64, body: &str| {
        call(
            s,
            case_worker,
            "PUT",
            &note_path,
            Some(json!({ "revision": revision, "body": body })),
        )
    };
    assert_eq!(
        ok(&edit(1, "corrected: first contact went well"), 200)["revision"],
        2
    );
    assert_eq!(edit(1, "a stale edit").status, 409);
    let history = ok(&call(s, case_worker, "GET", &note_path, None), 200);
    let revisions = history["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert!(revisions[0]["body"].as_str().unwrap().starts_with(&canary));
    assert_eq!(revisions[1]["body"], "corrected: first contact went well");
    // Only the author edits a note (the supervisor may read it).
    assert_eq!(
        call(
            s,
            supervisor,
            "PUT",
            &note_path,
            Some(json!({ "revision": 2, "body": "x" }))
        )
        .status,
        403
    );

    // The reintegration plan.
    let item = ok(
        &call(
            s,
            case_worker,
            "POST",
            &format!("/api/v1/cases/{case_id}/plan"),
            Some(json!({ "domain": "housing", "goal": format!("{canary} rent a flat"), "due_on": "2027-03-01" })),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let item_path = format!("/api/v1/cases/{case_id}/plan/{item}");
    let v = ok(
        &call(
            s,
            case_worker,
            "PATCH",
            &item_path,
            Some(
                json!({ "version": 1, "status": "achieved", "progress_note": "keys handed over" }),
            ),
        ),
        200,
    );
    assert_eq!(v["version"], 2);

    // Consent to share with a shelter and a lawyer; withdrawn the next week.
    let consent = ok(
        &call(
            s,
            case_worker,
            "POST",
            &format!("/api/v1/cases/{case_id}/consents"),
            Some(json!({
                "purpose": "referral_sharing", "service_types": ["shelter", "legal"],
                "scope": format!("{canary} first name and needs only"),
                "expires_at": "2099-01-01T00:00:00Z"
            })),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = ok(&get_case(&staff, case_worker, &case_id), 200);
    assert_eq!(file["notes"][0]["revision"], 2);
    assert_eq!(file["plan"][0]["status"], "achieved");
    assert!(file["plan"][0]["completed_at"].is_string());
    assert_eq!(file["plan"][0]["progress"][0]["text"], "keys handed over");
    assert_eq!(file["consents"][0]["live"], true);
    let withdraw = format!("/api/v1/cases/{case_id}/consents/{consent}/withdraw");
    ok(&call(s, case_worker, "POST", &withdraw, None), 204);
    assert_eq!(call(s, case_worker, "POST", &withdraw, None).status, 409);
    let file = ok(&get_case(&staff, case_worker, &case_id), 200);
    assert_eq!(file["consents"][0]["live"], false);
    assert!(file["consents"][0]["withdrawn_at"].is_string());

    // Search by name (any spelling of case and spaces) and by phone; only readable cases.
    for body in [
        json!({ "name": format!("  olena   {}-family ", canary.to_lowercase()) }),
        json!({ "phone": "+380 50 765 4321" }),
    ] {
        let found = ok(
            &call(s, case_worker, "POST", "/api/v1/cases/search", Some(body)),
            200,
        );
        assert_eq!(found["cases"].as_array().unwrap().len(), 1, "{found}");
        assert_eq!(found["cases"][0]["reference"], json!(reference));
    }
    add_user(&db, "other-worker", "case_worker");
    let other = tokens(&login(s, "other-worker", PASSWORD)).0;
    let found = ok(
        &call(
            s,
            &other,
            "POST",
            "/api/v1/cases/search",
            Some(json!({ "phone": "+380507654321" })),
        ),
        200,
    );
    assert_eq!(found["cases"], json!([]), "not her case worker");

    // Status: follow-up, closed, a move that is not allowed, reopened, closed as referred.
    let status = |version: i64, status: &str| {
        call(
            s,
            case_worker,
            "PATCH",
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({ "version": version, "status": status })),
        )
    };
    assert_eq!(ok(&status(3, "FollowUp"), 200)["version"], 4);
    assert_eq!(ok(&status(4, "Closed"), 200)["version"], 5);
    let closed = ok(&get_case(&staff, case_worker, &case_id), 200);
    assert!(closed["closed_at"].is_string());
    let refused = status(5, "FollowUp");
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert_eq!(status(5, "Closed").status, 409, "staying put is no move");
    assert_eq!(ok(&status(5, "Active"), 200)["version"], 6);
    assert_eq!(
        ok(&get_case(&staff, case_worker, &case_id), 200)["closed_at"],
        Value::Null
    );
    assert_eq!(ok(&status(6, "ClosedReferred"), 200)["version"], 7);
    assert_eq!(status(3, "Active").status, 409, "a stale version");

    // Every read and write left one event naming fields, never values.
    let reads = audit_events(&db, "case.read", &case_id);
    assert_eq!(reads.len(), 7, "{reads:?}");
    assert!(
        reads[0].starts_with("denied"),
        "the counselor's attempt: {reads:?}"
    );
    assert!(reads[2].contains("profile") && reads[2].contains("needs_assessment"));
    let all = strings(
        &db,
        &format!("SELECT action || ' ' || COALESCE(fields, '') AS item FROM audit_events WHERE record_id = '{case_id}'"),
    );
    assert!(all
        .iter()
        .all(|e| !e.contains(&canary) && !e.contains("Olena")));
    for action in [
        "case.create",
        "case.assign",
        "case.note.add",
        "case.note.edit",
        "case.note.history",
        "case.plan.add",
        "case.plan.update",
        "case.consent.add",
        "case.consent.withdraw",
    ] {
        let allowed: Vec<String> = audit_events(&db, action, &case_id)
            .into_iter()
            .filter(|e| e.starts_with("allowed"))
            .collect();
        assert_eq!(allowed.len(), 1, "{action}: {all:?}");
    }
    let updates = audit_events(&db, "case.update", &case_id);
    assert_eq!(
        updates.iter().filter(|e| e.starts_with("allowed")).count(),
        5,
        "{updates:?}"
    );
    assert_eq!(
        updates.iter().filter(|e| e.starts_with("denied")).count(),
        1,
        "the counselor's attempt to link a call: {updates:?}"
    );
    let search = strings(
        &db,
        "SELECT COALESCE(fields, '') AS item FROM audit_events WHERE action = 'case.search' ORDER BY id",
    );
    assert_eq!(search.len(), 3);
    assert!(search
        .iter()
        .all(|f| !f.contains("380") && !f.contains("olena")));
    assert!(s.log().lines().all(|l| !l.contains(&canary)));
    assert!(staff.server.terminate().success());
});

both!(
    case_access_follows_the_policy_for_every_role,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let s = &staff.server;
        let worker = &staff.tokens["case_worker"];
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let (case_id, reference) = open_case(
            &staff,
            worker,
            json!({ "profile": { "given_name": canary, "contact": { "phones": ["+380671112233"] } } }),
        );
        add_user(&db, "other-worker", "case_worker");
        let other = tokens(&login(s, "other-worker", PASSWORD)).0;
        let missing = "0123456789abcdef0123456789abcdef";

        // Own, other and non-existent cases, for every role: read, change, and the notes.
        let expect_read = |role: &str| matches!(role, "case_worker" | "supervisor");
        let mut version = 1;
        let denied_before = count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied'",
        );
        for (who, token) in ROLES
            .iter()
            .map(|r| (*r, staff.tokens[r].as_str()))
            .chain([("other_worker", other.as_str())])
        {
            let read = get_case(&staff, token, &case_id);
            let nothing = get_case(&staff, token, missing);
            assert_eq!(nothing.status, 404);
            if expect_read(who) {
                assert_eq!(read.status, 200, "{who}");
                let res = call(
                    s,
                    token,
                    "PATCH",
                    &format!("/api/v1/cases/{case_id}"),
                    Some(json!({ "version": version, "risk_level": "low" })),
                );
                assert_eq!(res.status, 200, "{who}: {}", res.text());
                version += 1;
            } else {
                // Not visible and not there look the same.
                assert_eq!(read.status, 404, "{who}");
                assert_eq!(read.json()["error"], nothing.json()["error"]);
                for (method, path, body) in [
                    (
                        "PATCH",
                        format!("/api/v1/cases/{case_id}"),
                        json!({ "version": version, "risk_level": "low" }),
                    ),
                    (
                        "POST",
                        format!("/api/v1/cases/{case_id}/notes"),
                        json!({ "body": "not mine" }),
                    ),
                    (
                        "POST",
                        format!("/api/v1/cases/{case_id}/assignment"),
                        json!({ "version": version, "assigned_to": null }),
                    ),
                ] {
                    let res = call(s, token, method, &path, Some(body));
                    assert_eq!(res.status, 404, "{who} {method} {path}");
                }
            }
            // Only the assigned case worker and supervisors list cases; the list is their own.
            let list = call(s, token, "GET", "/api/v1/cases", None);
            match who {
                "case_worker" | "supervisor" => {
                    assert_eq!(list.json()["cases"].as_array().unwrap().len(), 1)
                }
                "other_worker" => assert_eq!(list.json()["cases"], json!([])),
                _ => assert_eq!(list.status, 403, "{who}"),
            }
        }
        // Only supervisors assign.
        assert_eq!(
            call(
                s,
                &staff.tokens["supervisor"],
                "POST",
                &format!("/api/v1/cases/{case_id}/assignment"),
                Some(json!({ "version": version, "assigned_to": staff.ids["counselor"] })),
            )
            .status,
            422,
            "a counselor is not someone a case goes to"
        );
        let denied_after = count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied'",
        );
        // 5 roles without access x (read + patch + note + assign) + list denials (4 roles).
        assert!(
            denied_after - denied_before >= 5 * 4 + 4,
            "{denied_before} -> {denied_after}"
        );

        // Break-glass: the counselor has the person on the line.
        let counselor = &staff.tokens["counselor"];
        let glass = |token: &str, body: Value| {
            call(
                s,
                token,
                "POST",
                &format!("/api/v1/cases/{case_id}/break-glass"),
                Some(body),
            )
        };
        let body = |password: &str| {
            json!({
                "reason": "caller_on_line",
                "justification": format!("{canary} she is on the line and in danger"),
                "password": password,
            })
        };
        let wrong = glass(counselor, body("not my password"));
        assert_eq!(wrong.status, 422, "{}", wrong.text());
        assert_eq!(get_case(&staff, counselor, &case_id).status, 404);
        let short = glass(
            counselor,
            json!({ "reason": "other", "justification": "because", "password": PASSWORD }),
        );
        assert_eq!(short.status, 422);
        assert!(short.json()["fields"]["justification"].is_string());
        for token in [
            &staff.tokens["admin"],
            &staff.tokens["auditor"],
            &staff.tokens["partner"],
        ] {
            assert_eq!(glass(token, body(PASSWORD)).status, 403, "not their role");
        }
        // Supervisors read every case already: the policy gives them no break-glass.
        assert_eq!(
            glass(&staff.tokens["supervisor"], body(PASSWORD)).status,
            403,
            "not their role either"
        );
        assert_eq!(glass(counselor, json!({ "reason": "other", "justification": "she is in danger now", "password": PASSWORD })).status, 201);
        let grant = ok(&glass(counselor, body(PASSWORD)), 201);
        assert!(grant["expires_at"].is_string());
        let file = ok(&get_case(&staff, counselor, &case_id), 200);
        assert!(file["break_glass_until"].is_string());
        assert_eq!(file["profile"]["given_name"], json!(canary));
        // Read-only.
        let write = call(
            s,
            counselor,
            "PATCH",
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({ "version": version, "risk_level": "critical" })),
        );
        assert_eq!(write.status, 403, "{}", write.text());
        assert_eq!(
            call(
                s,
                counselor,
                "POST",
                &format!("/api/v1/cases/{case_id}/notes"),
                Some(json!({ "body": "x" }))
            )
            .status,
            403
        );
        // Flagged in the access log; the read under the grant too.
        let flagged = strings(
        &db,
        &format!("SELECT action AS item FROM audit_events WHERE purpose = 'break_glass' AND record_id = '{case_id}' ORDER BY id"),
    );
        assert_eq!(
            flagged,
            vec!["case.break_glass", "case.break_glass", "case.read"]
        );
        let failed = strings(
            &db,
            "SELECT rule AS item FROM audit_events WHERE action = 'auth.reauthenticate'",
        );
        assert_eq!(failed, vec!["reauthentication_failed"]);
        // Supervisors were alerted through the outbox: an opaque reference and a link, nothing else.
        let mail = strings(
            &db,
            "SELECT recipient_user_id || '|' || subject || '|' || body AS item FROM mail_outbox",
        );
        assert_eq!(mail.len(), 2, "one alert per use and supervisor: {mail:?}");
        for m in &mail {
            assert!(m.starts_with(&staff.ids["supervisor"]), "{m}");
            assert!(m.contains(&reference) && m.contains("/break-glass") && !m.contains("/api/"));
            assert!(!m.contains(&canary) && !m.contains("671112233") && !m.contains("counselor"));
        }
        // The supervisor reviews.
        let sup = &staff.tokens["supervisor"];
        let open = ok(
            &call(s, sup, "GET", "/api/v1/break-glass?reviewed=false", None),
            200,
        );
        let grants = open["grants"].as_array().unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0]["case_reference"], json!(reference));
        assert_eq!(grants[0]["login"], "counselor-user");
        assert!(grants[0]["justification"]
            .as_str()
            .unwrap()
            .contains("in danger"));
        let gid = grant["grant_id"].as_str().unwrap();
        ok(
            &call(
                s,
                sup,
                "POST",
                &format!("/api/v1/break-glass/{gid}/review"),
                None,
            ),
            204,
        );
        assert_eq!(
            call(
                s,
                sup,
                "POST",
                &format!("/api/v1/break-glass/{gid}/review"),
                None
            )
            .status,
            409
        );
        assert_eq!(
            ok(
                &call(s, sup, "GET", "/api/v1/break-glass?reviewed=false", None),
                200
            )["grants"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            call(s, counselor, "GET", "/api/v1/break-glass", None).status,
            403
        );
        // The grant ends: move its expiry into the past.
        let d = db.open();
        execute(
            &d,
            "UPDATE break_glass_grants SET expires_at = expires_at - 7200000000",
        )
        .unwrap();
        d.close(std::time::Duration::from_secs(5));
        assert_eq!(get_case(&staff, counselor, &case_id).status, 404);
        let anomalies = ok(
            &call(
                s,
                &staff.tokens["auditor"],
                "GET",
                "/api/v1/audit/anomalies",
                None,
            ),
            200,
        );
        assert_eq!(
            anomalies["break_glass_events"].as_array().unwrap().len(),
            2,
            "{anomalies}"
        );
        assert!(staff.server.terminate().success());
    }
);

both!(
    bad_case_input_is_refused_by_field_and_stores_nothing,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let s = &staff.server;
        let worker = &staff.tokens["case_worker"];
        let secret = "CNRY-value-never-echoed";
        let (case_id, _) = open_case(&staff, worker, json!({}));
        let before = |db: &TestDb| {
            (
                count(db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM cases"),
                count(db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_notes"),
                count(
                    db,
                    "SELECT CAST(COUNT(*) AS TEXT) AS item FROM blind_indexes",
                ),
                count(
                    db,
                    "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_plan_items",
                ),
                count(
                    db,
                    "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_consents",
                ),
            )
        };
        let counts = before(&db);
        let long = "x".repeat(20_001);
        let cases: Vec<(&str, String, Value, &str)> = vec![
            ("POST", "/api/v1/cases".into(), json!({ "gender": 5 }), ""),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "surprise": secret }),
                "",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "gender": secret }),
                "gender",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "nationality": "ZZ" }),
                "nationality",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "exploitation_types": [secret] }),
                "exploitation_types",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "status": "Closed" }),
                "status",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "version": 3 }),
                "version",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "assigned_to": secret }),
                "assigned_to",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "exploitation_from": "2026-09", "exploitation_to": "2026-01" }),
                "exploitation_to",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "exploitation_details": long }),
                "exploitation_details",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "contact": { "phones": [format!("{secret}123")] } } }),
                "profile.contact.phones[0]",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "birth_date": "1999-02-30" } }),
                "profile.birth_date",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "contact": { "email": secret } } }),
                "profile.contact.email",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "documents": [{ "kind": "passport", "status": secret }] } }),
                "profile.documents[0].status",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "given_name": "x".repeat(201) } }),
                "profile.given_name",
            ),
            (
                "POST",
                "/api/v1/cases".into(),
                json!({ "profile": { "nickname": secret } }),
                "",
            ),
            (
                "PATCH",
                format!("/api/v1/cases/{case_id}"),
                json!({ "risk_level": "low" }),
                "version",
            ),
            (
                "PATCH",
                format!("/api/v1/cases/{case_id}"),
                json!({ "version": 1, "status": secret }),
                "status",
            ),
            (
                "PATCH",
                format!("/api/v1/cases/{case_id}"),
                json!({ "version": 1, "assigned_to": null }),
                "assigned_to",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/notes"),
                json!({ "body": "   " }),
                "body",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/notes"),
                json!({ "body": long }),
                "body",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/plan"),
                json!({ "domain": secret, "goal": "g" }),
                "domain",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/plan"),
                json!({ "domain": "health" }),
                "goal",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/plan"),
                json!({ "domain": "health", "goal": "g", "due_on": "tomorrow" }),
                "due_on",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/consents"),
                json!({ "purpose": "referral_sharing" }),
                "service_types",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/consents"),
                json!({ "purpose": "research_use", "given_at": "2999-01-01T00:00:00Z" }),
                "given_at",
            ),
            (
                "POST",
                format!("/api/v1/cases/{case_id}/consents"),
                json!({ "purpose": "research_use", "expires_at": secret }),
                "expires_at",
            ),
            ("POST", "/api/v1/cases/search".into(), json!({}), "name"),
            (
                "POST",
                "/api/v1/cases/search".into(),
                json!({ "phone": secret }),
                "phone",
            ),
        ];
        for (method, path, body, field) in &cases {
            let res = call(s, worker, method, path, Some(body.clone()));
            assert!(
                res.status == 400 || res.status == 422,
                "{method} {path} {body}: {} {}",
                res.status,
                res.text()
            );
            assert!(!res.text().contains(secret), "{}", res.text());
            if !field.is_empty() {
                assert!(
                    res.json()["fields"][field].is_string(),
                    "{method} {path} {body}: {}",
                    res.text()
                );
            }
        }
        // Oversize and not UTF-8.
        let auth = format!("Bearer {worker}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let huge = format!("{{\"exploitation_details\": \"{}\"}}", "x".repeat(300_000));
        assert_eq!(
            request(s.addr, "POST", "/api/v1/cases", &headers, huge.as_bytes()).status,
            413
        );
        let bad = request(
            s.addr,
            "POST",
            "/api/v1/cases",
            &headers,
            b"{\"needs_assessment\": \"\xff\xfe\"}",
        );
        assert_eq!(bad.status, 400, "{}", bad.text());
        assert_eq!(before(&db), counts, "nothing was stored");
        assert!(!staff.server.log().contains(secret));
        assert!(staff.server.terminate().success());
    }
);

// Two server processes on one database open cases at once, each past the end of its block of
// references: every case opens, and no reference is handed out twice.
both!(two_servers_never_hand_out_one_reference, |db: TestDb| {
    let staff = staff_for_tests(&db);
    let second = crate::auth::start_with(&db, &[("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", "")]);
    let worker = staff.tokens["case_worker"].clone();
    let servers = [&staff.server, &second];
    let references: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (server, worker) = (servers[t % 2], worker.clone());
                scope.spawn(move || {
                    (0..12)
                        .map(|_| {
                            let res =
                                call(server, &worker, "POST", "/api/v1/cases", Some(json!({})));
                            ok(&res, 201)["reference"].as_str().unwrap().to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(references.len(), 96);
    let distinct: std::collections::BTreeSet<&String> = references.iter().collect();
    assert_eq!(
        distinct.len(),
        96,
        "a reference was handed out twice: {references:?}"
    );
    let stored = count(
        &db,
        "SELECT CAST(COUNT(DISTINCT reference) AS TEXT) AS item FROM cases",
    );
    assert_eq!(stored, 96);
    // Each process took its own blocks: 48 cases each cross the end of a 32-number block.
    let year = &references[0][..4];
    assert!(references
        .iter()
        .all(|r| r.len() == 11 && &r[..4] == year && r.as_bytes()[4] == b'-'));
});

both!(concurrent_openings_and_updates, |db: TestDb| {
    let staff = staff_for_tests(&db);
    let s = &staff.server;
    let worker = staff.tokens["case_worker"].clone();
    let supervisor = staff.tokens["supervisor"].clone();
    // 8 threads open cases at once: every reference is unique, and they are consecutive.
    let shared = &staff;
    let references: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let worker = worker.clone();
                scope.spawn(move || {
                    (0..3)
                        .map(|_| open_case(shared, &worker, json!({})).1)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut numbers: Vec<u32> = references.iter().map(|r| r[5..].parse().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>(), "{references:?}");

    // A case worker and a supervisor change one case from the same version at once: one wins,
    // the other gets 409 and overwrites nothing; notes added at the same time all stay.
    let (case_id, _) = open_case(&staff, &worker, json!({}));
    let path = format!("/api/v1/cases/{case_id}");
    let (a, b, notes) = std::thread::scope(|scope| {
        let a = scope.spawn(|| {
            call(
                s,
                &worker,
                "PATCH",
                &path,
                Some(json!({ "version": 1, "risk_level": "low" })),
            )
            .status
        });
        let b = scope.spawn(|| {
            call(
                s,
                &supervisor,
                "PATCH",
                &path,
                Some(json!({ "version": 1, "risk_level": "critical" })),
            )
            .status
        });
        let notes: Vec<_> = (0..6)
            .map(|i| {
                let token = if i % 2 == 0 { &worker } else { &supervisor };
                let path = format!("/api/v1/cases/{case_id}/notes");
                scope.spawn(move || {
                    call(
                        s,
                        token,
                        "POST",
                        &path,
                        Some(json!({ "body": format!("note {i}") })),
                    )
                    .status
                })
            })
            .collect();
        (
            a.join().unwrap(),
            b.join().unwrap(),
            notes
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>(),
        )
    });
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert!(notes.iter().all(|s| *s == 201), "{notes:?}");
    let file = ok(&get_case(&staff, &worker, &case_id), 200);
    assert_eq!(file["version"], 2);
    let expected = if a == 200 { "low" } else { "critical" };
    assert_eq!(file["risk_level"], expected);
    assert_eq!(file["notes"].as_array().unwrap().len(), 6);
    assert!(staff.server.terminate().success());
});

both!(
    a_case_file_holds_its_own_children_whole_and_in_order,
    |db: TestDb| {
        // Two cases filled in turns (a note to one, then to the other, ...): each file must show
        // its own notes (current revision), plan items, consents and calls, each kind in the order
        // it was made, and nothing of the other case.
        let staff = staff_for_tests(&db);
        let s = &staff.server;
        let worker = &staff.tokens["case_worker"];
        let counselor = &staff.tokens["counselor"];
        let (a, _) = open_case(&staff, worker, json!({}));
        let (b, _) = open_case(&staff, worker, json!({}));
        let post = |case: &str, what: &str, body: Value| {
            ok(
                &call(
                    s,
                    worker,
                    "POST",
                    &format!("/api/v1/cases/{case}/{what}"),
                    Some(body),
                ),
                201,
            )["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let mut made: std::collections::HashMap<(String, &str), Vec<String>> = Default::default();
        for i in 0..3 {
            for case in [&a, &b] {
                let tag = format!("{}-{i}", &case[..8]);
                let note = post(case, "notes", json!({ "body": format!("note {tag}") }));
                made.entry((case.clone(), "notes")).or_default().push(note);
                let mut item = json!({ "domain": "housing", "goal": format!("goal {tag}") });
                if i == 1 {
                    item["due_on"] = json!("2027-03-01");
                }
                let item = post(case, "plan", item);
                made.entry((case.clone(), "plan")).or_default().push(item);
                let mut consent =
                    json!({ "purpose": "referral_sharing", "service_types": ["shelter"] });
                if i != 2 {
                    consent["scope"] = json!(format!("scope {tag}"));
                }
                let consent = post(case, "consents", consent);
                made.entry((case.clone(), "consents"))
                    .or_default()
                    .push(consent);
                // Calls are listed by their start, which is not the order they were logged in.
                let minute = 50 - 10 * i - if case == &a { 0 } else { 5 };
                let mut logged = anonymous_call();
                logged["started_at"] = json!(format!("2026-11-30T09:{minute:02}:00Z"));
                logged["ended_at"] = json!(format!("2026-11-30T09:{:02}:00Z", minute + 1));
                let logged = ok(
                    &call(s, counselor, "POST", "/api/v1/calls", Some(logged)),
                    201,
                )["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let linked = call(
                    s,
                    worker,
                    "PUT",
                    &format!("/api/v1/calls/{logged}/case"),
                    Some(json!({ "case_id": case })),
                );
                assert_eq!(linked.status, 204, "{}", linked.text());
                made.entry((case.clone(), "calls"))
                    .or_default()
                    .insert(0, logged);
            }
        }
        // The first note of case a edited twice: the file shows its third revision only.
        let first = &made[&(a.clone(), "notes")][0];
        for revision in 1..3 {
            ok(
                &call(
                    s,
                    worker,
                    "PUT",
                    &format!("/api/v1/cases/{a}/notes/{first}"),
                    Some(json!({ "revision": revision, "body": format!("edited {revision}") })),
                ),
                200,
            );
        }
        for case in [&a, &b] {
            let file = ok(&get_case(&staff, worker, case), 200);
            let text = file.to_string();
            let other = if case == &a { &b } else { &a };
            assert!(
                !text.contains(&other[..8]),
                "nothing of the other case: {text}"
            );
            for kind in ["notes", "plan", "consents", "calls"] {
                let ids: Vec<&str> = file[kind]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["id"].as_str().unwrap())
                    .collect();
                assert_eq!(ids, made[&(case.clone(), kind)], "{kind} of {case}");
            }
            let tag = &case[..8];
            let notes = &file["notes"];
            let plan = &file["plan"];
            let consents = &file["consents"];
            if case == &a {
                assert_eq!(notes[0]["body"], "edited 2");
                assert_eq!(notes[0]["revision"], 3);
            } else {
                assert_eq!(notes[0]["body"], format!("note {tag}-0"));
                assert_eq!(notes[0]["revision"], 1);
            }
            assert_eq!(notes[2]["body"], format!("note {tag}-2"));
            assert_eq!(notes[2]["author_id"], json!(staff.ids["case_worker"]));
            assert_eq!(plan[1]["goal"], format!("goal {tag}-1"));
            assert_eq!(plan[1]["due_on"], "2027-03-01");
            assert_eq!(plan[0]["due_on"], Value::Null);
            assert_eq!(plan[2]["progress"], json!([]));
            assert_eq!(consents[0]["scope"], format!("scope {tag}-0"));
            assert_eq!(consents[2]["scope"], Value::Null);
            assert_eq!(consents[2]["live"], true);
            assert_eq!(consents[2]["service_types"], json!(["shelter"]));
            assert_eq!(
                file["calls"][0]["outcome"],
                json!(anonymous_call()["outcome"])
            );
        }
        assert!(staff.server.terminate().success());
    }
);

/// A phone number unique to canary `i` (its digits are searched for too).
fn canary_phone(i: usize) -> String {
    format!("+38093{:07}", 4_000_000 + i)
}

both!(canaries_reach_no_file_dump_log_or_outbox, |db: TestDb| {
    let staff = crate::auth::staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    let s = &staff.server;
    let prefix = format!("CNRY-{}-", crate::support::unique_suffix());
    let counselor = &staff.tokens["counselor"];
    let worker = &staff.tokens["case_worker"];
    // 1,000 calls, each with a canary in every personal field.
    std::thread::scope(|scope| {
        for t in 0..4 {
            let prefix = &prefix;
            scope.spawn(move || {
                for i in (t..1000).step_by(4) {
                    let mut body = anonymous_call();
                    body["summary"] = json!(format!("{prefix}call-summary-{i}"));
                    body["caller_name"] = json!(format!("{prefix}call-name-{i}"));
                    body["caller_phone"] = json!(canary_phone(i));
                    ok(
                        &call(s, counselor, "POST", "/api/v1/calls", Some(body)),
                        201,
                    );
                }
            });
        }
    });
    // 200 cases, each with a canary in every personal field, a note, a plan item and a consent.
    std::thread::scope(|scope| {
        for t in 0..4 {
            let prefix = &prefix;
            let staff = &staff;
            scope.spawn(move || {
                for i in (t..200).step_by(4) {
                    let c = |field: &str| format!("{prefix}case-{field}-{i}");
                    let (id, _) = open_case(
                        staff,
                        worker,
                        json!({
                            "profile": {
                                "given_name": c("given"), "family_name": c("family"),
                                "other_names": [c("alias")],
                                "contact": {
                                    "phones": [canary_phone(1000 + i)],
                                    "email": format!("{}@example.org", c("mail").to_lowercase()),
                                    "address": c("address"), "safe_contact": c("safe"),
                                },
                                "documents": [{ "kind": "passport", "number": c("doc"), "status": "held" }]
                            },
                            "exploitation_details": c("details"),
                            "needs_assessment": c("needs"),
                        }),
                    );
                    let post = |path: &str, body: Value| {
                        ok(&call(&staff.server, worker, "POST", &format!("/api/v1/cases/{id}/{path}"), Some(body)), 201)
                    };
                    post("notes", json!({ "body": c("note") }));
                    post("plan", json!({ "domain": "legal", "goal": c("goal"), "progress_note": c("progress") }));
                    post("consents", json!({ "purpose": "data_processing", "scope": c("scope") }));
                    if i % 50 == 0 {
                        // Some break-glass uses (and their alerts) too.
                        ok(&call(&staff.server, counselor, "POST", &format!("/api/v1/cases/{id}/break-glass"),
                            Some(json!({ "reason": "other", "justification": c("justification"), "password": PASSWORD }))), 201);
                    }
                    // Reads and searches go through the logs as well.
                    ok(&get_case(staff, worker, &id), 200);
                    ok(&call(&staff.server, worker, "POST", "/api/v1/cases/search",
                        Some(json!({ "name": format!("{} {}", c("given"), c("family")) }))), 200);
                }
            });
        }
    });
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls WHERE summary IS NOT NULL"
        ),
        1000
    );
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM mail_outbox"
        ),
        4
    );
    let log = staff.server.log();
    assert!(
        log.lines().count() > 1000,
        "the server logged every request"
    );
    assert!(staff.server.terminate().success());

    let mut canaries: Vec<String> = Vec::new();
    for i in 0..1000 {
        canaries.push(format!("{prefix}call-summary-{i}"));
        canaries.push(format!("{prefix}call-name-{i}"));
    }
    for i in 0..200 {
        for f in [
            "given",
            "family",
            "alias",
            "mail",
            "address",
            "safe",
            "doc",
            "details",
            "needs",
            "note",
            "goal",
            "progress",
            "scope",
            "justification",
        ] {
            canaries.push(format!("{prefix}case-{f}-{i}"));
        }
    }
    let phones: Vec<String> = (0..1200)
        .map(|i| canary_phone(i)[1..].to_string())
        .collect();
    let check = |what: &str, bytes: &[u8]| {
        crate::vault::assert_no_canary(what, bytes, &prefix, &canaries);
        crate::vault::assert_no_canary(what, bytes, "3809340", &phones);
        let lower = prefix.to_lowercase();
        let lowered: Vec<String> = canaries.iter().map(|c| c.to_lowercase()).collect();
        crate::vault::assert_no_canary(what, bytes, &lower, &lowered);
    };
    check("the server log", log.as_bytes());
    match db.backend {
        persistence::Backend::Sqlite => {
            for file in [
                "hotline.sqlite3",
                "hotline.sqlite3-wal",
                "hotline.sqlite3-shm",
            ] {
                let bytes = std::fs::read(db.dir.path().join(file)).unwrap_or_default();
                check(file, &bytes);
            }
        }
        persistence::Backend::Postgres => {
            let (schema, base) = db.pg_schema().unwrap();
            let out = std::process::Command::new("pg_dump")
                .args(["--schema", schema, "--format", "plain", "--dbname", base])
                .output()
                .expect("pg_dump");
            assert!(out.status.success());
            assert!(String::from_utf8_lossy(&out.stdout).contains("mail_outbox"));
            check("pg_dump", &out.stdout);
        }
    }
    let outbox = strings(&db, "SELECT subject || body AS item FROM mail_outbox").join("\n");
    check("the outbox", outbox.as_bytes());
});

both!(demo_data_fills_an_empty_database_once, |db: TestDb| {
    let (done, out) = crate::auth::cli(
        &db,
        &[
            "demo-data",
            "--calls",
            "120",
            "--cases",
            "12",
            "--seed",
            "42",
        ],
        "",
    );
    assert!(done, "{out}");
    assert!(out.contains("demo data: 120 calls, 12 cases"), "{out}");
    assert_eq!(
        count(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls"),
        120
    );
    assert_eq!(
        count(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM cases"),
        12
    );
    assert!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_plan_items"
        ) >= 12
    );
    assert!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM case_consents"
        ) >= 12
    );
    // Providers, partners and a referral in every status.
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(DISTINCT status) AS TEXT) AS item FROM referrals"
        ),
        9
    );
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM organisations"
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM users WHERE role = 'partner'"
        ),
        2
    );
    // Refused the second time: demo data only goes into an empty database.
    let (again, out2) = crate::auth::cli(&db, &["demo-data"], "");
    assert!(!again && out2.contains("already has users"), "{out2}");
    // A newcomer signs in with a printed account and finds their cases.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("demo-case-worker-1"))
        .expect("a case worker account");
    let password = line.split_whitespace().last().unwrap();
    let server = crate::auth::start_with(&db, &[]);
    let token = tokens(&login(&server, "demo-case-worker-1", password)).0;
    let mine = call(&server, &token, "GET", "/api/v1/cases", None).json();
    let list = mine["cases"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{mine}");
    let id = list[0]["id"].as_str().unwrap();
    let file = call(&server, &token, "GET", &format!("/api/v1/cases/{id}"), None).json();
    assert!(
        file["profile"]["contact"]["safe_contact"].is_string(),
        "{file}"
    );
    assert!(file["profile"]["contact"]["phones"][0]
        .as_str()
        .unwrap()
        .starts_with("+38099001"));
    assert!(!file["plan"].as_array().unwrap().is_empty());
    assert!(server.terminate().success());
    let (verified, out3) = crate::auth::cli(&db, &["audit", "verify"], "");
    assert!(verified, "{out3}");
});
