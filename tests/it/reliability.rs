//! Reliability: a server killed with SIGKILL in the middle of a write load loses nothing it
//! acknowledged, leaves nothing half-written, and its access log still verifies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::auth::{call, staff_for_tests, start_with};
use crate::both;
use crate::referrals::strings;
use crate::support::TestDb;

both!(
    a_kill_during_writes_loses_nothing_acknowledged,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let counselor = staff.tokens["counselor"].clone();
        let acknowledged = Mutex::new(Vec::<(String, String)>::new());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (acknowledged, stop, counselor, staff) =
                    (&acknowledged, &stop, &counselor, &staff);
                scope.spawn(move || {
                    // Bounded: at most 400 calls per thread, and the loop ends at the first failure
                    // (the server is gone).
                    for i in 0..400 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let mut body = crate::calls::anonymous_call();
                        let summary = format!("kill test {t}-{i}");
                        body["summary"] = json!(summary);
                        body["caller_phone"] = json!(format!("+38063{t}{i:06}"));
                        // The client panics on a connection the kill cut: that ends
                        // this thread.
                        let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            call(
                                &staff.server,
                                counselor,
                                "POST",
                                "/api/v1/calls",
                                Some(body),
                            )
                        }));
                        let Ok(res) = sent else { break };
                        if res.status != 201 {
                            break;
                        }
                        let id = res.json()["id"].as_str().unwrap().to_string();
                        acknowledged.lock().unwrap().push((id, summary));
                    }
                });
            }
            // Let the load run, then pull the plug.
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while acknowledged.lock().unwrap().len() < 60 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let pid = staff.server_pid();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            stop.store(true, Ordering::SeqCst);
        });
        let acknowledged = acknowledged.into_inner().unwrap();
        assert!(
            acknowledged.len() >= 60,
            "the load ran: {}",
            acknowledged.len()
        );

        // Restart: everything acknowledged is there and opens; nothing is half-written.
        let server = start_with(&db, &[("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", "")]);
        let sup = crate::auth::tokens(&crate::auth::login(
            &server,
            "supervisor-user",
            crate::auth::PASSWORD,
        ))
        .0;
        for (id, summary) in &acknowledged {
            let res = call(&server, &sup, "GET", &format!("/api/v1/calls/{id}"), None);
            assert_eq!(
                res.status,
                200,
                "acknowledged call {id} lost: {}",
                res.text()
            );
            assert_eq!(res.json()["summary"], json!(summary));
        }
        // Every stored call with sealed fields has its data key and its audit event.
        let orphans = strings(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls c WHERE c.summary IS NOT NULL AND NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.owner_id = c.id)");
        assert_eq!(orphans, vec!["0"]);
        let unaudited = strings(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls c WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.record_id = c.id AND e.action = 'call.create')");
        assert_eq!(unaudited, vec!["0"]);
        assert!(server.terminate().success());
        let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
        assert!(verified, "{out}");
    }
);

/// A small deterministic generator for the fuzz cases (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const CANARY: &str = "CNRY-fuzz-value";

/// A mutation of a valid body: a field removed, retyped, made huge, nested, or the whole body
/// replaced by bytes that are not JSON or not UTF-8.
fn mutate(rng: &mut Rng, valid: &serde_json::Value) -> Vec<u8> {
    use serde_json::Value;
    let mut v = valid.clone();
    let keys: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let key = keys
        .get(rng.below(keys.len().max(1)))
        .cloned()
        .unwrap_or_default();
    let odd = [
        json!(null),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(true),
        json!([]),
        json!({ "nested": { "deeper": [CANARY] } }),
        json!(CANARY.repeat(3000)),
        json!(format!("{CANARY}\u{0}\u{202e}\u{1F600}\r\n")),
        json!("2026-02-30T25:61:00Z"),
        json!(vec!["a"; 50]),
        Value::String("../../etc/passwd".into()),
    ];
    match rng.below(8) {
        0 => {
            if let Some(o) = v.as_object_mut() {
                o.remove(&key);
            }
        }
        1..=3 => {
            if let Some(o) = v.as_object_mut() {
                o.insert(key, odd[rng.below(odd.len())].clone());
            }
        }
        4 => {
            if let Some(o) = v.as_object_mut() {
                o.insert(format!("{CANARY}-unknown"), json!(1));
            }
        }
        5 => return vec![b'{', 0xff, 0xfe, b'}'],
        6 => {
            let n = 1 + rng.below(64);
            return (0..n).map(|_| rng.next() as u8).collect();
        }
        _ => return format!("{}{}", "[".repeat(3000), "]".repeat(3000)).into_bytes(),
    }
    v.to_string().into_bytes()
}

