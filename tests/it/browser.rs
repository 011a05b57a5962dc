//! The pages in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, loopback only), with axe-core injected for an accessibility scan of every page
//! and a screenshot of each in Ukrainian and English under `target/screenshots/`.
//!
//! `scripts/ensure-deps.sh` (run by `make test`) installs chromium, chromium-driver and
//! axe-core; a missing browser fails these tests, never skips them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::auth::{add_user, call, login, start_with, tokens, PASSWORD};
use crate::both;
use crate::support::server::Server;
use crate::support::{repo_root, TestDb};
use crate::web::enrol_totp;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn driver() -> Driver {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: run scripts/ensure-deps.sh (make test does) to install Debian's \
             chromium and chromium-driver"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        url: format!("http://{addr}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-sync"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// A neutral site on loopback for quick exit, which also serves a page of another origin that
/// posts a form to the hotline server (a cross-site request forgery attempt).
struct Elsewhere {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn elsewhere(target: Arc<std::sync::Mutex<String>>) -> Elsewhere {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        // At most 200 connections, and never past the test's end.
        for stream in listener.incoming().take(200) {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let body = if head.starts_with("GET /forge") {
                format!(
                    "<!doctype html><title>elsewhere</title><form method=post action=\"{}/desk\">\
                     <input name=form_token value=forged><input name=outcome value=information>\
                     </form><script>document.forms[0].submit()</script>",
                    target.lock().unwrap()
                )
            } else {
                "<!doctype html><title>Weather</title><p>Sunny.</p>".to_string()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Elsewhere { addr, stop }
}

/// Polls `check` every 100 ms for up to 10 s (pages update on their own: timer, lookup).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}

/// Runs axe-core on the current page: no serious or critical violation.
async fn accessible(client: &Client, page: &str) {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let axe = AXE.get_or_init(|| {
        let path = repo_root().join("tests/browser/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run scripts/ensure-deps.sh (make test does)",
                path.display()
            )
        })
    });
    client.execute(axe, vec![]).await.expect("inject axe-core");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                    nodes: v.nodes.map(n => n.target.join(' ')) }))))
                .catch(e => done([{ id: 'axe-error', impact: 'critical', nodes: [String(e)] }]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    let bad: Vec<&Value> = result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(bad.is_empty(), "{page}: accessibility violations {bad:?}");
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let dir = repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn click(client: &Client, css: &str) {
    let element = client.find(Locator::Css(css)).await.expect(css);
    element.click().await.expect(css);
}

async fn until_path(client: &Client, path: &str, what: &str) {
    until(what, || async {
        client
            .current_url()
            .await
            .map(|u| u.path() == path)
            .unwrap_or(false)
    })
    .await;
}

async fn until_source(client: &Client, part: &str, what: &str) {
    until(what, || async {
        client
            .source()
            .await
            .map(|s| s.contains(part))
            .unwrap_or(false)
    })
    .await;
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.expect(css);
    field.send_keys(text).await.expect(css);
}

async fn sign_in(client: &Client, server: &Server, login: &str, code: &str) {
    client
        .goto(&format!("http://{}/sign-in", server.addr))
        .await
        .unwrap();
    fill(client, "#login", login).await;
    fill(client, "#password", PASSWORD).await;
    fill(client, "#code", code).await;
    click(client, "main form button[type=submit]").await;
}

fn server_for_browser(db: &TestDb, exit: &Elsewhere) -> Server {
    let exit_url = format!("http://{}/weather", exit.addr);
    start_with(
        db,
        &[
            ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000"),
            ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", ""),
            ("HOTLINE__WEB__QUICK_EXIT_URL", &exit_url),
            ("HOTLINE_LOG", "trace"),
        ],
    )
}

/// The server for a browser test with the admin (`adm`) and a case worker (`marta`) signed in
/// through the API, for the fixtures the shared helpers make; and the neutral site quick exit
/// goes to (keep it alive for the test).
fn staff_for_browser(db: &TestDb) -> (crate::auth::Staff, Elsewhere) {
    let target = Arc::new(std::sync::Mutex::new(String::new()));
    let exit = elsewhere(target.clone());
    let server = server_for_browser(db, &exit);
    *target.lock().unwrap() = format!("http://{}", server.addr);
    let mut by_role = std::collections::BTreeMap::new();
    by_role.insert("admin", tokens(&login(&server, "adm", PASSWORD)).0);
    by_role.insert("case_worker", tokens(&login(&server, "marta", PASSWORD)).0);
    let staff = crate::auth::Staff {
        server,
        tokens: by_role,
        ids: Default::default(),
    };
    (staff, exit)
}

/// The runtime the WebDriver client runs on, and the database's name for the screenshots.
fn runtime_for(db: &TestDb) -> (tokio::runtime::Runtime, &'static str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = match db.pg_schema() {
        Some(_) => "postgres",
        None => "sqlite",
    };
    (runtime, name)
}

// A counselor signs in with her one-time code, logs a call with the timer running, sees that
// the number called before, saves it and opens a case; every page passes axe-core in both
// languages; quick exit leaves and ends the session; a form posted from another site is refused;
// a case worker's list does not show a case that is not theirs. The canary typed into the
// summary is in no log line and on no page of another user.
both!(a_counselor_and_a_case_worker_in_chromium, |db: TestDb| {
    add_user(&db, "oksana", "counselor");
    add_user(&db, "taras", "case_worker");
    let target = Arc::new(std::sync::Mutex::new(String::new()));
    let exit = elsewhere(target.clone());
    let server = server_for_browser(&db, &exit);
    *target.lock().unwrap() = format!("http://{}", server.addr);
    // An earlier call from the same number, logged through the API.
    let (access, _) = tokens(&login(&server, "oksana", PASSWORD));
    let mut earlier = crate::calls::anonymous_call();
    earlier["caller_phone"] = json!("+380 50 765 43 21");
    assert_eq!(
        call(&server, &access, "POST", "/api/v1/calls", Some(earlier)).status,
        201
    );
    let secret = enrol_totp(&server, "oksana");
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let driver = driver();
    let (runtime, db_name) = runtime_for(&db);
    runtime.block_on(async {
        let client = browser(&driver).await;
        let base = format!("http://{}", server.addr);

        client.goto(&format!("{base}/sign-in")).await.unwrap();
        accessible(&client, "sign-in (uk)").await;
        screenshot(&client, &format!("sign-in-uk-{db_name}")).await;
        crate::auth::away_from_a_step_boundary();
        sign_in(
            &client,
            &server,
            "oksana",
            &crate::auth::code_now(&secret, 0),
        )
        .await;
        until_path(&client, "/desk", "the desk after sign-in").await;
        accessible(&client, "desk (uk)").await;
        until("the call timer runs", || async {
            text_of(&client, ".timer").await != "0:00"
        })
        .await;
        screenshot(&client, &format!("desk-uk-{db_name}")).await;

        fill(&client, "#caller_phone", "050 765 43 21").await;
        until("the repeat-caller check", || async {
            text_of(&client, "#lookup-result")
                .await
                .contains("1 дзвінок")
        })
        .await;
        click(&client, "input[name=topics][value=trafficking_labour]").await;
        client
            .execute(
                "document.getElementById('region').value = 'UA-46';
                 document.getElementById('outcome').value = 'case_opened';",
                vec![],
            )
            .await
            .unwrap();
        fill(&client, "#summary", &canary).await;
        click(&client, "button[name=then][value=case]").await;
        until("the case is opened", || async {
            !text_of(&client, "#opened-reference").await.is_empty()
        })
        .await;
        let reference = text_of(&client, "#opened-reference").await;
        assert_eq!(reference.len(), 11, "{reference}");
        assert!(!client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains(&reference));

        // English, switched on the page.
        click(&client, "button[name=lang][value=en]").await;
        until_source(&client, "<html lang=\"en\">", "the page in English").await;
        accessible(&client, "desk (en)").await;
        screenshot(&client, &format!("desk-en-{db_name}")).await;

        // My shift's calls, from the navigation: the call just logged (facts only), filtered.
        click(&client, "header nav a[href='/calls']").await;
        until_path(&client, "/calls", "my shift's calls").await;
        accessible(&client, "calls (en)").await;
        client
            .execute(
                "document.getElementById('outcome').value = 'case_opened';",
                vec![],
            )
            .await
            .unwrap();
        click(&client, "#call-filters button[type=submit]").await;
        until("the filter is applied", || async {
            let url = client.current_url().await.unwrap();
            url.as_str().contains("outcome=case_opened")
        })
        .await;
        assert!(text_of(&client, "#calls").await.contains("Case opened"));
        assert!(!client.source().await.unwrap().contains(&canary));
        screenshot(&client, &format!("calls-en-{db_name}")).await;
        click(&client, "button[name=lang][value=uk]").await;
        until_source(&client, "<html lang=\"uk\">", "the list in Ukrainian").await;
        let rows = text_of(&client, "#calls").await;
        assert!(rows.contains("Відкрито справу"), "{rows}");
        assert!(
            !rows.contains("Надано інформацію"),
            "the filter stays: {rows}"
        );
        accessible(&client, "calls (uk)").await;
        screenshot(&client, &format!("calls-uk-{db_name}")).await;

        // A form posted from another site (same site, other origin) is refused.
        client
            .goto(&format!("http://{}/forge", exit.addr))
            .await
            .unwrap();
        until_source(&client, "403", "the forged form is refused").await;

        // Quick exit: the button leaves for the neutral site and ends the session.
        client.goto(&format!("{base}/desk")).await.unwrap();
        let cookie = client
            .get_named_cookie("hotline")
            .await
            .expect("the session cookie")
            .value()
            .to_string();
        click(&client, "#quick-exit").await;
        until_path(&client, "/weather", "quick exit leaves").await;
        until("quick exit ends the session", || async {
            let res = crate::support::http::request(
                server.addr,
                "GET",
                "/desk",
                &[("Cookie", &format!("hotline={cookie}"))],
                b"",
            );
            res.status == 303
        })
        .await;
        client.close().await.unwrap();

        // A case worker: the case opened from the call is not theirs.
        let client = browser(&driver).await;
        sign_in(&client, &server, "taras", "").await;
        until_path(&client, "/cases", "the case list").await;
        let page = client.source().await.unwrap();
        assert!(!page.contains(&reference) && !page.contains(&canary));
        accessible(&client, "cases (uk)").await;
        screenshot(&client, &format!("cases-uk-{db_name}")).await;
        click(&client, "button[name=lang][value=en]").await;
        until_source(&client, "<html lang=\"en\">", "the list in English").await;
        accessible(&client, "cases (en)").await;
        screenshot(&client, &format!("cases-en-{db_name}")).await;
        client.goto(&format!("{base}/sign-in")).await.unwrap();
        accessible(&client, "sign-in (en)").await;
        screenshot(&client, &format!("sign-in-en-{db_name}")).await;
        client.close().await.unwrap();
    });
    let forged = crate::web::count_events(&db, "web.forged_request");
    assert!(forged >= 1, "the forged form was audited");
    let log = server.log();
    assert!(!log.contains(&canary), "the summary reached the log");
    assert!(server.terminate().success());
});

/// Runs `script` on the page (set a picklist, open a `<details>`).
async fn script(client: &Client, script: &str) {
    client.execute(script, vec![]).await.expect(script);
}

// A case worker opens her case, adds a note, a plan item and a consent, opens the edit form,
// drafts a referral, checks the packet the partner will see and sends it; every page passes
// axe-core; another case worker gets the same page as for a missing case, breaks the glass and
// reads the case under the banner, read-only. Screenshots of each page in uk and en.
both!(a_case_worker_works_a_case_in_chromium, |db: TestDb| {
    add_user(&db, "marta", "case_worker");
    add_user(&db, "taras", "case_worker");
    add_user(&db, "adm", "admin");
    let (staff, _exit) = staff_for_browser(&db);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    crate::referrals::add_shelter(&staff);
    let id = crate::referrals::case_with_profile(&staff, &canary);
    let server = &staff.server;
    let driver = driver();
    let (runtime, db_name) = runtime_for(&db);
    runtime.block_on(async {
        let client = browser(&driver).await;
        let base = format!("http://{}", server.addr);
        let case_path = format!("/cases/{id}");
        sign_in(&client, server, "marta", "").await;
        until_path(&client, "/cases", "the case list").await;
        click(&client, &format!("a[href=\"{case_path}\"]")).await;
        until_path(&client, &case_path, "the case page").await;
        until("the referrals are loaded", || async {
            text_of(&client, "#referral-list")
                .await
                .contains("Переадресацій ще немає")
        })
        .await;
        accessible(&client, "case (uk)").await;
        screenshot(&client, &format!("case-uk-{db_name}")).await;

        fill(&client, "#body", &format!("{canary}-note")).await;
        click(&client, "#note-form button").await;
        until_source(&client, &format!("{canary}-note"), "the note").await;

        // The note edited: its history is a page of its own; an edit from a stale revision is
        // the conflict page, with the text typed kept.
        script(
            &client,
            "document.querySelector('#notes .timeline details').open = true;
             document.querySelector('#notes .timeline textarea').value = '';",
        )
        .await;
        fill(
            &client,
            "#notes .timeline textarea",
            &format!("{canary}-note, corrected"),
        )
        .await;
        click(&client, "#notes .timeline form button").await;
        until_source(&client, "змінено (2)", "the edited note").await;
        script(
            &client,
            "document.querySelector('#notes .timeline details').open = true;
             document.querySelector('#notes .timeline textarea').value = '';
             document.querySelector('#notes .timeline input[name=revision]').value = '1';",
        )
        .await;
        fill(
            &client,
            "#notes .timeline textarea",
            &format!("{canary}-note, stale"),
        )
        .await;
        click(&client, "#notes .timeline form button").await;
        until_source(&client, "Нічого не збережено", "the conflict").await;
        assert!(client
            .source()
            .await
            .unwrap()
            .contains(&format!("{canary}-note, stale")));
        accessible(&client, "conflict (uk)").await;
        screenshot(&client, &format!("conflict-uk-{db_name}")).await;
        client.goto(&format!("{base}{case_path}")).await.unwrap();
        click(&client, "#notes .timeline a").await;
        until_source(&client, &format!("{canary}-note, corrected"), "the history").await;
        assert!(client
            .source()
            .await
            .unwrap()
            .contains(&format!("{canary}-note</")));
        accessible(&client, "note history (uk)").await;
        client.goto(&format!("{base}{case_path}")).await.unwrap();

        script(
            &client,
            "document.getElementById('plan-form').closest('details').open = true;
             document.getElementById('domain').value = 'housing';",
        )
        .await;
        fill(&client, "#goal", "Move to a rented flat").await;
        click(&client, "#plan-form button").await;
        until_source(&client, "Move to a rented flat", "the plan item").await;

        script(
            &client,
            "document.getElementById('consent-form').closest('details').open = true;
             document.getElementById('purpose').value = 'referral_sharing';",
        )
        .await;
        click(&client, "#consent-form input[value=shelter]").await;
        fill(&client, "#scope", "agreed on the phone").await;
        click(&client, "#consent-form button").await;
        until_source(&client, "/withdraw", "the consent").await;

        client
            .goto(&format!("{base}{case_path}/edit"))
            .await
            .unwrap();
        accessible(&client, "case edit (uk)").await;
        screenshot(&client, &format!("case-edit-uk-{db_name}")).await;

        client.goto(&format!("{base}{case_path}")).await.unwrap();
        click(&client, "#new-referral").await;
        until_path(
            &client,
            &format!("{case_path}/referrals/new"),
            "new referral",
        )
        .await;
        click(&client, "#directory-search button").await;
        until_source(&client, "name=\"service_id\"", "the providers").await;
        accessible(&client, "new referral (uk)").await;
        click(&client, "input[name=service_id]").await;
        fill(&client, "#safety_needs", &format!("{canary}-safety")).await;
        click(&client, "#referral-form button").await;
        until_source(&client, "id=\"preview-notice\"", "the packet preview").await;
        let preview = client.source().await.unwrap();
        assert!(preview.contains(&format!("{canary}-safety")) && preview.contains("Ana"));
        assert!(!preview.contains(&format!("{canary}-family")));
        assert!(!preview.contains(&format!("{canary}-address")));
        accessible(&client, "referral preview (uk)").await;
        screenshot(&client, &format!("referral-uk-{db_name}")).await;
        click(&client, "#send-referral").await;
        until("the referral is sent", || async {
            text_of(&client, "#referral-status").await == "Надіслано"
        })
        .await;

        client.goto(&format!("{base}{case_path}")).await.unwrap();
        click(&client, "button[name=lang][value=en]").await;
        until_source(&client, "<html lang=\"en\">", "the case in English").await;
        until("the referral in the list", || async {
            text_of(&client, "#referral-list").await.contains("Sent")
        })
        .await;
        accessible(&client, "case (en)").await;
        screenshot(&client, &format!("case-en-{db_name}")).await;
        client
            .goto(&format!("{base}{case_path}/edit"))
            .await
            .unwrap();
        accessible(&client, "case edit (en)").await;
        screenshot(&client, &format!("case-edit-en-{db_name}")).await;
        client
            .goto(&format!("{base}{case_path}/referrals"))
            .await
            .unwrap();
        assert!(text_of(&client, "main table").await.contains("Sent"));
        accessible(&client, "referrals (en)").await;
        client.goto(&format!("{base}/enrol")).await.unwrap();
        accessible(&client, "enrol (en)").await;
        screenshot(&client, &format!("enrol-en-{db_name}")).await;
        let secret = crate::auth::base32_decode(&text_of(&client, "#totp-secret").await);
        crate::auth::away_from_a_step_boundary();
        fill(&client, "#code", &crate::auth::code_now(&secret, 0)).await;
        click(&client, "#enrol-form button").await;
        until_source(&client, "id=\"recovery-codes\"", "the recovery codes").await;
        accessible(&client, "recovery codes (en)").await;
        screenshot(&client, &format!("enrolled-en-{db_name}")).await;
        client.close().await.unwrap();

        // Taras: the same page as a missing case; break-glass, then read-only under the banner.
        let client = browser(&driver).await;
        sign_in(&client, server, "taras", "").await;
        until_path(&client, "/cases", "the case list").await;
        client
            .goto(&format!("{base}/cases/{}", "0".repeat(32)))
            .await
            .unwrap();
        let missing = text_of(&client, "main").await;
        client.goto(&format!("{base}{case_path}")).await.unwrap();
        let theirs = text_of(&client, "main").await;
        let sans_id = |t: &str| {
            t.lines()
                .filter(|l| !l.contains(':'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(sans_id(&theirs), sans_id(&missing));
        assert!(!client.source().await.unwrap().contains(&canary));
        accessible(&client, "not found (uk)").await;
        click(&client, "#error-link").await;
        until_path(
            &client,
            &format!("{case_path}/break-glass"),
            "the break-glass form",
        )
        .await;
        accessible(&client, "break-glass (uk)").await;
        screenshot(&client, &format!("break-glass-uk-{db_name}")).await;
        fill(&client, "#justification", "She is on the line").await;
        fill(&client, "#password", PASSWORD).await;
        click(&client, "#break-glass-form button").await;
        until_source(
            &client,
            "id=\"break-glass-banner\"",
            "the case under the banner",
        )
        .await;
        let page = client.source().await.unwrap();
        assert!(page.contains(&format!("{canary}-note")));
        assert!(!page.contains("id=\"note-form\""), "read-only");
        accessible(&client, "case under break-glass (uk)").await;
        screenshot(&client, &format!("case-break-glass-uk-{db_name}")).await;
        client.close().await.unwrap();
    });
    let log = staff.server.log();
    assert!(!log.contains(&canary), "a canary reached the log");
});

// The other roles in the browser: a partner accepts a referral, starts and reports its outcome;
// a supervisor flags a break-glass use from the queue and opens the statistics; an auditor
// filters the log, opens who touched the case and verifies the chain, then an event is deleted
// behind the triggers' back and the verify page names the break; an admin imports a directory
// CSV from a file, previewed first. axe-core on every page; screenshots in uk and en.
both!(the_other_roles_in_chromium, |db: TestDb| {
    for (login, role) in [
        ("marta", "case_worker"),
        ("taras", "case_worker"),
        ("adm", "admin"),
        ("sup", "supervisor"),
        ("aud", "auditor"),
    ] {
        add_user(&db, login, role);
    }
    let (ok, out) = crate::auth::cli(
        &db,
        &[
            "user",
            "add",
            "--login",
            "nadiya",
            "--role",
            "partner",
            "--organisation",
            "shelter-1",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok, "{out}");
    let (staff, _exit) = staff_for_browser(&db);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let referral = crate::web_roles::sent_referral(&staff, &canary);
    let case_id = crate::web_roles::api_referral(&staff, &referral)["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (taras, _) = tokens(&login(&staff.server, "taras", PASSWORD));
    let glass = call(
        &staff.server,
        &taras,
        "POST",
        &format!("/api/v1/cases/{case_id}/break-glass"),
        Some(
            json!({ "reason": "caller_on_line", "justification": format!("{canary} on the line"), "password": PASSWORD }),
        ),
    );
    assert_eq!(glass.status, 201, "{}", glass.text());
    let csv_path =
        std::env::temp_dir().join(format!("directory-{}.csv", crate::support::unique_suffix()));
    std::fs::write(
        &csv_path,
        "organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description\n\
         lawyers-1,Юристи разом,desk@lawyers.example.org,uk,uk,UA-30,Anyone,true,legal,Free legal aid\n",
    )
    .unwrap();
    let server = &staff.server;
    let driver = driver();
    let (runtime, db_name) = runtime_for(&db);
    let english = |client: &Client| {
        let client = client.clone();
        async move {
            click(&client, "button[name=lang][value=en]").await;
            until_source(&client, "<html lang=\"en\">", "the page in English").await;
        }
    };
    runtime.block_on(async {
        let base = format!("http://{}", server.addr);

        // The partner: the inbox, the packet, accept, start, the outcome.
        let client = browser(&driver).await;
        sign_in(&client, server, "nadiya", "").await;
        until_path(&client, "/referrals", "the partner's inbox").await;
        accessible(&client, "inbox (uk)").await;
        screenshot(&client, &format!("inbox-uk-{db_name}")).await;
        click(&client, &format!("a[href=\"/referrals/{referral}\"]")).await;
        until_source(&client, "id=\"accept-form\"", "the packet").await;
        let packet = client.source().await.unwrap();
        assert!(packet.contains("Ana") && !packet.contains(&format!("{canary}-family")));
        accessible(&client, "partner's referral (uk)").await;
        screenshot(&client, &format!("partner-referral-uk-{db_name}")).await;
        click(&client, "#accept-referral").await;
        until("accepted", || async {
            text_of(&client, "#referral-status").await == "Прийнято"
        })
        .await;
        click(&client, "#start-referral").await;
        until("in progress", || async {
            text_of(&client, "#referral-status").await == "Триває"
        })
        .await;
        english(&client).await;
        accessible(&client, "partner's referral (en)").await;
        screenshot(&client, &format!("partner-referral-en-{db_name}")).await;
        fill(&client, "#outcome", "Housed at the shelter").await;
        click(&client, "#complete-referral").await;
        until_path(&client, "/referrals", "back in the inbox").await;
        assert!(
            !client.source().await.unwrap().contains(&referral),
            "gone from the inbox"
        );
        accessible(&client, "inbox (en)").await;
        screenshot(&client, &format!("inbox-en-{db_name}")).await;
        client.close().await.unwrap();

        // The supervisor: the break-glass queue, flagged; the erasure queue, overdue, stats.
        let client = browser(&driver).await;
        sign_in(&client, server, "sup", "").await;
        until_path(&client, "/cases", "the supervisor's cases").await;
        click(&client, "a[href=\"/break-glass\"]").await;
        until_source(&client, &format!("{canary} on the line"), "the queue").await;
        accessible(&client, "break-glass queue (uk)").await;
        screenshot(&client, &format!("break-glass-queue-uk-{db_name}")).await;
        click(&client, "button[name=verdict][value=flagged]").await;
        until_source(&client, "id=\"grants-none\"", "the use reviewed").await;
        for (path, name) in [
            ("/erasure-requests", "erasures"),
            ("/follow-ups", "follow-ups"),
            ("/referrals", "referrals"),
            ("/stats", "stats"),
        ] {
            client.goto(&format!("{base}{path}")).await.unwrap();
            accessible(&client, &format!("{name} (uk)")).await;
            screenshot(&client, &format!("{name}-uk-{db_name}")).await;
        }
        client
            .goto(&format!("{base}/cases/{case_id}"))
            .await
            .unwrap();
        until_source(&client, "id=\"assign-form\"", "the supervision section").await;
        accessible(&client, "case with supervision (uk)").await;
        english(&client).await;
        client
            .goto(&format!("{base}/break-glass?show=all"))
            .await
            .unwrap();
        assert!(client
            .source()
            .await
            .unwrap()
            .contains("flagged for follow-up"));
        accessible(&client, "break-glass queue (en)").await;
        screenshot(&client, &format!("break-glass-queue-en-{db_name}")).await;
        for (path, name) in [
            ("/erasure-requests", "erasures"),
            ("/follow-ups", "follow-ups"),
            ("/stats", "stats"),
        ] {
            client.goto(&format!("{base}{path}")).await.unwrap();
            accessible(&client, &format!("{name} (en)")).await;
            screenshot(&client, &format!("{name}-en-{db_name}")).await;
        }
        client.close().await.unwrap();

        // The auditor: the log filtered to the case, who touched it, verify, a deleted event.
        let client = browser(&driver).await;
        sign_in(&client, server, "aud", "").await;
        until_path(&client, "/audit", "the access log").await;
        accessible(&client, "access log (uk)").await;
        fill(&client, "#record_type", "case").await;
        fill(&client, "#record_id", &case_id).await;
        click(&client, "#audit-filters button[type=submit]").await;
        until_source(
            &client,
            "<code>case.break_glass</code>",
            "the case's events",
        )
        .await;
        screenshot(&client, &format!("audit-uk-{db_name}")).await;
        click(
            &client,
            &format!("a[href=\"/audit/records/case/{case_id}\"]"),
        )
        .await;
        until_path(
            &client,
            &format!("/audit/records/case/{case_id}"),
            "who touched it",
        )
        .await;
        assert!(client
            .source()
            .await
            .unwrap()
            .contains("<code>case.read</code>"));
        accessible(&client, "who touched this record (uk)").await;
        client
            .goto(&format!("{base}/audit/anomalies"))
            .await
            .unwrap();
        accessible(&client, "anomalies (uk)").await;
        screenshot(&client, &format!("anomalies-uk-{db_name}")).await;
        client.goto(&format!("{base}/audit/verify")).await.unwrap();
        click(&client, "#verify-form button").await;
        until_source(&client, "Журнал цілий", "the chain intact").await;
        accessible(&client, "verify (uk)").await;
        let (stripe, seq) = crate::vault::delete_an_audit_event(&db);
        click(&client, "#verify-form button").await;
        until_source(&client, "Журнал пошкоджено", "the break found").await;
        assert!(text_of(&client, "#verify-result")
            .await
            .contains(&format!("stripe {stripe}, #{seq}")));
        accessible(&client, "verify, broken (uk)").await;
        screenshot(&client, &format!("verify-broken-uk-{db_name}")).await;
        english(&client).await;
        accessible(&client, "verify, broken (en)").await;
        screenshot(&client, &format!("verify-broken-en-{db_name}")).await;
        client.goto(&format!("{base}/audit")).await.unwrap();
        accessible(&client, "access log (en)").await;
        screenshot(&client, &format!("audit-en-{db_name}")).await;
        client
            .goto(&format!("{base}/audit/anomalies"))
            .await
            .unwrap();
        accessible(&client, "anomalies (en)").await;
        screenshot(&client, &format!("anomalies-en-{db_name}")).await;
        client.close().await.unwrap();

        // The admin: accounts; the directory imported from a file, previewed first.
        let client = browser(&driver).await;
        sign_in(&client, server, "adm", "").await;
        until_path(&client, "/admin/users", "the accounts").await;
        accessible(&client, "accounts (uk)").await;
        screenshot(&client, &format!("users-uk-{db_name}")).await;
        click(&client, "a[href=\"/admin/directory\"]").await;
        until_path(&client, "/admin/directory", "the directory").await;
        let file = client.find(Locator::Css("#csv-file")).await.unwrap();
        file.send_keys(csv_path.to_str().unwrap()).await.unwrap();
        until("the file read into the form", || async {
            client
                .execute("return document.getElementById('csv').value", vec![])
                .await
                .map(|v| v.as_str().unwrap_or("").contains("lawyers-1"))
                .unwrap_or(false)
        })
        .await;
        click(&client, "#import-form button[type=submit]").await;
        until_source(&client, "id=\"import-preview\"", "the preview").await;
        assert!(client.source().await.unwrap().contains("нова організація"));
        accessible(&client, "directory preview (uk)").await;
        screenshot(&client, &format!("directory-preview-uk-{db_name}")).await;
        click(&client, "#import-save").await;
        until_source(&client, "id=\"saved\"", "imported").await;
        assert!(text_of(&client, "#organisations")
            .await
            .contains("Юристи разом"));
        client
            .goto(&format!("{base}/admin/retention"))
            .await
            .unwrap();
        accessible(&client, "retention (uk)").await;
        screenshot(&client, &format!("retention-uk-{db_name}")).await;
        english(&client).await;
        accessible(&client, "retention (en)").await;
        screenshot(&client, &format!("retention-en-{db_name}")).await;
        client.goto(&format!("{base}/admin/users")).await.unwrap();
        accessible(&client, "accounts (en)").await;
        screenshot(&client, &format!("users-en-{db_name}")).await;
        client
            .goto(&format!("{base}/admin/directory"))
            .await
            .unwrap();
        accessible(&client, "directory (en)").await;
        screenshot(&client, &format!("directory-en-{db_name}")).await;
        client.close().await.unwrap();
    });
    let _ = std::fs::remove_file(&csv_path);
    assert!(
        !staff.server.log().contains(&canary),
        "a canary reached the log"
    );
});

/// A WebDriver command of the WebAuthn extension (chromedriver's virtual authenticators):
/// `POST /session/{id}/webauthn/{path}` with `body`.
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

async fn webauthn(client: &Client, path: &str, body: Value) -> Value {
    let command = WebAuthnCommand {
        path: path.to_string(),
        body,
    };
    client.issue_cmd(command).await.expect(path)
}

// A supervisor, whose role signs in with a passkey, on a browser with a platform
// authenticator (chromedriver's virtual one, user verification by "fingerprint"): her password
// takes her to add a passkey, which shows her recovery codes; signed out, the passkey alone
// signs her in; when the authenticator cannot verify her, the sign-in is refused and she stays
// out. The pages pass axe-core in both languages. The server is browsed as `localhost`: a
// relying party id is a host name, never an IP address.
both!(
    a_supervisor_signs_in_with_a_passkey_in_chromium,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        let target = Arc::new(std::sync::Mutex::new(String::new()));
        let exit = elsewhere(target.clone());
        let exit_url = format!("http://{}/weather", exit.addr);
        let server = start_with(
            &db,
            &[
                ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000"),
                ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", ""),
                (
                    "HOTLINE__AUTH__PASSKEY_REQUIRED_ROLES",
                    "supervisor,auditor,admin",
                ),
                ("HOTLINE__WEB__QUICK_EXIT_URL", &exit_url),
            ],
        );
        let base = format!("http://localhost:{}", server.addr.port());
        *target.lock().unwrap() = base.clone();
        let driver = driver();
        let (runtime, db_name) = runtime_for(&db);
        runtime.block_on(async {
            let client = browser(&driver).await;
            let authenticator = webauthn(
                &client,
                "authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                }),
            )
            .await;
            let authenticator = authenticator
                .as_str()
                .expect("an authenticator id")
                .to_string();

            // Her password opens only the passkey page.
            client.goto(&format!("{base}/sign-in")).await.unwrap();
            until_source(&client, "id=\"passkey-sign-in-button\"", "the sign-in page").await;
            assert!(
                client
                    .find(Locator::Css("#passkey-sign-in"))
                    .await
                    .unwrap()
                    .is_displayed()
                    .await
                    .unwrap(),
                "the passkey sign-in is offered where WebAuthn works"
            );
            accessible(&client, "sign-in with passkey (uk)").await;
            fill(&client, "#login", "sofia").await;
            fill(&client, "#password", PASSWORD).await;
            click(&client, "main form button[type=submit]").await;
            until_path(&client, "/passkeys", "sent to add a passkey").await;
            assert!(client
                .source()
                .await
                .unwrap()
                .contains("id=\"passkey-needed\""));
            accessible(&client, "passkeys, none yet (uk)").await;
            screenshot(&client, &format!("passkeys-needed-uk-{db_name}")).await;
            fill(&client, "#name", "Ноутбук").await;
            click(&client, "#add-passkey").await;
            until_source(&client, "id=\"recovery-codes\"", "the recovery codes").await;
            accessible(&client, "recovery codes after the passkey (uk)").await;
            click(&client, "main a.button").await;
            until_path(&client, "/cases", "her first page").await;

            // The list in English: the passkey, used just now, on this device only.
            client.goto(&format!("{base}/passkeys")).await.unwrap();
            click(&client, "button[name=lang][value=en]").await;
            until_source(&client, "<html lang=\"en\">", "the passkeys in English").await;
            let list = text_of(&client, "#passkey-list").await;
            assert!(list.contains("Ноутбук"), "{list}");
            assert!(!client
                .source()
                .await
                .unwrap()
                .contains("id=\"passkey-needed\""));
            accessible(&client, "passkeys (en)").await;
            screenshot(&client, &format!("passkeys-en-{db_name}")).await;

            // Signed out, the passkey alone signs her in.
            click(&client, "header form[action=\"/sign-out\"] button").await;
            until_path(&client, "/sign-in", "signed out").await;
            fill(&client, "#login", "sofia").await;
            click(&client, "#passkey-sign-in-button").await;
            until_path(&client, "/cases", "signed in with the passkey").await;
            client.goto(&format!("{base}/passkeys")).await.unwrap();
            let list = text_of(&client, "#passkey-list").await;
            assert!(!list.contains("never"), "the last use is shown: {list}");

            // The authenticator can no longer verify her: refused, and she stays signed out.
            click(&client, "header form[action=\"/sign-out\"] button").await;
            until_path(&client, "/sign-in", "signed out again").await;
            webauthn(
                &client,
                &format!("authenticator/{authenticator}/uv"),
                json!({ "isUserVerified": false }),
            )
            .await;
            fill(&client, "#login", "sofia").await;
            click(&client, "#passkey-sign-in-button").await;
            // The options require user verification, so the authenticator gives no answer at
            // all and the page says the sign-in did not work (the server's refusal of an answer
            // without verification is tested with the software authenticator).
            until("the refusal is shown", || async {
                match client.find(Locator::Css("#passkey-problem")).await {
                    Ok(p) => p.is_displayed().await.unwrap_or(false),
                    Err(_) => false,
                }
            })
            .await;
            accessible(&client, "passkey refused (en)").await;
            screenshot(&client, &format!("passkey-refused-en-{db_name}")).await;
            client.goto(&format!("{base}/cases")).await.unwrap();
            until_path(&client, "/sign-in", "still signed out").await;
            client.close().await.unwrap();
        });
        let events = persistence::testing::query_strings(
            &db.open(),
            "SELECT action || ' ' || outcome AS item FROM audit_events \
             WHERE action IN ('passkey.register', 'auth.passkey') ORDER BY id",
        )
        .unwrap();
        // One registration, one sign-in: the refused attempt opened nothing.
        assert_eq!(
            events,
            ["passkey.register allowed", "auth.passkey allowed"],
            "{events:?}"
        );
        assert!(server.terminate().success());
    }
);
