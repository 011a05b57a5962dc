//! A counselor's calls over HTTP on both databases: anonymous and identified calls, who may
//! read them, the repeat-caller lookup, and bad input.

use serde_json::{json, Value};

use crate::both;
use crate::support::http::{self, request};
use crate::support::TestDb;
use persistence::testing::query_strings;

/// A valid anonymous call body.
pub fn anonymous_call() -> Value {
    json!({
        "channel": "phone",
        "direction": "inbound",
        "started_at": "2026-11-30T09:00:00Z",
        "ended_at": "2026-11-30T09:12:00Z",
        "caller_role": "potential_victim",
        "topics": ["trafficking_labour", "safe_migration"],
        "region": "UA-46",
        "caller_gender": "female",
        "caller_age_group": "24-26",
        "language": "uk",
        "outcome": "information"
    })
}

fn call(
    server: &crate::support::server::Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> http::Response {
    let auth = format!("Bearer {token}");
    let text = body.map(Value::to_string).unwrap_or_default();
    let mut headers = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    request(server.addr, method, path, &headers, text.as_bytes())
}

fn count(db: &TestDb, sql: &str) -> i64 {
    query_strings(&db.open(), sql).unwrap()[0].parse().unwrap()
}

both!(a_counselors_calls, |db: TestDb| {
    let staff = crate::auth::staff_for_tests(&db);
    let s = &staff.server;
    let counselor = &staff.tokens["counselor"];
    let canary = format!("CNRY-{}", crate::support::unique_suffix());

    // An anonymous call: nothing personal, no data key.
    let anon = call(
        s,
        counselor,
        "POST",
        "/api/v1/calls",
        Some(&anonymous_call()),
    );
    assert_eq!(anon.status, 201, "{}", anon.text());
    let anon_id = anon.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        count(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM data_keys"),
        0
    );

    // A caller who gives a name and number, with a summary.
    let mut identified = anonymous_call();
    identified["caller_name"] = json!(format!("{canary}-name"));
    identified["caller_phone"] = json!("044 123 45 67");
    identified["summary"] = json!(format!(
        "{canary}-summary: offered work abroad, passport taken"
    ));
    let made = call(s, counselor, "POST", "/api/v1/calls", Some(&identified));
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_string();

    // The counselor who logged it reads it back, personal fields included.
    let read = call(s, counselor, "GET", &format!("/api/v1/calls/{id}"), None);
    assert_eq!(read.status, 200, "{}", read.text());
    let body = read.json();
    assert_eq!(body["caller_phone"], "+380441234567");
    assert_eq!(body["caller_name"], format!("{canary}-name"));
    assert_eq!(
        body["topics"],
        json!(["safe_migration", "trafficking_labour"])
    );
    assert_eq!(body["started_at"], "2026-11-30T09:00:00Z");
    // A supervisor may; a case worker, an auditor, an admin and a partner get "not found",
    // exactly as for a call that does not exist.
    assert_eq!(
        call(
            s,
            &staff.tokens["supervisor"],
            "GET",
            &format!("/api/v1/calls/{id}"),
            None
        )
        .status,
        200
    );
    let missing = call(s, counselor, "GET", "/api/v1/calls/no-such-call", None);
    assert_eq!(missing.status, 404);
    for role in ["case_worker", "auditor", "admin", "partner"] {
        let res = call(
            s,
            &staff.tokens[role],
            "GET",
            &format!("/api/v1/calls/{id}"),
            None,
        );
        assert_eq!(res.status, 404, "{role}");
        let strip = |r: &http::Response| {
            let mut v = r.json();
            v.as_object_mut().unwrap().remove("request_id");
            v
        };
        assert_eq!(
            strip(&res),
            strip(&missing),
            "{role}: not yours and not there must look alike"
        );
        assert!(!res.text().contains(&canary));
    }

    // After the counselor's window (12 hours) only a supervisor still opens it.
    persistence::testing::execute(
        &db.open(),
        &format!(
            "UPDATE calls SET created_at = created_at - 13 * 3600000000 WHERE id = '{anon_id}'"
        ),
    )
    .unwrap();
    assert_eq!(
        call(
            s,
            counselor,
            "GET",
            &format!("/api/v1/calls/{anon_id}"),
            None
        )
        .status,
        404
    );
    assert_eq!(
        call(
            s,
            &staff.tokens["supervisor"],
            "GET",
            &format!("/api/v1/calls/{anon_id}"),
            None
        )
        .status,
        200
    );
    persistence::testing::execute(
        &db.open(),
        &format!(
            "UPDATE calls SET created_at = created_at + 13 * 3600000000 WHERE id = '{anon_id}'"
        ),
    )
    .unwrap();

    // Lists: statistical fields only; the counselor sees their own, the supervisor all.
    let mine = call(s, counselor, "GET", "/api/v1/calls?limit=1", None).json();
    assert_eq!(mine["calls"].as_array().unwrap().len(), 1);
    let cursor = mine["next_cursor"].as_str().unwrap().to_string();
    let page2 = call(
        s,
        counselor,
        "GET",
        &format!("/api/v1/calls?limit=1&cursor={cursor}"),
        None,
    )
    .json();
    let ids: Vec<&str> = [&mine, &page2]
        .iter()
        .map(|p| p["calls"][0]["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&anon_id.as_str()),
        "{ids:?}"
    );
    assert!(!mine.to_string().contains(&canary) && !page2.to_string().contains(&canary));
    let sup_token = &staff.tokens["supervisor"];
    let sup_call = call(
        s,
        sup_token,
        "POST",
        "/api/v1/calls",
        Some(&anonymous_call()),
    );
    assert_eq!(sup_call.status, 201);
    let all = call(s, sup_token, "GET", "/api/v1/calls", None).json();
    assert_eq!(all["calls"].as_array().unwrap().len(), 3);
    let own = call(s, counselor, "GET", "/api/v1/calls", None).json();
    assert_eq!(
        own["calls"].as_array().unwrap().len(),
        2,
        "not the supervisor's call"
    );
    // Filters: period, topic, outcome, region (combined with AND).
    let mut october = anonymous_call();
    october["topics"] = json!(["domestic_violence"]);
    october["region"] = json!("UA-30");
    october["outcome"] = json!("referral");
    october["started_at"] = json!("2026-10-01T10:00:00Z");
    october["ended_at"] = json!(null);
    let oct_id = call(s, sup_token, "POST", "/api/v1/calls", Some(&october)).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids_for = |query: &str| -> Vec<String> {
        let res = call(s, sup_token, "GET", &format!("/api/v1/calls?{query}"), None);
        assert_eq!(res.status, 200, "{query}: {}", res.text());
        res.json()["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids_for(""), {
        let mut v = ids_for("from=2026-11-01T00:00:00Z");
        v.push(oct_id.clone());
        v
    });
    for query in [
        "topic=domestic_violence",
        "region=UA-30",
        "outcome=referral",
        "to=2026-11-01T00:00:00Z",
        "from=2026-09-30T00:00:00Z&to=2026-10-02T00:00:00Z&topic=domestic_violence&region=UA-30",
    ] {
        assert_eq!(ids_for(query), vec![oct_id.clone()], "{query}");
    }
    assert_eq!(ids_for("topic=trafficking_labour").len(), 3);
    assert!(ids_for("topic=other").is_empty(), "no substring matches");
    assert!(ids_for("topic=domestic_violence&region=UA-46").is_empty());
    for (query, field) in [
        ("topic=nonsense", "topic"),
        ("region=Lviv", "region"),
        ("outcome=x", "outcome"),
        ("from=yesterday", "from"),
    ] {
        let res = call(s, sup_token, "GET", &format!("/api/v1/calls?{query}"), None);
        assert_eq!(res.status, 422, "{query}");
        assert!(res.json()["fields"][field].is_string(), "{}", res.text());
    }

    // The same number, written differently, calls again: recognised.
    let mut again = anonymous_call();
    again["caller_phone"] = json!("+380 (44) 123-45-67");
    again["started_at"] = json!("2026-11-30T15:00:00Z");
    again["ended_at"] = json!(null);
    assert_eq!(
        call(s, counselor, "POST", "/api/v1/calls", Some(&again)).status,
        201
    );
    let lookup = call(
        s,
        &staff.tokens["case_worker"],
        "POST",
        "/api/v1/calls/lookup",
        Some(&json!({ "phone": "0441234567" })),
    );
    assert_eq!(lookup.status, 200, "{}", lookup.text());
    assert_eq!(lookup.json()["calls"], 2);
    assert_eq!(
        lookup.json()["dates"],
        json!(["2026-11-30T09:00:00Z", "2026-11-30T15:00:00Z"])
    );
    let unknown = call(
        s,
        counselor,
        "POST",
        "/api/v1/calls/lookup",
        Some(&json!({ "phone": "+48 22 123 45 67" })),
    )
    .json();
    assert_eq!(unknown["calls"], 0);
    assert_eq!(
        call(
            s,
            &staff.tokens["auditor"],
            "POST",
            "/api/v1/calls/lookup",
            Some(&json!({ "phone": "0441234567" }))
        )
        .status,
        403
    );

    // The access log: every read and write, field names and never values or numbers.
    let d = db.open();
    let events = query_strings(&d, "SELECT action || ' ' || outcome || ' ' || fields AS item FROM audit_events WHERE record_type = 'call' ORDER BY id").unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("call.create allowed") && e.contains("caller_phone")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("call.read allowed") && e.contains("summary")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.starts_with("call.read denied")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.starts_with("call.lookup allowed")),
        "{events:?}"
    );
    let everything = query_strings(
        &d,
        "SELECT COALESCE(record_id, '') || fields || COALESCE(rule, '') AS item FROM audit_events",
    )
    .unwrap()
    .join(" ");
    assert!(
        !everything.contains("380441234567")
            && !everything.contains("1234567")
            && !everything.contains(&canary)
    );
    let log = s.log();
    assert!(
        !log.contains(&canary) && !log.contains("123-45-67") && !log.contains("1234567"),
        "{log}"
    );
    assert!(staff.server.terminate().success());
});