both!(
    hostile_bodies_never_crash_the_server_or_echo_their_values,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let case = crate::referrals::ok(
            &crate::referrals::post(&staff, "case_worker", "/api/v1/cases", json!({})),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        let routes: Vec<(&str, &str, String, serde_json::Value)> = vec![
            (
                "counselor",
                "POST",
                "/api/v1/calls".into(),
                crate::calls::anonymous_call(),
            ),
            (
                "counselor",
                "POST",
                "/api/v1/calls/lookup".into(),
                json!({ "phone": "+380441234567" }),
            ),
            (
                "case_worker",
                "POST",
                "/api/v1/cases".into(),
                json!({ "risk_level": "high", "profile": { "given_name": "A" } }),
            ),
            (
                "case_worker",
                "PATCH",
                format!("/api/v1/cases/{case}"),
                json!({ "version": 1, "status": "FollowUp" }),
            ),
            (
                "case_worker",
                "POST",
                format!("/api/v1/cases/{case}/notes"),
                json!({ "body": "a note" }),
            ),
            (
                "case_worker",
                "POST",
                format!("/api/v1/cases/{case}/plan"),
                json!({ "domain": "legal", "goal": "g" }),
            ),
            (
                "case_worker",
                "POST",
                format!("/api/v1/cases/{case}/consents"),
                json!({ "purpose": "data_processing" }),
            ),
            (
                "case_worker",
                "POST",
                "/api/v1/cases/search".into(),
                json!({ "name": "x" }),
            ),
            (
                "admin",
                "PUT",
                "/api/v1/directory/organisations/fuzz-1".into(),
                json!({ "name": "n", "services": [{ "service_type": "legal" }] }),
            ),
            (
                "supervisor",
                "POST",
                format!("/api/v1/cases/{case}/legal-hold"),
                json!({ "reason": "r" }),
            ),
        ];
        let mut rng = Rng(0x5eed);
        let mut seen = std::collections::BTreeMap::new();
        // Bounded: 40 mutations per route.
        for (role, method, path, valid) in &routes {
            let auth = format!("Bearer {}", staff.tokens[role]);
            for _ in 0..40 {
                let body = mutate(&mut rng, valid);
                let res = crate::support::http::request(
                    staff.server.addr,
                    method,
                    path,
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/json"),
                    ],
                    &body,
                );
                assert!(
                    res.status < 500 && res.status >= 200,
                    "{method} {path}: {} {}",
                    res.status,
                    res.text()
                );
                assert!(
                    !res.text().contains(CANARY),
                    "{method} {path} echoed a value: {}",
                    res.text()
                );
                *seen.entry(res.status).or_insert(0) += 1;
            }
        }
        // Refusals dominate, and the server is still there and answers.
        assert!(
            seen.keys().any(|s| *s == 400) && seen.keys().any(|s| *s == 422),
            "{seen:?}"
        );
        assert_eq!(
            crate::support::http::get(staff.server.addr, "/health/live").status,
            200
        );
        assert!(
            !staff.server.log().contains(CANARY),
            "a value reached the log"
        );
        assert!(staff.server.terminate().success());
        let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
        assert!(verified, "{out}");
    }
);

