//! The web pages over HTTP on both databases, as a browser and as an attacker send them: the
//! sign-in cookie, form tokens and cross-site refusals, the headers of every page, the call
//! form, the repeat-caller check, my cases, languages, and canaries.

use serde_json::json;

use crate::auth::{
    add_user, away_from_a_step_boundary, base32_decode, call, code_now, login, start_with, tokens,
    PASSWORD,
};
use crate::both;
use crate::support::http::{self, request};
use crate::support::server::Server;
use crate::support::TestDb;
use persistence::testing::query_strings;

pub(crate) fn count(db: &TestDb, sql: &str) -> i64 {
    let d = db.open();
    let n = query_strings(&d, sql).unwrap()[0].parse().unwrap();
    d.close(std::time::Duration::from_secs(5));
    n
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A browser of this site: its cookies, and the headers a same-origin form carries.
pub(crate) struct Browser<'a> {
    server: &'a Server,
    pub(crate) cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(server: &'a Server) -> Self {
        Browser {
            server,
            cookies: Vec::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, res: &http::Response) {
        for (name, value) in &res.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> http::Response {
        self.get_with(path, &[])
    }

    /// A page as the browser asks for it, with `extra` headers (`HX-Request` for a partial).
    pub(crate) fn get_with(&mut self, path: &str, extra: &[(&str, &str)]) -> http::Response {
        let cookie = self.cookie_header();
        let mut headers = vec![
            ("Cookie", cookie.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
        ];
        headers.extend_from_slice(extra);
        let res = request(self.server.addr, "GET", path, &headers, b"");
        self.keep_cookies(&res);
        res
    }

    /// A form as the page sends it (same origin), with `extra` headers.
    pub(crate) fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> http::Response {
        let cookie = self.cookie_header();
        let origin = format!("http://{}", self.server.addr);
        let mut headers = vec![
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        if !extra.iter().any(|(k, _)| *k == "Origin") {
            headers.push(("Origin", origin.as_str()));
        }
        if !extra
            .iter()
            .any(|(k, _)| *k == "Sec-Fetch-Site" || *k == "Origin")
        {
            headers.push(("Sec-Fetch-Site", "same-origin"));
        }
        headers.extend_from_slice(extra);
        let res = request(
            self.server.addr,
            "POST",
            path,
            &headers,
            form_body(fields).as_bytes(),
        );
        self.keep_cookies(&res);
        res
    }

    pub(crate) fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> http::Response {
        self.post_with(path, fields, &[])
    }

    pub(crate) fn sign_in(&mut self, login: &str, password: &str, code: &str) -> http::Response {
        self.post(
            "/sign-in",
            &[("login", login), ("password", password), ("code", code)],
        )
    }

    /// The form token of the page at `path`.
    pub(crate) fn form_token(&mut self, path: &str) -> String {
        let page = self.get(path);
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        let at = text
            .find("name=\"form_token\" value=\"")
            .expect("a form token")
            + 25;
        text[at..at + 64].to_string()
    }
}

fn call_form<'a>(token: &'a str, summary: &'a str, phone: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("form_token", token),
        ("started_at", "2026-12-06T09:00:00Z"),
        ("channel", "phone"),
        ("direction", "inbound"),
        ("caller_role", "potential_victim"),
        ("topics", "trafficking_labour"),
        ("topics", "safe_migration"),
        ("region", "UA-46"),
        ("caller_gender", "female"),
        ("caller_age_group", "24-26"),
        ("language", "uk"),
        ("outcome", "information"),
        ("summary", summary),
        ("caller_name", ""),
        ("caller_phone", phone),
        ("then", "desk"),
    ]
}

pub(crate) fn web_server(db: &TestDb) -> Server {
    start_with(
        db,
        &[
            ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000"),
            ("HOTLINE_LOG", "trace"),
        ],
    )
}

/// Enrols a second factor for `login` through the API; returns the TOTP secret.
pub(crate) fn enrol_totp(server: &Server, user: &str) -> Vec<u8> {
    let (access, _) = tokens(&login(server, user, PASSWORD));
    let bearer = format!("Bearer {access}");
    let enrol = request(
        server.addr,
        "POST",
        "/api/v1/auth/totp",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    let uri = enrol.json()["otpauth_uri"].as_str().unwrap().to_string();
    let secret = base32_decode(
        uri.split("secret=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
    );
    away_from_a_step_boundary();
    let confirm = request(
        server.addr,
        "POST",
        "/api/v1/auth/totp/confirm",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        json!({ "code": code_now(&secret, -1) })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(confirm.status, 200, "{}", confirm.text());
    secret
}

/// How many audit events of `action` there are.
pub(crate) fn count_events(db: &TestDb, action: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE action = '{action}'"
        ),
    )
}

fn calls_stored(db: &TestDb) -> i64 {
    count(db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM calls")
}

// A counselor signs in, logs a call from the form (the topic chips, a sealed summary), and the
// call is stored and audited; the cookie is HttpOnly and SameSite=Strict; every page carries
// the strict headers; the canary typed into the form is in no log line.
both!(
    a_counselor_signs_in_and_logs_a_call_from_the_desk,
    |db: TestDb| {
        add_user(&db, "oksana", "counselor");
        let server = web_server(&db);
        let mut browser = Browser::new(&server);

        let page = browser.get("/sign-in");
        assert_eq!(page.status, 200);
        let csp = page.header("content-security-policy").unwrap().to_string();
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert!(page.text().contains("id=\"quick-exit\""));
        assert!(!page.text().contains("<script>"), "no inline script");
        // The one script runs by its hash: the CSP and the integrity attribute name the SHA-256 of
        // exactly the file the server serves.
        let script = browser.get("/static/app.js");
        assert_eq!(script.status, 200);
        let digest = ring::digest::digest(&ring::digest::SHA256, &script.body);
        let hash = base64(digest.as_ref());
        assert!(
            csp.contains(&format!("'sha256-{hash}'")),
            "put \"{hash}\" in crates/api/src/web/assets.rs SCRIPT_SHA256; CSP: {csp}"
        );
        assert!(page
            .text()
            .contains(&format!("integrity=\"sha256-{hash}\"")));
        assert_eq!(browser.get("/static/other.js").status, 404);

        let wrong = browser.sign_in("oksana", "not the password", "");
        assert_eq!(wrong.status, 401);
        assert!(wrong.text().contains("id=\"sign-in-problem\""));
        assert!(
            wrong.text().contains("value=\"oksana\""),
            "the login is kept"
        );
        assert!(!wrong.text().contains("not the password"));

        let signed_in = browser.sign_in("oksana", PASSWORD, "");
        assert_eq!(signed_in.status, 303, "{}", signed_in.text());
        let set = signed_in.header("set-cookie").unwrap();
        assert!(set.starts_with("hotline="), "{set}");
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attr), "{set}");
        }
        assert_eq!(signed_in.header("location"), Some("/"));
        let home = browser.get("/");
        assert_eq!(home.header("location"), Some("/desk"));

        let token = browser.form_token("/desk");
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let saved = browser.post("/desk", &call_form(&token, &canary, "050 765 43 21"));
        assert_eq!(saved.status, 303, "{}", saved.text());
        assert_eq!(saved.header("location"), Some("/desk?saved=1"));
        assert_eq!(calls_stored(&db), 1);
        assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE action = 'call.create'"
        ),
        1
    );
        let after = browser.get("/desk?saved=1");
        assert!(after.text().contains("role=\"status\""));
        // The API reads the same call: one rule in one place.
        let (access, _) = tokens(&login(&server, "oksana", PASSWORD));
        let listed = call(&server, &access, "GET", "/api/v1/calls", None).json();
        assert_eq!(
            listed["calls"][0]["topics"],
            json!(["safe_migration", "trafficking_labour"])
        );
        let log = server.log();
        assert!(!log.contains(&canary), "the summary reached the log");
        assert!(!log.contains("765 43 21") && !log.contains("0507654321"));
        assert!(server.terminate().success());
    }
);

