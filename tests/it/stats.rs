//! Statistics on both databases: every published figure equals a brute-force count over the
//! stored rows, nothing below k is shown, and only supervisors and admins see them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::auth::{call, login, start_with, tokens};
use crate::both;
use crate::referrals::strings;
use crate::support::TestDb;

/// Checks a published table against brute-force counts `(row, col) -> n`: every shown cell and
/// total equals the count, nothing between 1 and k-1 is shown, suppressed cells are marked.
fn check(name: &str, t: &Value, counts: &BTreeMap<(String, String), u64>, k: u64) -> usize {
    let rows: Vec<String> = serde_json::from_value(t["rows"].clone()).unwrap();
    let cols: Vec<String> = serde_json::from_value(t["cols"].clone()).unwrap();
    let mut shown = 0;
    let mut grand = 0;
    for (i, r) in rows.iter().enumerate() {
        let mut row_total = 0;
        for (j, c) in cols.iter().enumerate() {
            let truth = counts.get(&(r.clone(), c.clone())).copied().unwrap_or(0);
            row_total += truth;
            match &t["cells"][i][j] {
                Value::Number(n) => {
                    let n = n.as_u64().unwrap();
                    assert_eq!(n, truth, "{name} [{r}, {c}]");
                    assert!(n == 0 || n >= k, "{name} shows {n} with k = {k}");
                    shown += 1;
                }
                other => assert_eq!(other, "suppressed", "{name} [{r}, {c}]"),
            }
        }
        grand += row_total;
        if let Some(n) = t["row_totals"][i].as_u64() {
            assert_eq!(n, row_total, "{name} total of {r}");
        }
    }
    if let Some(n) = t["total"].as_u64() {
        assert_eq!(n, grand, "{name} grand total");
    }
    // Every stored count is in the table.
    for ((r, c), n) in counts {
        assert!(
            *n == 0 || (rows.contains(r) && cols.contains(c)),
            "{name}: {r}/{c} missing"
        );
    }
    shown
}

fn tally(rows: Vec<String>, split_rows: bool, split_cols: bool) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for line in rows {
        let (r, c) = line.split_once('|').unwrap();
        let rs: Vec<&str> = if split_rows {
            r.split(',').filter(|x| !x.is_empty()).collect()
        } else {
            vec![r]
        };
        let cs: Vec<&str> = if split_cols {
            c.split(',').filter(|x| !x.is_empty()).collect()
        } else {
            vec![c]
        };
        for r in &rs {
            for c in &cs {
                *out.entry((r.to_string(), c.to_string())).or_default() += 1;
            }
        }
    }
    out
}