/// Whether `value` conforms to `schema` of the OpenAPI document: the subset the document uses
/// (`$ref`, `allOf`, `oneOf`/`anyOf`, `type` as a name or a list, `properties`, `required`,
/// `additionalProperties`, `items`).
pub(crate) fn conforms(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
        let name = name.rsplit('/').next().unwrap_or_default();
        return conforms(doc, &doc["components"]["schemas"][name], value);
    }
    // `allOf` (a flattened struct): every part holds.
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        conforms(doc, part, value)?;
    }
    // `oneOf` and `anyOf` (an untagged enum): some part holds.
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array) {
            let problems: Vec<String> = parts
                .iter()
                .filter_map(|part| conforms(doc, part, value).err())
                .collect();
            if problems.len() == parts.len() {
                return Err(format!("{value} matches no part of {key}: {problems:?}"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let matches = |t: &str| match t {
            "string" => value.is_string(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| matches(t)) {
            return Err(format!("{value} is not of type {types:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{name} is missing"));
            }
        }
        for (name, v) in object {
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => conforms(doc, s, v).map_err(|e| format!("{name}: {e}"))?,
                (None, Some(Value::Bool(false))) => {
                    return Err(format!("{name} is not documented"))
                }
                (None, Some(s @ Value::Object(_))) => {
                    conforms(doc, s, v).map_err(|e| format!("{name}: {e}"))?
                }
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for v in array {
            conforms(doc, items, v)?;
        }
    }
    Ok(())
}

fn peak_memory_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

both!(
    hostile_sizes_get_a_fast_4xx_and_memory_stays_bounded,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let pid = staff.server_pid();
        let auth = format!("Bearer {}", staff.tokens["counselor"]);
        let addr = staff.server.addr;
        let before = peak_memory_kib(pid);
        // A body announced as 100 MB (2 MB of it sent): refused on its length, at once.
        let started = std::time::Instant::now();
        let big = vec![b'x'; 2 * 1024 * 1024];
        let send_big = || {
            crate::support::http::request(
                addr,
                "POST",
                "/api/v1/calls",
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                    ("Content-Length", "104857600"),
                ],
                &big,
            )
        };
        let res = send_big();
        assert_eq!(res.status, 413, "{}", res.text());
        assert!(started.elapsed() < Duration::from_secs(5));
        // 10,000 JSON fields: refused by field, fast.
        let fields: Vec<String> = (0..10_000).map(|i| format!("\"f{i}\":0")).collect();
        let body = format!("{{{}}}", fields.join(","));
        let started = std::time::Instant::now();
        let res = crate::support::http::request(
            addr,
            "POST",
            "/api/v1/calls",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert!(res.status == 422 || res.status == 400, "{}", res.status);
        assert!(started.elapsed() < Duration::from_secs(5));
        // A 1 MB header: refused (or the connection closed); the server carries on.
        let header = "a".repeat(1024 * 1024);
        let answered = std::panic::catch_unwind(|| {
            crate::support::http::request(addr, "GET", "/health/live", &[("X-Big", &header)], b"")
                .status
        });
        if let Ok(status) = answered {
            assert!((400..500).contains(&status), "{status}");
        }
        // Ten times over, to see memory stay put.
        for _ in 0..10 {
            let _ = send_big();
        }
        assert_eq!(crate::support::http::get(addr, "/health/live").status, 200);
        let after = peak_memory_kib(pid);
        assert!(
            after.saturating_sub(before) < 64 * 1024,
            "peak memory grew from {before} to {after} KiB"
        );
        assert!(staff.server.terminate().success());
    }
);

both!(two_servers_on_one_database_lose_no_writes, |db: TestDb| {
    let staff = staff_for_tests(&db);
    // A second server process on the same database (and key file).
    let second = start_with(&db, &[("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", "")]);
    let token2 = crate::auth::tokens(&crate::auth::login(
        &second,
        "counselor-user",
        crate::auth::PASSWORD,
    ))
    .0;
    let token1 = staff.tokens["counselor"].clone();
    let acknowledged = Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (acknowledged, staff, second, token1, token2) =
                (&acknowledged, &staff, &second, &token1, &token2);
            scope.spawn(move || {
                for i in 0..40 {
                    let (server, token) = if (t + i) % 2 == 0 {
                        (&staff.server, token1)
                    } else {
                        (second, token2)
                    };
                    let mut body = crate::calls::anonymous_call();
                    body["summary"] = json!(format!("two servers {t}-{i}"));
                    let res = call(server, token, "POST", "/api/v1/calls", Some(body));
                    assert_eq!(res.status, 201, "{}", res.text());
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(res.json()["id"].as_str().unwrap().to_string());
                }
            });
        }
    });
    let ids = acknowledged.into_inner().unwrap();
    assert_eq!(ids.len(), 160);
    let stored = strings(&db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls");
    assert_eq!(stored, vec!["160"]);
    // Each server reads what the other wrote.
    let sup = &staff.tokens["supervisor"];
    for id in ids.iter().step_by(7) {
        assert_eq!(
            call(
                &staff.server,
                sup,
                "GET",
                &format!("/api/v1/calls/{id}"),
                None
            )
            .status,
            200
        );
    }
    assert!(second.terminate().success());
    assert!(staff.server.terminate().success());
    let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
    assert!(verified, "{out}");
});