// The form comes back with the wrong fields named and everything typed kept, and nothing is
// stored; a body with a field the form does not have is refused.
both!(
    an_invalid_call_form_names_the_fields_and_keeps_the_input,
    |db: TestDb| {
        add_user(&db, "oksana", "counselor");
        let server = web_server(&db);
        let mut browser = Browser::new(&server);
        assert_eq!(browser.sign_in("oksana", PASSWORD, "").status, 303);
        let token = browser.form_token("/desk");
        let canary = format!("CNRY-{}", crate::support::unique_suffix());
        let mut fields = call_form(&token, &canary, "");
        fields.retain(|(k, _)| *k != "outcome" && *k != "region");
        fields.push(("region", "UA-99"));
        let res = browser.post("/desk", &fields);
        assert_eq!(res.status, 422, "{}", res.text());
        let page = res.text();
        assert!(page.contains("id=\"form-errors\""));
        assert!(page.contains("href=\"#outcome\""), "outcome is named");
        assert!(page.contains("href=\"#region\""), "region is named");
        assert!(page.contains(&canary), "the summary typed is kept");
        assert!(page.contains("value=\"trafficking_labour\" checked"));
        assert_eq!(calls_stored(&db), 0);
        let unknown = browser.post("/desk", &[("form_token", &token), ("is_admin", "1")]);
        assert_eq!(unknown.status, 422);
        // A form the server cannot read is an error page too, not the API's JSON.
        let unreadable = browser.post("/sign-in", &[("login", "oksana")]);
        assert_eq!(unreadable.status, 400);
        assert!(unreadable.text().contains("<!doctype html>"));
        assert!(!unreadable.text().contains("oksana"));
        assert!(!server.log().contains(&canary));
        assert!(server.terminate().success());
    }
);

