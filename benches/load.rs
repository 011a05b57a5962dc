//! The load generator of `make bench`: starts the release server on SQLite (and on PostgreSQL
//! when `HOTLINE_TEST_POSTGRES_URL` is set), fills it with realistic data, then drives the
//! counselors' and case workers' work over HTTP at concurrency 1, 8 and 32, and prints, per
//! operation and backend, requests per second, p50/p95/p99 latency, errors, the fraction of the
//! database's own ceiling (bare one-row insert-and-commit transactions at the same concurrency)
//! and the server's peak memory. Figures, not pass/fail: see docs/performance.md.
//!
//! `HOTLINE_BENCH_REQUESTS` sets the requests per operation and concurrency (default 1,000).
//! `HOTLINE_BENCH_BACKENDS` (sqlite,postgres), `HOTLINE_BENCH_CONCURRENCY` (1,8,32) and
//! `HOTLINE_BENCH_OPS` (words of the operations' names: `open,referral`) narrow a run.
//! `HOTLINE_BENCH_SERVER` names another `hotline` binary to drive (a build of an earlier commit),
//! so two versions can be compared on the same machine within minutes of each other.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

/// The server binary: the one built with this bench, or `HOTLINE_BENCH_SERVER`.
fn server_binary() -> String {
    std::env::var("HOTLINE_BENCH_SERVER").unwrap_or_else(|_| BIN.to_string())
}
const PASSWORD: &str = "load generator passphrase";

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    /// The last answer's `Set-Cookie` and `Location` values.
    set_cookies: Vec<String>,
    location: Option<String>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            stream: None,
            set_cookies: Vec::new(),
            location: None,
        }
    }

    /// A JSON API request, with a bearer token unless `token` is empty.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Vec<u8>) {
        let mut headers = String::new();
        if !token.is_empty() {
            headers.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if body.is_some() {
            headers.push_str("Content-Type: application/json\r\n");
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        self.exchange(method, path, &headers, text.as_bytes())
    }

    /// A page request as a browser on this site sends it: the session cookie (unless empty),
    /// `Sec-Fetch-Site: same-origin`, and a form body when given.
    fn page(
        &mut self,
        method: &str,
        path: &str,
        cookie: &str,
        form: Option<&str>,
    ) -> (u16, Vec<u8>) {
        let mut headers = String::from("Sec-Fetch-Site: same-origin\r\n");
        if !cookie.is_empty() {
            headers.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if form.is_some() {
            headers.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        self.exchange(method, path, &headers, form.unwrap_or_default().as_bytes())
    }

    fn exchange(&mut self, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, Vec<u8>) {
        for _ in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
                    .expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.set_nodelay(true).unwrap();
                self.stream = Some(BufReader::new(s));
            }
            if let Some(r) = self.try_exchange(method, path, headers, body) {
                return r;
            }
            self.stream = None;
        }
        (0, Vec::new())
    }

    fn try_exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\nContent-Length: {}\r\n{headers}\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(body);
        self.set_cookies.clear();
        self.location = None;
        let stream = self.stream.as_mut()?;
        stream.get_mut().write_all(&head).ok()?;
        let mut line = String::new();
        stream.read_line(&mut line).ok()?;
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            line.clear();
            stream.read_line(&mut line).ok()?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().ok()?;
            }
            if lower.starts_with("set-cookie:") {
                self.set_cookies
                    .push(l["set-cookie:".len()..].trim().to_string());
            }
            if lower.starts_with("location:") {
                self.location = Some(l["location:".len()..].trim().to_string());
            }
            if lower == "connection: close" {
                close = true;
            }
        }
        let mut buf = vec![0; length];
        stream.read_exact(&mut buf).ok()?;
        if close {
            self.stream = None;
        }
        Some((status, buf))
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn command(url: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(server_binary());
    cmd.current_dir(dir)
        .env("HOTLINE__DATABASE__URL", url)
        .env("HOTLINE__CRYPTO__MASTER_KEYS_FILE", dir.join("master.keys"))
        .env("HOTLINE__AUDIT__CHECKPOINT_FILE", dir.join("cp.log"))
        .env("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", "")
        .env("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000")
        .env("HOTLINE__DATABASE__POOL_SIZE", "16")
        .env("HOTLINE_LOG", "warn");
    cmd
}

