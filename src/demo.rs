//! `hotline demo-data`: fills an empty database with clearly fake but realistic data, through
//! the same vault functions the API uses (so everything is sealed, indexed and audited as in
//! real use), so a newcomer can sign in and try the system at once.
//!
//! The people are invented: names come from short lists, every phone number is in the
//! +380 99 000 xxxx block and every e-mail address is at example.org, and every free text says
//! it is demo data.

use std::time::Duration;

use domain::calls::CallInput;
use domain::cases::{Contact, Document, VictimProfile};
use domain::identity::{Login, Role};
use domain::Sensitive;
use persistence::calls::CallSettings;
use persistence::cases::{CaseChanges, CaseSettings, PlanChanges};
use persistence::identity::Actor;
use persistence::referrals::{NewReferral, PartnerAnswer, ReferralSettings};
use persistence::AuthError;
use persistence::{AuditEvent, Database, Vault};

/// A small, fast generator for demo distributions (SplitMix64). Not for anything secret.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Picks by weight: `(item, weight)`.
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut n = (self.next() % u64::from(total.max(1))) as u32;
        for (item, w) in items {
            if n < *w {
                return item;
            }
            n -= w;
        }
        &items[0].0
    }
}

const GIVEN_F: &[&str] = &[
    "Olena",
    "Iryna",
    "Nataliia",
    "Oksana",
    "Tetiana",
    "Yuliia",
    "Mariia",
    "Kateryna",
    "Svitlana",
    "Anastasiia",
    "Viktoriia",
    "Halyna",
];
const GIVEN_M: &[&str] = &[
    "Andrii",
    "Oleksandr",
    "Serhii",
    "Mykola",
    "Taras",
    "Dmytro",
    "Ivan",
    "Petro",
    "Vasyl",
];
const FAMILY: &[&str] = &[
    "Kovalenko",
    "Bondarenko",
    "Tkachenko",
    "Shevchuk",
    "Kravchuk",
    "Melnyk",
    "Boiko",
    "Savchenko",
    "Rudenko",
    "Lysenko",
    "Moroz",
    "Marchenko",
    "Polishchuk",
    "Hnatiuk",
];
const TOPICS: &[(&str, u32)] = &[
    ("safe_migration", 30),
    ("domestic_violence", 25),
    ("trafficking_labour", 18),
    ("trafficking_sexual", 8),
    ("trafficking_begging", 2),
    ("trafficking_forced_marriage", 2),
    ("trafficking_other", 3),
    ("gender_discrimination", 5),
    ("other", 7),
];
const CHANNELS: &[(&str, u32)] = &[
    ("phone", 70),
    ("chat", 15),
    ("social", 8),
    ("email", 5),
    ("walk_in", 2),
];
const OUTCOMES: &[(&str, u32)] = &[("information", 60), ("referral", 25), ("no_action", 15)];
const ROLES: &[(&str, u32)] = &[
    ("potential_victim", 55),
    ("relative", 25),
    ("professional", 10),
    ("public", 5),
    ("other", 5),
];
const AGES: &[(&str, u32)] = &[
    ("9-17", 5),
    ("18-20", 8),
    ("21-23", 12),
    ("24-26", 14),
    ("27-29", 14),
    ("30-38", 25),
    ("39-47", 14),
    ("48+", 6),
    ("unknown", 2),
];
const REGIONS: &[&str] = &[
    "UA-46", "UA-30", "UA-32", "UA-51", "UA-63", "UA-12", "UA-21", "UA-77", "UA-05", "UA-26",
    "UA-61", "UA-56", "abroad",
];
const DESTINATIONS: &[(&str, u32)] = &[
    ("PL", 30),
    ("DE", 15),
    ("CZ", 10),
    ("IT", 8),
    ("RU", 8),
    ("TR", 6),
    ("AE", 5),
    ("GB", 4),
    ("IL", 4),
    ("UA", 10),
];

/// What was created: the users and their passwords, to print.
pub struct DemoOutcome {
    pub users: Vec<(String, Role, String)>,
    pub calls: usize,
    pub cases: usize,
    pub referrals: usize,
}

/// The settings the vault functions need.
pub struct DemoSettings {
    pub calls: CallSettings,
    pub cases: CaseSettings,
    pub referrals: ReferralSettings,
}

