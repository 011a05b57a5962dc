//! The case page and what a case worker does on it: the file (facts, the profile with the
//! safe-contact instructions beside the contact details, the narrative), the notes timeline
//! (add, edit, history), the reintegration plan, consents, linked calls; editing the file with
//! its version (a conflicting edit comes back as a 409 page with everything typed kept); and
//! break-glass (the form, then the file read-only under a banner while the grant lasts).
//!
//! Every view is the API's read (`read_case_in_session`, one audited read); every form calls the
//! vault function its JSON route calls.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::cases::{ConsentFacts, Contact, Document, VictimProfile};
use domain::policy::Action;
use domain::Sensitive;
use persistence::cases::{CaseChanges, CaseFile, NoteRevision, PlanChanges};
use persistence::identity::Reauth;
use persistence::AuthError;

use super::form::{kept, Fields};
use super::{render, see_other, Frame, Page, PageError};
use crate::auth::Claimed;

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    f: Frame,
    id: String,
    file: CaseFile,
    profile: VictimProfile,
    /// Read under break-glass: no forms, a banner with the grant's end.
    read_only: bool,
    until: Option<String>,
    saved: bool,
    /// The new-item forms start empty.
    form: Fields,
    /// For a supervisor: who the case can be assigned to (id, login); the assignment, the
    /// legal hold and the erasure request are then on the page.
    assignees: Option<Vec<(String, String)>>,
}

impl CasePage {
    fn day(&self, us: &i64) -> String {
        super::day(*us)
    }

    fn opt_day(&self, us: &Option<i64>) -> String {
        us.map(super::day).unwrap_or_default()
    }