fn start(url: &str, dir: &std::path::Path) -> (Server, Duration) {
    let began = Instant::now();
    let mut child = command(url, dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("address")
        .parse()
        .unwrap();
    std::thread::spawn(move || for _ in out.lines() {});
    // Ready (migrations applied, vault open).
    let mut c = Conn::new(addr);
    for _ in 0..200 {
        if c.request("GET", "/health/ready", "", None).0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (Server { child, addr }, began.elapsed())
}

fn peak_memory_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")
                .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn cli(url: &str, dir: &std::path::Path, args: &[&str], stdin: &str) -> String {
    let mut child = command(url, dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "hotline {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn login(addr: SocketAddr, user: &str) -> String {
    let (status, body) = Conn::new(addr).request(
        "POST",
        "/api/v1/auth/login",
        "",
        Some(&json!({ "login": user, "password": PASSWORD })),
    );
    assert_eq!(
        status,
        200,
        "login {user}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A signed-in browser: its session cookie (`name=value`) and the session's form token, from
/// the sign-in page and the desk as a browser gets them.
fn web_session(addr: SocketAddr, user: &str) -> (String, String) {
    let mut conn = Conn::new(addr);
    let form = format!("login={user}&password={}&code=", PASSWORD.replace(' ', "+"));
    let (status, _) = conn.page("POST", "/sign-in", "", Some(&form));
    assert_eq!(status, 303, "web sign-in {user}");
    let cookie = conn
        .set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .find(|c| c.starts_with("hotline="))
        .expect("the session cookie");
    let (status, page) = conn.page("GET", "/desk", &cookie, None);
    assert_eq!(status, 200, "the desk for {user}");
    let page = String::from_utf8_lossy(&page);
    let marker = "name=\"form_token\" value=\"";
    let at = page.find(marker).expect("a form token") + marker.len();
    let token = page[at..].split('"').next().unwrap().to_string();
    (cookie, token)
}

/// The desk's form for a call like [`call_body`]'s, as the page sends it.
fn call_form(i: usize, form_token: &str) -> String {
    format!(
        "form_token={form_token}&started_at=2026-11-30T09%3A00%3A00Z&channel=phone&direction=inbound\
         &caller_role=potential_victim&topics=trafficking_labour&region=UA-46&caller_gender=female\
         &caller_age_group=24-26&language=uk&outcome=information\
         &summary=Load+generator%3A+an+invented+conversation.&caller_name=\
         &caller_phone=%2B38067{:07}&then=desk",
        i % 10_000_000
    )
}

fn call_body(i: usize) -> Value {
    json!({
        "channel": "phone", "direction": "inbound", "started_at": "2026-11-30T09:00:00Z",
        "caller_role": "potential_victim", "topics": ["trafficking_labour"], "region": "UA-46",
        "caller_gender": "female", "caller_age_group": "24-26", "language": "uk",
        "outcome": "information", "caller_phone": format!("+38067{:07}", i % 10_000_000),
        "summary": "Load generator: an invented conversation.",
    })
}

/// A worker's view for the workload: token, own case ids, a service for referrals.
struct Worker {
    token: String,
    cases: Vec<String>,
}

/// The signed-in browsers of the page operations: counselors' (cookie, form token) and case
/// workers' cookies, used by thread `t` as `t % len`, as the API's tokens are.
struct Browsers {
    counselors: Vec<(String, String)>,
    workers: Vec<String>,
}

struct Result {
    op: &'static str,
    concurrency: usize,
    rps: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    errors: usize,
    /// CPU time per request, in µs: (server, PostgreSQL processes, load generator).
    cpu_us: (f64, f64, f64),
}

/// CPU time (user + system) of one process so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks(stat: &str) -> u64 {
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU ticks so far of the server, of each `postgres` process (by pid) and of this process.
struct Cpu {
    server: u64,
    postgres: std::collections::BTreeMap<String, u64>,
    own: u64,
}

fn cpu_now(server: u32) -> Cpu {
    let read = |path: String| std::fs::read_to_string(path).unwrap_or_default();
    let mut postgres = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let stat = read(format!("{}/stat", entry.path().display()));
        if stat.contains(" (postgres) ") {
            postgres.insert(
                entry.file_name().to_string_lossy().into_owned(),
                cpu_ticks(&stat),
            );
        }
    }
    Cpu {
        server: cpu_ticks(&read(format!("/proc/{server}/stat"))),
        postgres,
        own: cpu_ticks(&read("/proc/self/stat".into())),
    }
}

/// PostgreSQL's ticks between two readings: the processes alive at the second (one that
/// started in between counts from zero; one that exited in between is not counted).
fn postgres_ticks(before: &Cpu, after: &Cpu) -> u64 {
    after
        .postgres
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.postgres.get(pid).copied().unwrap_or(0)))
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `total` requests of one operation at `concurrency`, each thread with its own worker.
#[allow(clippy::too_many_arguments)]
fn drive(
    server: u32,
    addr: SocketAddr,
    op: &'static str,
    concurrency: usize,
    total: usize,
    workers: &[Worker],
    counselors: &[String],
    browsers: &Browsers,
    service: &str,
) -> Result {
    let next = AtomicUsize::new(0);
    let cpu_before = cpu_now(server);
    let began = Instant::now();
    let per_thread: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency)
            .map(|t| {
                let next = &next;
                s.spawn(move || {
                    let mut conn = Conn::new(addr);
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    let w = &workers[t % workers.len()];
                    let counselor = &counselors[t % counselors.len()];
                    let (desk_cookie, desk_token) =
                        &browsers.counselors[t % browsers.counselors.len()];
                    let case_cookie = &browsers.workers[t % browsers.workers.len()];
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let case = &w.cases[i % w.cases.len()];
                        let t0 = Instant::now();
                        let (status, _) = match op {
                            "log a call (desk page)" => {
                                let form = call_form(i, desk_token);
                                conn.page("POST", "/desk", desk_cookie, Some(&form))
                            }
                            "open a case (case page)" => {
                                conn.page("GET", &format!("/cases/{case}"), case_cookie, None)
                            }
                            "log a call" => conn.request(
                                "POST",
                                "/api/v1/calls",
                                counselor,
                                Some(&call_body(i)),
                            ),
                            "repeat-caller lookup" => conn.request(
                                "POST",
                                "/api/v1/calls/lookup",
                                counselor,
                                Some(&json!({ "phone": format!("+38067{:07}", i % 10_000) })),
                            ),
                            "open a case" => conn.request(
                                "GET",
                                &format!("/api/v1/cases/{case}"),
                                &w.token,
                                None,
                            ),
                            "add a note" => conn.request(
                                "POST",
                                &format!("/api/v1/cases/{case}/notes"),
                                &w.token,
                                Some(&json!({ "body": "Load generator: a note." })),
                            ),
                            "list my cases" => {
                                conn.request("GET", "/api/v1/cases?limit=50", &w.token, None)
                            }
                            "create a case" => conn.request(
                                "POST",
                                "/api/v1/cases",
                                &w.token,
                                Some(&json!({ "gender": "female", "risk_level": "high" })),
                            ),
                            _ => conn.request(
                                "POST",
                                &format!("/api/v1/cases/{case}/referrals"),
                                &w.token,
                                Some(&json!({ "service_id": service })),
                            ),
                        };
                        lat.push(t0.elapsed());
                        // The desk answers a saved call with 303 back to the desk; any other
                        // answer (a 303 to sign-in included) is an error.
                        let ok = match op {
                            "log a call (desk page)" => {
                                status == 303 && conn.location.as_deref() == Some("/desk?saved=1")
                            }
                            _ => (200..300).contains(&status),
                        };
                        if !ok {
                            errors += 1;
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = began.elapsed();
    let cpu_after = cpu_now(server);
    // A process that exited in between (a PostgreSQL backend) takes its ticks with it.
    let per_request =
        |before: u64, after: u64| after.saturating_sub(before) as f64 * 10_000.0 / total as f64;
    let mut all: Vec<Duration> = per_thread.iter().flat_map(|(l, _)| l.clone()).collect();
    all.sort();
    Result {
        op,
        concurrency,
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&all, 0.50),
        p95: percentile(&all, 0.95),
        p99: percentile(&all, 0.99),
        errors: per_thread.iter().map(|(_, e)| e).sum(),
        cpu_us: (
            per_request(cpu_before.server, cpu_after.server),
            per_request(0, postgres_ticks(&cpu_before, &cpu_after)),
            per_request(cpu_before.own, cpu_after.own),
        ),
    }
}

/// Bare one-row insert-and-commit transactions per second at `concurrency`: the database's
/// ceiling on this machine.
fn ceiling(url: &str, concurrency: usize, total: usize) -> f64 {
    let db = open(url, concurrency.max(2) as u32);
    persistence::testing::execute(
        &db,
        "CREATE TABLE IF NOT EXISTS bench_ceiling (id TEXT PRIMARY KEY, v BIGINT)",
    )
    .unwrap();
    let next = AtomicUsize::new(0);
    let began = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                persistence::testing::insert_one(&db, &format!("{i}-{concurrency}")).unwrap();
            });
        }
    });
    let rate = total as f64 / began.elapsed().as_secs_f64();
    db.close(Duration::from_secs(5));
    rate
}

/// A pool as this process holds it (no TLS: see tests/it/support/mod.rs).
/// Copies the cases until there are `target`, each copy older than its original.
fn grow_cases(url: &str, target: usize) -> bool {
    let db = open(url, 2);
    let count = |db: &persistence::Database| -> usize {
        persistence::testing::query_strings(db, "SELECT CAST(COUNT(*) AS TEXT) AS item FROM cases")
            .ok()
            .and_then(|v| v.first().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    let have = count(&db);
    let copies = target.saturating_sub(have).div_ceil(have.max(1));
    let columns_sql = if url.starts_with("postgres") {
        "SELECT CAST(column_name AS TEXT) AS item FROM information_schema.columns
         WHERE table_name = 'cases' AND table_schema = current_schema() ORDER BY ordinal_position"
    } else {
        "SELECT name AS item FROM pragma_table_info('cases') ORDER BY cid"
    };
    let columns = persistence::testing::query_strings(&db, columns_sql).unwrap_or_default();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" => "c.id || '-copy-' || CAST(s.n AS TEXT)".to_string(),
            "reference" => "c.reference || '-' || CAST(s.n AS TEXT)".to_string(),
            "opened_at" => "c.opened_at - s.n * 1000000".to_string(),
            other => format!("c.{other}"),
        })
        .collect();
    let sql = format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {copies})
         INSERT INTO cases ({}) SELECT {} FROM cases c CROSS JOIN s",
        columns.join(", "),
        values.join(", ")
    );
    let ok = persistence::testing::execute(&db, &sql).is_ok();
    // Cases grow over years, not in one statement: measure the table as it settles (vacuumed,
    // statistics current) rather than while autovacuum works through 95,000 fresh rows on the
    // same two cores.
    let ok = ok && settle(&db);
    let now = count(&db);
    eprintln!("== cases: {have} -> {now}");
    db.close(Duration::from_secs(5));
    ok && now >= target
}

