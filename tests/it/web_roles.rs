//! The pages of the other roles over HTTP on both databases (issue 18): the partner's inbox and
//! answers; the supervisor's, auditor's and admin's pages; and the role matrix of every page.

use serde_json::{json, Value};

use crate::auth::{staff_with, Staff, PASSWORD};
use crate::both;
use crate::referrals::{add_shelter, case_with_profile, consent, get, ok, post};
use crate::support::TestDb;
use crate::web::{count_events, Browser};

/// A referral of the case worker's case to the shelter, sent; its id.
pub(crate) fn sent_referral(staff: &Staff, canary: &str) -> String {
    let (shelter, _) = add_shelter(staff);
    let case_id = case_with_profile(staff, canary);
    consent(staff, &case_id, &["shelter"], None);
    let draft = ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/referrals"),
            json!({ "service_id": shelter, "safety_needs": format!("{canary}-late") }),
        ),
        201,
    );
    let id = draft["id"].as_str().unwrap().to_string();
    ok(
        &post(
            staff,
            "case_worker",
            &format!("/api/v1/referrals/{id}/send"),
            json!({ "version": draft["version"] }),
        ),
        200,
    );
    id
}

pub(crate) fn api_referral(staff: &Staff, id: &str) -> Value {
    ok(
        &get(staff, "case_worker", &format!("/api/v1/referrals/{id}")),
        200,
    )
}

