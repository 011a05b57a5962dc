//! The counselor's desk: the one-screen call form used while talking, the repeat-caller check
//! as the number is typed, and "save and open a case".

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::calls::{validate, CallInput};
use domain::normalize::PhoneNumber;
use domain::policy::{Action, Relation};
use domain::vocabulary::{self, Vocabulary};
use domain::Sensitive;
use persistence::cases::CaseChanges;
use serde::Deserialize;

use super::form::Fields;
use super::{render, see_other, Frame, Page, PageError};

/// The call form's fields (the topic chips repeat `topics`).
const FIELDS: &[&str] = &[
    "started_at",
    "channel",
    "direction",
    "caller_role",
    "topics",
    "region",
    "caller_gender",
    "caller_age_group",
    "language",
    "outcome",
    "summary",
    "caller_name",
    "caller_phone",
    "then",
];

/// A new call: anonymous, inbound by phone, started now, the caller's details unknown.
fn new_call() -> Fields {
    let value = |n: &str, v: &str| (n.to_string(), v.to_string());
    Fields::filled(vec![
        value(
            "started_at",
            &crate::calls::rfc3339(persistence::now_micros()),
        ),
        value("channel", "phone"),
        value("direction", "inbound"),
        value("caller_role", "potential_victim"),
        value("caller_gender", "unknown"),
        value("caller_age_group", "unknown"),
        value("language", "uk"),
    ])
}

/// The call as typed, for the same validation as `POST /api/v1/calls`.
fn call_input(form: &Fields) -> Result<CallInput, BTreeMap<String, String>> {
    let started_at = crate::calls::micros("started_at", form.get("started_at"))
        .map_err(|_| BTreeMap::from([("started_at".to_string(), "not a time".to_string())]))?;
    let text = |name: &str| form.get(name).to_string();
    Ok(CallInput {
        started_at,
        ended_at: Some(persistence::now_micros().max(started_at)),
        channel: text("channel"),
        direction: text("direction"),
        caller_role: text("caller_role"),
        topics: form.all("topics").into_iter().map(String::from).collect(),
        region: text("region"),
        caller_gender: text("caller_gender"),
        caller_age_group: text("caller_age_group"),
        language: text("language"),
        outcome: text("outcome"),
        summary: form.sealed("summary"),
        caller_name: form.sealed("caller_name"),
        caller_phone: form.sealed("caller_phone"),
    })
}

/// One picklist of the form.
pub(crate) struct Choice {
    pub name: &'static str,
    pub vocabulary: &'static Vocabulary,
}

impl Choice {
    pub(crate) const fn of(name: &'static str, vocabulary: &'static Vocabulary) -> Self {
        Choice { name, vocabulary }
    }
}

const CHOICES: [Choice; 7] = [
    Choice::of("channel", &vocabulary::CHANNEL),
    Choice::of("direction", &vocabulary::DIRECTION),
    Choice::of("caller_role", &vocabulary::CALLER_ROLE),
    Choice::of("caller_gender", &vocabulary::GENDER),
    Choice::of("caller_age_group", &vocabulary::AGE_GROUP),
    Choice::of("language", &vocabulary::LANGUAGE),
    Choice::of("outcome", &vocabulary::OUTCOME),
];

/// What the repeat-caller check found (only what a counselor may see: how many earlier calls,
/// when the last was, and whether any led to a case).
pub(crate) struct Lookup {
    pub calls: i64,
    pub last: Option<String>,
    pub cases: i64,
    pub invalid: bool,
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    f: Frame,
    /// The call as typed, and the wrong fields.
    form: Fields,
    choices: &'static [Choice],
    topics: &'static Vocabulary,
    regions: &'static Vocabulary,
    saved: bool,
    /// The reference of the case just opened from the call.
    opened: Option<String>,
    lookup: Option<Lookup>,
}

impl DeskPage {
    /// The desk with `form`, nothing saved, no errors and no lookup shown.
    fn new(f: Frame, form: Fields) -> Self {
        DeskPage {
            f,
            form,
            choices: &CHOICES,
            topics: &vocabulary::TOPIC,
            regions: &vocabulary::REGION,
            saved: false,
            opened: None,
            lookup: None,
        }
    }