    fn list(&self, vocabulary: &str, codes: &[String]) -> String {
        if codes.is_empty() {
            return "—".into();
        }
        codes
            .iter()
            .map(|c| self.f.t.label(vocabulary, c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedQuery {
    #[serde(default)]
    saved: Option<u8>,
}

/// `GET /cases/{id}`: the case file, as `GET /api/v1/cases/{id}` reads it (audited the same
/// way). A case that does not exist and one the user may not open get the same page, which
/// offers break-glass for either.
pub(crate) async fn show(
    page: Page<Claimed>,
    id: web::Path<String>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let case_id = id.clone();
    let read = page
        .read(move |vault, s, who| {
            let (actor, file) =
                vault.read_case_in_session(&s.db, who.claim(), &s.auth, &case_id)?;
            let supervising = actor.role == domain::identity::Role::Supervisor
                && file.break_glass_until.is_none();
            let assignees = match supervising {
                true => Some(vault.assignees(&s.db, &actor)?),
                false => None,
            };
            Ok((actor, (file, assignees)))
        })
        .await;
    let (f, (file, assignees), _) = read.map_err(|e| missing(e, &id))?;
    let until = file.break_glass_until.map(crate::calls::rfc3339);
    let profile = file
        .profile
        .as_ref()
        .map(|p| p.expose().clone())
        .unwrap_or_default();
    Ok(render(
        StatusCode::OK,
        &CasePage {
            f,
            id,
            read_only: until.is_some(),
            until,
            profile,
            file,
            saved: query.saved.is_some(),
            form: Fields::default(),
            assignees,
        },
    ))
}

/// A 404 of a case page links to break-glass (for a missing case as for one not allowed, so
/// the page says nothing about which it is).
fn missing(e: PageError, id: &str) -> PageError {
    match e.api().status() {
        StatusCode::NOT_FOUND => {
            e.with_link(format!("/cases/{id}/break-glass"), "error-break-glass")
        }
        _ => e,
    }
}

/// The fields of the case edit form.
const EDIT_FIELDS: &[&str] = &[
    "version",
    "status",
    "status_was",
    "risk_level",
    "gender",
    "age_band",
    "nationality",
    "recruitment",
    "nrm_status",
    "exploitation_types",
    "control_methods",
    "recruitment_countries",
    "transit_countries",
    "exploitation_countries",
    "exploitation_from",
    "exploitation_to",
    "given_name",
    "family_name",
    "other_names",
    "birth_date",
    "languages",
    "safe_contact",
    "phones",
    "email",
    "address",
    "doc_kind",
    "doc_number",
    "doc_status",
    "exploitation_details",
    "needs_assessment",
];

/// The edit form's picklists: field, vocabulary.
pub(crate) const SELECTS: [(&str, &str); 6] = [
    ("risk_level", "risk_level"),
    ("gender", "gender"),
    ("age_band", "age_group"),
    ("nationality", "country"),
    ("recruitment", "recruitment"),
    ("nrm_status", "nrm_status"),
];

/// The edit form's groups of chips: field, vocabulary.
pub(crate) const CHIPS: [(&str, &str); 2] = [
    ("exploitation_types", "exploitation_type"),
    ("control_methods", "control_method"),
];

#[derive(Template)]
#[template(path = "case_edit.html")]
struct EditPage {
    f: Frame,
    id: String,
    form: Fields,
}

impl EditPage {
    /// The documents' rows as typed (kind, number, status), and one empty row to add one.
    fn documents(&self) -> Vec<(&str, &str, &str)> {
        let kinds = self.form.all("doc_kind");
        let numbers = self.form.all("doc_number");
        let statuses = self.form.all("doc_status");
        let mut rows: Vec<(&str, &str, &str)> = (0..kinds.len())
            .map(|i| {
                (
                    kinds[i],
                    numbers.get(i).copied().unwrap_or(""),
                    statuses.get(i).copied().unwrap_or(""),
                )
            })
            .filter(|r| !r.0.is_empty())
            .collect();
        rows.push(("", "", ""));
        rows
    }

    fn status_choices(&self) -> Vec<&'static str> {
        let was = domain::cases::Status::parse(self.form.get("status_was"));
        ["Active", "FollowUp", "Closed", "ClosedReferred"]
            .into_iter()
            .filter(|s| {
                let next = domain::cases::Status::parse(s);
                match (was, next) {
                    (Some(w), Some(n)) => w == n || w.can_become(n),
                    _ => true,
                }
            })
            .collect()
    }
}

/// What the edit form shows of a file.
fn edit_values(file: &CaseFile) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: &str| v.push((name.to_string(), value.to_string()));
    let c = &file.facts;
    put("version", &file.summary.version.to_string());
    put("status", &file.summary.status);
    put("status_was", &file.summary.status);
    put("risk_level", &c.risk_level);
    put("gender", &c.gender);
    put("age_band", &c.age_band);
    put("nationality", &c.nationality);
    put("recruitment", &c.recruitment);
    put("nrm_status", &c.nrm_status);
    for t in &c.exploitation_types {
        put("exploitation_types", t);
    }
    for t in &c.control_methods {
        put("control_methods", t);
    }
    put("recruitment_countries", &c.recruitment_countries.join(" "));
    put("transit_countries", &c.transit_countries.join(" "));
    put(
        "exploitation_countries",
        &c.exploitation_countries.join(" "),
    );
    put(
        "exploitation_from",
        c.exploitation_from.as_deref().unwrap_or(""),
    );
    put(
        "exploitation_to",
        c.exploitation_to.as_deref().unwrap_or(""),
    );
    let p = file
        .profile
        .as_ref()
        .map(|p| p.expose().clone())
        .unwrap_or_default();
    put("given_name", p.given_name.as_deref().unwrap_or(""));
    put("family_name", p.family_name.as_deref().unwrap_or(""));
    put("other_names", &p.other_names.join("\n"));
    put("birth_date", p.birth_date.as_deref().unwrap_or(""));
    for l in &p.languages {
        put("languages", l);
    }
    put(
        "safe_contact",
        p.contact.safe_contact.as_deref().unwrap_or(""),
    );
    put("phones", &p.contact.phones.join("\n"));
    put("email", p.contact.email.as_deref().unwrap_or(""));
    put("address", p.contact.address.as_deref().unwrap_or(""));
    for d in &p.documents {
        put("doc_kind", &d.kind);
        put("doc_number", d.number.as_deref().unwrap_or(""));
        put("doc_status", &d.status);
    }
    let sealed = |s: &Option<Sensitive<String>>| s.as_ref().map(|s| s.expose().clone());
    put(
        "exploitation_details",
        &sealed(&file.exploitation_details).unwrap_or_default(),
    );
    put(
        "needs_assessment",
        &sealed(&file.needs_assessment).unwrap_or_default(),
    );
    v
}

/// The changes an edit form asks for: every field as the form holds it (the form shows them
/// all), the status only when it moves, the profile as a whole.
fn edit_changes(f: &Fields) -> CaseChanges {
    let status = f.get("status");
    let profile = VictimProfile {
        given_name: f.text("given_name"),
        family_name: f.text("family_name"),
        other_names: f.lines("other_names"),
        birth_date: f.text("birth_date"),
        languages: f.chips("languages"),
        contact: Contact {
            safe_contact: f.text("safe_contact"),
            phones: f.lines("phones"),
            email: f.text("email"),
            address: f.text("address"),
        },
        documents: {
            let (kinds, numbers, statuses) =
                (f.all("doc_kind"), f.all("doc_number"), f.all("doc_status"));
            kinds
                .iter()
                .enumerate()
                .filter(|(_, k)| !k.trim().is_empty())
                .map(|(i, k)| Document {
                    kind: k.trim().to_string(),
                    number: numbers
                        .get(i)
                        .map(|n| n.trim())
                        .filter(|n| !n.is_empty())
                        .map(String::from),
                    status: statuses.get(i).unwrap_or(&"").to_string(),
                })
                .collect()
        },
    };
    CaseChanges {
        risk_level: Some(f.get("risk_level").into()),
        gender: Some(f.get("gender").into()),
        age_band: Some(f.get("age_band").into()),
        nationality: Some(f.get("nationality").into()),
        exploitation_types: Some(f.chips("exploitation_types")),
        control_methods: Some(f.chips("control_methods")),
        recruitment: Some(f.get("recruitment").into()),
        recruitment_countries: Some(f.codes("recruitment_countries")),
        transit_countries: Some(f.codes("transit_countries")),
        exploitation_countries: Some(f.codes("exploitation_countries")),
        exploitation_from: Some(f.text("exploitation_from")),
        exploitation_to: Some(f.text("exploitation_to")),
        nrm_status: Some(f.get("nrm_status").into()),
        status: (status != f.get("status_was")).then(|| status.to_string()),
        profile: Some((!profile.is_empty()).then(|| Sensitive::new(profile))),
        exploitation_details: Some(f.sealed("exploitation_details")),
        needs_assessment: Some(f.sealed("needs_assessment")),
    }
}

/// `GET /cases/{id}/edit`: the file's facts, profile and narrative in one form with its
/// version (the read is audited as the case page's).
pub(crate) async fn edit_form(
    page: Page<Claimed>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, form, _) = page
        .read(move |vault, s, who| {
            let (actor, file) =
                vault.read_case_in_session(&s.db, who.claim(), &s.auth, &case_id)?;
            if file.break_glass_until.is_some() || file.erased_at.is_some() {
                return Err(AuthError::Forbidden("read_only").into());
            }
            Ok((actor, Fields::filled(edit_values(&file))))
        })
        .await?;
    Ok(render(StatusCode::OK, &EditPage { f, id, form }))
}

/// `POST /cases/{id}/edit`: saves the file (`update_case` with the version read) and goes back
/// to the case; a wrong field (422) or a change meanwhile (409) brings the form back as typed.
pub(crate) async fn edit(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, mut form) =
        Fields::parse(&body, EDIT_FIELDS).map_err(|e| PageError::new(e, lang))?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let Some(version) = form.number("version") else {
                return asked_first(vault, s, actor, Action::CaseUpdate, &case_id, form);
            };
            let changes = edit_changes(&form);
            let saved = vault.update_case(&s.db, actor, &s.calls, &case_id, version, changes);
            kept(saved, form)
        })
        .await?;
    Ok(match outcome {
        Ok(_) => see_other(&format!("/cases/{id}?saved=1")),
        Err(form) => render(form_status(&form), &EditPage { f, id, form }),
    })
}

