//! The pages of the other roles over HTTP on both databases (issue 18): the partner's inbox and
//! answers; the supervisor's, auditor's and admin's pages; and the role matrix of every page.

use serde_json::{json, Value};

use crate::auth::{staff_with, Staff, PASSWORD};
use crate::both;
use crate::referrals::{add_shelter, case_with_profile, consent, get, ok, post};
use crate::support::TestDb;
use crate::web::{count_events, Browser};

/// A referral of the case worker's case to the shelter, sent; its id.
fn sent_referral(staff: &Staff, canary: &str) -> String {
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

fn api_referral(staff: &Staff, id: &str) -> Value {
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