    /// A wrong field's message, for the text beside it.
    fn error(&self, name: &str) -> Option<String> {
        self.form.error(name).then(|| self.f.t.get("field-invalid"))
    }
}

#[derive(Template)]
#[template(path = "partials/lookup.html")]
struct LookupPartial {
    f: Frame,
    lookup: Option<Lookup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedQuery {
    #[serde(default)]
    saved: Option<u8>,
}

/// `GET /desk`: a new call form, its timer started.
pub(crate) async fn form(
    page: Page,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let f = page.allowed(Action::CallCreate).await?;
    let desk = DeskPage {
        saved: query.saved.is_some(),
        ..DeskPage::new(f, new_call())
    };
    Ok(render(StatusCode::OK, &desk))
}

/// `POST /desk`: logs the call (`then=case` also opens a case from it and goes to the case
/// list), or shows the form again with the wrong fields named and everything typed kept.
pub(crate) async fn save(page: Page, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, FIELDS).map_err(|e| PageError::new(e, lang))?;
    let (f, (mut form, outcome), _) = page
        .submit(&token, move |vault, s, actor| {
            let now = persistence::now_micros();
            let call = match call_input(&form) {
                Ok(input) => validate(input, now, &s.calls.default_country_code),
                Err(errors) => Err(errors),
            };
            let call = match call {
                Ok(call) => call,
                Err(errors) => {
                    // Who may log a call is asked before what is wrong with this one.
                    let relation = Relation::NoObject;
                    vault.authorize(&s.db, actor, Action::CallCreate, relation, None)?;
                    return Ok((form, Err(errors)));
                }
            };
            let id = vault.create_call(&s.db, actor, &call)?;
            if form.get("then") == "case" {
                let (_, reference) = vault.create_case(
                    &s.db,
                    actor,
                    &s.calls,
                    Some(&id),
                    None,
                    CaseChanges::default(),
                )?;
                return Ok((form, Ok(Some(reference))));
            }
            Ok((form, Ok(None)))
        })
        .await?;
    Ok(match outcome {
        // The reference is shown on the new form, never put in a URL (or the history).
        Ok(Some(reference)) => render(
            StatusCode::OK,
            &DeskPage {
                saved: true,
                opened: Some(reference),
                ..DeskPage::new(f, new_call())
            },
        ),
        Ok(None) => see_other("/desk?saved=1"),
        Err(errors) => {
            form.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &DeskPage::new(f, form))
        }
    })
}

/// `POST /desk/lookup`: has this number called before? The number travels in the body, never
/// in a URL; the check is audited like the API's.
pub(crate) async fn lookup(page: Page, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["phone"]).map_err(|e| PageError::new(e, lang))?;
    let phone = Sensitive::new(form.get("phone").to_string());
    let (f, lookup, partial) = page
        .submit(&token, move |vault, s, actor| {
            let Some(phone) = PhoneNumber::parse(phone.expose(), &s.calls.default_country_code)
            else {
                let relation = Relation::NoObject;
                vault.authorize(&s.db, actor, Action::CallLookup, relation, None)?;
                return Ok(Lookup {
                    calls: 0,
                    last: None,
                    cases: 0,
                    invalid: true,
                });
            };
            let history = vault.lookup_caller(&s.db, actor, &phone)?;
            Ok(Lookup {
                calls: history.calls as i64,
                last: history.dates.iter().max().map(|d| super::day(*d)),
                cases: history.case_ids.len() as i64,
                invalid: false,
            })
        })
        .await?;
    if partial {
        return Ok(render(
            StatusCode::OK,
            &LookupPartial {
                f,
                lookup: Some(lookup),
            },
        ));
    }
    Ok(render(
        StatusCode::OK,
        &DeskPage {
            lookup: Some(lookup),
            ..DeskPage::new(f, new_call())
        },
    ))
}