both!(
    every_documented_route_takes_random_input_without_a_server_error,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let doc: serde_json::Value = serde_json::from_str(&api::openapi_json()).unwrap();
        // The checker can fail: a body of the wrong shape does not pass.
        let error = json!({ "$ref": "#/components/schemas/Error" });
        let good =
            json!({ "error": "e", "message": "m", "request_id": "r", "fields": { "a": "b" } });
        assert_eq!(conforms(&doc, &error, &good), Ok(()));
        for bad in [
            json!({ "error": "e", "message": "m" }),
            json!({ "error": 1, "message": "m", "request_id": "r" }),
            json!({ "error": "e", "message": "m", "request_id": "r", "value": "x" }),
            json!({ "error": "e", "message": "m", "request_id": "r", "fields": { "a": 1 } }),
        ] {
            assert!(conforms(&doc, &error, &bad).is_err(), "{bad}");
        }
        // A statistics cell is a count or text, nothing else (`oneOf`).
        let cell = json!({ "$ref": "#/components/schemas/CellOut" });
        assert_eq!(conforms(&doc, &cell, &json!(3)), Ok(()));
        assert_eq!(conforms(&doc, &cell, &json!("suppressed")), Ok(()));
        assert!(conforms(&doc, &cell, &json!(true)).is_err());
        // Every body is closed: a case in a list with a personal field added does not pass.
        let list = json!({ "$ref": "#/components/schemas/CaseListBody" });
        let mut summary = json!({ "id": "i", "reference": "2026-000001", "status": "open",
            "assigned_to": null, "risk_level": "high", "opened_at": "t", "closed_at": null,
            "version": 1, "updated_at": "t" });
        assert_eq!(
            conforms(
                &doc,
                &list,
                &json!({ "cases": [summary], "next_cursor": null })
            ),
            Ok(())
        );
        summary["name"] = json!("Olena");
        assert!(conforms(
            &doc,
            &list,
            &json!({ "cases": [summary], "next_cursor": null })
        )
        .is_err());
        // Nor a case file without its summary's fields (a flattened struct, merged).
        let file = json!({ "$ref": "#/components/schemas/CaseFileBody" });
        let partial = json!({ "opened_by": "u", "gender": "f", "age_band": "a", "nationality": "n",
            "exploitation_types": [], "control_methods": [], "recruitment": "r",
            "recruitment_countries": [], "transit_countries": [], "exploitation_countries": [],
            "nrm_status": "s", "notes": [], "plan": [], "consents": [], "calls": [] });
        assert!(conforms(&doc, &file, &partial).is_err());
        let mut rng = Rng(0xf00d);
        let params = [
            "x".to_string(),
            "..%2F..%2Fetc".to_string(),
            "%00".to_string(),
            "a".repeat(300),
            "%D0%BD%D0%B0%D0%B4%D1%96%D1%8F".to_string(),
            "0123456789abcdef0123456789abcdef".to_string(),
        ];
        let roles = crate::auth::ROLES;
        let mut requests = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let documented: Vec<u16> = op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect();
                // Bounded: 4 random requests per route.
                for _ in 0..4 {
                    let mut concrete = path.clone();
                    while let Some(start) = concrete.find('{') {
                        let end = concrete[start..].find('}').unwrap() + start;
                        concrete.replace_range(start..=end, &params[rng.below(params.len())]);
                    }
                    if rng.below(3) == 0 {
                        concrete.push_str("?limit=-1&cursor=%FF&from=yesterday&k=0&format=xml");
                    }
                    let token = match rng.below(4) {
                        0 => "not-a-token".to_string(),
                        _ => staff.tokens[roles[rng.below(roles.len())]].clone(),
                    };
                    let auth = format!("Bearer {token}");
                    let body = mutate(
                        &mut rng,
                        &json!({ "version": 1, "name": "x", "reason": "r" }),
                    );
                    let res = crate::support::http::request(
                        staff.server.addr,
                        &method.to_uppercase(),
                        &concrete,
                        &[
                            ("Authorization", &auth),
                            ("Content-Type", "application/json"),
                        ],
                        &body,
                    );
                    requests += 1;
                    // Only documented statuses, and bodies of the documented schema.
                    assert!(
                        res.status < 500 && documented.contains(&res.status),
                        "{method} {concrete}: {} {}",
                        res.status,
                        res.text()
                    );
                    let response = &op["responses"][res.status.to_string()];
                    if let Some(schema) = response["content"]["application/json"].get("schema") {
                        if let Err(e) = conforms(&doc, schema, &res.json()) {
                            panic!("{method} {concrete}: {} {}: {e}", res.status, res.text());
                        }
                    }
                    assert!(
                        !res.text().contains(CANARY),
                        "{method} {concrete} echoed a value"
                    );
                }
            }
        }
        assert!(requests >= 4 * 60, "{requests}");
        assert_eq!(
            crate::support::http::get(staff.server.addr, "/health/live").status,
            200
        );
        assert!(staff.server.terminate().success());
    }
);