fn actor(id: &str, login: &str, role: Role) -> Actor {
    Actor {
        user_id: id.to_string(),
        login: login.to_string(),
        role,
        organisation_id: None,
        session_id: "demo-data".into(),
        session_ref: "demo-data".into(),
        mfa: false,
        needs_totp_enrolment: false,
        needs_passkey: false,
    }
}

/// Fills an empty database. Refuses one that already has users.
pub fn fill(
    db: &Database,
    vault: &Vault,
    settings: &DemoSettings,
    calls: usize,
    cases: usize,
    seed: Option<u64>,
) -> Result<DemoOutcome, String> {
    let calls_settings = &settings.calls;
    let case_settings = &settings.cases;
    let err = |e: AuthError| e.to_string();
    if vault.user_count(db).map_err(|e| e.to_string())? > 0 {
        return Err(
            "the database already has users; demo data goes only into an empty database".into(),
        );
    }
    let seed = match seed {
        Some(s) => s,
        None => u64::from_le_bytes(crypto::random::bytes::<8>().map_err(|e| e.to_string())?),
    };
    let mut rng = Rng(seed);
    let by = AuditEvent::system("demo-data");
    let mut users = Vec::new();
    let mut staff: Vec<(Role, Actor)> = Vec::new();
    for (role, n, org) in [
        (Role::Counselor, 3, None),
        (Role::CaseWorker, 3, None),
        (Role::Supervisor, 2, None),
        (Role::Auditor, 1, None),
        (Role::Admin, 1, None),
        (Role::Partner, 1, Some("demo-shelter")),
        (Role::Partner, 1, Some("demo-legal")),
    ] {
        for i in 1..=n {
            let i = if role == Role::Partner && org == Some("demo-legal") {
                2
            } else {
                i
            };
            let login = format!("demo-{}-{i}", role.as_str().replace('_', "-"));
            let password = format!(
                "demo-{}",
                crypto::random::hex_id::<8>().map_err(|e| e.to_string())?
            );
            let parsed = Login::parse(&login).map_err(|m| format!("{login}: {m}"))?;
            let id = vault
                .create_user(
                    db,
                    &parsed,
                    role,
                    org,
                    &Sensitive::new(password.clone()),
                    by.clone(),
                )
                .map_err(err)?;
            let mut a = actor(&id, &login, role);
            a.organisation_id = org.map(String::from);
            staff.push((role, a));
            users.push((login, role, password));
        }
    }
    let of = |role: Role| -> Vec<&Actor> {
        staff
            .iter()
            .filter(|(r, _)| *r == role)
            .map(|(_, a)| a)
            .collect()
    };
    let counselors = of(Role::Counselor);
    let workers = of(Role::CaseWorker);
    let supervisors = of(Role::Supervisor);

    // Calls over the last year; about a third give a phone, a few call again.
    let now = persistence::now_micros();
    let year = Duration::from_secs(365 * 24 * 3600).as_micros() as i64;
    let mut phones: Vec<String> = Vec::new();
    let mut victim_calls: Vec<String> = Vec::new();
    // The first calls go through the vault one by one, with personal details; beyond
    // `DETAILED_CALLS` the rest are anonymous and logged in bulk, so a million calls take
    // minutes, not hours.
    const DETAILED_CALLS: usize = 2_000;
    let mut bulk: Vec<domain::calls::ValidCall> = Vec::new();
    for i in 0..calls {
        let detailed = i < DETAILED_CALLS;
        let started = now - (rng.next() % year as u64) as i64 - 3_600_000_000;
        let length = (60 + rng.below(40 * 60)) as i64 * 1_000_000;
        let mut topics = vec![rng.weighted(TOPICS).to_string()];
        if rng.chance(15) {
            topics.push(rng.weighted(TOPICS).to_string());
        }
        let caller_role = rng.weighted(ROLES).to_string();
        let phone = if detailed && rng.chance(35) {
            let p = if !phones.is_empty() && rng.chance(20) {
                rng.pick(&phones).clone()
            } else {
                format!("+38099000{:04}", i % 10_000)
            };
            phones.push(p.clone());
            Some(Sensitive::new(p))
        } else {
            None
        };
        let named = phone.is_some() && rng.chance(50);
        let input = CallInput {
            channel: rng.weighted(CHANNELS).to_string(),
            direction: if rng.chance(90) {
                "inbound"
            } else {
                "outbound"
            }
            .into(),
            started_at: started,
            ended_at: Some(started + length),
            caller_role: caller_role.clone(),
            topics,
            region: rng.pick(REGIONS).to_string(),
            caller_gender: if rng.chance(78) { "female" } else { "male" }.into(),
            caller_age_group: rng.weighted(AGES).to_string(),
            language: if rng.chance(85) { "uk" } else { "ru" }.into(),
            outcome: rng.weighted(OUTCOMES).to_string(),
            summary: (detailed && rng.chance(60))
                .then(|| Sensitive::new("Demo data: an invented conversation.".to_string())),
            caller_name: named.then(|| Sensitive::new(rng.pick(GIVEN_F).to_string())),
            caller_phone: phone,
        };
        let call = domain::calls::validate(input, now, &calls_settings.default_country_code)
            .map_err(|e| format!("a generated call is invalid: {e:?}"))?;
        let by = rng.pick(&counselors);
        if !detailed {
            bulk.push(call);
            if bulk.len() == 10_000 || i + 1 == calls {
                vault.bulk_anonymous_calls(db, by, &bulk).map_err(err)?;
                bulk.clear();
                if (i + 1) / 100_000 > (i + 1).saturating_sub(10_000) / 100_000 {
                    eprintln!("demo data: {} calls", i + 1);
                }
            }
            continue;
        }
        let id = vault.create_call(db, by, &call).map_err(err)?;
        if caller_role == "potential_victim" {
            victim_calls.push(id);
        }
    }

    // Cases opened from calls of potential victims, with profiles, notes, plans and consents.
    let mut opened = 0;
    let mut case_ids: Vec<(String, &Actor)> = Vec::new();
    for (i, call_id) in victim_calls.iter().take(cases).enumerate() {
        let worker = workers[i % workers.len()];
        let female = rng.chance(75);
        let given = if female {
            rng.pick(GIVEN_F)
        } else {
            rng.pick(GIVEN_M)
        };
        let family = rng.pick(FAMILY);
        let destination = rng.weighted(DESTINATIONS).to_string();
        let profile = VictimProfile {
            given_name: Some(given.to_string()),
            family_name: Some(family.to_string()),
            other_names: Vec::new(),
            birth_date: Some(format!(
                "{}-{:02}-{:02}",
                1960 + rng.below(45),
                1 + rng.below(12),
                1 + rng.below(28)
            )),
            languages: vec!["uk".into()],
            contact: Contact {
                safe_contact: Some(
                    (*rng.pick(&[
                        "Text only; never call after 18:00.",
                        "Call on weekdays 10:00-12:00; never leave voicemail.",
                        "Only through her sister; do not mention the hotline.",
                        "Any time.",
                    ]))
                    .to_string(),
                ),
                phones: vec![format!("+38099001{:04}", i)],
                email: rng.chance(30).then(|| format!("demo.{}@example.org", i)),
                address: rng
                    .chance(50)
                    .then(|| format!("Demo street {}, Lviv", 1 + rng.below(90))),
            },
            documents: vec![Document {
                kind: "passport".into(),
                number: None,
                status: (*rng.pick(&["held", "withheld", "lost"])).to_string(),
            }],
        };
        let changes = CaseChanges {
            risk_level: Some((*rng.pick(&["low", "medium", "medium", "high", "critical"])).into()),
            gender: Some(if female { "female" } else { "male" }.into()),
            nationality: Some("UA".into()),
            recruitment: Some(
                (*rng.pick(&["job_offer", "online", "friend", "recruitment_agency"])).into(),
            ),
            recruitment_countries: Some(vec!["UA".into()]),
            exploitation_countries: Some(vec![destination]),
            control_methods: Some(vec![(*rng.pick(&[
                "withheld_documents",
                "debt_bondage",
                "threats",
                "isolation",
            ]))
            .into()]),
            nrm_status: Some((*rng.pick(&["not_referred", "pending", "identified"])).into()),
            profile: Some(Some(Sensitive::new(profile))),
            exploitation_details: Some(Some(Sensitive::new(
                "Demo data: an invented account of recruitment and exploitation.".into(),
            ))),
            needs_assessment: Some(Some(Sensitive::new(
                "Demo data: shelter, legal advice, psychological support.".into(),
            ))),
            ..Default::default()
        };
        let (case_id, _) = vault
            .create_case(db, worker, calls_settings, Some(call_id), None, changes)
            .map_err(err)?;
        for n in 0..1 + rng.below(3) {
            vault
                .add_note(
                    db,
                    worker,
                    &case_id,
                    Sensitive::new(format!("Demo data: note {} on the case.", n + 1)),
                )
                .map_err(err)?;
        }
        for domain in ["housing", "health", "legal", "employment"]
            .iter()
            .take(1 + rng.below(4))
        {
            vault
                .add_plan_item(
                    db,
                    worker,
                    &case_id,
                    PlanChanges {
                        domain: Some(domain.to_string()),
                        status: Some(
                            (*rng.pick(&["planned", "in_progress", "achieved"])).to_string(),
                        ),
                        goal: Some(Sensitive::new(format!("Demo data: a {domain} goal."))),
                        ..Default::default()
                    },
                )
                .map_err(err)?;
        }
        let consent = |purpose: &str, services: Vec<String>| domain::cases::ConsentFacts {
            purpose: purpose.into(),
            service_types: services,
            organisations: Vec::new(),
            given_at: now - 3_600_000_000,
            expires_at: None,
        };
        vault
            .add_consent(
                db,
                worker,
                &case_id,
                consent("data_processing", vec![]),
                None,
            )
            .map_err(err)?;
        if rng.chance(60) {
            let id = vault
                .add_consent(
                    db,
                    worker,
                    &case_id,
                    consent("referral_sharing", vec!["shelter".into(), "legal".into()]),
                    Some(Sensitive::new(
                        "Demo data: first name and needs only.".into(),
                    )),
                )
                .map_err(err)?;
            if rng.chance(10) {
                vault
                    .withdraw_consent(db, worker, case_settings, &case_id, &id)
                    .map_err(err)?;
            }
        }
        if rng.chance(35) {
            let status = *rng.pick(&["FollowUp", "Closed", "ClosedReferred"]);
            let sup = rng.pick(&supervisors);
            vault
                .update_case(
                    db,
                    sup,
                    calls_settings,
                    &case_id,
                    1,
                    CaseChanges {
                        status: Some(status.into()),
                        ..Default::default()
                    },
                )
                .map_err(err)?;
        }
        case_ids.push((case_id, worker));
        opened += 1;
    }
    let referrals = demo_referrals(db, vault, settings, &staff, &case_ids)?;
    Ok(DemoOutcome {
        users,
        calls,
        cases: opened,
        referrals,
    })
}