// A form sent from another site, or without this session's token, is refused with 403 and one
// audit event, and writes nothing.
both!(forged_forms_are_refused_and_audited, |db: TestDb| {
    add_user(&db, "oksana", "counselor");
    let server = web_server(&db);
    let mut browser = Browser::new(&server);
    assert_eq!(browser.sign_in("oksana", PASSWORD, "").status, 303);
    let token = browser.form_token("/desk");
    let fields = call_form(&token, "forged", "");
    let attempts: [&[(&str, &str)]; 3] = [
        &[("Sec-Fetch-Site", "cross-site")],
        &[("Origin", "https://evil.example")],
        &[("Sec-Fetch-Site", "same-site")],
    ];
    for extra in attempts {
        let res = browser.post_with("/desk", &fields, extra);
        assert_eq!(res.status, 403, "{extra:?}: {}", res.text());
        assert!(res.text().contains("<!doctype html>"));
    }
    let zeros = "0".repeat(64);
    let mut no_token = fields.clone();
    no_token.retain(|(k, _)| *k != "form_token");
    no_token.push(("form_token", &zeros));
    assert_eq!(browser.post("/desk", &no_token).status, 403);
    // Another session's token is not this session's.
    let mut other = Browser::new(&server);
    assert_eq!(other.sign_in("oksana", PASSWORD, "").status, 303);
    let other_token = other.form_token("/desk");
    assert_ne!(other_token, token);
    let mut swapped = fields.clone();
    swapped.retain(|(k, _)| *k != "form_token");
    swapped.push(("form_token", &other_token));
    assert_eq!(browser.post("/desk", &swapped).status, 403);
    // A cross-site sign-in (login CSRF) too.
    let forged_sign_in = browser.post_with(
        "/sign-in",
        &[("login", "oksana"), ("password", PASSWORD), ("code", "")],
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(forged_sign_in.status, 403);
    assert_eq!(calls_stored(&db), 0);
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events \
             WHERE action = 'web.forged_request' AND outcome = 'denied'"
        ),
        6
    );
    // The real form still works.
    assert_eq!(browser.post("/desk", &fields).status, 303);
    assert!(server.terminate().success());
});

// Signing out ends the server-side session at once (the old cookie gets the sign-in page) and
// tells the browser to clear the site; a cookie is not an access token nor the other way round.
both!(
    sign_out_ends_the_session_and_cookies_are_not_tokens,
    |db: TestDb| {
        add_user(&db, "oksana", "counselor");
        let server = web_server(&db);
        let mut browser = Browser::new(&server);
        assert_eq!(browser.sign_in("oksana", PASSWORD, "").status, 303);
        let session = |b: &Browser| {
            b.cookies
                .iter()
                .find(|(n, _)| n == "hotline")
                .map(|(_, v)| v.clone())
        };
        let cookie = session(&browser).expect("the session cookie");
        let as_bearer = call(&server, &cookie, "GET", "/api/v1/auth/me", None);
        assert_eq!(as_bearer.status, 401);
        let (access, _) = tokens(&login(&server, "oksana", PASSWORD));
        let with_token_cookie = request(
            server.addr,
            "GET",
            "/desk",
            &[("Cookie", &format!("hotline={access}"))],
            b"",
        );
        assert_eq!(with_token_cookie.status, 303);
        assert_eq!(
            with_token_cookie.header("location"),
            Some("/sign-in?next=%2Fdesk")
        );

        let token = browser.form_token("/desk");
        let saved_cookie = browser.cookie_header();
        let out = browser.post("/sign-out", &[("form_token", &token)]);
        assert_eq!(out.status, 303);
        assert_eq!(out.header("location"), Some("/sign-in"));
        assert!(out
            .header("clear-site-data")
            .unwrap()
            .contains("\"cookies\""));
        assert_eq!(session(&browser), None, "the cookie is removed");
        let replayed = request(
            server.addr,
            "GET",
            "/desk",
            &[("Cookie", &saved_cookie)],
            b"",
        );
        assert_eq!(replayed.status, 303, "the old cookie no longer works");
        assert_eq!(replayed.header("location"), Some("/sign-in?next=%2Fdesk"));
        assert!(server.terminate().success());
    }
);