// Every page route takes random input without a server error, from any role: random path
// parameters, queries and form fields (known names with hostile values, unknown names), with
// and without the session's form token. Nothing typed reaches the log.
both!(
    every_page_route_takes_random_input_without_a_server_error,
    |db: TestDb| {
        let staff = crate::auth::staff_with(&db, &[("HOTLINE_LOG", "trace")]);
        crate::referrals::add_shelter(&staff);
        let case_id = crate::referrals::case_with_profile(&staff, "CNRY-fuzz-case");
        let mut rng = Rng(0xbeef);
        let params = [
            case_id.clone(),
            "..%2F..%2Fetc".to_string(),
            "%00".to_string(),
            "a".repeat(300),
            "%D0%BD%D0%B0%D0%B4%D1%96%D1%8F".to_string(),
            "0123456789abcdef0123456789abcdef".to_string(),
            "approve".to_string(),
        ];
        let names = [
            "version",
            "reason",
            "outcome",
            "body",
            "csv",
            "login",
            "role",
            "password",
            "verdict",
            "phone",
            "code",
            "from",
            "to",
            "status",
            "assigned_to",
            "topics",
            "region",
            "lang",
            "back",
            "revision",
            "due_on",
            "expires_at",
            "service_id",
            "justification",
            "x-unknown",
        ];
        let long = format!("{CANARY}{}", "é".repeat(3000));
        let values = [
            CANARY,
            "",
            "-1",
            "99999999999999999999",
            "2026-02-30",
            "<script>",
            "'=HYPERLINK()",
            "\u{0}",
            &long,
            "a,b\n\"c",
            "%FF",
        ];
        let mut browsers: Vec<(crate::web::Browser, String)> = crate::auth::ROLES
            .iter()
            .map(|role| {
                let mut b = crate::web::Browser::new(&staff.server);
                let login = format!("{}-user", role.replace('_', "-"));
                assert_eq!(b.sign_in(&login, crate::auth::PASSWORD, "").status, 303);
                let to = b.get("/").header("location").unwrap().to_string();
                let token = b.form_token(&to);
                (b, token)
            })
            .collect();
        let mut requests = 0;
        for (method, path) in api::PAGE_ROUTES {
            // Bounded: 4 random requests per route.
            for _ in 0..4 {
                let mut concrete = path.to_string();
                while let Some(start) = concrete.find('{') {
                    let end = concrete[start..].find('}').unwrap() + start;
                    concrete.replace_range(start..=end, &params[rng.below(params.len())]);
                }
                if rng.below(3) == 0 {
                    concrete.push_str(
                        "?from=yesterday&to=%FF&status=x&after=zz&before=-1&hours=0&show=all&x=1",
                    );
                }
                let (browser, token) = &mut browsers[rng.below(6)];
                let mut fields: Vec<(&str, String)> = Vec::new();
                if rng.below(4) != 0 {
                    fields.push(("form_token", token.clone()));
                }
                for _ in 0..rng.below(5) {
                    fields.push((
                        names[rng.below(names.len())],
                        values[rng.below(values.len())].to_string(),
                    ));
                }
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
                let res = match *method {
                    "get" => browser.get(&concrete),
                    _ => browser.post(&concrete, &fields),
                };
                requests += 1;
                assert!(
                    res.status < 500,
                    "{method} {concrete}: {} {}",
                    res.status,
                    res.text()
                );
            }
        }
        assert!(requests >= 4 * 40, "{requests}");
        assert_eq!(
            crate::support::http::get(staff.server.addr, "/health/live").status,
            200
        );
        let log = staff.server.log();
        assert!(
            !log.contains(CANARY) && !log.contains("CNRY-fuzz-case"),
            "input reached the log"
        );
        assert!(staff.server.terminate().success());
    }
);