/// A form that comes back before the vault is called (a field the page reads itself is
/// wrong): the policy is asked first, so a user who may not change the case is refused (and
/// audited) as the vault would refuse them, and learns nothing of the form.
fn asked_first<T>(
    vault: &persistence::Vault,
    s: &crate::Services,
    actor: &persistence::identity::Actor,
    action: Action,
    case_id: &str,
    form: Fields,
) -> Result<Result<T, Fields>, crate::ApiError> {
    vault.check_case(&s.db, actor, action, case_id)?;
    Ok(Err(form))
}

/// 409 for a form that came back because the record changed, else 422.
fn form_status(form: &Fields) -> StatusCode {
    match form.conflict {
        true => StatusCode::CONFLICT,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// One of the case page's small forms come back: a note, a note's edit, a plan item, its
/// update, a consent, or break-glass.
#[derive(Template)]
#[template(path = "case_form.html")]
struct FormPage {
    f: Frame,
    id: String,
    /// Which form: "note", "note_edit", "plan", "plan_update", "consent", "break_glass",
    /// "hold", "supervise" (the assignment, lifting a hold, the erasure request).
    which: &'static str,
    /// The note or plan item the form is about.
    item: String,
    form: Fields,
}

/// Renders the outcome of a small form: back to the case (at `anchor`) or the form again.
fn after_form(
    f: Frame,
    id: String,
    which: &'static str,
    item: String,
    outcome: Result<(), Fields>,
    anchor: &str,
) -> HttpResponse {
    match outcome {
        Ok(()) => see_other(&format!("/cases/{id}?saved=1#{anchor}")),
        Err(form) => render(
            form_status(&form),
            &FormPage {
                f,
                id,
                which,
                item,
                form,
            },
        ),
    }
}

fn parse(
    body: &[u8],
    allowed: &[&str],
    lang: super::i18n::Lang,
) -> Result<(String, Fields), PageError> {
    Fields::parse(body, allowed).map_err(|e| PageError::new(e, lang))
}

/// `POST /cases/{id}/notes`: adds a note (sealed) to the timeline.
pub(crate) async fn add_note(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, form) = parse(&body, &["body"], page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let text = Sensitive::new(form.get("body").to_string());
            let added = vault.add_note(&s.db, actor, &case_id, text).map(|_| ());
            kept(added, form)
        })
        .await?;
    Ok(after_form(f, id, "note", String::new(), outcome, "notes"))
}

