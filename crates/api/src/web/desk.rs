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

use super::{render, see_other, Frame, Page, PageError};
use crate::ApiError;

/// What the form holds, as typed: shown again, with the fields named, when something is wrong.
#[derive(Default)]
pub(crate) struct CallForm {
    started_at: String,
    channel: String,
    direction: String,
    caller_role: String,
    topics: Vec<String>,
    region: String,
    caller_gender: String,
    caller_age_group: String,
    language: String,
    outcome: String,
    summary: String,
    caller_name: String,
    caller_phone: String,
    form_token: String,
    then: String,
}

impl CallForm {
    /// A new call: anonymous, inbound by phone, started now, the caller's details unknown.
    fn new_call() -> Self {
        CallForm {
            started_at: crate::calls::rfc3339(persistence::now_micros()),
            channel: "phone".into(),
            direction: "inbound".into(),
            caller_role: "potential_victim".into(),
            caller_gender: "unknown".into(),
            caller_age_group: "unknown".into(),
            language: "uk".into(),
            ..Default::default()
        }
    }

    /// The form's fields from an `application/x-www-form-urlencoded` body; the topic chips
    /// repeat `topics`. Unknown fields are refused, naming them.
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut form = CallForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match name.as_ref() {
                "started_at" => form.started_at = value,
                "channel" => form.channel = value,
                "direction" => form.direction = value,
                "caller_role" => form.caller_role = value,
                "topics" => form.topics.push(value),
                "region" => form.region = value,
                "caller_gender" => form.caller_gender = value,
                "caller_age_group" => form.caller_age_group = value,
                "language" => form.language = value,
                "outcome" => form.outcome = value,
                "summary" => form.summary = value,
                "caller_name" => form.caller_name = value,
                "caller_phone" => form.caller_phone = value,
                "form_token" => form.form_token = value,
                "then" => form.then = value,
                _ => {
                    return Err(ApiError::invalid_field(
                        "form",
                        "has a field this form does not have",
                    ))
                }
            }
        }
        Ok(form)
    }

    fn input(&self) -> Result<CallInput, BTreeMap<String, String>> {
        let sealed = |v: &str| {
            let v = v.trim();
            (!v.is_empty()).then(|| Sensitive::new(v.to_string()))
        };
        let started_at = crate::calls::micros("started_at", &self.started_at)
            .map_err(|_| BTreeMap::from([("started_at".to_string(), "not a time".to_string())]))?;
        Ok(CallInput {
            started_at,
            ended_at: Some(persistence::now_micros().max(started_at)),
            channel: self.channel.clone(),
            direction: self.direction.clone(),
            caller_role: self.caller_role.clone(),
            topics: self.topics.clone(),
            region: self.region.clone(),
            caller_gender: self.caller_gender.clone(),
            caller_age_group: self.caller_age_group.clone(),
            language: self.language.clone(),
            outcome: self.outcome.clone(),
            summary: sealed(&self.summary),
            caller_name: sealed(&self.caller_name),
            caller_phone: sealed(&self.caller_phone),
        })
    }

    pub fn has_topic(&self, code: &str) -> bool {
        self.topics.iter().any(|t| t == code)
    }
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
    form: CallForm,
    errors: BTreeMap<String, String>,
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
    fn new(f: Frame, form: CallForm) -> Self {
        DeskPage {
            f,
            form,
            errors: BTreeMap::new(),
            choices: &CHOICES,
            topics: &vocabulary::TOPIC,
            regions: &vocabulary::REGION,
            saved: false,
            opened: None,
            lookup: None,
        }
    }

    fn value(&self, name: &str) -> &str {
        let f = &self.form;
        match name {
            "channel" => &f.channel,
            "direction" => &f.direction,
            "caller_role" => &f.caller_role,
            "caller_gender" => &f.caller_gender,
            "caller_age_group" => &f.caller_age_group,
            "language" => &f.language,
            "outcome" => &f.outcome,
            "region" => &f.region,
            _ => "",
        }
    }

    /// The message key of a field's label.
    fn label_key(&self, name: &str) -> &'static str {
        match name {
            "channel" => "field-channel",
            "direction" => "field-direction",
            "caller_role" => "field-caller-role",
            "caller_gender" => "field-caller-gender",
            "caller_age_group" => "field-caller-age-group",
            "language" => "field-language",
            "outcome" => "field-outcome",
            "region" => "field-region",
            "topics" => "field-topics",
            "summary" => "field-summary",
            "caller_name" => "field-caller-name",
            "caller_phone" => "field-caller-phone",
            "started_at" => "field-started-at",
            "ended_at" => "field-ended-at",
            _ => "field-form",
        }
    }

    fn selected(&self, name: &str, code: &str) -> bool {
        self.value(name) == code
    }

    fn error(&self, name: &str) -> Option<String> {
        self.errors.get(name).map(|_| self.f.t.get("field-invalid"))
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
        ..DeskPage::new(f, CallForm::new_call())
    };
    Ok(render(StatusCode::OK, &desk))
}

/// `POST /desk`: logs the call (`then=case` also opens a case from it and goes to the case
/// list), or shows the form again with the wrong fields named and everything typed kept.
pub(crate) async fn save(page: Page, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let form = CallForm::parse(&body).map_err(|e| PageError::new(e, lang))?;
    let token = form.form_token.clone();
    let (f, (form, outcome), _) = page
        .submit(&token, move |vault, s, actor| {
            let now = persistence::now_micros();
            let call = match form.input() {
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
            if form.then == "case" {
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
                ..DeskPage::new(f, CallForm::new_call())
            },
        ),
        Ok(None) => see_other("/desk?saved=1"),
        Err(errors) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &DeskPage {
                errors,
                ..DeskPage::new(f, form)
            },
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupForm {
    form_token: String,
    phone: Sensitive<String>,
}

/// `POST /desk/lookup`: has this number called before? The number travels in the body, never
/// in a URL; the check is audited like the API's.
pub(crate) async fn lookup(
    page: Page,
    form: web::Form<LookupForm>,
) -> Result<HttpResponse, PageError> {
    let LookupForm { form_token, phone } = form.into_inner();
    let (f, lookup, partial) = page
        .submit(&form_token, move |vault, s, actor| {
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
            ..DeskPage::new(f, CallForm::new_call())
        },
    ))
}