// Reads wait for their audit event (group commit) before their data leaves. When the access
// log refuses the event, the reader gets a server error and none of the data; the refused
// reads leave no event, and the log still verifies once the fault is gone.
both!(
    a_read_whose_audit_event_fails_releases_nothing,
    |db: TestDb| {
        let staff = staff_for_tests(&db);
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let case_id = crate::referrals::case_with_profile(&staff, &canary);
        let worker = staff.tokens["case_worker"].clone();
        let mut logged = crate::calls::anonymous_call();
        logged["caller_phone"] = json!("+380441234567");
        let log_call = || {
            let res = call(
                &staff.server,
                &staff.tokens["counselor"],
                "POST",
                "/api/v1/calls",
                Some(logged.clone()),
            );
            assert_eq!(res.status, 201, "{}", res.text());
        };
        log_call();
        let reads: [(&str, String, Option<serde_json::Value>); 3] = [
            ("GET", format!("/api/v1/cases/{case_id}"), None),
            ("GET", "/api/v1/cases".to_string(), None),
            (
                "POST",
                "/api/v1/calls/lookup".to_string(),
                Some(json!({ "phone": "0441234567" })),
            ),
        ];
        let refuse = "IN ('case.read', 'case.list', 'call.lookup')";
        match db.backend {
            persistence::Backend::Sqlite => crate::referrals::sql(
                &db,
                &format!(
                    "CREATE TRIGGER test_refuse_reads BEFORE INSERT ON audit_events
                 WHEN NEW.action {refuse} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ),
            ),
            persistence::Backend::Postgres => crate::referrals::sql(
                &db,
                &format!(
                    "CREATE FUNCTION test_refuse_reads() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.action {refuse} THEN RAISE EXCEPTION 'refused by the test'; END IF;
                 RETURN NEW; END $$;
                 CREATE TRIGGER test_refuse_reads BEFORE INSERT ON audit_events
                 FOR EACH ROW EXECUTE FUNCTION test_refuse_reads()"
                ),
            ),
        }
        // Several at once, so that some share a batch with each other.
        std::thread::scope(|scope| {
            for (method, path, body) in &reads {
                for _ in 0..3 {
                    let (staff, worker, canary) = (&staff, &worker, &canary);
                    scope.spawn(move || {
                        let res = call(&staff.server, worker, method, path, body.clone());
                        assert_eq!(res.status, 500, "{method} {path}: {}", res.text());
                        assert!(
                            !res.text().contains(canary.as_str()),
                            "{method} {path} released data"
                        );
                        assert!(
                            !res.text().contains("1234567"),
                            "{method} {path} released data"
                        );
                        assert_eq!(res.json()["error"], "internal", "{}", res.text());
                    });
                }
            }
        });
        // A write's event is not affected: it is in the write's own transaction.
        log_call();
        crate::referrals::sql(
            &db,
            match db.backend {
                persistence::Backend::Sqlite => "DROP TRIGGER test_refuse_reads",
                persistence::Backend::Postgres => "DROP TRIGGER test_refuse_reads ON audit_events",
            },
        );
        for (method, path, body) in &reads {
            let res = call(&staff.server, &worker, method, path, body.clone());
            assert_eq!(res.status, 200, "{method} {path}: {}", res.text());
        }
        let res = call(
            &staff.server,
            &worker,
            "GET",
            &format!("/api/v1/cases/{case_id}"),
            None,
        );
        assert!(res.text().contains(&canary));
        let events = strings(
            &db,
            &format!(
                "SELECT action AS item FROM audit_events WHERE action {refuse} ORDER BY action"
            ),
        );
        assert_eq!(
            events,
            ["call.lookup", "case.list", "case.read", "case.read"]
        );
        let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
        assert!(verified, "{out}");
    }
);

