//! The real binary on port 0: health routes, the JSON error shape, body limits, headers, the
//! access log, graceful shutdown, and a database outage.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::both;
use crate::support::http::{self, get, post_json, request};
use crate::support::proxy::Proxy;
use crate::support::server::Server;
use crate::support::{unique_suffix, TestDb};

const ECHO: &str = "/api/v1/_test/echo";

fn assert_error_shape(res: &http::Response, status: u16, code: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    let body = res.json();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let rid = body["request_id"].as_str().expect("request_id");
    assert_eq!(
        Some(rid),
        res.header("x-request-id"),
        "the body names the request's id"
    );
    assert_eq!(res.header("content-type"), Some("application/json"));
}

both!(
    serves_health_rejects_bad_input_and_stops_on_sigterm,
    |db: TestDb| {
        let canary = format!("CNRY-{}", unique_suffix());
        let mut server = Server::start(&db.url);
        let addr = server.addr;

        let live = get(addr, "/health/live");
        assert_eq!(live.status, 200);
        assert_eq!(live.json()["status"], "live");
        let ready = get(addr, "/health/ready");
        assert_eq!(ready.status, 200, "{}", ready.text());
        assert_eq!(ready.json()["database"], db.backend.name());
        for res in [&live, &ready] {
            assert_eq!(res.header("cache-control"), Some("no-store"));
            assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(res.header("x-request-id").map(str::len), Some(16));
        }

        // The JSON route works when the body is right (so the errors below are about the body).
        let ok = post_json(addr, ECHO, br#"{"name":"a","count":1}"#);
        assert_eq!(ok.status, 200, "{}", ok.text());

        // Malformed JSON: 400, with where it broke but nothing of what was sent.
        let malformed = post_json(
            addr,
            ECHO,
            format!(r#"{{"name":"{canary}", "count": 1"#).as_bytes(),
        );
        assert_error_shape(&malformed, 400, "bad_request");
        let garbage = post_json(addr, ECHO, format!("{canary}\r\n{{").as_bytes());
        assert_error_shape(&garbage, 400, "bad_request");

        // Too large: 413, whether announced by Content-Length or not.
        let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(300 * 1024));
        assert_error_shape(
            &post_json(addr, ECHO, big.as_bytes()),
            413,
            "payload_too_large",
        );
        let chunked_big = {
            let mut body = Vec::new();
            for chunk in big.as_bytes().chunks(64 * 1024) {
                body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
            request(
                addr,
                "POST",
                ECHO,
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked"),
                ],
                &body,
            )
        };
        assert!(
            chunked_big.status == 413 || chunked_big.status == 400,
            "chunked oversize: {}",
            chunked_big.status
        );

        // Valid JSON of the wrong shape: 422, naming only fields of our own type.
        let missing = post_json(addr, ECHO, br#"{"name":"a"}"#);
        assert_error_shape(&missing, 422, "validation");
        assert_eq!(missing.json()["fields"]["count"], "is required");
        let wrong_type = post_json(
            addr,
            ECHO,
            format!(r#"{{"name":"a","count":"{canary}"}}"#).as_bytes(),
        );
        assert_error_shape(&wrong_type, 422, "validation");
        let unknown_field = post_json(
            addr,
            ECHO,
            format!(r#"{{"name":"a","count":1,"{canary}":1}}"#).as_bytes(),
        );
        assert_error_shape(&unknown_field, 422, "validation");

        // Not JSON at all.
        let text = request(
            addr,
            "POST",
            ECHO,
            &[("Content-Type", "text/plain")],
            b"hello",
        );
        assert_error_shape(&text, 415, "unsupported_media_type");

        // Bad path and query input: a path that cannot name anything is "not found"; a bad query is
        // 400. Neither repeats what was sent.
        assert_eq!(get(addr, "/api/v1/_test/items/7").json()["item"], 7);
        let bad_path = get(addr, &format!("/api/v1/_test/items/{canary}"));
        assert_error_shape(&bad_path, 404, "not_found");
        let bad_query = get(addr, &format!("/api/v1/_test/slow?ms={canary}"));
        assert_error_shape(&bad_query, 400, "bad_request");

        // Unknown routes and methods answer in the same JSON shape.
        let unknown = get(addr, &format!("/api/v1/{canary}?phone={canary}"));
        assert_error_shape(&unknown, 404, "not_found");
        assert_error_shape(
            &request(addr, "DELETE", "/health/live", &[], b""),
            405,
            "method_not_allowed",
        );

        for res in [
            &malformed,
            &garbage,
            &wrong_type,
            &unknown_field,
            &unknown,
            &bad_path,
            &bad_query,
        ] {
            assert!(
                !res.text().contains(&canary),
                "an error body echoed the input: {}",
                res.text()
            );
            assert!(
                !res.text().contains("CNRY"),
                "an error body echoed the input: {}",
                res.text()
            );
        }

        // The access log has one line per request: method, route, status; never the submitted
        // values, the raw path or the query string.
        let log = server.log();
        assert!(log.contains("GET /health/ready 200"), "{log}");
        assert!(log.contains(&format!("POST {ECHO} 400")), "{log}");
        assert!(log.contains("GET (unmatched) 404"), "{log}");
        assert!(
            !log.contains(&canary),
            "the log holds submitted data:\n{log}"
        );
        assert!(
            !log.contains("phone="),
            "the log holds a query string:\n{log}"
        );

        assert!(server.is_running());
        let status = server.terminate();
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
    }
);

both!(sigterm_lets_an_in_flight_request_finish, |db: TestDb| {
    let server = Server::start(&db.url);
    let addr = server.addr;
    let slow = std::thread::spawn(move || get(addr, "/api/v1/_test/slow?ms=1500"));
    // Wait until the server has the request in hand, then ask it to stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log().contains("test: slow request started") {
        assert!(Instant::now() < deadline, "the slow request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let res = slow.join().expect("client thread");
    assert_eq!(
        res.status,
        200,
        "the in-flight request was cut off: {}",
        res.text()
    );
    assert_eq!(res.json()["slept_ms"], 1500);
});

/// Polls `path` until it answers `status` (at most 30 s).
fn wait_for(addr: SocketAddr, path: &str, status: u16) -> http::Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = get(addr, path);
        if res.status == status {
            return res;
        }
        assert!(
            Instant::now() < deadline,
            "{path} stayed {} instead of {status}: {}",
            res.status,
            res.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ready_is_503_while_postgres_is_unreachable_and_the_process_stays_up() {
    // A port nobody listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut server = Server::start(&format!("postgres://postgres@{closed}/test"));
    let ready = get(server.addr, "/health/ready");
    assert_error_shape(&ready, 503, "unavailable");
    assert_eq!(get(server.addr, "/health/live").status, 200);
    assert!(server.is_running());
    let log = server.log();
    assert!(!log.contains("panic"), "{log}");
    assert!(server.terminate().success());
}

/// A proxy in front of the test database's PostgreSQL, and the database URL through it.
pub(crate) fn proxied(db: &TestDb) -> (Proxy, String) {
    let (host_port, rest) = db
        .url
        .strip_prefix("postgres://")
        .and_then(|u| u.split_once('@'))
        .map(|(_, r)| r.split_once('/').expect("URL with a database"))
        .expect("HOTLINE_TEST_POSTGRES_URL of the form postgres://user@host:port/db");
    let target: SocketAddr = host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("host:port");
    let proxy = Proxy::start(target);
    let user = db
        .url
        .strip_prefix("postgres://")
        .and_then(|u| u.split_once('@'))
        .unwrap()
        .0;
    let url = format!("postgres://{user}@{}/{rest}", proxy.addr);
    (proxy, url)
}

#[test]
fn recovers_by_itself_when_postgres_comes_back() {
    let Some(db) = TestDb::postgres("recovers_by_itself_when_postgres_comes_back") else {
        return;
    };
    // Route the server to PostgreSQL through a proxy the test can cut.
    let (proxy, url) = proxied(&db);

    // Down at start: the server starts anyway, not ready.
    proxy.cut();
    let mut server = Server::start(&url);
    assert_error_shape(&get(server.addr, "/health/ready"), 503, "unavailable");

    // Back: migrations run in the background and the server becomes ready by itself.
    proxy.restore();
    wait_for(server.addr, "/health/ready", 200);

    // Cut with pooled connections open: 503, no panic; then back again.
    proxy.cut();
    wait_for(server.addr, "/health/ready", 503);
    assert!(server.is_running());
    proxy.restore();
    wait_for(server.addr, "/health/ready", 200);
    let log = server.log();
    assert!(!log.contains("panic"), "{log}");
    assert!(server.terminate().success());
}

both!(
    the_server_checkpoints_new_audit_events_by_itself,
    |db: TestDb| {
        let keys = db.dir.path().join("master.keys");
        let log = db.dir.path().join("checkpoints.log");
        let server = Server::start_with(
            &db.url,
            &[
                ("HOTLINE__CRYPTO__MASTER_KEYS_FILE", keys.to_str().unwrap()),
                ("HOTLINE__AUDIT__CHECKPOINT_FILE", log.to_str().unwrap()),
                ("HOTLINE__AUDIT__CHECKPOINT_INTERVAL_SECS", "0"),
            ],
        );
        assert!(
            server
                .log()
                .contains("generated a DEVELOPMENT master key file"),
            "{}",
            server.log()
        );
        wait_for(server.addr, "/health/ready", 200);
        // Another process (this test) logs events with the server's keys.
        let (d, vault) = crate::vault::open_vault(&db, 8);
        for i in 0..5 {
            d.write(|c| vault.record(c, &persistence::AuditEvent::system(&format!("test.{i}"))))
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
            assert!(
                Instant::now() < deadline,
                "no checkpoint within 30 s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let report = vault.verify(&d, None).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert!(report.checkpoints_checked >= 1);
        assert!(server.terminate().success());
    }
);