// An account with a second factor signs in with its current code; without it the page asks
// for the code; a code used once is not taken again.
both!(sign_in_with_a_one_time_code, |db: TestDb| {
    add_user(&db, "svitlana", "supervisor");
    let server = web_server(&db);
    let secret = enrol_totp(&server, "svitlana");

    let mut browser = Browser::new(&server);
    let asked = browser.sign_in("svitlana", PASSWORD, "");
    assert_eq!(asked.status, 401);
    assert!(asked.text().contains("id=\"sign-in-problem\""));
    let code = code_now(&secret, 0);
    let signed_in = browser.sign_in("svitlana", PASSWORD, &code);
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    assert_eq!(browser.get("/cases").status, 200);
    let mut again = Browser::new(&server);
    assert_eq!(
        again.sign_in("svitlana", PASSWORD, &code).status,
        401,
        "replayed"
    );
    assert!(server.terminate().success());
});

// The repeat-caller check answers the page's script with the partial only, in the user's
// language with Ukrainian plural forms; a case worker's list shows their cases and no one
// else's; pages need a session.
both!(lookup_partial_language_and_my_cases, |db: TestDb| {
    add_user(&db, "oksana", "counselor");
    add_user(&db, "marta", "case_worker");
    add_user(&db, "taras", "case_worker");
    let server = web_server(&db);
    // Without a session a page sends the browser to sign in, and back to it after (a path of
    // this site only: never another host).
    for (path, to) in [
        ("/desk", "/sign-in?next=%2Fdesk"),
        (
            "/cases?status=Active",
            "/sign-in?next=%2Fcases%3Fstatus%3DActive",
        ),
        ("/", "/sign-in"),
    ] {
        let res = request(server.addr, "GET", path, &[], b"");
        assert_eq!(res.status, 303, "{path}");
        assert_eq!(res.header("location"), Some(to), "{path}");
    }
    let mut back = Browser::new(&server);
    let form = back.get("/sign-in?next=%2Fcases%3Fstatus%3DActive");
    assert!(form
        .text()
        .contains("name=\"next\" value=\"/cases?status=Active\""));
    let res = back.post(
        "/sign-in",
        &[
            ("login", "marta"),
            ("password", PASSWORD),
            ("code", ""),
            ("next", "/cases?status=Active"),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(res.header("location"), Some("/cases?status=Active"));
    for evil in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        assert!(
            !Browser::new(&server)
                .get(&format!("/sign-in?next={}", enc(evil)))
                .text()
                .contains("name=\"next\""),
            "{evil}"
        );
        let mut b = Browser::new(&server);
        let res = b.post(
            "/sign-in",
            &[
                ("login", "marta"),
                ("password", PASSWORD),
                ("code", ""),
                ("next", evil),
            ],
        );
        assert_eq!(res.header("location"), Some("/"), "{evil}");
    }
    let mut counselor = Browser::new(&server);
    assert_eq!(counselor.sign_in("oksana", PASSWORD, "").status, 303);
    let token = counselor.form_token("/desk");
    for _ in 0..2 {
        assert_eq!(
            counselor
                .post("/desk", &call_form(&token, "", "+380 50 765 43 21"))
                .status,
            303
        );
    }
    let partial = counselor.post_with(
        "/desk/lookup",
        &[("form_token", &token), ("phone", "050 765 43 21")],
        &[
            ("HX-Request", "true"),
            ("Origin", &format!("http://{}", server.addr)),
        ],
    );
    assert_eq!(partial.status, 200, "{}", partial.text());
    assert!(!partial.text().contains("<html"), "only the partial");
    assert!(partial.text().contains("2 дзвінки"), "{}", partial.text());
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE action = 'call.lookup'"
        ),
        1
    );
    // Signed in, the switch is a form of the session like any other: without its token it is
    // refused; with it, it is saved as the user's language (audited) and kept at the next
    // sign-in in another browser.
    let forged = counselor.post("/language", &[("lang", "en"), ("back", "/desk")]);
    assert_eq!(forged.status, 403, "{}", forged.text());
    let bad = counselor.post(
        "/language",
        &[("lang", "xx"), ("back", "/desk"), ("form_token", &token)],
    );
    assert_eq!(bad.status, 422, "{}", bad.text());
    let switched = counselor.post(
        "/language",
        &[("lang", "en"), ("back", "/desk"), ("form_token", &token)],
    );
    assert_eq!(switched.header("location"), Some("/desk"));
    let language_events = || {
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE action = 'user.language'",
        )
    };
    assert_eq!(language_events(), 1);
    let mut elsewhere = Browser::new(&server);
    assert!(elsewhere
        .get("/sign-in")
        .text()
        .contains("<html lang=\"uk\">"));
    assert_eq!(elsewhere.sign_in("oksana", PASSWORD, "").status, 303);
    assert!(elsewhere.get("/desk").text().contains("<html lang=\"en\">"));
    // Not signed in, the switch needs no token and saves nothing.
    let mut visitor = Browser::new(&server);
    let plain = visitor.post("/language", &[("lang", "en"), ("back", "/sign-in")]);
    assert_eq!(plain.status, 303);
    assert!(visitor
        .get("/sign-in")
        .text()
        .contains("<html lang=\"en\">"));
    assert_eq!(language_events(), 1);
    let english = counselor.post_with(
        "/desk/lookup",
        &[("form_token", &token), ("phone", "050 765 43 21")],
        &[
            ("HX-Request", "true"),
            ("Origin", &format!("http://{}", server.addr)),
        ],
    );
    assert!(english.text().contains("2 calls"), "{}", english.text());
    assert!(counselor.get("/desk").text().contains("<html lang=\"en\">"));
    let away = counselor.post(
        "/language",
        &[
            ("lang", "uk"),
            ("back", "https://evil.example/"),
            ("form_token", &token),
        ],
    );
    assert_eq!(away.header("location"), Some("/"));
    let away = counselor.post(
        "/language",
        &[
            ("lang", "uk"),
            ("back", "//evil.example/"),
            ("form_token", &token),
        ],
    );
    assert_eq!(away.header("location"), Some("/"));
    // Back to Ukrainian once (recorded), then again (nothing changes, nothing recorded).
    assert_eq!(language_events(), 2);

    // Marta's case (opened through the API) is on her list and not on Taras's.
    let (marta, _) = tokens(&login(&server, "marta", PASSWORD));
    let opened = call(&server, &marta, "POST", "/api/v1/cases", Some(json!({})));
    assert_eq!(opened.status, 201, "{}", opened.text());
    let reference = opened.json()["reference"].as_str().unwrap().to_string();
    let mut worker = Browser::new(&server);
    assert_eq!(worker.sign_in("marta", PASSWORD, "").status, 303);
    assert_eq!(worker.get("/").header("location"), Some("/cases"));
    let mine = worker.get("/cases");
    assert!(mine.text().contains(&reference));
    assert!(mine.text().contains("1 справа"), "{}", mine.text());
    let mut other = Browser::new(&server);
    assert_eq!(other.sign_in("taras", PASSWORD, "").status, 303);
    let theirs = other.get("/cases");
    assert_eq!(theirs.status, 200);
    assert!(!theirs.text().contains(&reference));
    assert!(server.terminate().success());
});