/// Three providers and one referral in every status, on the first cases.
fn demo_referrals(
    db: &Database,
    vault: &Vault,
    settings: &DemoSettings,
    staff: &[(Role, Actor)],
    cases: &[(String, &Actor)],
) -> Result<usize, String> {
    use domain::referrals::OrganisationInput;
    let err = |e: AuthError| e.to_string();
    let admin = &staff
        .iter()
        .find(|(r, _)| *r == Role::Admin)
        .ok_or("no admin")?
        .1;
    let partner = |org: &str| {
        staff
            .iter()
            .find(|(r, a)| *r == Role::Partner && a.organisation_id.as_deref() == Some(org))
            .map(|(_, a)| a)
    };
    let org = |id: &str, name: &str, regions: &[&str], offered: &[(&str, &str)]| {
        let mut o = OrganisationInput {
            id: id.into(),
            name: name.into(),
            notification_email: Some(format!("intake@{id}.example.org")),
            language: "uk".into(),
            languages: vec!["uk".into(), "en".into()],
            regions: regions.iter().map(|r| r.to_string()).collect(),
            intake_criteria: "Demo data: adults referred by the hotline.".into(),
            active: true,
            services: offered
                .iter()
                .map(|(t, d)| (t.to_string(), d.to_string()))
                .collect(),
        };
        let problems = o.validate();
        if problems.is_empty() {
            Ok(o)
        } else {
            Err(format!("demo organisation {id}: {problems:?}"))
        }
    };
    let orgs = vec![
        org(
            "demo-shelter",
            "Demo shelter (Lviv)",
            &["UA-46", "UA-26"],
            &[
                ("shelter", "Demo: 20 beds"),
                ("psychological", "Demo: counselling"),
            ],
        )?,
        org(
            "demo-legal",
            "Demo legal aid",
            &["UA-30", "UA-46"],
            &[("legal", "Demo: lawyers")],
        )?,
        org(
            "demo-clinic",
            "Demo clinic",
            &["UA-46"],
            &[("medical", "Demo: check-ups")],
        )?,
    ];
    vault.save_organisations(db, admin, &orgs).map_err(err)?;
    let directory = vault
        .search_directory(db, admin, &Default::default())
        .map_err(err)?;
    let service = |org: &str, kind: &str| -> Result<String, String> {
        directory
            .iter()
            .find(|o| o.id == org)
            .and_then(|o| o.services.iter().find(|s| s.service_type == kind))
            .map(|s| s.id.clone())
            .ok_or_else(|| format!("no {kind} service at {org}"))
    };
    let shelter = service("demo-shelter", "shelter")?;
    let legal = service("demo-legal", "legal")?;
    let shelter_partner = partner("demo-shelter").ok_or("no shelter partner")?;
    let legal_partner = partner("demo-legal").ok_or("no legal partner")?;
    let now = persistence::now_micros();
    let statuses = [
        "draft",
        "sent",
        "accepted",
        "declined",
        "in_progress",
        "completed",
        "cancelled",
        "revoked",
        "expired",
    ];
    let mut made = 0;
    for ((case_id, worker), status) in cases.iter().zip(statuses) {
        let consent = vault
            .add_consent(
                db,
                worker,
                case_id,
                domain::cases::ConsentFacts {
                    purpose: "referral_sharing".into(),
                    service_types: vec!["shelter".into(), "legal".into()],
                    organisations: Vec::new(),
                    given_at: now - 60_000_000,
                    expires_at: None,
                },
                Some(Sensitive::new(
                    "Demo data: first name and needs only.".into(),
                )),
            )
            .map_err(err)?;
        let (service_id, partner) = if made % 2 == 0 {
            (&shelter, shelter_partner)
        } else {
            (&legal, legal_partner)
        };
        let draft = vault
            .create_referral(
                db,
                worker,
                case_id,
                NewReferral {
                    service_id: service_id.clone(),
                    notes: domain::referrals::PacketNotes {
                        safety_needs: Some("Demo data: arrives by night train.".into()),
                        health_needs: None,
                    },
                    follow_up_on: Some(crate::utc_date(if made % 3 == 0 { -1 } else { 7 })),
                    override_justification: None,
                },
            )
            .map_err(err)?;
        let id = draft.id;
        let mut v = 1;
        let rs = &settings.referrals;
        let mut hotline = |next| -> Result<(), String> {
            v = vault
                .move_referral(db, worker, rs, &id, v, next)
                .map_err(err)?;
            Ok(())
        };
        use domain::referrals::Status as S;
        if status != "draft" {
            if status == "expired" {
                let quick = ReferralSettings {
                    answer_within: Duration::ZERO,
                    ..rs.clone()
                };
                vault
                    .move_referral(db, worker, &quick, &id, v, S::Sent)
                    .map_err(err)?;
                vault
                    .run_referral_jobs(db, rs, "0000-01-01")
                    .map_err(|e| e.to_string())?;
                made += 1;
                continue;
            }
            hotline(S::Sent)?;
        }
        let answer = |v: &mut i32, a: PartnerAnswer| -> Result<(), String> {
            *v = vault
                .answer_referral(db, partner, rs, &id, *v, a)
                .map_err(err)?;
            Ok(())
        };
        match status {
            "accepted" => answer(&mut v, PartnerAnswer::Accept)?,
            "declined" => answer(
                &mut v,
                PartnerAnswer::Decline(Sensitive::new("Demo data: no free place.".into())),
            )?,
            "in_progress" => {
                answer(&mut v, PartnerAnswer::Accept)?;
                answer(&mut v, PartnerAnswer::Start)?;
            }
            "completed" => {
                answer(&mut v, PartnerAnswer::Accept)?;
                answer(&mut v, PartnerAnswer::Start)?;
                answer(
                    &mut v,
                    PartnerAnswer::Complete(Sensitive::new("Demo data: housed.".into())),
                )?;
            }
            "cancelled" => {
                vault
                    .move_referral(db, worker, rs, &id, v, S::Cancelled)
                    .map_err(err)?;
            }
            "revoked" => vault
                .withdraw_consent(db, worker, &settings.cases, case_id, &consent)
                .map_err(err)?,
            _ => {}
        }
        made += 1;
    }
    Ok(made)
}