both!(
    a_write_whose_audit_event_fails_leaves_nothing,
    |db: TestDb| {
        // The busiest writes are one statement on PostgreSQL, without a transaction around
        // it: when the database refuses the event, the record's rows must go with it.
        let staff = staff_for_tests(&db);
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let (shelter, _) = crate::referrals::add_shelter(&staff);
        let case_id = crate::referrals::case_with_profile(&staff, &canary);
        crate::referrals::consent(&staff, &case_id, &["shelter"], None);
        let mut logged = crate::calls::anonymous_call();
        logged["caller_phone"] = json!("+380441234567");
        logged["summary"] = json!(format!("{canary}-summary"));
        let writes: [(&str, &str, String, serde_json::Value); 3] = [
            ("counselor", "POST", "/api/v1/calls".to_string(), logged),
            (
                "case_worker",
                "POST",
                format!("/api/v1/cases/{case_id}/notes"),
                json!({ "body": format!("{canary}-note") }),
            ),
            (
                "case_worker",
                "POST",
                format!("/api/v1/cases/{case_id}/referrals"),
                json!({ "service_id": shelter, "safety_needs": format!("{canary}-needs") }),
            ),
        ];
        let count = || {
            strings(
                &db,
                "SELECT CAST((SELECT COUNT(*) FROM calls) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM case_notes) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM case_note_revisions) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM referrals) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM data_keys) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM blind_indexes) AS TEXT) || ' ' || \
                 CAST((SELECT COUNT(*) FROM audit_events) AS TEXT) AS item",
            )
        };
        let refuse = "IN ('call.create', 'case.note.add', 'referral.create')";
        match db.backend {
            persistence::Backend::Sqlite => crate::referrals::sql(
                &db,
                &format!(
                    "CREATE TRIGGER test_refuse_writes BEFORE INSERT ON audit_events
                 WHEN NEW.action {refuse} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ),
            ),
            persistence::Backend::Postgres => crate::referrals::sql(
                &db,
                &format!(
                    "CREATE FUNCTION test_refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.action {refuse} THEN RAISE EXCEPTION 'refused by the test'; END IF;
                 RETURN NEW; END $$;
                 CREATE TRIGGER test_refuse_writes BEFORE INSERT ON audit_events
                 FOR EACH ROW EXECUTE FUNCTION test_refuse_writes()"
                ),
            ),
        }
        let before = count();
        for (role, method, path, body) in &writes {
            let res = call(
                &staff.server,
                &staff.tokens[*role],
                method,
                path,
                Some(body.clone()),
            );
            assert_eq!(res.status, 500, "{method} {path}: {}", res.text());
            assert_eq!(res.json()["error"], "internal", "{}", res.text());
        }
        assert_eq!(
            count(),
            before,
            "a write without its event left rows behind"
        );
        crate::referrals::sql(
            &db,
            match db.backend {
                persistence::Backend::Sqlite => "DROP TRIGGER test_refuse_writes",
                persistence::Backend::Postgres => "DROP TRIGGER test_refuse_writes ON audit_events",
            },
        );
        for (role, method, path, body) in &writes {
            let res = call(
                &staff.server,
                &staff.tokens[*role],
                method,
                path,
                Some(body.clone()),
            );
            assert_eq!(res.status, 201, "{method} {path}: {}", res.text());
        }
        assert_ne!(count(), before);
        assert!(!staff.server.log().contains(canary.as_str()));
        assert!(staff.server.terminate().success());
        let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
        assert!(verified, "{out}");
    }
);