/// `POST /cases/{id}/notes/{note}`: a new revision of a note (the revision read; a note edited
/// meanwhile comes back with the text typed kept). Earlier revisions stay readable.
pub(crate) async fn edit_note(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, mut form) = parse(&body, &["body", "revision"], page.lang())?;
    let (id, note) = path.into_inner();
    let (case_id, note_id) = (id.clone(), note.clone());
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let Some(revision) = form.number("revision") else {
                return asked_first(vault, s, actor, Action::CaseUpdate, &case_id, form);
            };
            let text = Sensitive::new(form.get("body").to_string());
            let edited = vault
                .edit_note(&s.db, actor, &case_id, &note_id, revision, text)
                .map(|_| ());
            kept(edited, form)
        })
        .await?;
    Ok(after_form(f, id, "note_edit", note, outcome, "notes"))
}

#[derive(Template)]
#[template(path = "note_history.html")]
struct HistoryPage {
    f: Frame,
    id: String,
    revisions: Vec<NoteRevision>,
}

impl HistoryPage {
    fn day(&self, us: &i64) -> String {
        crate::calls::rfc3339(*us).replace('T', " ")[..16].to_string()
    }
}

/// `GET /cases/{id}/notes/{note}`: every revision of a note, newest first.
pub(crate) async fn note_history(
    page: Page,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, note) = path.into_inner();
    let case_id = id.clone();
    let (f, mut revisions, _) = page
        .run(move |vault, s, actor| Ok(vault.note_history(&s.db, actor, &case_id, &note)?))
        .await?;
    revisions.sort_by_key(|r| std::cmp::Reverse(r.revision));
    Ok(render(StatusCode::OK, &HistoryPage { f, id, revisions }))
}