/// Lets the database settle after a bulk load, as one that has been running would have:
/// statistics current, dead rows vacuumed, the write-ahead log checkpointed (PostgreSQL:
/// `VACUUM ANALYZE` and `CHECKPOINT`; SQLite: `ANALYZE` and a WAL checkpoint). So the first
/// point measured is not the one that shares the two cores with autovacuum and the
/// checkpointer working through the set-up's rows.
fn settle(db: &persistence::Database) -> bool {
    let statements: &[&str] = if db.backend() == persistence::Backend::Postgres {
        // One by one: VACUUM cannot run in the implicit transaction of a multi-statement string.
        &["VACUUM ANALYZE", "CHECKPOINT"]
    } else {
        &[SQLITE_SETTLE]
    };
    statements
        .iter()
        .all(|sql| persistence::testing::execute(db, sql).is_ok())
}

const SQLITE_SETTLE: &str = "PRAGMA wal_checkpoint(TRUNCATE)";

/// Turns autovacuum off (or back on) for every table of the schema (PostgreSQL; SQLite has no
/// autovacuum of statistics: nothing to do). True when done.
fn autovacuum(db: &persistence::Database, on: bool) -> bool {
    if db.backend() != persistence::Backend::Postgres {
        return true;
    }
    let set = if on {
        "RESET (autovacuum_enabled)"
    } else {
        "SET (autovacuum_enabled = false)"
    };
    let sql = format!(
        "DO $$ DECLARE t record; BEGIN
           FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
             EXECUTE format('ALTER TABLE %I {set}', t.tablename);
           END LOOP;
         END $$"
    );
    persistence::testing::execute(db, &sql).is_ok()
}