/// PostgreSQL goes away in the middle of a load of writes and reads (a proxy between the
/// server and the database is cut): every request then gets 503 with the JSON error, never a
/// 500 or a dropped connection, the server does not panic, and once the database is back the
/// same clients succeed again without a restart. Every call acknowledged is in the database.
#[test]
fn an_outage_under_load_gives_503_and_recovers_by_itself() {
    let Some(db) = TestDb::postgres("an_outage_under_load_gives_503_and_recovers") else {
        return;
    };
    let (proxy, url) = crate::http_surface::proxied(&db);
    let mut staff = crate::auth::staff_with(&db, &[("HOTLINE__DATABASE__URL", &url)]);
    let case_id = crate::referrals::case_with_profile(&staff, "outage");
    let ok = std::sync::atomic::AtomicUsize::new(0);
    let unavailable = std::sync::atomic::AtomicUsize::new(0);
    let unexpected = Mutex::new(Vec::<String>::new());
    let acknowledged = Mutex::new(Vec::<String>::new());
    let stop = AtomicBool::new(false);
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (staff, ok, unavailable, unexpected, acknowledged, stop, case_id) = (
                &staff,
                &ok,
                &unavailable,
                &unexpected,
                &acknowledged,
                &stop,
                &case_id,
            );
            scope.spawn(move || {
                // Bounded: at most 5,000 requests per thread.
                for i in 0..5_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (role, method, path, body) = match (t + i) % 3 {
                        0 => {
                            let mut body = crate::calls::anonymous_call();
                            body["summary"] = json!(format!("outage {t}-{i}"));
                            ("counselor", "POST", "/api/v1/calls".to_string(), Some(body))
                        }
                        1 => (
                            "case_worker",
                            "GET",
                            format!("/api/v1/cases/{case_id}"),
                            None,
                        ),
                        _ => ("case_worker", "GET", "/api/v1/cases".to_string(), None),
                    };
                    let res = call(&staff.server, &staff.tokens[role], method, &path, body);
                    match res.status {
                        200 | 201 => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            if res.status == 201 {
                                let id = res.json()["id"].as_str().unwrap().to_string();
                                acknowledged.lock().unwrap().push(id);
                            }
                        }
                        503 if res.json()["error"] == "unavailable" => {
                            unavailable.fetch_add(1, Ordering::SeqCst);
                        }
                        status => unexpected
                            .lock()
                            .unwrap()
                            .push(format!("{method} {path}: {status} {}", res.text())),
                    }
                }
            });
        }
        wait_until("requests before the cut", &|| {
            ok.load(Ordering::SeqCst) >= 60
        });
        proxy.cut();
        let before = unavailable.load(Ordering::SeqCst);
        wait_until("503s during the outage", &|| {
            unavailable.load(Ordering::SeqCst) >= before + 30
        });
        let during = ok.load(Ordering::SeqCst);
        proxy.restore();
        wait_until("successes after the database is back", &|| {
            ok.load(Ordering::SeqCst) >= during + 60
        });
        stop.store(true, Ordering::SeqCst);
    });
    let unexpected = unexpected.into_inner().unwrap();
    assert!(
        unexpected.is_empty(),
        "{unexpected:#?}\n{}",
        staff.server.log()
    );
    assert!(staff.server.is_running());
    let log = staff.server.log();
    assert!(!log.contains("panic"), "{log}");
    // Nothing acknowledged is missing.
    let acknowledged = acknowledged.into_inner().unwrap();
    let stored = strings(&db, "SELECT id AS item FROM calls");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged calls missing",
        missing.len()
    );
    let (verified, out) = crate::auth::cli(&db, &["audit", "verify"], "");
    assert!(verified, "{out}");
}

// Sign-ins do not leave memory behind: argon2id's 19 MiB per hash runs on a few threads of its
// own, in memory they keep (before: 470-510 MiB resident after these 30 sign-ins, as every
// blocking thread that ever hashed kept its buffers).
both!(sign_ins_leave_no_memory_behind, |db: TestDb| {
    let staff = staff_for_tests(&db);
    let pid = staff.server_pid();
    for _ in 0..5 {
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    let res =
                        crate::auth::login(&staff.server, "counselor-user", crate::auth::PASSWORD);
                    assert_eq!(res.status, 200, "{}", res.text());
                });
            }
        });
    }
    let resident = status_kib(pid, "VmRSS:");
    assert!(
        resident < 150 * 1024,
        "{resident} KiB resident after 30 sign-ins"
    );
    assert!(staff.server.terminate().success());
});

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}