/// `POST /cases/{id}/plan`: adds an item to the reintegration plan.
pub(crate) async fn add_plan_item(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, form) = parse(&body, &["domain", "goal", "due_on"], page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let changes = PlanChanges {
                domain: Some(form.get("domain").to_string()),
                status: None,
                due_on: Some(form.text("due_on")),
                goal: Some(Sensitive::new(form.get("goal").trim().to_string())),
                progress_note: None,
            };
            let added = vault.add_plan_item(&s.db, actor, &case_id, changes);
            kept(added.map(|_| ()), form)
        })
        .await?;
    Ok(after_form(f, id, "plan", String::new(), outcome, "plan"))
}

/// `POST /cases/{id}/plan/{item}`: moves a plan item on (status, due date) and adds a progress
/// note, with the version read.
pub(crate) async fn update_plan_item(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let allowed = ["version", "status", "due_on", "progress_note"];
    let (token, mut form) = parse(&body, &allowed, page.lang())?;
    let (id, item) = path.into_inner();
    let (case_id, item_id) = (id.clone(), item.clone());
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let Some(version) = form.number("version") else {
                return asked_first(vault, s, actor, Action::CaseUpdate, &case_id, form);
            };
            let changes = PlanChanges {
                domain: None,
                status: Some(form.get("status").to_string()),
                due_on: Some(form.text("due_on")),
                goal: None,
                progress_note: form.sealed("progress_note"),
            };
            let updated =
                vault.update_plan_item(&s.db, actor, &case_id, &item_id, version, changes);
            kept(updated.map(|_| ()), form)
        })
        .await?;
    Ok(after_form(f, id, "plan_update", item, outcome, "plan"))
}

/// A day typed in a date field as the start of that day (UTC), in microseconds.
fn day_start(form: &mut Fields, name: &'static str) -> Option<Option<i64>> {
    let Some(day) = form.text(name) else {
        return Some(None);
    };
    match crate::calls::micros(name, &format!("{day}T00:00:00Z")) {
        Ok(us) if domain::cases::is_date(&day) => Some(Some(us)),
        _ => {
            form.errors.insert(name.to_string(), "not a date".into());
            None
        }
    }
}

/// `POST /cases/{id}/consents`: records a consent the person gave (now).
pub(crate) async fn add_consent(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let allowed = ["purpose", "service_types", "scope", "expires_at"];
    let (token, mut form) = parse(&body, &allowed, page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let Some(expires_at) = day_start(&mut form, "expires_at") else {
                return asked_first(vault, s, actor, Action::CaseUpdate, &case_id, form);
            };
            let facts = ConsentFacts {
                purpose: form.get("purpose").to_string(),
                service_types: form.chips("service_types"),
                organisations: Vec::new(),
                given_at: persistence::now_micros(),
                expires_at,
            };
            let scope = form.sealed("scope");
            kept(
                vault
                    .add_consent(&s.db, actor, &case_id, facts, scope)
                    .map(|_| ()),
                form,
            )
        })
        .await?;
    Ok(after_form(
        f,
        id,
        "consent",
        String::new(),
        outcome,
        "consents",
    ))
}

/// `POST /cases/{id}/consents/{consent}/withdraw`: the person withdrew a consent (referrals it
/// covered are revoked, as through the API).
pub(crate) async fn withdraw_consent(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, form) = parse(&body, &[], page.lang())?;
    let (id, consent) = path.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let withdrawn = vault.withdraw_consent(&s.db, actor, &s.cases, &case_id, &consent);
            kept(withdrawn, form)
        })
        .await?;
    Ok(after_form(
        f,
        id,
        "consent",
        String::new(),
        outcome,
        "consents",
    ))
}

