//! The case worker's pages over HTTP on both databases: the case page (audited as the API's
//! read), notes with their history, the plan, consents, editing the file with its version
//! (409 keeps what was typed), a referral previewed then sent, another user's view of the case
//! (the same page as a missing case), break-glass read-only, and second-factor enrolment.

use serde_json::Value;

use crate::auth::{add_user, base32_decode, call, code_now, staff_with, PASSWORD};
use crate::both;
use crate::referrals::{add_shelter, case_with_profile};
use crate::support::TestDb;
use crate::web::{count_events, web_server, Browser};

fn api_case(staff: &crate::auth::Staff, id: &str) -> Value {
    let res = call(
        &staff.server,
        &staff.tokens["case_worker"],
        "GET",
        &format!("/api/v1/cases/{id}"),
        None,
    );
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()
}

/// The page's body without the request id (an error page names its request).
fn sans_request_id(text: &str) -> String {
    match text.find("<code>") {
        Some(at) => {
            let end = text[at..].find("</code>").unwrap() + at;
            format!("{}{}", &text[..at], &text[end..])
        }
        None => text.to_string(),
    }
}

both!(a_case_worker_works_a_case_from_its_page, |db: TestDb| {
    let staff = staff_with(&db, &[("HOTLINE_LOG", "trace")]);
    let canary = format!("CNRY-{}", crate::support::unique_suffix());
    let (shelter, _) = add_shelter(&staff);
    let id = case_with_profile(&staff, &canary);
    add_user(&db, "taras", "case_worker");
    let mut worker = Browser::new(&staff.server);
    assert_eq!(worker.sign_in("case-worker-user", PASSWORD, "").status, 303);

    // The list links the case; the case page is one audited read, like the API's.
    let list = worker.get("/cases");
    assert!(list.text().contains(&format!("href=\"/cases/{id}\"")));
    let reads = count_events(&db, "case.read");
    let page = worker.get(&format!("/cases/{id}"));
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(count_events(&db, "case.read"), reads + 1);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let text = page.text();
    let safe = text
        .find("id=\"safe-contact\"")
        .expect("the safe-contact block");
    let phones = text.find("+380671234567").expect("the phone");
    assert!(
        safe < phones,
        "the safe-contact instructions come before the contact details"
    );
    assert!(text.contains(&format!("{canary}-safe")));
    assert!(text.contains(&format!("data-load=\"/cases/{id}/referrals\"")));
    let token = worker.form_token(&format!("/cases/{id}"));

    // Notes: add, an empty one named, edit with the revision, a stale edit kept as typed.
    let added = worker.post(
        &format!("/cases/{id}/notes"),
        &[("form_token", &token), ("body", &format!("{canary}-note1"))],
    );
    assert_eq!(added.status, 303, "{}", added.text());
    assert_eq!(
        added.header("location"),
        Some(format!("/cases/{id}?saved=1#notes").as_str())
    );
    let empty = worker.post(
        &format!("/cases/{id}/notes"),
        &[("form_token", &token), ("body", "  ")],
    );
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(empty.text().contains("href=\"#body\""));
    let file = api_case(&staff, &id);
    let note = file["notes"][0]["id"].as_str().unwrap().to_string();
    let edit = |b: &mut Browser, rev: &str, body: &str| {
        b.post(
            &format!("/cases/{id}/notes/{note}"),
            &[("form_token", &token), ("revision", rev), ("body", body)],
        )
    };
    assert_eq!(
        edit(&mut worker, "1", &format!("{canary}-note2")).status,
        303
    );
    let stale = edit(&mut worker, "1", &format!("{canary}-note3"));
    assert_eq!(stale.status, 409, "{}", stale.text());
    assert!(stale.text().contains("id=\"form-conflict\""));
    assert!(
        stale.text().contains(&format!("{canary}-note3")),
        "what was typed is kept"
    );
    let history = worker.get(&format!("/cases/{id}/notes/{note}"));
    assert_eq!(history.status, 200);
    assert!(history.text().contains(&format!("{canary}-note1")));
    assert!(history.text().contains(&format!("{canary}-note2")));

    // The plan: an item, its progress, a stale update.
    let plan = worker.post(
        &format!("/cases/{id}/plan"),
        &[
            ("form_token", &token),
            ("domain", "housing"),
            ("goal", &format!("{canary}-goal")),
            ("due_on", "2027-01-15"),
        ],
    );
    assert_eq!(plan.status, 303, "{}", plan.text());
    let bad_plan = worker.post(
        &format!("/cases/{id}/plan"),
        &[
            ("form_token", &token),
            ("domain", "housing"),
            ("goal", "x"),
            ("due_on", "2027-02-30"),
        ],
    );
    assert_eq!(bad_plan.status, 422);
    assert!(bad_plan.text().contains("href=\"#due_on\""));
    let item = api_case(&staff, &id)["plan"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let update = |b: &mut Browser, version: &str| {
        b.post(
            &format!("/cases/{id}/plan/{item}"),
            &[
                ("form_token", &token),
                ("version", version),
                ("status", "in_progress"),
                ("due_on", "2027-01-15"),
                ("progress_note", "viewed two flats"),
            ],
        )
    };
    assert_eq!(update(&mut worker, "1").status, 303);
    assert_eq!(update(&mut worker, "1").status, 409);
    let file = api_case(&staff, &id);
    assert_eq!(file["plan"][0]["status"], "in_progress");
    assert_eq!(file["plan"][0]["progress"][0]["text"], "viewed two flats");

    // A consent for sharing with a shelter, then the referral it allows.
    let consent = worker.post(
        &format!("/cases/{id}/consents"),
        &[
            ("form_token", &token),
            ("purpose", "referral_sharing"),
            ("service_types", "shelter"),
            ("scope", "agreed on the phone"),
            ("expires_at", "2030-01-01"),
        ],
    );
    assert_eq!(consent.status, 303, "{}", consent.text());
    let found = worker.get(&format!("/cases/{id}/referrals/new?service_type=shelter"));
    assert_eq!(found.status, 200);
    assert!(found.text().contains(&format!("value=\"{shelter}\"")));
    let drafted = worker.post(
        &format!("/cases/{id}/referrals"),
        &[
            ("form_token", &token),
            ("service_type", "shelter"),
            ("region", ""),
            ("service_id", &shelter),
            ("safety_needs", &format!("{canary}-safety")),
            ("health_needs", ""),
            ("follow_up_on", "2027-01-10"),
            ("override_justification", ""),
        ],
    );
    assert_eq!(drafted.status, 303, "{}", drafted.text());
    let at = drafted.header("location").unwrap().to_string();
    // My cases names the next follow-up: the referral's (before the plan item's 2027-01-15).
    let mine = worker.get("/cases");
    assert!(
        mine.text().contains("<td>2027-01-10</td>"),
        "{}",
        mine.text()
    );
    let preview = worker.get(&at);
    assert_eq!(preview.status, 200, "{}", preview.text());
    let text = preview.text();
    assert!(text.contains("id=\"preview-notice\"") && text.contains("id=\"send-referral\""));
    assert!(text.contains("Ana") && text.contains(&format!("{canary}-safety")));
    for never in ["-family", "-address", "+380671234567", "-doc"] {
        assert!(
            !text.contains(&format!("{canary}{never}")) && !text.contains(never),
            "{never} is not in a shelter's packet"
        );
    }
    let version = {
        let at = text.find("name=\"version\" value=\"").unwrap() + 22;
        text[at..at + 1].to_string()
    };
    let sent = worker.post(
        &format!("{at}/send"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(sent.status, 303, "{}", sent.text());
    let again = worker.post(
        &format!("{at}/send"),
        &[("form_token", &token), ("version", &version)],
    );
    assert_eq!(again.status, 409, "sending twice is a conflict");
    let partial = worker.get_with(&format!("/cases/{id}/referrals"), &[("HX-Request", "true")]);
    assert_eq!(partial.status, 200);
    assert!(!partial.text().contains("<html"));
    assert!(partial.text().contains(&format!("href=\"{at}\"")));

    // Editing the file: the form holds what the file holds; a save with the version read;
    // a stale save comes back as 409 with the text typed; a wrong e-mail is named.
    let form = worker.get(&format!("/cases/{id}/edit"));
    assert_eq!(form.status, 200);
    assert!(form.text().contains(&format!("{canary}-safe")));
    let version = api_case(&staff, &id)["version"].to_string();
    let fields = |version: &str, email: &str, needs: &str| -> Vec<(String, String)> {
        [
            ("version", version),
            ("status_was", "Active"),
            ("status", "FollowUp"),
            ("risk_level", "high"),
            ("gender", "female"),
            ("age_band", "21-23"),
            ("nationality", "MD"),
            ("recruitment", "unknown"),
            ("nrm_status", "not_referred"),
            ("exploitation_types", "forced_labour"),
            ("exploitation_countries", "pl"),
            ("given_name", "Ana"),
            ("family_name", &format!("{canary}-family")),
            ("safe_contact", &format!("{canary}-safe2")),
            ("phones", "+380671234567"),
            ("email", email),
            ("languages", "ro"),
            ("doc_kind", "passport"),
            ("doc_number", &format!("{canary}-doc")),
            ("doc_status", "withheld"),
            ("doc_kind", ""),
            ("doc_number", ""),
            ("doc_status", ""),
            ("needs_assessment", needs),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let send = |b: &mut Browser, f: Vec<(String, String)>| {
        let mut all = vec![("form_token", token.as_str())];
        all.extend(f.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        b.post(&format!("/cases/{id}/edit"), &all)
    };
    let wrong = send(
        &mut worker,
        fields(&version, "not-an-address", &format!("{canary}-needs2")),
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(wrong.text().contains("href=\"#email\""));
    assert!(wrong.text().contains(&format!("{canary}-needs2")));
    let saved = send(
        &mut worker,
        fields(&version, "", &format!("{canary}-needs2")),
    );
    assert_eq!(saved.status, 303, "{}", saved.text());
    let file = api_case(&staff, &id);
    assert_eq!(file["risk_level"], "high");
    assert_eq!(file["status"], "FollowUp");
    assert_eq!(file["exploitation_countries"], serde_json::json!(["PL"]));
    assert_eq!(file["profile"]["documents"][0]["status"], "withheld");
    assert_eq!(
        file["profile"]["contact"]["safe_contact"],
        format!("{canary}-safe2")
    );
    let stale = send(
        &mut worker,
        fields(&version, "", &format!("{canary}-needs3")),
    );
    assert_eq!(stale.status, 409, "{}", stale.text());
    assert!(stale.text().contains(&format!("{canary}-needs3")));
    assert_eq!(
        api_case(&staff, &id)["needs_assessment"],
        format!("{canary}-needs2")
    );

    // Another case worker gets the page a missing case gets, and it offers break-glass.
    let mut other = Browser::new(&staff.server);
    assert_eq!(other.sign_in("taras", PASSWORD, "").status, 303);
    let theirs = other.get(&format!("/cases/{id}"));
    let missing = other.get(&format!("/cases/{}", "0".repeat(32)));
    assert_eq!(theirs.status, 404);
    assert_eq!(missing.status, 404);
    assert_eq!(
        sans_request_id(&theirs.text()).replace(&id, "ID"),
        sans_request_id(&missing.text()).replace(&"0".repeat(32), "ID")
    );
    assert!(!theirs.text().contains(&canary));
    assert!(theirs.text().contains("id=\"error-link\""));
    for path in [
        format!("/cases/{id}/edit"),
        format!("/cases/{id}/referrals"),
        at.clone(),
    ] {
        let res = other.get(&path);
        assert_eq!(res.status, 404, "{path}");
        assert!(!res.text().contains(&canary), "{path}");
    }
    let other_token = other.form_token("/cases");
    let note = other.post(
        &format!("/cases/{id}/notes"),
        &[("form_token", &other_token), ("body", "not mine")],
    );
    assert_eq!(note.status, 404);

    // Break-glass: a wrong password is a named field (and never written back); then the case,
    // read-only, under the banner.
    let glass = |b: &mut Browser, password: &str| {
        b.post(
            &format!("/cases/{id}/break-glass"),
            &[
                ("form_token", &other_token),
                ("reason", "caller_on_line"),
                ("justification", "She is on the line; Marta is off duty"),
                ("password", password),
                ("code", ""),
            ],
        )
    };
    let refused = glass(&mut other, "not-the-password");
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.text().contains("href=\"#password\""));
    assert!(!refused.text().contains("not-the-password"));
    assert!(refused.text().contains("Marta is off duty"));
    let granted = glass(&mut other, PASSWORD);
    assert_eq!(granted.status, 303, "{}", granted.text());
    let read_only = other.get(&format!("/cases/{id}"));
    assert_eq!(read_only.status, 200);
    let text = read_only.text();
    assert!(text.contains("id=\"break-glass-banner\""));
    assert!(text.contains(&format!("{canary}-safe2")));
    assert!(!text.contains("id=\"note-form\"") && !text.contains("id=\"edit-case\""));
    assert_eq!(count_events(&db, "case.break_glass"), 1);
    let written = other.post(
        &format!("/cases/{id}/notes"),
        &[("form_token", &other_token), ("body", "under break-glass")],
    );
    assert_eq!(written.status, 403, "read-only under break-glass");

    let log = staff.server.log();
    assert!(!log.contains(&canary), "a canary reached the log");
    assert!(!log.contains("Marta is off duty"));
});

// A role that needs a second factor is taken to set it up: a QR code drawn by this server, the
// key as text, the first code, the recovery codes once; then the pages open.
both!(
    a_supervisor_sets_up_the_second_factor_from_the_page,
    |db: TestDb| {
        add_user(&db, "svitlana", "supervisor");
        let server = web_server(&db);
        let mut browser = Browser::new(&server);
        assert_eq!(browser.sign_in("svitlana", PASSWORD, "").status, 303);
        let cases = browser.get("/cases");
        assert_eq!(cases.status, 303);
        assert_eq!(cases.header("location"), Some("/enrol"));
        let page = browser.get("/enrol");
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        assert!(text.contains("<svg") && text.contains("role=\"img\""));
        let at = text.find("id=\"totp-secret\">").unwrap() + 17;
        let secret: String = text[at..]
            .split('<')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let secret = base32_decode(&secret);
        let token = {
            let at = text.find("name=\"form_token\" value=\"").unwrap() + 25;
            text[at..at + 64].to_string()
        };
        let wrong = browser.post("/enrol", &[("form_token", &token), ("code", "000000")]);
        assert_eq!(wrong.status, 422, "{}", wrong.text());
        assert!(wrong.text().contains("href=\"#code\""));
        // The same secret comes back with its QR code, so she can scan or type it again.
        assert!(wrong.text().contains("<svg"));
        let again = wrong.text();
        let at = again.find("id=\"totp-secret\">").unwrap() + 17;
        let shown: String = again[at..]
            .split('<')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(base32_decode(&shown), secret, "the same secret");
        crate::auth::away_from_a_step_boundary();
        let done = browser.post(
            "/enrol",
            &[("form_token", &token), ("code", &code_now(&secret, 0))],
        );
        assert_eq!(done.status, 200, "{}", done.text());
        assert_eq!(done.header("cache-control"), Some("no-store"));
        let codes = done.text().matches("<li><code>").count();
        assert!(codes >= 8, "{codes} recovery codes");
        assert_eq!(browser.get("/cases").status, 200);
        assert!(server.terminate().success());
    }
);