/// How many tables of the schema have statistics (PostgreSQL: analysed by hand or by
/// autovacuum; SQLite: rows in sqlite_stat1).
fn analysed_tables(db: &persistence::Database) -> usize {
    let sql = if db.backend() == persistence::Backend::Postgres {
        "SELECT CAST(COUNT(*) AS TEXT) AS item FROM pg_stat_user_tables
         WHERE schemaname = current_schema()
           AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)"
    } else {
        "SELECT CAST(COUNT(*) AS TEXT) AS item FROM sqlite_schema WHERE name = 'sqlite_stat1'"
    };
    persistence::testing::query_strings(db, sql)
        .ok()
        .and_then(|v| v.first().and_then(|n| n.parse().ok()))
        .unwrap_or(usize::MAX)
}

/// The server and the ceiling talk to a database on the same machine: without TLS, unless the
/// URL asks for it (`sslmode=`), as a deployment with the database on loopback or a socket would.
fn plain(url: &str) -> String {
    if url.starts_with("postgres") && !url.contains("sslmode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    } else {
        url.to_string()
    }
}

fn open(url: &str, pool_size: u32) -> persistence::Database {
    persistence::Database::open(&persistence::DbSettings {
        url: persistence::DatabaseUrl::parse(&plain(url)).unwrap(),
        pool_size,
        connect_timeout: Duration::from_secs(5),
        busy_timeout: Duration::from_secs(60),
        statement_timeout: Duration::from_secs(30),
    })
    .unwrap()
}

