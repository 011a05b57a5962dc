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