// "My shift's calls": a counselor sees the calls they logged (facts only, never the sealed
// summary), filtered by day, topic, outcome and region, keyset-paged with the filters kept;
// each view is audited as the API's list; a wrong filter is named and nothing is read;
// another counselor sees none of them; a case worker has no such page (and no link to it).
both!(shift_calls_filtered_and_paged, |db: TestDb| {
    add_user(&db, "oksana", "counselor");
    add_user(&db, "ivan", "counselor");
    add_user(&db, "marta", "case_worker");
    let server = web_server(&db);
    let mut counselor = Browser::new(&server);
    assert_eq!(counselor.sign_in("oksana", PASSWORD, "").status, 303);
    let token = counselor.form_token("/desk");
    let canary = "CANARY-shift-list-7f3a";
    // 51 calls on 5 December at different minutes; one on 6 December, referred, in Kyiv.
    for minute in 0..51 {
        let started = format!("2026-12-05T10:{:02}:00Z", minute % 60);
        let started = if minute == 50 {
            "2026-12-05T11:30:00Z".to_string()
        } else {
            started
        };
        let mut form = call_form(&token, canary, "");
        form[1] = ("started_at", &started);
        assert_eq!(counselor.post("/desk", &form).status, 303);
    }
    let mut form = call_form(&token, canary, "");
    form[1] = ("started_at", "2026-12-06T08:15:00Z");
    form[7] = ("region", "UA-30");
    form[11] = ("outcome", "referral");
    form[5] = ("topics", "domestic_violence");
    assert_eq!(counselor.post("/desk", &form).status, 303);
    let listed = || count_events(&db, "call.list");

    let page = counselor.get("/calls");
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(
        text.contains("aria-current=\"page\""),
        "the nav marks the page"
    );
    assert!(text.contains("50 дзвінків"), "a full page of 50");
    assert!(text.contains("2026-12-06 08:15"), "newest first");
    assert!(!text.contains(canary), "no sealed summary on the list");
    assert_eq!(listed(), 1);
    // The next page keeps the filters (none here) and holds the rest.
    let at = text.find("href=\"/calls?after=").expect("a next page") + 6;
    let next = text[at..].split('"').next().unwrap().replace("&#38;", "&");
    let older = counselor.get(&next);
    assert_eq!(older.status, 200);
    assert!(older.text().contains("2 дзвінки"), "{}", older.text());
    assert!(
        !older.text().contains("href=\"/calls?after="),
        "the last page"
    );

    // Filters: the day (`to` included), outcome, region, topic; and paging within a filter.
    let day = counselor.get("/calls?from=2026-12-06&to=2026-12-06");
    assert!(day.text().contains("1 дзвінок"), "{}", day.text());
    let fifth = counselor.get("/calls?to=2026-12-05&outcome=information&region=UA-46");
    assert!(fifth.text().contains("50 дзвінків"));
    let at = fifth
        .text()
        .find("href=\"/calls?to=2026-12-05")
        .expect("the next page keeps filters")
        + 6;
    let next = fifth.text()[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(next.contains("outcome=information") && next.contains("region=UA-46"));
    let rest = counselor.get(&next);
    assert!(rest.text().contains("1 дзвінок"), "{next} {}", rest.text());
    let topic = counselor.get("/calls?topic=domestic_violence");
    assert!(topic.text().contains("1 дзвінок"));
    assert!(
        topic.text().contains("selected>"),
        "the filter is shown as chosen"
    );
    let none = counselor.get("/calls?region=UA-46&outcome=referral");
    assert!(none.text().contains("id=\"calls-none\""));
    let events = listed();

    // A wrong filter: named, kept, nothing read (and so nothing audited as a read).
    let wrong = counselor.get("/calls?topic=nonsense&from=yesterday&region=UA-30");
    assert_eq!(wrong.status, 422);
    let text = wrong.text();
    assert!(text.contains("href=\"#from\""), "{text}");
    assert!(!text.contains("id=\"calls\""), "no rows");
    assert!(
        text.contains("value=\"yesterday\""),
        "what was typed is kept"
    );
    assert_eq!(listed(), events);
    let topic_wrong = counselor.get("/calls?topic=nonsense");
    assert_eq!(topic_wrong.status, 422);
    assert!(topic_wrong.text().contains("href=\"#topic\""));
    assert_eq!(counselor.get("/calls?is_admin=1").status, 422);
    assert_eq!(counselor.get("/calls?after=forged").status, 400);
    assert_eq!(listed(), events);

    // The partial: the rows only.
    let partial = counselor.get_with("/calls?topic=domestic_violence", &[("HX-Request", "true")]);
    assert_eq!(partial.status, 200);
    assert!(!partial.text().contains("<html") && partial.text().contains("<table"));

    // Another counselor's shift holds none of Oksana's calls.
    let mut other = Browser::new(&server);
    assert_eq!(other.sign_in("ivan", PASSWORD, "").status, 303);
    let theirs = other.get("/calls");
    assert_eq!(theirs.status, 200);
    assert!(theirs.text().contains("id=\"calls-none\""));
    // A case worker: no link to the page, and the page is refused as the API's list is.
    let mut worker = Browser::new(&server);
    assert_eq!(worker.sign_in("marta", PASSWORD, "").status, 303);
    let cases = worker.get("/cases");
    assert!(!cases.text().contains("href=\"/calls\""));
    assert!(cases.text().contains("href=\"/desk\""));
    assert_eq!(worker.get("/calls").status, 403);
    assert!(
        !counselor.get("/desk").text().contains("href=\"/cases\""),
        "counselors list no cases"
    );
    assert!(server.terminate().success());
});

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