fn run(backend: &str, url: &str, dir: &std::path::Path, requests: usize, levels: &[usize]) {
    eprintln!("== {backend}: setting up");
    // Data: demo data (10,000 calls, some cases, providers), then 100 staff, then cases to 5,000.
    let demo = cli(
        url,
        dir,
        &[
            "demo-data",
            "--calls",
            "10000",
            "--cases",
            "400",
            "--seed",
            "9",
        ],
        "",
    );
    assert!(demo.contains("demo data"));
    let mut counselor_logins = Vec::new();
    let mut worker_logins = Vec::new();
    for i in 0..50 {
        let (c, w) = (format!("load-counselor-{i}"), format!("load-worker-{i}"));
        for (login, role) in [(&c, "counselor"), (&w, "case_worker")] {
            cli(
                url,
                dir,
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
        }
        counselor_logins.push(c);
        worker_logins.push(w);
    }
    // Nothing analyses the tables before the first "list my cases" below: a database just
    // imported or restored has no statistics until autovacuum gets to it.
    let db = open(url, 1);
    let frozen = autovacuum(&db, false);
    db.close(Duration::from_secs(5));
    let (server, startup) = start(url, dir);
    let addr = server.addr;
    let counselors: Vec<String> = counselor_logins.iter().map(|l| login(addr, l)).collect();
    let mut workers: Vec<Worker> = worker_logins
        .iter()
        .map(|l| Worker {
            token: login(addr, l),
            cases: Vec::new(),
        })
        .collect();
    // Browsers for the page operations: as many as the highest concurrency uses.
    let signed_in = levels.iter().copied().max().unwrap_or(1).min(50);
    let browsers = Browsers {
        counselors: counselor_logins[..signed_in]
            .iter()
            .map(|l| web_session(addr, l))
            .collect(),
        workers: worker_logins[..signed_in]
            .iter()
            .map(|l| web_session(addr, l).0)
            .collect(),
    };
    // Every worker opens cases with a referral-sharing consent, up to 4,600 more (about 5,000
    // with the demo's).
    let mut conn = Conn::new(addr);
    for n in 0..4_600 {
        let w = &mut workers[n % 50];
        let (_, body) = conn.request(
            "POST",
            "/api/v1/cases",
            &w.token,
            Some(&json!({ "gender": "female" })),
        );
        let id = serde_json::from_slice::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        if w.cases.len() < 20 {
            conn.request(
                "POST",
                &format!("/api/v1/cases/{id}/consents"),
                &w.token,
                Some(&json!({ "purpose": "referral_sharing", "service_types": ["shelter"] })),
            );
            w.cases.push(id);
        }
    }
    let admin_directory = {
        let (_, body) = conn.request(
            "GET",
            "/api/v1/directory?service_type=shelter",
            &workers[0].token,
            None,
        );
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let service = admin_directory["organisations"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_type"] == "shelter")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut results = Vec::new();
    // "List my cases" at concurrency 8, measured at two more points of the data's life.
    let list_at_8 = || {
        drive(
            server.child.id(),
            addr,
            "list my cases",
            8,
            requests,
            &workers,
            &counselors,
            &browsers,
            &service,
        )
    };
    if levels.contains(&8) && chosen("list my cases") {
        let db = open(url, 1);
        let analysed = analysed_tables(&db);
        db.close(Duration::from_secs(5));
        let mut r = list_at_8();
        r.op = match (frozen, analysed) {
            (true, 0) => "list my cases, never analysed",
            _ => "list my cases, before the set-up's ANALYZE (some tables analysed)",
        };
        results.push(r);
    }
    let db = open(url, 1);
    if !settle(&db) || !autovacuum(&db, true) {
        eprintln!("== {backend}: the database could not settle (vacuum, checkpoint)");
    }
    db.close(Duration::from_secs(5));
    eprintln!(
        "== {backend}: ready (start-up with migrations: {} ms)",
        startup.as_millis()
    );
    // The set-up's peak (argon2id during the sign-ins) is reported apart from the load's:
    // writing 5 to clear_refs resets VmHWM to the current resident size.
    let setup_memory = peak_memory_kib(server.child.id());
    let reset = std::fs::write(format!("/proc/{}/clear_refs", server.child.id()), "5").is_ok();
    for &concurrency in levels {
        let total = if concurrency == 1 {
            requests / 4
        } else {
            requests
        };
        for op in OPERATIONS.into_iter().filter(|op| chosen(op)) {
            results.push(drive(
                server.child.id(),
                addr,
                op,
                concurrency,
                total,
                &workers,
                &counselors,
                &browsers,
                &service,
            ));
        }
    }
    // "List my cases" again with 100,000 cases in the database (the load's cases copied, older
    // than the originals, spread over the same case workers): keyset paging on the assignee
    // index should not notice.
    if levels.contains(&8) && chosen("list my cases") {
        let grown = grow_cases(url, 100_000);
        let mut r = list_at_8();
        r.op = if grown {
            "list my cases, 100,000 cases"
        } else {
            "list my cases (growth failed)"
        };
        results.push(r);
    }
    let memory = peak_memory_kib(server.child.id());
    let mut child = server.child;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let ceilings: Vec<(usize, f64)> = levels
        .iter()
        .map(|c| (*c, ceiling(url, *c, requests)))
        .collect();
    println!(
        "\n{backend}: start-up with migrations {} ms, server peak memory {} MiB during the set-up, {}",
        startup.as_millis(),
        setup_memory / 1024,
        if reset {
            format!("{} MiB under load", memory / 1024)
        } else {
            "under load not measured (clear_refs refused)".to_string()
        }
    );
    println!("| operation | concurrency | requests/s | p50 ms | p95 ms | p99 ms | errors | of the database's ceiling | CPU µs per request: server / PostgreSQL / load generator |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &results {
        let ceil = ceilings
            .iter()
            .find(|(c, _)| *c == r.concurrency)
            .map(|(_, v)| *v)
            .unwrap_or(1.0);
        println!(
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {:.0}% | {:.0} / {:.0} / {:.0} |",
            r.op,
            r.concurrency,
            r.rps,
            r.p50.as_secs_f64() * 1e3,
            r.p95.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.errors,
            100.0 * r.rps / ceil,
            r.cpu_us.0,
            r.cpu_us.1,
            r.cpu_us.2
        );
    }
    // The pages against the JSON routes they mirror: the target is within 1.3x.
    for (page, api) in [
        ("log a call (desk page)", "log a call"),
        ("open a case (case page)", "open a case"),
    ] {
        for &c in levels {
            let rps = |op: &str| {
                results
                    .iter()
                    .find(|r| r.op == op && r.concurrency == c)
                    .map(|r| r.rps)
            };
            if let (Some(p), Some(a)) = (rps(page), rps(api)) {
                println!(
                    "| (the JSON route's throughput over the page's: {page}) | {c} | {:.2}x | | | | | | |",
                    a / p
                );
            }
        }
    }
    for (c, v) in &ceilings {
        println!(
            "| (database ceiling: one-row insert and commit) | {c} | {v:.0} | | | | | 100% | |"
        );
    }
}

/// The workload's operations, in the order they run. Each page operation follows the JSON
/// route it mirrors, so the two are measured minutes apart on the same data.
const OPERATIONS: [&str; 9] = [
    "log a call",
    "log a call (desk page)",
    "repeat-caller lookup",
    "open a case",
    "open a case (case page)",
    "add a note",
    "list my cases",
    "create a referral",
    "create a case",
];

/// Whether `HOTLINE_BENCH_OPS` (a comma-separated list of words, for an A/B pair of one or two
/// operations) leaves this operation in; all run without it.
fn chosen(op: &str) -> bool {
    match std::env::var("HOTLINE_BENCH_OPS") {
        Ok(words) if !words.trim().is_empty() => words
            .split(',')
            .any(|w| !w.trim().is_empty() && op.contains(w.trim())),
        _ => true,
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let requests: usize = std::env::var("HOTLINE_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    // For profiling one point: HOTLINE_BENCH_BACKENDS=postgres, HOTLINE_BENCH_CONCURRENCY=8.
    let backends = std::env::var("HOTLINE_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .to_ascii_lowercase();
    let levels: Vec<usize> = std::env::var("HOTLINE_BENCH_CONCURRENCY")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .filter(|l: &Vec<usize>| !l.is_empty())
        .unwrap_or_else(|| vec![1, 8, 32]);
    let dir = std::env::temp_dir().join(format!("hotline-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    if backends.contains("sqlite") {
        run(
            "SQLite",
            &format!("sqlite://{}/hotline.sqlite3", dir.display()),
            &dir,
            requests,
            &levels,
        );
    }
    if let Some(base) = std::env::var("HOTLINE_TEST_POSTGRES_URL")
        .ok()
        .filter(|_| backends.contains("postgres"))
    {
        let schema = format!("load_{}", std::process::id());
        let admin = open(&base, 1);
        persistence::testing::execute(&admin, &format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = plain(&format!("{base}{sep}options=-csearch_path%3D{schema}"));
        let pg_dir = dir.join("pg");
        std::fs::create_dir_all(&pg_dir).unwrap();
        run("PostgreSQL", &url, &pg_dir, requests, &levels);
        persistence::testing::execute(&admin, &format!("DROP SCHEMA {schema} CASCADE")).unwrap();
        admin.close(Duration::from_secs(5));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