both!(
    bad_calls_are_refused_by_field_and_store_nothing,
    |db: TestDb| {
        let staff = crate::auth::staff_for_tests(&db);
        let s = &staff.server;
        let token = &staff.tokens["counselor"];
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let with = |field: &str, value: Value| {
            let mut body = anonymous_call();
            body[field] = value;
            body
        };
        let cases: Vec<(Value, &str)> = vec![
            (with("channel", json!(canary.clone())), "channel"),
            (with("topics", json!([])), "topics"),
            (
                with("topics", json!(["domestic_violence", canary.clone()])),
                "topics",
            ),
            (with("region", json!("UA-99")), "region"),
            (with("started_at", json!("yesterday")), "started_at"),
            (
                with("started_at", json!("2099-01-01T00:00:00Z")),
                "started_at",
            ),
            (with("ended_at", json!("2026-11-30T08:00:00Z")), "ended_at"),
            (
                with("caller_phone", json!(format!("{canary}-phone"))),
                "caller_phone",
            ),
            (with("caller_name", json!("x".repeat(201))), "caller_name"),
            (with("summary", json!("y".repeat(10_001))), "summary"),
        ];
        for (body, field) in cases {
            let res = call(s, token, "POST", "/api/v1/calls", Some(&body));
            assert_eq!(res.status, 422, "{field}: {}", res.text());
            assert!(
                res.json()["fields"][field].is_string(),
                "{field}: {}",
                res.text()
            );
            assert!(
                !res.text().contains("CNRY"),
                "{field}: the error repeats the value"
            );
        }
        // Wrong types and unknown fields: 422 without naming what the client invented.
        let res = call(
            s,
            token,
            "POST",
            "/api/v1/calls",
            Some(&with("topics", json!("domestic_violence"))),
        );
        assert_eq!(res.status, 422);
        let mut extra = anonymous_call();
        extra[canary.as_str()] = json!(1);
        let res = call(s, token, "POST", "/api/v1/calls", Some(&extra));
        assert_eq!(res.status, 422);
        assert!(!res.text().contains("CNRY"));
        // Not UTF-8.
        let auth = format!("Bearer {token}");
        let res = request(
            s.addr,
            "POST",
            "/api/v1/calls",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            b"{\"channel\": \"\xff\xfe\"}",
        );
        assert!(res.status == 400 || res.status == 422, "{}", res.status);
        assert_eq!(
            count(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls"),
            0,
            "a refused call was stored"
        );
        assert_eq!(
            count(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM data_keys"),
            0
        );
        assert!(staff.server.terminate().success());
    }
);

both!(calls_change_with_optimistic_concurrency, |db: TestDb| {
    let staff = crate::auth::staff_for_tests(&db);
    let s = &staff.server;
    let counselor = &staff.tokens["counselor"];
    let made = call(
        s,
        counselor,
        "POST",
        "/api/v1/calls",
        Some(&anonymous_call()),
    );
    let id = made.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/calls/{id}");
    let lookup = |phone: &str| {
        call(
            s,
            counselor,
            "POST",
            "/api/v1/calls/lookup",
            Some(&json!({ "phone": phone })),
        )
        .json()["calls"]
            .clone()
    };

    // The caller gives a number after all: the anonymous call gains a sealed, findable phone.
    let changed = call(
        s,
        counselor,
        "PATCH",
        &path,
        Some(&json!({ "version": 1, "caller_phone": "+380 50 111 22 33", "outcome": "referral" })),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.json()["version"], 2);
    assert_eq!(lookup("0501112233"), 1);
    let now = call(s, counselor, "GET", &path, None).json();
    assert_eq!(
        (
            now["outcome"].clone(),
            now["caller_phone"].clone(),
            now["version"].clone()
        ),
        (json!("referral"), json!("+380501112233"), json!(2))
    );
    assert_eq!(now["region"], "UA-46", "fields not sent stay as they were");

    // A second counselor screen still holding version 1: refused, nothing overwritten.
    let stale = call(
        s,
        counselor,
        "PATCH",
        &path,
        Some(&json!({ "version": 1, "outcome": "no_action" })),
    );
    assert_eq!(stale.status, 409, "{}", stale.text());
    assert_eq!(
        call(s, counselor, "GET", &path, None).json()["outcome"],
        "referral"
    );

    // A stale change that would add a number leaves no trace of it (not even in the index).
    let stale_phone = call(
        s,
        counselor,
        "PATCH",
        &path,
        Some(&json!({ "version": 1, "caller_phone": "+48 22 555 66 77" })),
    );
    assert_eq!(stale_phone.status, 409);
    assert_eq!(lookup("+48225556677"), 0);

    // Invalid changes name the field and change nothing; null removes a personal field.
    let bad = call(
        s,
        counselor,
        "PATCH",
        &path,
        Some(&json!({ "version": 2, "region": "nowhere" })),
    );
    assert_eq!(bad.status, 422);
    assert!(bad.json()["fields"]["region"].is_string());
    let removed = call(
        s,
        counselor,
        "PATCH",
        &path,
        Some(&json!({ "version": 2, "caller_phone": null })),
    );
    assert_eq!(removed.status, 200, "{}", removed.text());
    assert_eq!(
        call(s, counselor, "GET", &path, None).json()["caller_phone"],
        Value::Null
    );
    assert_eq!(
        lookup("0501112233"),
        0,
        "the removed number is no longer findable"
    );

    // Who may change it follows who may read it: other roles get "not found".
    for role in ["case_worker", "auditor", "admin", "partner"] {
        assert_eq!(
            call(
                s,
                &staff.tokens[role],
                "PATCH",
                &path,
                Some(&json!({ "version": 3, "outcome": "no_action" }))
            )
            .status,
            404,
            "{role}"
        );
    }
    assert_eq!(
        call(
            s,
            &staff.tokens["supervisor"],
            "PATCH",
            &path,
            Some(&json!({ "version": 3, "outcome": "no_action" }))
        )
        .status,
        200
    );
    let events = query_strings(&db.open(), &format!("SELECT action || ' ' || outcome || ' ' || fields AS item FROM audit_events WHERE record_id = '{id}' AND action = 'call.update' ORDER BY id")).unwrap();
    assert_eq!(events.len(), 4 + 3, "{events:?}"); // three allowed changes by the counselor and one by the supervisor; four denials (one 409 is not a policy decision)
    assert!(
        events.contains(&"call.update allowed caller_phone,outcome".to_string()),
        "{events:?}"
    );
    assert!(staff.server.terminate().success());
});

both!(guessed_call_ids_reveal_nothing, |db: TestDb| {
    let staff = crate::auth::staff_for_tests(&db);
    let s = &staff.server;
    let real = call(
        s,
        &staff.tokens["counselor"],
        "POST",
        "/api/v1/calls",
        Some(&anonymous_call()),
    )
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let strip = |r: &http::Response| {
        let mut v = r.json();
        v.as_object_mut().unwrap().remove("request_id");
        (r.status, v)
    };
    // Random ids, ids of the wrong shape, and the real id for roles that may not see it: one
    // answer for all of them.
    let expected = strip(&call(
        s,
        &staff.tokens["case_worker"],
        "GET",
        &format!("/api/v1/calls/{real}"),
        None,
    ));
    assert_eq!(expected.0, 404);
    for i in 0..60 {
        let guess = match i % 3 {
            0 => crypto::random::hex_id::<16>().unwrap(),
            1 => format!("{real}{i}"),
            _ => format!("../calls/{i}"),
        };
        for role in ["counselor", "supervisor", "case_worker", "partner"] {
            let res = call(
                s,
                &staff.tokens[role],
                "GET",
                &format!("/api/v1/calls/{guess}"),
                None,
            );
            assert_eq!(strip(&res), expected, "{role} {guess}");
        }
    }
    assert!(staff.server.terminate().success());
});
