//! Signing in over HTTP as users and attackers would: the session lifecycle, look-alike
//! failures and lockout, password change and disabling taking effect on the next request, and
//! forged, altered and replayed tokens.

use std::io::Write;
use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use persistence::testing::query_strings;
use serde_json::{json, Value};

use crate::both;
use crate::support::http::{self, get, post_json, request};
use crate::support::server::{command, Server};
use crate::support::TestDb;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Environment shared by the CLI and the server of one test: keys and checkpoints in its dir.
fn env(db: &TestDb) -> Vec<(String, String)> {
    vec![
        (
            "HOTLINE__CRYPTO__MASTER_KEYS_FILE".into(),
            db.dir.path().join("master.keys").display().to_string(),
        ),
        (
            "HOTLINE__AUDIT__CHECKPOINT_FILE".into(),
            db.dir.path().join("cp.log").display().to_string(),
        ),
    ]
}

pub(crate) fn cli(db: &TestDb, args: &[&str], stdin: &str) -> (bool, String) {
    let mut cmd = command(&db.url, db.dir.path());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env(db) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn hotline");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub(crate) fn add_user(db: &TestDb, login: &str, role: &str) {
    let (ok, out) = cli(
        db,
        &[
            "user",
            "add",
            "--login",
            login,
            "--role",
            role,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
}

fn start(db: &TestDb) -> Server {
    start_with(db, &[])
}

pub(crate) fn start_with(db: &TestDb, extra: &[(&str, &str)]) -> Server {
    let env = env(db);
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend_from_slice(extra);
    Server::start_with(&db.url, &pairs)
}

/// Slowing down repeated failures is tested on its own; these tests fail on purpose often.
const NO_THROTTLE: (&str, &str) = ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000");

pub(crate) fn login(server: &Server, login: &str, password: &str) -> http::Response {
    post_json(
        server.addr,
        "/api/v1/auth/login",
        json!({ "login": login, "password": password })
            .to_string()
            .as_bytes(),
    )
}

pub(crate) fn tokens(res: &http::Response) -> (String, String) {
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

pub(crate) fn me(server: &Server, token: &str) -> http::Response {
    request(
        server.addr,
        "GET",
        "/api/v1/auth/me",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
}

fn refresh(server: &Server, token: &str) -> http::Response {
    post_json(
        server.addr,
        "/api/v1/auth/refresh",
        json!({ "refresh_token": token }).to_string().as_bytes(),
    )
}

pub(crate) fn unauthenticated(res: &http::Response) {
    assert_eq!(res.status, 401, "{}", res.text());
    assert_eq!(res.json()["error"], "unauthenticated");
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
}

/// The routes that check the session in the same blocking call as their work, each with input
/// it would refuse (422 or 400) or a record that does not exist (404).
fn busiest_routes_with_bad_input() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let mut pigeon = crate::calls::anonymous_call();
    pigeon["channel"] = json!("pigeon");
    vec![
        ("POST", "/api/v1/calls", Some(pigeon)),
        (
            "POST",
            "/api/v1/calls/lookup",
            Some(json!({ "phone": "x" })),
        ),
        ("GET", "/api/v1/cases?cursor=not-a-cursor", None),
        ("GET", "/api/v1/cases/no-such-case", None),
        (
            "POST",
            "/api/v1/cases/no-such-case/notes",
            Some(json!({ "revision": 1, "body": "x" })),
        ),
        (
            "POST",
            "/api/v1/cases/no-such-case/referrals",
            Some(json!({ "service_id": "none" })),
        ),
    ]
}

/// The body without its request id, to compare two answers.
fn sans_id(res: &http::Response) -> (u16, Value) {
    let mut body = res.json();
    body.as_object_mut().unwrap().remove("request_id");
    (res.status, body)
}

both!(a_session_lives_refreshes_and_ends, |db: TestDb| {
    add_user(&db, "olena", "case_worker");
    let server = start(&db);
    let (access, refresh1) = tokens(&login(&server, "Olena", PASSWORD));
    let who = me(&server, &access);
    assert_eq!(who.status, 200, "{}", who.text());
    assert_eq!(who.json()["login"], "olena");
    assert_eq!(who.json()["role"], "case_worker");
    assert_eq!(who.header("cache-control"), Some("no-store"));

    // Refresh rotates: the new pair works, the old refresh token is spent.
    let (access2, refresh2) = tokens(&refresh(&server, &refresh1));
    assert_ne!(refresh2, refresh1);
    assert_eq!(me(&server, &access2).status, 200);
    // Presenting the spent token again means someone copied it: the whole session ends.
    unauthenticated(&refresh(&server, &refresh1));
    unauthenticated(&me(&server, &access2));
    unauthenticated(&refresh(&server, &refresh2));
    // An unknown refresh token is refused the same way; a refresh token is no access token.
    unauthenticated(&refresh(&server, &"0".repeat(64)));
    let (access3, refresh3) = tokens(&login(&server, "olena", PASSWORD));
    unauthenticated(&me(&server, &refresh3));

    // Logout ends the session on the very next request.
    let out = request(
        server.addr,
        "POST",
        "/api/v1/auth/logout",
        &[("Authorization", &format!("Bearer {access3}"))],
        b"",
    );
    assert_eq!(out.status, 204, "{}", out.text());
    unauthenticated(&me(&server, &access3));
    unauthenticated(&refresh(&server, &refresh3));
    // The busiest routes check the session on the same thread as their work: an ended session
    // is still 401 first, whatever its input.
    for (method, path, body) in busiest_routes_with_bad_input() {
        unauthenticated(&call(&server, &access3, method, path, body));
    }

    // Every step is in the access log; the password and tokens are nowhere in the server log.
    let d = db.open();
    let actions = query_strings(
        &d,
        "SELECT action || ' ' || outcome AS item FROM audit_events ORDER BY id",
    )
    .unwrap();
    for expected in [
        "auth.login allowed",
        "auth.refresh allowed",
        "auth.refresh denied",
        "auth.logout allowed",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing: {actions:?}"
        );
    }
    let log = server.log();
    for secret in [PASSWORD, &access, &refresh1, &refresh3] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    assert!(server.terminate().success());
});

both!(
    failed_logins_look_alike_and_lock_the_account,
    |db: TestDb| {
        add_user(&db, "olena", "case_worker");
        let server = start_with(&db, &[NO_THROTTLE]);
        let unknown = login(&server, "nobody-here", PASSWORD);
        let wrong = login(&server, "olena", "not the password at all");
        let malformed_login = login(&server, "x", PASSWORD);
        assert_eq!(unknown.status, 401);
        assert_eq!(sans_id(&unknown), sans_id(&wrong));
        assert_eq!(sans_id(&unknown), sans_id(&malformed_login));
        assert_eq!(unknown.json()["error"], "invalid_credentials");
        // Nine more failures: ten in a row lock the account.
        for _ in 0..9 {
            assert_eq!(
                sans_id(&login(&server, "olena", "not the password at all")),
                sans_id(&unknown)
            );
        }
        let locked = login(&server, "olena", PASSWORD);
        assert_eq!(
            sans_id(&locked),
            sans_id(&unknown),
            "a locked account answers like any failure"
        );
        let d = db.open();
        let rules = query_strings(&d, "SELECT action || ' ' || COALESCE(rule, '') AS item FROM audit_events WHERE outcome = 'denied'").unwrap();
        for expected in [
            "auth.login unknown_user",
            "auth.login bad_password",
            "auth.lock too_many_failures",
            "auth.login locked",
        ] {
            assert!(
                rules.iter().any(|r| r == expected),
                "{expected} missing: {rules:?}"
            );
        }
        // The submitted login of an unknown user (maybe a password typed in the wrong box) is not
        // recorded anywhere.
        let all = query_strings(
            &d,
            "SELECT COALESCE(actor_id, '') || COALESCE(record_id, '') AS item FROM audit_events",
        )
        .unwrap();
        assert!(!all.iter().any(|a| a.contains("nobody-here")));
        assert!(!server.log().contains("nobody-here"));
        assert!(server.terminate().success());
    }
);

both!(
    password_change_and_disabling_take_effect_at_once,
    |db: TestDb| {
        add_user(&db, "olena", "case_worker");
        add_user(&db, "ivan", "supervisor");
        let server = start(&db);
        let (access, _) = tokens(&login(&server, "olena", PASSWORD));
        let auth = format!("Bearer {access}");
        let change = |current: &str, new: &str| {
            request(
                server.addr,
                "POST",
                "/api/v1/auth/password",
                &[
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                ],
                json!({ "current_password": current, "new_password": new })
                    .to_string()
                    .as_bytes(),
            )
        };
        let wrong = change("not it at all", "a brand new passphrase");
        assert_eq!(wrong.status, 422, "{}", wrong.text());
        assert!(wrong.json()["fields"]["current_password"].is_string());
        let weak = change(PASSWORD, "password1234");
        assert_eq!(weak.status, 422, "{}", weak.text());
        assert!(weak.json()["fields"]["new_password"].is_string());
        assert!(
            !weak.text().contains("password1234"),
            "the error repeats the password"
        );
        assert_eq!(change(PASSWORD, "a brand new passphrase").status, 204);
        unauthenticated(&me(&server, &access));
        assert_eq!(login(&server, "olena", PASSWORD).status, 401);
        let (access, _) = tokens(&login(&server, "olena", "a brand new passphrase"));
        assert_eq!(me(&server, &access).status, 200);

        // Disabled from the command line: the next request is refused, and so is the next login.
        let (ok, out) = cli(&db, &["user", "disable", "--login", "olena"], "");
        assert!(ok, "{out}");
        unauthenticated(&me(&server, &access));
        assert_eq!(
            login(&server, "olena", "a brand new passphrase").status,
            401
        );
        // Other users are untouched.
        let (other, _) = tokens(&login(&server, "ivan", PASSWORD));
        assert_eq!(me(&server, &other).json()["role"], "supervisor");
        assert!(server.terminate().success());
    }
);

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

both!(
    forged_and_altered_access_tokens_are_refused,
    |db: TestDb| {
        add_user(&db, "olena", "case_worker");
        let server = start(&db);
        let (access, _) = tokens(&login(&server, "olena", PASSWORD));
        // What the server signs with, derived as the server derives it (an insider with the key
        // file; the point is that every other property is still checked).
        let ring = crypto::keyring::KeyRing::load(&db.dir.path().join("master.keys")).unwrap();
        let key = ring.purpose_key("access-token-hs256").unwrap();
        let payload: Value = {
            let part = access.split('.').nth(1).unwrap();
            let padded = format!("{part}{}", "=".repeat((4 - part.len() % 4) % 4));
            let bytes = decode_b64(&padded);
            serde_json::from_slice(&bytes).unwrap()
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sign = |header: Header, claims: &Value, secret: &[u8]| {
            jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret).unwrap())
                .unwrap()
        };
        let at = || Header {
            typ: Some("at+jwt".into()),
            ..Header::new(Algorithm::HS256)
        };
        let with = |changes: &[(&str, Value)]| {
            let mut c = payload.clone();
            for (k, v) in changes {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(*k);
                } else {
                    c[*k] = v.clone();
                }
            }
            c
        };

        // The control: a token made this way for the real session is accepted.
        let good = sign(at(), &payload, key.expose_bytes());
        assert_eq!(me(&server, &good).status, 200);

        let mut forged = vec![
            ("garbage", "not.a.token".to_string()),
            ("empty", String::new()),
            (
                "alg none",
                format!(
                    "{}.{}.",
                    b64(br#"{"alg":"none","typ":"at+jwt"}"#),
                    b64(payload.to_string().as_bytes())
                ),
            ),
            (
                "alg swapped",
                sign(
                    Header {
                        typ: Some("at+jwt".into()),
                        ..Header::new(Algorithm::HS512)
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
            ("wrong key", sign(at(), &payload, &[7u8; 32])),
            (
                "expired",
                sign(
                    at(),
                    &with(&[("exp", json!(now - 3600)), ("iat", json!(now - 3900))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "not yet valid",
                sign(
                    at(),
                    &with(&[("nbf", json!(now + 3600))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "issued in the future",
                sign(
                    at(),
                    &with(&[("iat", json!(now + 3600))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "wrong audience",
                sign(
                    at(),
                    &with(&[("aud", json!("another-api"))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "wrong issuer",
                sign(
                    at(),
                    &with(&[("iss", json!("someone"))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "no session",
                sign(at(), &with(&[("sid", Value::Null)]), key.expose_bytes()),
            ),
            (
                "no jti",
                sign(at(), &with(&[("jti", Value::Null)]), key.expose_bytes()),
            ),
            (
                "no exp",
                sign(at(), &with(&[("exp", Value::Null)]), key.expose_bytes()),
            ),
            (
                "no sub",
                sign(at(), &with(&[("sub", Value::Null)]), key.expose_bytes()),
            ),
            (
                "another user's id",
                sign(at(), &with(&[("sub", json!("0000"))]), key.expose_bytes()),
            ),
            (
                "unknown session",
                sign(
                    at(),
                    &with(&[("sid", json!("feedfacefeedface"))]),
                    key.expose_bytes(),
                ),
            ),
            (
                "no typ",
                sign(Header::new(Algorithm::HS256), &payload, key.expose_bytes()),
            ),
            (
                "typ JWT",
                sign(
                    Header {
                        typ: Some("JWT".into()),
                        ..Header::new(Algorithm::HS256)
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
            (
                "jku",
                sign(
                    Header {
                        jku: Some("https://evil.example/keys".into()),
                        ..at()
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
            (
                "x5u",
                sign(
                    Header {
                        x5u: Some("https://evil.example/cert".into()),
                        ..at()
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
            (
                "kid",
                sign(
                    Header {
                        kid: Some("other".into()),
                        ..at()
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
            (
                "crit",
                sign(
                    Header {
                        crit: Some(vec!["exp".into()]),
                        ..at()
                    },
                    &payload,
                    key.expose_bytes(),
                ),
            ),
        ];
        // The real token with its payload altered (signature no longer matches).
        let mut parts: Vec<String> = access.split('.').map(str::to_string).collect();
        parts[1] = b64(with(&[("sub", json!("someone-else"))])
            .to_string()
            .as_bytes());
        forged.push(("tampered payload", parts.join(".")));
        for (name, token) in &forged {
            let res = me(&server, token);
            assert_eq!(res.status, 401, "{name}: {}", res.text());
            assert_eq!(res.json()["error"], "unauthenticated", "{name}");
        }
        // Without any header, and with another scheme.
        unauthenticated(&get(server.addr, "/api/v1/auth/me"));
        unauthenticated(&request(
            server.addr,
            "GET",
            "/api/v1/auth/me",
            &[("Authorization", &format!("Basic {access}"))],
            b"",
        ));
        assert!(server.terminate().success());
    }
);

fn decode_b64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' | b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = text.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(value(*c)) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => continue,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}

pub(crate) fn code_now(secret: &[u8], offset_steps: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let step = (crypto::totp::step_at(now) as i64 + offset_steps) as u64;
    format!("{:06}", crypto::totp::hotp(ring_sha1(), secret, step, 6))
}

/// Sleeps (at most 5 s) until at least 5 s are left in the current 30-second step, so a code
/// computed here for "one step back" is still one step back when the server checks it.
pub(crate) fn away_from_a_step_boundary() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into_step = now.as_millis() % 30_000;
    if into_step > 25_000 {
        std::thread::sleep(std::time::Duration::from_millis(
            30_000 - into_step as u64 + 50,
        ));
    }
}

fn ring_sha1() -> ring::hmac::Algorithm {
    ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY
}

both!(
    supervisors_must_enrol_a_second_factor_and_codes_work_once,
    |db: TestDb| {
        add_user(&db, "svetlana", "supervisor");
        let server = start_with(&db, &[NO_THROTTLE]);
        let post = |path: &str, token: &str, body: Value| {
            request(
                server.addr,
                "POST",
                path,
                &[
                    ("Authorization", &format!("Bearer {token}")),
                    ("Content-Type", "application/json"),
                ],
                body.to_string().as_bytes(),
            )
        };
        // Signed in, but until she enrols her session can do nothing else.
        let (access, _) = tokens(&login(&server, "svetlana", PASSWORD));
        assert_eq!(me(&server, &access).json()["totp_enrolment_required"], true);
        let blocked = post(
            "/api/v1/auth/password",
            &access,
            json!({ "current_password": "x", "new_password": "y" }),
        );
        assert_eq!(blocked.status, 403, "{}", blocked.text());
        assert_eq!(blocked.json()["error"], "totp_enrolment_required");
        for (method, path, body) in busiest_routes_with_bad_input() {
            let res = call(&server, &access, method, path, body);
            assert_eq!(res.status, 403, "{method} {path}: {}", res.text());
            assert_eq!(res.json()["error"], "totp_enrolment_required");
        }

        let enrol = post("/api/v1/auth/totp", &access, json!({}));
        assert_eq!(enrol.status, 200, "{}", enrol.text());
        let uri = enrol.json()["otpauth_uri"].as_str().unwrap().to_string();
        assert!(
            uri.starts_with("otpauth://totp/hotline:svetlana?secret="),
            "{uri}"
        );
        let secret = base32_decode(
            uri.split("secret=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap(),
        );
        assert_eq!(secret.len(), 20);
        let wrong = post(
            "/api/v1/auth/totp/confirm",
            &access,
            json!({ "code": "000000" }),
        );
        assert_eq!(wrong.status, 422, "{}", wrong.text());
        away_from_a_step_boundary();
        let confirmed = post(
            "/api/v1/auth/totp/confirm",
            &access,
            json!({ "code": code_now(&secret, -1) }),
        );
        assert_eq!(confirmed.status, 200, "{}", confirmed.text());
        let recovery: Vec<String> = confirmed.json()["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(recovery.len(), 10);
        // Now the gate is open (the request reaches the password check).
        let through = post(
            "/api/v1/auth/password",
            &access,
            json!({ "current_password": "nope", "new_password": "a fine new passphrase" }),
        );
        assert_eq!(through.status, 422, "{}", through.text());
        assert_eq!(
            post("/api/v1/auth/totp", &access, json!({})).status,
            409,
            "enrolling twice"
        );

        // Next login needs the code; a wrong code is an ordinary failure; a used code fails again.
        let with_code = |code: Option<&str>| {
            let mut body = json!({ "login": "svetlana", "password": PASSWORD });
            if let Some(c) = code {
                body["totp"] = json!(c);
            }
            post_json(
                server.addr,
                "/api/v1/auth/login",
                body.to_string().as_bytes(),
            )
        };
        let missing = with_code(None);
        assert_eq!(
            (missing.status, missing.json()["error"].clone()),
            (401, json!("totp_required"))
        );
        assert_eq!(
            with_code(Some("123456")).json()["error"],
            "invalid_credentials"
        );
        let current = code_now(&secret, 0);
        let ok = with_code(Some(&current));
        assert_eq!(ok.status, 200, "{}", ok.text());
        let (access2, _) = tokens(&ok);
        assert_eq!(me(&server, &access2).json()["second_factor_used"], true);
        // The access log says which events came from a session that passed the second factor.
        let mfa_logins = query_strings(
        &db.open(),
        "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE action = 'auth.login' AND outcome = 'allowed' AND mfa",
    )
    .unwrap();
        assert_eq!(mfa_logins, vec!["1"]);
        assert_eq!(
            with_code(Some(&current)).json()["error"],
            "invalid_credentials",
            "a replayed code"
        );
        assert_eq!(
            with_code(Some(&code_now(&secret, -1))).json()["error"],
            "invalid_credentials",
            "an older step"
        );
        // A recovery code works once.
        assert_eq!(with_code(Some(&recovery[3])).status, 200);
        assert_eq!(
            with_code(Some(&recovery[3])).json()["error"],
            "invalid_credentials"
        );

        // Lost phone: an operator resets it; her sessions end; she must enrol again.
        let (ok, out) = cli(&db, &["user", "reset-totp", "--login", "svetlana"], "");
        assert!(ok, "{out}");
        unauthenticated(&me(&server, &access2));
        let (access3, _) = tokens(&with_code(None));
        assert_eq!(
            me(&server, &access3).json()["totp_enrolment_required"],
            true
        );

        // The secret is sealed: it is not in the database in clear.
        let d = db.open();
        let stored = query_strings(
            &d,
            "SELECT login AS item FROM users WHERE totp_secret IS NOT NULL",
        )
        .unwrap();
        assert!(stored.is_empty(), "reset left the secret: {stored:?}");
        assert!(!server.log().contains(&current));
        assert!(server.terminate().success());
    }
);

both!(
    repeated_failures_are_slowed_down_whoever_is_targeted,
    |db: TestDb| {
        add_user(&db, "olena", "case_worker");
        let server = start_with(
            &db,
            &[
                ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "2"),
                ("HOTLINE__AUTH__THROTTLE_BASE_MS", "400"),
            ],
        );
        // Two failures against an unknown login, then the next attempt is refused before any check.
        assert_eq!(
            login(&server, "nobody-here", "whatever whatever").status,
            401
        );
        assert_eq!(
            login(&server, "nobody-here", "whatever whatever").status,
            401
        );
        let slowed = login(&server, "nobody-here", "whatever whatever");
        assert_eq!(slowed.status, 429, "{}", slowed.text());
        assert_eq!(slowed.json()["error"], "too_many_attempts");
        assert_eq!(slowed.header("retry-after"), Some("1"));
        // The address is slowed down for every login, even a right password (an attacker spraying
        // one password over many accounts gets no faster answers).
        assert_eq!(login(&server, "olena", PASSWORD).status, 429);
        // The wait passes by itself; then the right password works and clears the count.
        let started = std::time::Instant::now();
        let ok = loop {
            let res = login(&server, "olena", PASSWORD);
            if res.status != 429 {
                break res;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "still throttled"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(
            login(&server, "olena", "wrong wrong wrong").status,
            401,
            "the count started again"
        );
        // The table holds pseudonyms, never the submitted login names.
        let keys = query_strings(&db.open(), "SELECT key AS item FROM login_throttle").unwrap();
        assert!(
            keys.iter()
                .all(|k| !k.contains("nobody") && !k.contains("olena") && !k.contains("127.0.0.1")),
            "{keys:?}"
        );
        assert!(server.terminate().success());
    }
);

/// Sign-in helpers for a server with one user of every role (second factors not required).
pub struct Staff {
    pub server: Server,
    pub tokens: std::collections::BTreeMap<&'static str, String>,
    pub ids: std::collections::BTreeMap<&'static str, String>,
}

pub(crate) const ROLES: [&str; 6] = [
    "counselor",
    "case_worker",
    "supervisor",
    "auditor",
    "admin",
    "partner",
];

impl Staff {
    /// The server's process id.
    pub fn server_pid(&self) -> u32 {
        self.server.pid()
    }
}

/// One signed-in user of every role, for other test modules.
pub fn staff_for_tests(db: &TestDb) -> Staff {
    staff_with(db, &[])
}

fn staff(db: &TestDb) -> Staff {
    staff_with(db, &[])
}

/// Like [`staff_for_tests`], with more settings for the server.
pub fn staff_with(db: &TestDb, extra: &[(&str, &str)]) -> Staff {
    for role in ROLES {
        let login = format!("{}-user", role.replace('_', "-"));
        let mut args = vec![
            "user",
            "add",
            "--login",
            &login,
            "--role",
            role,
            "--password-stdin",
        ];
        if role == "partner" {
            args.extend(["--organisation", "shelter-1"]);
        }
        let (ok, out) = cli(db, &args, &format!("{PASSWORD}\n"));
        assert!(ok, "{out}");
    }
    let mut env = vec![NO_THROTTLE, ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", "")];
    env.extend_from_slice(extra);
    let server = start_with(db, &env);
    let mut by_role = std::collections::BTreeMap::new();
    let mut ids = std::collections::BTreeMap::new();
    for role in ROLES {
        let (access, _) = tokens(&login(
            &server,
            &format!("{}-user", role.replace('_', "-")),
            PASSWORD,
        ));
        ids.insert(
            role,
            me(&server, &access).json()["user_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        by_role.insert(role, access);
    }
    Staff {
        server,
        tokens: by_role,
        ids,
    }
}

pub(crate) fn call(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> http::Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    if !text.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    let res = request(server.addr, method, path, &headers, text.as_bytes());
    documented_body(method, path, &res);
    res
}

/// Checks a response against the OpenAPI document: its status is one the document gives the
/// route, a body has a schema for its media type, and a JSON body conforms to that schema. So
/// every answer of every test through [`call`] is held to the document.
pub(crate) fn documented_body(method: &str, path: &str, res: &http::Response) {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| serde_json::from_str(&api::openapi_json()).unwrap());
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    // The route whose template matches, literal segments preferred over parameters.
    let route = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            item.get(method.to_lowercase()).map(|op| (literal, op))
        })
        .max_by_key(|(literal, _)| *literal);
    let Some((_, op)) = route else { return };
    // The status is one the document gives the route, and a body is of a documented type.
    let response = op["responses"]
        .get(res.status.to_string())
        .unwrap_or_else(|| panic!("{method} {path}: {} is not a documented status", res.status));
    if res.body.is_empty() {
        return;
    }
    let media = res
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let schema = &response["content"][media]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path}: {} {media} has no schema in the document",
        res.status
    );
    if media != "application/json" {
        return;
    }
    let body: Value = serde_json::from_slice(&res.body)
        .unwrap_or_else(|e| panic!("{method} {path}: {} is documented as JSON: {e}", res.status));
    if let Err(e) = crate::reliability::conforms(doc, schema, &body) {
        panic!(
            "{method} {path}: {} {body} is not the documented body: {e}",
            res.status
        );
    }
}

both!(
    admin_and_audit_routes_follow_the_policy_for_every_role,
    |db: TestDb| {
        let staff = staff(&db);
        let s = &staff.server;
        let victim = staff.ids["counselor"].clone();
        for role in ROLES {
            let token = &staff.tokens[role];
            let is_admin = role == "admin";
            let is_auditor = role == "auditor";
            let cases: Vec<(&str, String, Option<Value>, bool)> = vec![
                ("GET", "/api/v1/admin/users".into(), None, is_admin),
                (
                    "POST",
                    "/api/v1/admin/users".into(),
                    Some(
                        json!({ "login": format!("made-by-{role}"), "role": "counselor", "password": "a long enough passphrase" }),
                    ),
                    is_admin,
                ),
                (
                    "POST",
                    format!("/api/v1/admin/users/{victim}/unlock"),
                    None,
                    is_admin && victim != staff.ids[role],
                ),
                (
                    "GET",
                    "/api/v1/audit/events?limit=5".into(),
                    None,
                    is_auditor,
                ),
                (
                    "GET",
                    format!("/api/v1/audit/records/user/{victim}"),
                    None,
                    is_auditor,
                ),
                ("POST", "/api/v1/audit/verify".into(), None, is_auditor),
                ("GET", "/api/v1/audit/anomalies".into(), None, is_auditor),
            ];
            for (method, path, body, allowed) in cases {
                let res = call(s, token, method, &path, body);
                if allowed {
                    assert!(
                        res.status < 300,
                        "{role} {method} {path}: {} {}",
                        res.status,
                        res.text()
                    );
                } else {
                    assert_eq!(res.status, 403, "{role} {method} {path}: {}", res.text());
                    assert_eq!(res.json()["error"], "forbidden");
                }
            }
            // Nobody changes their own role or status, admins included.
            let own = &staff.ids[role];
            for (path, body) in [
                (
                    format!("/api/v1/admin/users/{own}/role"),
                    Some(json!({ "role": "supervisor" })),
                ),
                (format!("/api/v1/admin/users/{own}/enable"), None),
                (format!("/api/v1/admin/users/{own}/disable"), None),
            ] {
                assert_eq!(
                    call(s, token, "POST", &path, body).status,
                    403,
                    "{role} {path}"
                );
            }
        }
        // Every denial is in the access log, with its rule.
        let d = db.open();
        let denied = query_strings(
        &d,
        "SELECT action || ' ' || rule AS item FROM audit_events WHERE outcome = 'denied' AND action IN ('user.list', 'audit.read', 'user.change_role')",
    )
    .unwrap();
        assert!(denied.len() >= 5 + 5 + 6, "{denied:?}");
        assert!(
            denied.iter().all(|d| d.ends_with("no_rule_allows")),
            "{denied:?}"
        );

        // An unknown user is 404 for the admin; a role change ends the target's sessions at once.
        let admin = &staff.tokens["admin"];
        assert_eq!(
            call(
                s,
                admin,
                "POST",
                "/api/v1/admin/users/no-such-user/disable",
                None
            )
            .status,
            404
        );
        let bad_role = call(
            s,
            admin,
            "POST",
            &format!("/api/v1/admin/users/{victim}/role"),
            Some(json!({ "role": "god" })),
        );
        assert_eq!(bad_role.status, 422, "{}", bad_role.text());
        assert_eq!(me(s, &staff.tokens["counselor"]).status, 200);
        let changed = call(
            s,
            admin,
            "POST",
            &format!("/api/v1/admin/users/{victim}/role"),
            Some(json!({ "role": "case_worker" })),
        );
        assert_eq!(changed.status, 204, "{}", changed.text());
        unauthenticated(&me(s, &staff.tokens["counselor"]));
        let listed = call(s, admin, "GET", "/api/v1/admin/users", None).json();
        let row = listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == victim.as_str())
            .unwrap()
            .clone();
        assert_eq!(row["role"], "case_worker");
        assert!(row.get("password_hash").is_none() && !listed.to_string().contains("argon2"));

        // The auditor console: filters, newest first, paging, and reads of the log are logged too.
        let auditor = &staff.tokens["auditor"];
        let page1 = call(
            s,
            auditor,
            "GET",
            "/api/v1/audit/events?action=auth.login&limit=3",
            None,
        )
        .json();
        let ids: Vec<i64> = page1["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] > w[1]));
        let cursor = page1["next_cursor"].as_i64().unwrap();
        let page2 = call(
            s,
            auditor,
            "GET",
            &format!("/api/v1/audit/events?action=auth.login&limit=3&cursor={cursor}"),
            None,
        )
        .json();
        assert!(page2["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < cursor));
        assert!(page1["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "auth.login" && e.get("hash").is_none()));
        let history = call(
            s,
            auditor,
            "GET",
            &format!("/api/v1/audit/records/user/{victim}"),
            None,
        )
        .json();
        let actions: Vec<&str> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.contains(&"user.change_role") && actions.contains(&"user.create"),
            "{actions:?}"
        );
        let verified = call(s, auditor, "POST", "/api/v1/audit/verify", None).json();
        assert_eq!(verified["ok"], true, "{verified}");
        assert!(verified["events_checked"].as_i64().unwrap() > 20);
        let anomalies = call(
            s,
            auditor,
            "GET",
            "/api/v1/audit/anomalies?denial_threshold=3",
            None,
        )
        .json();
        assert!(
            !anomalies["denial_bursts"].as_array().unwrap().is_empty(),
            "{anomalies}"
        );
        let reads = query_strings(&d, "SELECT action AS item FROM audit_events WHERE action IN ('audit.read', 'audit.verify', 'audit.anomalies') AND outcome = 'allowed'").unwrap();
        assert!(reads.len() >= 6, "{reads:?}");
        assert!(staff.server.terminate().success());
    }
);

/// Who may call a route.
enum Access {
    Public,
    AnySignedIn,
    Only(&'static [&'static str]),
    /// Decided per record, and a record one may not see is "not found": every signed-in role
    /// gets 200 or 404, never 403 (the per-record decisions are tested with the routes).
    PerRecord,
}

both!(
    every_route_of_the_openapi_document_is_in_the_access_matrix,
    |db: TestDb| {
        let staff = staff(&db);
        let (ok, out) = cli(
            &db,
            &[
                "user",
                "add",
                "--login",
                "victim-user",
                "--role",
                "counselor",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        );
        assert!(ok, "{out}");
        let s = &staff.server;
        let victim_token = tokens(&login(s, "victim-user", PASSWORD)).0;
        let victim = me(s, &victim_token).json()["user_id"]
            .as_str()
            .unwrap()
            .to_string();

        use Access::*;
        const ADMIN: &[&str] = &["admin"];
        const AUDITOR: &[&str] = &["auditor"];
        let matrix: Vec<(&str, &str, Access, Option<Value>)> = vec![
            ("GET", "/health/live", Public, None),
            ("GET", "/health/ready", Public, None),
            ("POST", "/api/v1/auth/login", Public, None),
            ("POST", "/api/v1/auth/refresh", Public, None),
            ("POST", "/api/v1/auth/logout", AnySignedIn, None),
            ("GET", "/api/v1/auth/me", AnySignedIn, None),
            (
                "POST",
                "/api/v1/auth/password",
                AnySignedIn,
                Some(json!({ "current_password": "wrong", "new_password": "x" })),
            ),
            ("POST", "/api/v1/auth/totp", AnySignedIn, None),
            (
                "POST",
                "/api/v1/auth/totp/confirm",
                AnySignedIn,
                Some(json!({ "code": "000000" })),
            ),
            ("GET", "/api/v1/auth/passkeys", AnySignedIn, None),
            ("POST", "/api/v1/auth/passkeys/register", AnySignedIn, None),
            (
                "POST",
                "/api/v1/auth/passkeys/register/finish",
                AnySignedIn,
                Some(json!({ "ceremony": "none", "credential": {} })),
            ),
            (
                "PATCH",
                "/api/v1/auth/passkeys/{id}",
                AnySignedIn,
                Some(json!({ "name": "x" })),
            ),
            ("DELETE", "/api/v1/auth/passkeys/{id}", AnySignedIn, None),
            (
                "POST",
                "/api/v1/auth/passkey",
                Public,
                Some(json!({ "login": "nobody" })),
            ),
            (
                "POST",
                "/api/v1/auth/passkey/finish",
                Public,
                Some(json!({ "ceremony": "none", "credential": {} })),
            ),
            ("GET", "/api/v1/admin/users", Only(ADMIN), None),
            (
                "POST",
                "/api/v1/admin/users",
                Only(ADMIN),
                Some(
                    json!({ "login": "matrix-made", "role": "counselor", "password": "a long enough passphrase" }),
                ),
            ),
            (
                "POST",
                "/api/v1/admin/users/{id}/disable",
                Only(ADMIN),
                None,
            ),
            ("POST", "/api/v1/admin/users/{id}/enable", Only(ADMIN), None),
            ("POST", "/api/v1/admin/users/{id}/unlock", Only(ADMIN), None),
            (
                "POST",
                "/api/v1/admin/users/{id}/reset-second-factor",
                Only(ADMIN),
                None,
            ),
            (
                "POST",
                "/api/v1/admin/users/{id}/revoke-passkeys",
                Only(ADMIN),
                None,
            ),
            (
                "POST",
                "/api/v1/admin/users/{id}/role",
                Only(ADMIN),
                Some(json!({ "role": "case_worker" })),
            ),
            ("GET", "/api/v1/audit/events", Only(AUDITOR), None),
            (
                "GET",
                "/api/v1/audit/records/{type}/{id}",
                Only(AUDITOR),
                None,
            ),
            ("POST", "/api/v1/audit/verify", Only(AUDITOR), None),
            ("GET", "/api/v1/audit/anomalies", Only(AUDITOR), None),
            ("GET", "/api/v1/vocabularies", AnySignedIn, None),
            (
                "POST",
                "/api/v1/calls",
                Only(&["counselor", "case_worker", "supervisor"]),
                Some(crate::calls::anonymous_call()),
            ),
            (
                "GET",
                "/api/v1/calls",
                Only(&["counselor", "supervisor"]),
                None,
            ),
            (
                "PATCH",
                "/api/v1/calls/{id}",
                PerRecord,
                Some(json!({ "version": 1 })),
            ),
            ("GET", "/api/v1/calls/{id}", PerRecord, None),
            (
                "POST",
                "/api/v1/calls/lookup",
                Only(&["counselor", "case_worker", "supervisor"]),
                Some(json!({ "phone": "+380441234567" })),
            ),
            (
                "POST",
                "/api/v1/calls/{id}/case",
                PerRecord,
                Some(json!({})),
            ),
            (
                "PUT",
                "/api/v1/calls/{id}/case",
                PerRecord,
                Some(json!({ "case_id": "no-such-case" })),
            ),
            (
                "POST",
                "/api/v1/cases",
                Only(&["counselor", "case_worker", "supervisor"]),
                Some(json!({})),
            ),
            (
                "GET",
                "/api/v1/cases",
                Only(&["case_worker", "supervisor"]),
                None,
            ),
            (
                "POST",
                "/api/v1/cases/search",
                Only(&["case_worker", "supervisor"]),
                Some(json!({ "name": "nobody at all" })),
            ),
            ("GET", "/api/v1/cases/{id}", PerRecord, None),
            (
                "PATCH",
                "/api/v1/cases/{id}",
                PerRecord,
                Some(json!({ "version": 1, "risk_level": "low" })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/assignment",
                PerRecord,
                Some(json!({ "version": 1, "assigned_to": null })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/notes",
                PerRecord,
                Some(json!({ "body": "a note" })),
            ),
            (
                "PUT",
                "/api/v1/cases/{id}/notes/{note_id}",
                PerRecord,
                Some(json!({ "revision": 1, "body": "a note" })),
            ),
            ("GET", "/api/v1/cases/{id}/notes/{note_id}", PerRecord, None),
            (
                "POST",
                "/api/v1/cases/{id}/plan",
                PerRecord,
                Some(json!({ "domain": "health", "goal": "a goal" })),
            ),
            (
                "PATCH",
                "/api/v1/cases/{id}/plan/{item_id}",
                PerRecord,
                Some(json!({ "version": 1, "status": "achieved" })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/consents",
                PerRecord,
                Some(json!({ "purpose": "data_processing" })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/consents/{consent_id}/withdraw",
                PerRecord,
                None,
            ),
            (
                "POST",
                "/api/v1/cases/{id}/break-glass",
                // Only these roles may break the glass at all (asked before the case is).
                Only(&["counselor", "case_worker"]),
                Some(
                    json!({ "reason": "other", "justification": "a long enough reason", "password": "x" }),
                ),
            ),
            ("GET", "/api/v1/break-glass", Only(&["supervisor"]), None),
            (
                "POST",
                "/api/v1/admin/users/{id}/contact",
                Only(ADMIN),
                Some(json!({ "email": "x@example.org", "language": "en" })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/legal-hold",
                PerRecord,
                Some(json!({ "reason": "a court order" })),
            ),
            (
                "POST",
                "/api/v1/cases/{id}/legal-hold/lift",
                PerRecord,
                None,
            ),
            ("POST", "/api/v1/cases/{id}/export", PerRecord, None),
            ("POST", "/api/v1/cases/{id}/erasure", PerRecord, None),
            (
                "GET",
                "/api/v1/erasure-requests",
                Only(&["supervisor"]),
                None,
            ),
            (
                "POST",
                "/api/v1/erasure-requests/{id}/approve",
                Only(&["supervisor"]),
                None,
            ),
            (
                "POST",
                "/api/v1/erasure-requests/{id}/reject",
                Only(&["supervisor"]),
                None,
            ),
            (
                "GET",
                "/api/v1/stats/{table}",
                Only(&["supervisor", "admin"]),
                None,
            ),
            (
                "GET",
                "/api/v1/stats/charts/{chart}",
                Only(&["supervisor", "admin"]),
                None,
            ),
            (
                "GET",
                "/api/v1/stats/report",
                Only(&["supervisor", "admin"]),
                None,
            ),
            ("GET", "/api/v1/directory", AnySignedIn, None),
            (
                "PUT",
                "/api/v1/directory/organisations/{id}",
                Only(ADMIN),
                Some(
                    json!({ "name": "Matrix shelter", "services": [{ "service_type": "shelter" }] }),
                ),
            ),
            ("POST", "/api/v1/directory/import", Only(ADMIN), None),
            ("GET", "/api/v1/directory/export", Only(ADMIN), None),
            (
                "POST",
                "/api/v1/cases/{id}/referrals",
                PerRecord,
                Some(json!({ "service_id": "none" })),
            ),
            ("GET", "/api/v1/cases/{id}/referrals", PerRecord, None),
            (
                "GET",
                "/api/v1/referrals",
                Only(&["case_worker", "supervisor", "partner"]),
                None,
            ),
            (
                "GET",
                "/api/v1/referrals/due",
                Only(&["case_worker", "supervisor", "partner"]),
                None,
            ),
            ("GET", "/api/v1/referrals/{id}", PerRecord, None),
            (
                "POST",
                "/api/v1/referrals/{id}/send",
                PerRecord,
                Some(json!({ "version": 1 })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/cancel",
                PerRecord,
                Some(json!({ "version": 1 })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/follow-up",
                PerRecord,
                Some(json!({ "version": 1, "follow_up_on": null })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/accept",
                PerRecord,
                Some(json!({ "version": 1 })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/decline",
                PerRecord,
                Some(json!({ "version": 1, "reason": "full" })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/start",
                PerRecord,
                Some(json!({ "version": 1 })),
            ),
            (
                "POST",
                "/api/v1/referrals/{id}/complete",
                PerRecord,
                Some(json!({ "version": 1, "outcome": "done" })),
            ),
            (
                "POST",
                "/api/v1/break-glass/{id}/review",
                Only(&["supervisor"]),
                None,
            ),
        ];

        // Every documented route has a row: a new route without one fails here.
        let doc: Value = serde_json::from_str(&api::openapi_json()).unwrap();
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let method = method.to_uppercase();
                assert!(
                    matrix.iter().any(|(m, p, ..)| *m == method && p == path),
                    "{method} {path} is in the OpenAPI document but not in the access matrix"
                );
                documented.push((method, path.clone()));
            }
        }
        assert_eq!(
            documented.len(),
            matrix.len(),
            "the matrix lists routes the document does not have"
        );

        for (method, template, access, body) in &matrix {
            let path = template
                .replace("{id}", &victim)
                .replace("{note_id}", &victim)
                .replace("{item_id}", &victim)
                .replace("{consent_id}", &victim)
                .replace("{table}", "calls")
                .replace("{chart}", "calls-by-topic")
                .replace("{type}", "user");
            let anonymous = request(
                s.addr,
                method,
                &path,
                &[("Content-Type", "application/json")],
                body.as_ref()
                    .map(|b| b.to_string())
                    .unwrap_or_default()
                    .as_bytes(),
            );
            let allowed_roles: Vec<&str> = match access {
                Public => {
                    assert_ne!(anonymous.status, 401, "{method} {path} is public");
                    continue;
                }
                AnySignedIn => ROLES.to_vec(),
                Only(roles) => roles.to_vec(),
                PerRecord => {
                    unauthenticated(&anonymous);
                    for role in ROLES {
                        let res = call(s, &staff.tokens[role], method, &path, body.clone());
                        assert!(
                            res.status == 200 || res.status == 404,
                            "{role} {method} {path}: {}",
                            res.status
                        );
                    }
                    continue;
                }
            };
            unauthenticated(&anonymous);
            unauthenticated(&call(s, "not-a-token", method, &path, body.clone()));
            for role in ROLES {
                // Routes any session may use act on that session (logout ends it): use a fresh one.
                let token = match access {
                    AnySignedIn => {
                        tokens(&login(
                            s,
                            &format!("{}-user", role.replace('_', "-")),
                            PASSWORD,
                        ))
                        .0
                    }
                    _ => staff.tokens[role].clone(),
                };
                let res = call(s, &token, method, &path, body.clone());
                if allowed_roles.contains(&role) {
                    assert!(
                        res.status != 401 && res.status != 403,
                        "{role} {method} {path}: {} {}",
                        res.status,
                        res.text()
                    );
                } else {
                    assert_eq!(res.status, 403, "{role} {method} {path}: {}", res.text());
                }
            }
        }
        // Every denial above left an audit event with the rule that denied it.
        let denials: i64 = query_strings(&db.open(), "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied' AND rule = 'no_rule_allows'")
        .unwrap()[0]
        .parse()
        .unwrap();
        assert!(denials >= 6 * 5 + 4 * 5, "{denials} denials audited");
        assert!(staff.server.terminate().success());
    }
);

both!(idle_and_expired_sessions_end, |db: TestDb| {
    add_user(&db, "olena", "case_worker");
    let server = start(&db);
    let d = db.open();
    let (idle, _) = tokens(&login(&server, "olena", PASSWORD));
    let (old, old_refresh) = tokens(&login(&server, "olena", PASSWORD));
    let (fresh, _) = tokens(&login(&server, "olena", PASSWORD));
    let sid = |token: &str| -> String {
        let part = token.split('.').nth(1).unwrap();
        let padded = format!("{part}{}", "=".repeat((4 - part.len() % 4) % 4));
        let claims: Value = serde_json::from_slice(&decode_b64(&padded)).unwrap();
        claims["sid"].as_str().unwrap().to_string()
    };
    // Time passes for two of the sessions: one idle past its limit (30 minutes), one past its
    // absolute lifetime (12 hours). The clock is the database's: move the stamps back.
    let hour = 3_600_000_000i64;
    persistence::testing::execute(
        &d,
        &format!(
            "UPDATE sessions SET last_seen_at = last_seen_at - {} WHERE id = '{}'",
            hour,
            sid(&idle)
        ),
    )
    .unwrap();
    persistence::testing::execute(
        &d,
        &format!(
            "UPDATE sessions SET expires_at = created_at - 1 WHERE id = '{}'",
            sid(&old)
        ),
    )
    .unwrap();
    // A session used after ten quiet minutes is still valid, and its last-seen time moves on.
    let ten_minutes = 600_000_000i64;
    persistence::testing::execute(
        &d,
        &format!(
            "UPDATE sessions SET last_seen_at = last_seen_at - {ten_minutes} WHERE id = '{}'",
            sid(&fresh)
        ),
    )
    .unwrap();
    assert_eq!(me(&server, &fresh).status, 200);
    let quiet: i64 = query_strings(
        &d,
        &format!(
            "SELECT CAST(created_at - last_seen_at AS TEXT) AS item FROM sessions WHERE id = '{}'",
            sid(&fresh)
        ),
    )
    .unwrap()[0]
        .parse()
        .unwrap();
    assert!(quiet <= 0, "last_seen_at was not refreshed");
    unauthenticated(&me(&server, &idle));
    unauthenticated(&me(&server, &old));
    unauthenticated(&refresh(&server, &old_refresh));
    assert_eq!(me(&server, &fresh).status, 200);
    assert!(server.terminate().success());
});

both!(hostile_input_never_reaches_the_log, |db: TestDb| {
    add_user(&db, "olena", "case_worker");
    let server = start_with(&db, &[NO_THROTTLE]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let forged = format!(
        "x\r\n2026-01-01T00:00:00Z INFO  hotline::access: GET /forged 200 {canary}\u{1b}[31m"
    );
    // In every field a client controls: login, password, code, token, path, query, headers.
    let _ = login(&server, &forged, &forged);
    let _ = post_json(
        server.addr,
        "/api/v1/auth/login",
        json!({ "login": "olena", "password": canary, "totp": forged })
            .to_string()
            .as_bytes(),
    );
    let _ = refresh(&server, &forged);
    let _ = me(&server, &canary);
    let _ = get(server.addr, &format!("/api/v1/{canary}?q={canary}"));
    let _ = request(
        server.addr,
        "GET",
        "/api/v1/auth/me",
        &[("User-Agent", &canary), ("X-Forwarded-For", &canary)],
        b"",
    );
    let (access, _) = tokens(&login(&server, "olena", PASSWORD));
    let log = server.log();
    assert!(
        !log.contains(&canary),
        "submitted data reached the log:\n{log}"
    );
    assert!(!log.contains(PASSWORD) && !log.contains(&access));
    assert!(
        !log.lines().any(|l| l.contains("/forged")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}'));
    assert!(server.terminate().success());
});

both!(
    the_vocabularies_are_served_with_both_languages,
    |db: TestDb| {
        add_user(&db, "olena", "counselor");
        let server = start(&db);
        let (access, _) = tokens(&login(&server, "olena", PASSWORD));
        let res = request(
            server.addr,
            "GET",
            "/api/v1/vocabularies",
            &[("Authorization", &format!("Bearer {access}"))],
            b"",
        );
        assert_eq!(res.status, 200, "{}", res.text());
        let body = res.json();
        for name in [
            "channel",
            "direction",
            "caller_role",
            "topic",
            "gender",
            "age_group",
            "outcome",
            "language",
            "region",
        ] {
            assert!(!body[name].as_array().unwrap().is_empty(), "{name}");
        }
        let dv = body["topic"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == "domestic_violence")
            .unwrap();
        assert_eq!(dv["uk"], "Домашнє насильство");
        assert_eq!(dv["en"], "Domestic violence");
        assert!(body["age_group"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["code"] == "9-17"));
        unauthenticated(&get(server.addr, "/api/v1/vocabularies"));
        assert!(server.terminate().success());
    }
);