both!(a_partner_answers_a_referral_from_its_pages, |db: TestDb| {
    let staff = staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let id = sent_referral(&staff, &canary);
    let path = format!("/referrals/{id}");
    let mut partner = Browser::new(&staff.server);
    assert_eq!(partner.sign_in("partner-user", PASSWORD, "").status, 303);

    // The inbox: the live referral, and a navigation with only the partner's page.
    let inbox = partner.get("/referrals");
    assert_eq!(inbox.status, 200, "{}", inbox.text());
    let text = inbox.text();
    assert!(text.contains(&format!("href=\"{path}\"")));
    assert!(text.contains("href=\"/referrals\" aria-current=\"page\""));
    for other in ["/desk", "/calls", "/cases\""] {
        assert!(!text.contains(&format!("href=\"{other}")), "{other}");
    }

    // The packet: its fields only, the read audited as the API's; the provider's buttons.
    let reads = count_events(&db, "referral.read");
    let page = partner.get(&path);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(count_events(&db, "referral.read"), reads + 1);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let text = page.text();
    assert!(text.contains("Ana") && text.contains(&format!("{canary}-late")));
    for secret in ["-family", "-safe", "-address", "-doc", "-needs", "+380"] {
        assert!(!text.contains(&format!("{canary}{secret}")), "{secret}");
    }
    assert!(text.contains("id=\"accept-form\"") && text.contains("id=\"decline-form\""));
    assert!(!text.contains("/send\"") && !text.contains("/cancel\""));
    assert!(api_referral(&staff, &id)["first_opened_at"].is_string());

    // A decline without a reason comes back with the field named; nothing changes.
    let token = partner.form_token(&path);
    let version = api_referral(&staff, &id)["version"].to_string();
    let declined = partner.post(
        &format!("{path}/decline"),
        &[
            ("form_token", &token),
            ("version", &version),
            ("reason", " "),
        ],
    );
    assert_eq!(declined.status, 422, "{}", declined.text());
    assert!(declined.text().contains("href=\"#reason\""));
    assert_eq!(api_referral(&staff, &id)["status"], "sent");

    // Accept; a stale start is the conflict page; start; complete with the outcome.
    let accepted = partner.post(
        &format!("{path}/accept"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(accepted.status, 303, "{}", accepted.text());
    assert_eq!(accepted.header("location"), Some(path.as_str()));
    assert_eq!(api_referral(&staff, &id)["status"], "accepted");
    let stale = partner.post(
        &format!("{path}/start"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(stale.status, 409, "{}", stale.text());
    let text = partner.get(&path).text();
    assert!(text.contains("id=\"start-form\"") && text.contains("id=\"complete-form\""));
    assert!(!text.contains("id=\"accept-form\""));
    let version = api_referral(&staff, &id)["version"].to_string();
    let started = partner.post(
        &format!("{path}/start"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(started.status, 303, "{}", started.text());
    let version = api_referral(&staff, &id)["version"].to_string();
    let outcome = format!("{canary}-housed");
    let done = partner.post(
        &format!("{path}/complete"),
        &[
            ("form_token", &token),
            ("version", &version),
            ("outcome", &outcome),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.text());
    let after = api_referral(&staff, &id);
    assert_eq!(after["status"], "completed");
    assert_eq!(after["partner_note"], json!(outcome));

    // Ended: gone from the inbox, and its page is a missing one's.
    assert!(!partner.get("/referrals").text().contains(&path));
    assert_eq!(partner.get(&path).status, 404);

    // The case worker reads the provider's answer on her page; she cannot answer for it, and
    // a move with no such name is not found.
    let mut worker = Browser::new(&staff.server);
    assert_eq!(worker.sign_in("case-worker-user", PASSWORD, "").status, 303);
    let text = worker.get(&path).text();
    assert!(text.contains("id=\"partner-note\"") && text.contains(&outcome));
    let token = worker.form_token(&path);
    let denials = crate::web::count(
        &db,
        "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied'",
    );
    let forbidden = worker.post(
        &format!("{path}/accept"),
        &[("form_token", &token), ("version", &version)],
    );
    assert!(
        [403, 404].contains(&forbidden.status),
        "{}",
        forbidden.status
    );
    assert!(
        crate::web::count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied'"
        ) > denials
    );
    let unknown = worker.post(
        &format!("{path}/explode"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(unknown.status, 404);
    assert!(
        !staff.server.log().contains(&canary),
        "a canary reached the log"
    );
});

both!(an_auditor_reads_the_log_and_verifies_it, |db: TestDb| {
    let staff = staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let case_id = case_with_profile(&staff, &canary);
    // The case is read through the API, and someone who may not tries to.
    ok(
        &get(&staff, "case_worker", &format!("/api/v1/cases/{case_id}")),
        200,
    );
    assert_eq!(
        get(&staff, "counselor", &format!("/api/v1/cases/{case_id}")).status,
        404
    );
    let mut auditor = Browser::new(&staff.server);
    assert_eq!(auditor.sign_in("auditor-user", PASSWORD, "").status, 303);

    // The log: the navigation has the log and nothing of cases; a view is one audit.read.
    let reads = count_events(&db, "audit.read");
    let log = auditor.get("/audit");
    assert_eq!(log.status, 200, "{}", log.text());
    assert_eq!(count_events(&db, "audit.read"), reads + 1);
    assert_eq!(log.header("cache-control"), Some("no-store"));
    let text = log.text();
    assert!(text.contains("href=\"/audit\" aria-current=\"page\""));
    assert!(!text.contains("href=\"/cases") && !text.contains("href=\"/desk"));
    assert!(text.contains("<code>case.read</code>"));

    // Filters: the counselor's denied read of the case, by actor, record and outcome.
    let counselor = &staff.ids["counselor"];
    let denied = auditor.get(&format!(
        "/audit?actor={counselor}&record_type=case&record_id={case_id}&outcome=denied"
    ));
    assert_eq!(denied.status, 200);
    let text = denied.text();
    assert!(text.contains("<code>case.read</code>") && text.contains("class=\"overdue\""));
    assert!(
        !text.contains(&staff.ids["case_worker"]),
        "only the counselor's events"
    );
    // A day that is not one, or an outcome there is not, is named; nothing is read.
    let reads = count_events(&db, "audit.read");
    let wrong = auditor.get("/audit?from=05.12.2026&outcome=maybe");
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(wrong.text().contains("href=\"#from\"") && wrong.text().contains("href=\"#outcome\""));
    assert!(
        wrong.text().contains("value=\"05.12.2026\""),
        "what was typed is kept"
    );
    assert_eq!(count_events(&db, "audit.read"), reads);
    // An unknown filter is refused without being read back.
    assert_eq!(auditor.get("/audit?secret=x").status, 422);

    // Who touched this record: the case worker's read and the counselor's denial; never the
    // case's content on any of the auditor's pages.
    let touched = auditor.get(&format!("/audit/records/case/{case_id}"));
    assert_eq!(touched.status, 200);
    let text = touched.text();
    assert!(text.contains(&staff.ids["case_worker"]) && text.contains(counselor));
    let anomalies = auditor.get("/audit/anomalies?hours=48");
    assert_eq!(anomalies.status, 200, "{}", anomalies.text());
    for page in [&text, &log.text(), &anomalies.text()] {
        assert!(!page.contains(&canary), "case content on an auditor's page");
    }
    // The auditor cannot open the case itself (separation of duties), as through the API.
    assert_eq!(auditor.get(&format!("/cases/{case_id}")).status, 404);
    assert_eq!(auditor.get("/cases").status, 403);

    // Verify: intact; then an event deleted behind the triggers' back is named.
    let form = auditor.get("/audit/verify");
    assert_eq!(form.status, 200);
    let token = auditor.form_token("/audit/verify");
    assert_eq!(auditor.post("/audit/verify", &[]).status, 403, "no token");
    let intact = auditor.post("/audit/verify", &[("form_token", &token)]);
    assert_eq!(intact.status, 200, "{}", intact.text());
    assert!(intact.text().contains("id=\"verify-result\""));
    assert!(intact.text().contains("Журнал цілий"));
    let (stripe, seq) = crate::vault::delete_an_audit_event(&db);
    let broken = auditor.post("/audit/verify", &[("form_token", &token)]);
    assert_eq!(broken.status, 200, "{}", broken.text());
    let text = broken.text();
    assert!(
        text.contains("role=\"alert\" id=\"verify-result\""),
        "{text}"
    );
    assert!(
        text.contains(&format!("stripe {stripe}, #{seq}")),
        "the first broken place is named: {text}"
    );
    assert!(
        !staff.server.log().contains(&canary),
        "a canary reached the log"
    );
});

fn api_case(staff: &Staff, id: &str) -> Value {
    ok(
        &get(staff, "supervisor", &format!("/api/v1/cases/{id}")),
        200,
    )
}

both!(a_supervisor_supervises_from_the_pages, |db: TestDb| {
    let staff = staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let id = case_with_profile(&staff, &canary);
    let path = format!("/cases/{id}");
    let mut sup = Browser::new(&staff.server);
    assert_eq!(sup.sign_in("supervisor-user", PASSWORD, "").status, 303);
    let mut worker = Browser::new(&staff.server);
    assert_eq!(worker.sign_in("case-worker-user", PASSWORD, "").status, 303);

    // All cases, filtered: by status and risk codes, the unassigned queue; a code that is not
    // one is named and nothing is read.
    let all = sup.get("/cases");
    assert_eq!(all.status, 200);
    assert!(all.text().contains(&format!("href=\"{path}\"")));
    for nav in ["/break-glass", "/erasure-requests", "/referrals", "/calls"] {
        assert!(all.text().contains(&format!("href=\"{nav}\"")), "{nav}");
    }
    assert!(sup.get("/cases?status=Active").text().contains(&path));
    assert!(!sup.get("/cases?status=Closed").text().contains(&path));
    assert!(!sup.get("/cases?assigned=none").text().contains(&path));
    let lists = count_events(&db, "case.list");
    let wrong = sup.get("/cases?status=gone&assigned=everyone");
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(
        wrong.text().contains("href=\"#status\"") && wrong.text().contains("href=\"#assigned\"")
    );
    assert_eq!(count_events(&db, "case.list"), lists);
    // A case worker has no assignment filter and no supervision forms.
    assert!(!worker.get("/cases").text().contains("id=\"assigned\""));
    assert!(!worker.get(&path).text().contains("id=\"assign-form\""));

    // The case page: the assignment form lists who a case can go to.
    let page = sup.get(&path);
    let text = page.text();
    assert!(text.contains("id=\"assign-form\"") && text.contains(">case-worker-user</option>"));
    assert!(
        !text.contains(">counselor-user</option>"),
        "only case workers and supervisors"
    );

    // A legal hold: a missing reason named; placed; erasure then refused; lifted.
    let token = sup.form_token(&path);
    let empty = sup.post(
        &format!("{path}/legal-hold"),
        &[("form_token", &token), ("reason", " ")],
    );
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(empty.text().contains("href=\"#reason\""));
    let held = sup.post(
        &format!("{path}/legal-hold"),
        &[
            ("form_token", &token),
            ("reason", &format!("{canary}-court order")),
        ],
    );
    assert_eq!(held.status, 303, "{}", held.text());
    assert_eq!(api_case(&staff, &id)["legal_hold"], json!(true));
    assert!(sup.get(&path).text().contains("id=\"lift-hold-form\""));
    let worker_token = worker.form_token(&path);
    let refused = worker.post(&format!("{path}/erasure"), &[("form_token", &worker_token)]);
    assert_eq!(refused.status, 409, "{}", refused.text());
    let lifted = sup.post(
        &format!("{path}/legal-hold/lift"),
        &[("form_token", &token)],
    );
    assert_eq!(lifted.status, 303, "{}", lifted.text());
    assert_eq!(api_case(&staff, &id)["legal_hold"], json!(false));

    // Erasure: the case worker asks; the supervisor sees it and rejects it. A supervisor's
    // own request is not hers to approve (two people).
    let asked = worker.post(&format!("{path}/erasure"), &[("form_token", &worker_token)]);
    assert_eq!(asked.status, 303, "{}", asked.text());
    let queue = sup.get("/erasure-requests");
    assert_eq!(queue.status, 200, "{}", queue.text());
    let text = queue.text();
    let request = text
        .split("id=\"erasure-")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the request")
        .to_string();
    assert!(!text.contains(&canary));
    let rejected = sup.post(
        &format!("/erasure-requests/{request}/reject"),
        &[("form_token", &token)],
    );
    assert_eq!(rejected.status, 303, "{}", rejected.text());
    assert!(sup
        .get("/erasure-requests")
        .text()
        .contains("id=\"erasures-none\""));
    assert!(sup
        .get("/erasure-requests?show=all")
        .text()
        .contains(&request));
    let again = sup.post(
        &format!("/erasure-requests/{request}/approve"),
        &[("form_token", &token)],
    );
    assert_eq!(again.status, 409, "decided once");
    let own = case_with_profile(&staff, &format!("{canary}-2"));
    let own_path = format!("/cases/{own}");
    let asked = sup.post(&format!("{own_path}/erasure"), &[("form_token", &token)]);
    assert_eq!(asked.status, 303, "{}", asked.text());
    let text = sup.get("/erasure-requests").text();
    let mine = text
        .split("id=\"erasure-")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    let forbidden = sup.post(
        &format!("/erasure-requests/{mine}/approve"),
        &[("form_token", &token)],
    );
    assert_eq!(forbidden.status, 403, "{}", forbidden.text());
    assert!(api_case(&staff, &own)["erased_at"].is_null());

    // Assignment with the version read: to the unassigned queue; a stale one is a conflict.
    let version = api_case(&staff, &id)["version"].to_string();
    let assigned = sup.post(
        &format!("{path}/assignment"),
        &[
            ("form_token", &token),
            ("version", &version),
            ("assigned_to", ""),
        ],
    );
    assert_eq!(assigned.status, 303, "{}", assigned.text());
    assert!(api_case(&staff, &id)["assigned_to"].is_null());
    assert!(sup.get("/cases?assigned=none").text().contains(&path));
    let stale = sup.post(
        &format!("{path}/assignment"),
        &[
            ("form_token", &token),
            ("version", &version),
            ("assigned_to", &staff.ids["case_worker"]),
        ],
    );
    assert_eq!(stale.status, 409, "{}", stale.text());

    // Break-glass review: another case worker breaks the glass; the supervisor reads the
    // justification and flags the use; it leaves the queue; a second review is refused.
    crate::auth::add_user(&db, "taras", "case_worker");
    let (taras, _) = crate::auth::tokens(&crate::auth::login(&staff.server, "taras", PASSWORD));
    let glass = crate::auth::call(
        &staff.server,
        &taras,
        "POST",
        &format!("/api/v1/cases/{id}/break-glass"),
        Some(
            json!({ "reason": "caller_on_line", "justification": format!("{canary}-she is on the line"), "password": PASSWORD }),
        ),
    );
    assert_eq!(glass.status, 201, "{}", glass.text());
    let grant = glass.json()["grant_id"].as_str().unwrap().to_string();
    let queue = sup.get("/break-glass");
    assert_eq!(queue.status, 200, "{}", queue.text());
    let text = queue.text();
    assert!(text.contains(&format!("id=\"grant-{grant}\"")) && text.contains("taras"));
    assert!(text.contains(&format!("{canary}-she is on the line")));
    let bogus = sup.post(
        &format!("/break-glass/{grant}/review"),
        &[("form_token", &token), ("verdict", "fine")],
    );
    assert_eq!(bogus.status, 422);
    let flagged = sup.post(
        &format!("/break-glass/{grant}/review"),
        &[("form_token", &token), ("verdict", "flagged")],
    );
    assert_eq!(flagged.status, 303, "{}", flagged.text());
    assert_eq!(count_events(&db, "break_glass.flag"), 1);
    assert!(sup
        .get("/break-glass")
        .text()
        .contains("id=\"grants-none\""));
    assert!(sup
        .get("/break-glass?show=all")
        .text()
        .contains("class=\"overdue\""));
    let twice = sup.post(
        &format!("/break-glass/{grant}/review"),
        &[("form_token", &token), ("verdict", "justified")],
    );
    assert_eq!(twice.status, 409);
    // Overdue follow-ups across case workers: a plan item of the worker's other case, due
    // long ago, with who has the case; a case with nothing due is not there.
    let late = case_with_profile(&staff, &format!("{canary}-3"));
    ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{late}/plan"),
            json!({ "domain": "housing", "goal": format!("{canary}-rent"), "due_on": "2026-01-15" }),
        ),
        201,
    );
    let overdue = sup.get("/follow-ups");
    assert_eq!(overdue.status, 200, "{}", overdue.text());
    let text = overdue.text();
    assert!(
        text.contains(&format!("href=\"/cases/{late}\""))
            && !text.contains(&format!("href=\"{path}\""))
    );
    assert!(text.contains("2026-01-15") && text.contains("<td>case-worker-user</td>"));
    assert!(!text.contains(&canary), "no content on the list");
    assert!(worker
        .get("/follow-ups")
        .text()
        .contains(&format!("href=\"/cases/{late}\"")));
    // Nobody else has these queues.
    assert_eq!(worker.get("/break-glass").status, 403);
    assert_eq!(worker.get("/erasure-requests").status, 403);
    assert!(
        !staff.server.log().contains(&canary),
        "a canary reached the log"
    );
});

both!(
    the_statistics_dashboard_publishes_as_the_api,
    |db: TestDb| {
        let staff = staff_with(&db, &[]);
        for _ in 0..3 {
            case_with_profile(&staff, "CNRY-stats");
        }
        let mut sup = Browser::new(&staff.server);
        assert_eq!(sup.sign_in("supervisor-user", PASSWORD, "").status, 303);
        let reads = count_events(&db, "stats.read");
        let page = sup.get("/stats");
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(
            count_events(&db, "stats.read"),
            reads + 1,
            "one event per view"
        );
        let text = page.text();
        for chart in ["calls-by-topic", "cases-by-exploitation", "referral-funnel"] {
            assert!(text.contains(&format!("id=\"{chart}\"><svg")), "{chart}");
        }
        assert!(text.contains("id=\"table-cases_by_status\""));
        // The k rule: three cases are below k (5), so the status table shows them suppressed,
        // exactly as the API publishes it.
        let api = ok(
            &get(&staff, "supervisor", "/api/v1/stats/cases_by_status"),
            200,
        );
        assert_eq!(api["total"], "suppressed", "{api}");
        assert!(text.contains("<td>приховано</td>"));
        // The charts speak the page's language: titles, codes and what is suppressed.
        assert!(
            text.contains("Справи за формою експлуатації")
                && text.contains("приховано (менше за 5")
        );
        assert!(!text.contains(">unknown<") && !text.contains("fewer than"));
        assert!(
            !text.contains("<td>3</td>"),
            "a count below k is never shown"
        );
        // A wrong day is named; the printable report is the API's document.
        let wrong = sup.get("/stats?from=yesterday");
        assert_eq!(wrong.status, 422);
        assert!(wrong.text().contains("href=\"#from\""));
        let before = sup.get("/stats?from=2026-12-01&to=2026-11-01");
        assert_eq!(before.status, 422, "to before from");
        let report = sup.get("/stats/report?from=2026-01-01&to=2026-12-31");
        assert_eq!(report.status, 200);
        assert!(report.text().starts_with("<!DOCTYPE html>") && report.text().contains("<svg"));
        let api_report = get(
            &staff,
            "supervisor",
            "/api/v1/stats/report?from=2026-01-01&to=2027-01-01",
        );
        assert_eq!(report.text(), api_report.text(), "the same document");
        // Counselors, case workers, auditors and partners have no statistics.
        let mut worker = Browser::new(&staff.server);
        assert_eq!(worker.sign_in("case-worker-user", PASSWORD, "").status, 303);
        assert_eq!(worker.get("/stats").status, 403);
        assert!(!worker.get("/cases").text().contains("href=\"/stats\""));
    }
);

both!(an_admin_keeps_accounts_and_the_directory, |db: TestDb| {
    let staff = staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    add_shelter(&staff);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let case_id = case_with_profile(&staff, &canary);
    let mut admin = Browser::new(&staff.server);
    assert_eq!(admin.sign_in("admin-user", PASSWORD, "").status, 303);
    let page = admin.get("/admin/users");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("id=\"user-case-worker-user\""));
    let token = admin.form_token("/admin/users");

    // A new account: a wrong login is named and the passphrase never comes back; then made.
    let secret = format!("{canary}-passphrase of hers");
    let wrong = admin.post(
        "/admin/users",
        &[
            ("form_token", &token),
            ("login", "no spaces allowed"),
            ("role", "case_worker"),
            ("organisation_id", ""),
            ("password", &secret),
        ],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(wrong.text().contains("href=\"#login\"") && !wrong.text().contains(&secret));
    let made = admin.post(
        "/admin/users",
        &[
            ("form_token", &token),
            ("login", "olena"),
            ("role", "case_worker"),
            ("organisation_id", ""),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.text());
    let text = admin.get("/admin/users?done=created").text();
    assert!(text.contains("id=\"user-olena\"") && text.contains("id=\"saved\""));
    let olena = crate::auth::login(&staff.server, "olena", PASSWORD);
    assert_eq!(olena.status, 200, "{}", olena.text());
    let taken = admin.post(
        "/admin/users",
        &[
            ("form_token", &token),
            ("login", "olena"),
            ("role", "case_worker"),
            ("organisation_id", ""),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(taken.status, 409);

    // Disable (her session ends at once), enable, change the role, reset a second factor.
    let id = |text: &str, login: &str| {
        let row = text.split(&format!("id=\"user-{login}\"")).nth(1).unwrap();
        row.split("/admin/users/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    let olena_id = id(&text, "olena");
    let (access, _) = crate::auth::tokens(&olena);
    let disabled = admin.post(
        &format!("/admin/users/{olena_id}/disable"),
        &[("form_token", &token)],
    );
    assert_eq!(disabled.status, 303, "{}", disabled.text());
    assert_eq!(
        crate::auth::me(&staff.server, &access).status,
        401,
        "her session ended"
    );
    assert!(admin.get("/admin/users").text().contains("/enable\""));
    assert_eq!(
        admin
            .post(
                &format!("/admin/users/{olena_id}/enable"),
                &[("form_token", &token)]
            )
            .status,
        303
    );
    let promoted = admin.post(
        &format!("/admin/users/{olena_id}/role"),
        &[("form_token", &token), ("role", "supervisor")],
    );
    assert_eq!(promoted.status, 303, "{}", promoted.text());
    assert_eq!(
        admin
            .post(
                &format!("/admin/users/{olena_id}/role"),
                &[("form_token", &token), ("role", "king")]
            )
            .status,
        422
    );
    crate::web::enrol_totp(&staff.server, "olena");
    let text = admin.get("/admin/users").text();
    assert!(text.contains(&format!("/admin/users/{olena_id}/reset-second-factor")));
    let reset = admin.post(
        &format!("/admin/users/{olena_id}/reset-second-factor"),
        &[("form_token", &token)],
    );
    assert_eq!(reset.status, 303, "{}", reset.text());
    assert_eq!(count_events(&db, "user.reset_totp"), 1);
    assert!(!admin
        .get("/admin/users")
        .text()
        .contains(&format!("/admin/users/{olena_id}/reset-second-factor")));
    // Never one's own account: no buttons, and a forged post is refused by the policy.
    let list = admin.get("/admin/users").text();
    let own_row = list
        .split("id=\"user-admin-user\"")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        own_row.contains("Ваш власний обліковий запис") && !own_row.contains("<form"),
        "{own_row}"
    );
    let admin_id = &staff.ids["admin"];
    assert_eq!(
        admin
            .post(
                &format!("/admin/users/{admin_id}/disable"),
                &[("form_token", &token)]
            )
            .status,
        403
    );

    // The directory: a CSV previewed (a new organisation, a changed one), nothing saved; a
    // bad row named by line; then saved; the export neutralises a formula.
    let header = "organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description";
    let csv = format!(
        "{header}\nshelter-1,Притулок «Надія»,intake@shelter-1.example.org,en,uk;en,UA-46;UA-30,Women 18+ and their children,true,shelter,Twenty beds\n\
         lawyers-1,Lawyers Together,desk@lawyers.example.org,uk,uk,UA-30,Anyone,true,legal,\"=HYPERLINK(\"\"http://evil.example\"\")\"\n"
    );
    let before = admin.get("/admin/directory").text();
    assert!(!before.contains("lawyers-1"));
    let preview = admin.post(
        "/admin/directory/preview",
        &[("form_token", &token), ("csv", &csv)],
    );
    assert_eq!(preview.status, 200, "{}", preview.text());
    let text = preview.text();
    assert!(text.contains("id=\"import-preview\""));
    let lawyers = text.split("<code>lawyers-1</code>").nth(1).unwrap();
    assert!(
        lawyers.trim_start().starts_with(": нова організація"),
        "{lawyers}"
    );
    let shelter = text.split("<code>shelter-1</code>").nth(1).unwrap();
    assert!(
        shelter.contains("Регіони") && shelter.contains("вилучено послуги"),
        "{shelter}"
    );
    assert!(
        !admin.get("/admin/directory").text().contains("lawyers-1"),
        "a preview saves nothing"
    );
    let bad = admin.post(
        "/admin/directory/preview",
        &[
            ("form_token", &token),
            (
                "csv",
                &format!("{header}\nx y,Name,,uk,uk,UA-30,,maybe,legal,\n"),
            ),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.text().contains("id=\"import-errors\"") && bad.text().contains("line 2"));
    let saved = admin.post(
        "/admin/directory/import",
        &[("form_token", &token), ("csv", &csv)],
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    assert!(admin.get("/admin/directory").text().contains("lawyers-1"));
    let export = admin.get("/admin/directory/export");
    assert_eq!(export.status, 200);
    assert!(
        export.text().contains("\"'=HYPERLINK("),
        "{}",
        export.text()
    );
    assert!(!export.text().contains(",=HYPERLINK") && !export.text().contains(",\"=HYPERLINK"));

    // Retention: the periods as configured and what the next run would erase, audited.
    let retention = admin.get("/admin/retention");
    assert_eq!(retention.status, 200, "{}", retention.text());
    assert!(
        retention.text().contains("12 місяців після дзвінка")
            && retention.text().contains("5 років")
    );
    assert_eq!(count_events(&db, "retention.read"), 1);
    assert!(!retention.text().contains(&canary));
    // An admin never sees case content.
    assert_eq!(admin.get("/cases").status, 403);
    assert_eq!(admin.get(&format!("/cases/{case_id}")).status, 404);
    assert!(!admin.get("/admin/users").text().contains(&canary));
    assert!(
        !staff.server.log().contains(&canary),
        "a canary reached the log"
    );
});

/// Who may open a page.
enum Access {
    /// No session needed (sign-in, the language switch, the static files, `/`).
    Public,
    /// Any signed-in user, about their own session.
    AnySignedIn,
    Only(&'static [&'static str]),
}

const ALL_ROLES: [&str; 6] = [
    "counselor",
    "case_worker",
    "supervisor",
    "auditor",
    "admin",
    "partner",
];

/// Who may use each page route (method, path as registered).
fn page_access(method: &str, path: &str) -> Access {
    use Access::*;
    const DESK: &[&str] = &["counselor", "case_worker", "supervisor"];
    const CASES: &[&str] = &["case_worker", "supervisor"];
    const SUPERVISOR: &[&str] = &["supervisor"];
    const ADMIN: &[&str] = &["admin"];
    const AUDITOR: &[&str] = &["auditor"];
    match (method, path) {
        (
            _,
            "/"
            | "/sign-in"
            | "/sign-in/passkey"
            | "/sign-in/passkey/options"
            | "/language"
            | "/static/{file}",
        ) => Public,
        (_, "/sign-out" | "/enrol") => AnySignedIn,
        // One's own passkeys (another user's is not found: tests/it/passkeys.rs).
        (_, "/passkeys" | "/passkeys/options" | "/passkeys/{id}/{change}") => AnySignedIn,
        (_, "/desk" | "/desk/lookup") => Only(DESK),
        (_, "/calls") => Only(&["counselor", "supervisor"]),
        (
            _,
            "/cases/{id}/assignment" | "/cases/{id}/legal-hold" | "/cases/{id}/legal-hold/lift",
        ) => Only(SUPERVISOR),
        (_, "/cases/{id}/break-glass") => Only(&["counselor", "case_worker"]),
        (_, p) if p == "/cases" || p == "/follow-ups" || p.starts_with("/cases/") => Only(CASES),
        ("get", "/referrals" | "/referrals/{id}") => {
            Only(&["case_worker", "supervisor", "partner"])
        }
        // The move tried is the hotline's cancel.
        ("post", "/referrals/{id}/{move}") => Only(CASES),
        (_, p) if p.starts_with("/break-glass") || p.starts_with("/erasure-requests") => {
            Only(SUPERVISOR)
        }
        (_, p) if p.starts_with("/admin/") => Only(ADMIN),
        (_, p) if p.starts_with("/stats") => Only(&["supervisor", "admin"]),
        (_, p) if p.starts_with("/audit") => Only(AUDITOR),
        _ => panic!("{method} {path} is a page route without a row in the role matrix"),
    }
}

both!(every_page_route_is_in_the_role_matrix, |db: TestDb| {
    let staff = staff_with(&db, &[]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    // One of everything a page route names: a case with a note, a plan item and a consent, a
    // sent referral, a break-glass use, an erasure request, another user.
    let referral = sent_referral(&staff, &canary);
    let case_id = api_referral(&staff, &referral)["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/notes"),
            json!({ "body": format!("{canary}-note") }),
        ),
        201,
    );
    let note = file["id"].as_str().unwrap().to_string();
    let item = ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{case_id}/plan"),
            json!({ "domain": "housing", "goal": "a flat", "due_on": "2027-03-01" }),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let consent_id = consent(&staff, &case_id, &["medical"], None);
    crate::auth::add_user(&db, "taras", "case_worker");
    let (taras, _) = crate::auth::tokens(&crate::auth::login(&staff.server, "taras", PASSWORD));
    let grant = crate::auth::call(
        &staff.server,
        &taras,
        "POST",
        &format!("/api/v1/cases/{case_id}/break-glass"),
        Some(
            json!({ "reason": "caller_on_line", "justification": "on the line", "password": PASSWORD }),
        ),
    );
    let grant = grant.json()["grant_id"].as_str().unwrap().to_string();
    let other = case_with_profile(&staff, &format!("{canary}-2"));
    let erasure = ok(
        &post(
            &staff,
            "case_worker",
            &format!("/api/v1/cases/{other}/erasure"),
            json!({}),
        ),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let victim = crate::auth::me(&staff.server, &taras).json()["user_id"]
        .as_str()
        .unwrap()
        .to_string();

    let concrete = |path: &str| -> String {
        let path = if path.starts_with("/referrals/") {
            path.replace("{id}", &referral).replace("{move}", "cancel")
        } else if path.starts_with("/break-glass/") {
            path.replace("{id}", &grant)
        } else if path.starts_with("/erasure-requests/") {
            path.replace("{id}", &erasure)
                .replace("{decision}", "reject")
        } else if path.starts_with("/admin/users/") {
            path.replace("{id}", &victim).replace("{change}", "unlock")
        } else if path.starts_with("/passkeys/") {
            // A rename without a name: refused as a form (422), after the session is judged.
            path.replace("{id}", "no-such-passkey")
                .replace("{change}", "rename")
        } else if path.starts_with("/audit/records/") {
            path.replace("{type}", "case").replace("{id}", &case_id)
        } else {
            path.replace("{id}", &case_id)
        };
        path.replace("{note}", &note)
            .replace("{item}", &item)
            .replace("{consent}", &consent_id)
            .replace("{step}", "preview")
            .replace("{file}", "app.css")
    };
    let d = db.open();
    let denied = || -> i64 {
        persistence::testing::query_strings(
            &d,
            "SELECT CAST(COUNT(*) AS TEXT) AS item FROM audit_events WHERE outcome = 'denied'",
        )
        .unwrap()[0]
            .parse()
            .unwrap()
    };
    let signed_in = |role: &str| {
        let mut b = Browser::new(&staff.server);
        let login = format!("{}-user", role.replace('_', "-"));
        assert_eq!(b.sign_in(&login, PASSWORD, "").status, 303, "{role}");
        let home = b.get("/");
        let to = home.header("location").unwrap().to_string();
        let token = b.form_token(&to);
        (b, token)
    };
    let mut browsers: std::collections::BTreeMap<&str, (Browser, String)> =
        ALL_ROLES.iter().map(|r| (*r, signed_in(r))).collect();

    let (mut checked, mut refusals) = (0, 0);
    for (method, template) in api::PAGE_ROUTES {
        let path = concrete(template);
        let access = page_access(method, template);
        let allowed: Vec<&str> = match access {
            Access::Public => {
                let mut anonymous = Browser::new(&staff.server);
                let res = match *method {
                    "get" => anonymous.get(&path),
                    _ => anonymous.post(&path, &[]),
                };
                assert_ne!(res.status, 401, "{method} {path} is public");
                continue;
            }
            Access::AnySignedIn => ALL_ROLES.to_vec(),
            Access::Only(roles) => roles.to_vec(),
        };
        // Without a session: the sign-in page, never the page.
        let mut anonymous = Browser::new(&staff.server);
        let res = match *method {
            "get" => anonymous.get(&path),
            _ => anonymous.post(&path, &[("form_token", "0")]),
        };
        assert!(
            res.status == 303
                && res
                    .header("location")
                    .is_some_and(|l| l.starts_with("/sign-in"))
                || res.status == 403,
            "{method} {path} without a session: {}",
            res.status
        );
        // Denied roles first (an allowed one may change the record), each refusal audited.
        let mut roles: Vec<&str> = ALL_ROLES.to_vec();
        roles.sort_by_key(|r| allowed.contains(r));
        for role in roles {
            // Signing out ends the session: that route gets a fresh one.
            let fresh_session = *template == "/sign-out";
            let (mut browser, token) = match fresh_session {
                true => signed_in(role),
                false => browsers.remove(role).unwrap(),
            };
            let before = denied();
            let mut fields = vec![("form_token", token.as_str())];
            // The fields a form cannot be read without (the policy then decides).
            match *template {
                t if t.starts_with("/break-glass/") => fields.push(("verdict", "justified")),
                "/desk/lookup" => fields.push(("phone", "+380501234567")),
                _ => {}
            }
            let res = match *method {
                "get" => browser.get(&path),
                _ => browser.post(&path, &fields),
            };
            checked += 1;
            if allowed.contains(&role) {
                assert!(
                    ![401, 403, 404].contains(&res.status)
                        && (!res
                            .header("location")
                            .is_some_and(|l| l.starts_with("/sign-in"))
                            || *template == "/sign-out"),
                    "{role} {method} {path}: {} {}",
                    res.status,
                    res.text()
                );
            } else {
                assert!(
                    [403, 404].contains(&res.status),
                    "{role} {method} {path}: an unexpected allow, {}",
                    res.status
                );
                assert!(
                    denied() > before,
                    "{role} {method} {path}: the denial is not audited"
                );
                assert!(!res.text().contains(&canary), "{role} {method} {path}");
                refusals += 1;
            }
            if !fresh_session {
                browsers.insert(role, (browser, token));
            }
        }
    }
    assert!(
        checked > 200 && refusals > 120,
        "{checked} checked, {refusals} refused"
    );
});