/// `POST /cases/{id}/assignment`: a supervisor assigns the case (or leaves it unassigned),
/// with the version read, as `POST /api/v1/cases/{id}/assignment`.
pub(crate) async fn assign(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, mut form) = parse(&body, &["version", "assigned_to"], page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let Some(version) = form.number("version") else {
                return asked_first(vault, s, actor, Action::CaseAssign, &case_id, form);
            };
            let to = form.text("assigned_to");
            let assigned = vault.assign_case(&s.db, actor, &case_id, version, to);
            kept(assigned.map(|_| ()), form)
        })
        .await?;
    Ok(after_form(
        f,
        id,
        "supervise",
        String::new(),
        outcome,
        "supervision",
    ))
}

/// `POST /cases/{id}/legal-hold`: a supervisor holds the case (the reason sealed), as the API.
pub(crate) async fn place_hold(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (token, form) = parse(&body, &["reason"], page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let reason = Sensitive::new(form.get("reason").to_string());
            kept(vault.place_legal_hold(&s.db, actor, &case_id, reason), form)
        })
        .await?;
    Ok(after_form(
        f,
        id,
        "hold",
        String::new(),
        outcome,
        "supervision",
    ))
}

/// A button of the supervision section (no fields): one vault function on the case, then back
/// to the case (or the conflict said).
async fn case_button(
    page: Page,
    id: String,
    body: web::Bytes,
    act: fn(
        &persistence::Vault,
        &crate::Services,
        &persistence::identity::Actor,
        &str,
    ) -> Result<(), AuthError>,
) -> Result<HttpResponse, PageError> {
    let (token, form) = parse(&body, &[], page.lang())?;
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            kept(act(vault, s, actor, &case_id), form)
        })
        .await?;
    Ok(after_form(
        f,
        id,
        "supervise",
        String::new(),
        outcome,
        "supervision",
    ))
}

/// `POST /cases/{id}/legal-hold/lift`: lifts the hold.
pub(crate) async fn lift_hold(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    case_button(page, id.into_inner(), body, |vault, s, actor, case_id| {
        vault.lift_legal_hold(&s.db, actor, case_id)
    })
    .await
}

/// `POST /cases/{id}/erasure`: asks for the case to be erased; another supervisor decides.
pub(crate) async fn request_erasure(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    case_button(page, id.into_inner(), body, |vault, s, actor, case_id| {
        vault.request_erasure(&s.db, actor, case_id).map(|_| ())
    })
    .await
}

/// `GET /cases/{id}/break-glass`: why the user needs this case now; a supervisor reviews it.
pub(crate) async fn break_glass_form(
    page: Page,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let record = id.clone();
    let (f, (), _) = page
        .run(move |vault, s, actor| Ok(vault.may_break_glass(&s.db, actor, &record)?))
        .await?;
    Ok(render(
        StatusCode::OK,
        &FormPage {
            f,
            id,
            which: "break_glass",
            item: String::new(),
            form: Fields::default(),
        },
    ))
}

/// `POST /cases/{id}/break-glass`: the reason, the justification and the user's password (or
/// one-time code) again; then the case, read-only, while the grant lasts.
pub(crate) async fn break_glass(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let allowed = ["reason", "justification", "password", "code"];
    let (token, form) = parse(&body, &allowed, page.lang())?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .hashing()
        .submit(&token, move |vault, s, actor| {
            let reauth = Reauth {
                password: form.sealed("password"),
                totp: form.sealed("code"),
            };
            let justification = Sensitive::new(form.get("justification").trim().to_string());
            let reason = form.get("reason").to_string();
            let granted = vault.break_glass(
                &s.db,
                actor,
                &s.cases,
                &s.auth,
                &case_id,
                &reason,
                justification,
                &reauth,
            );
            let mut form = form;
            match granted {
                // A wrong password is a wrong field here, not the end of the session.
                Err(AuthError::InvalidCredentials | AuthError::TotpRequired) => {
                    form.errors
                        .insert("password".into(), "not confirmed".into());
                    Ok(Err(form))
                }
                other => kept(other.map(|_| ()), form),
            }
        })
        .await?;
    // The password is never shown again.
    let outcome = outcome.map_err(|mut form| {
        form.clear(&["password", "code"]);
        form
    });
    Ok(after_form(
        f,
        id,
        "break_glass",
        String::new(),
        outcome,
        "top",
    ))
}