both!(
    every_published_figure_equals_a_brute_force_count,
    |db: TestDb| {
        let (done, out) = crate::auth::cli(
            &db,
            &[
                "demo-data",
                "--calls",
                "2300",
                "--cases",
                "40",
                "--seed",
                "11",
            ],
            "",
        );
        assert!(done, "{out}");
        let password = |login: &str| {
            out.lines()
                .find(|l| l.trim_start().starts_with(login))
                .unwrap()
                .split_whitespace()
                .last()
                .unwrap()
                .to_string()
        };
        let server = start_with(
            &db,
            &[
                ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", ""),
                ("HOTLINE__STATS__K_INTERNAL", "3"),
            ],
        );
        let sup = tokens(&login(
            &server,
            "demo-supervisor-1",
            &password("demo-supervisor-1"),
        ))
        .0;
        let get = |path: &str| {
            let res = call(&server, &sup, "GET", path, None);
            assert_eq!(res.status, 200, "{path}: {}", res.text());
            res
        };
        let range = "from=2020-01-01&to=2030-01-01";
        // Calls by year and channel.
        let t = get(&format!(
            "/api/v1/stats/calls?{range}&period=year&by=channel"
        ))
        .json();
        let year = match db.backend {
            persistence::Backend::Sqlite => "strftime('%Y', started_at / 1000000, 'unixepoch')",
            persistence::Backend::Postgres => {
                "to_char(to_timestamp(started_at / 1000000) AT TIME ZONE 'UTC', 'YYYY')"
            }
        };
        let truth = tally(
            strings(
                &db,
                &format!("SELECT {year} || '|' || channel AS item FROM calls"),
            ),
            false,
            false,
        );
        let mut shown = check("calls by channel", &t, &truth, 3);
        // Calls by month and topic (a call counts under each of its topics).
        let t = get(&format!(
            "/api/v1/stats/calls?{range}&period=month&by=topic"
        ))
        .json();
        let month = match db.backend {
            persistence::Backend::Sqlite => "strftime('%Y-%m', started_at / 1000000, 'unixepoch')",
            persistence::Backend::Postgres => {
                "to_char(to_timestamp(started_at / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM')"
            }
        };
        let truth = tally(
            strings(
                &db,
                &format!("SELECT {month} || '|' || topics AS item FROM calls"),
            ),
            false,
            true,
        );
        shown += check("calls by topic", &t, &truth, 3);
        for (table, sql, split_rows, split_cols) in [
        ("cases_by_gender_and_age", "SELECT gender || '|' || age_band AS item FROM cases", false, false),
        ("cases_by_exploitation", "SELECT CASE WHEN exploitation_types = '' THEN 'unknown' ELSE exploitation_types END || '|' || status AS item FROM cases", true, false),
        ("cases_by_status", "SELECT status || '|cases' AS item FROM cases", false, false),
        ("referrals_by_service", "SELECT service_type || '|' || status AS item FROM referrals", false, false),
        ("plan_items", "SELECT domain || '|' || status AS item FROM case_plan_items", false, false),
    ] {
        let t = get(&format!("/api/v1/stats/{table}?{range}")).json();
        shown += check(table, &t, &tally(strings(&db, sql), split_rows, split_cols), 3);
    }
        assert!(
            shown > 40,
            "enough cells were published to mean something: {shown}"
        );
        // A larger k hides more; a smaller one than the organisation's is not allowed to hide less.
        let strict = get(&format!(
            "/api/v1/stats/cases_by_gender_and_age?{range}&k=11"
        ))
        .json();
        assert_eq!(strict["k"], 11);
        let loose = get(&format!(
            "/api/v1/stats/cases_by_gender_and_age?{range}&k=1"
        ))
        .json();
        assert_eq!(loose["k"], 3);
        // CSV, charts and the report.
        let csv = get(&format!("/api/v1/stats/plan_items?{range}&format=csv"));
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert!(csv
            .text()
            .starts_with("plan_items,planned,in_progress,achieved,cancelled,total"));
        for chart in ["calls-by-topic", "cases-by-exploitation", "referral-funnel"] {
            let svg = get(&format!("/api/v1/stats/charts/{chart}?{range}"));
            assert!(svg.text().starts_with("<svg"), "{chart}");
        }
        let report = get(&format!("/api/v1/stats/report?{range}")).text();
        assert!(report.contains("<h1>Hotline report</h1>") && report.contains("<svg"));
        // Bad parameters are named; other roles see nothing.
        let bad = call(
            &server,
            &sup,
            "GET",
            "/api/v1/stats/calls?period=fortnight&by=mood",
            None,
        );
        assert_eq!(bad.status, 422);
        assert_eq!(
            call(&server, &sup, "GET", "/api/v1/stats/nonsense", None).status,
            404
        );
        let worker = tokens(&login(
            &server,
            "demo-case-worker-1",
            &password("demo-case-worker-1"),
        ))
        .0;
        assert_eq!(
            call(&server, &worker, "GET", "/api/v1/stats/calls", None).status,
            403
        );
        assert!(server.terminate().success());

        // The export for outside use: k = 11, and HTCDS records k-anonymous.
        let (done, csv) = crate::auth::cli(
            &db,
            &[
                "stats",
                "export",
                "--from",
                "2020-01-01",
                "--to",
                "2029-12-31",
            ],
            "",
        );
        assert!(done, "{csv}");
        assert!(csv.contains("# calls (k = 11)") && csv.contains("# plan_items (k = 11)"));
        let (done, htcds) = crate::auth::cli(
            &db,
            &[
                "stats",
                "export",
                "--from",
                "2020-01-01",
                "--to",
                "2029-12-31",
                "--layout",
                "htcds",
            ],
            "",
        );
        assert!(done, "{htcds}");
        let header = htcds
            .lines()
            .find(|l| l.starts_with("yearOfRegistration"))
            .unwrap();
        assert!(header.contains("citizenship") && header.contains("meansOfControlDebtBondage"));
        let records: Vec<&str> = htcds.lines().filter(|l| l.starts_with("20")).collect();
        let mut groups: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
        for r in &records {
            let f: Vec<&str> = r.split(',').collect();
            *groups
                .entry(vec![f[0], f[1], f[2], f[4], f[5]])
                .or_default() += 1;
        }
        assert!(groups.values().all(|n| *n >= 11), "{groups:?}");
    }
);
