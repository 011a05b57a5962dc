//! Referrals from the case page: the case's referrals (a partial the case page loads), a new
//! referral (a service from the directory, the needs to pass on), its packet shown exactly as
//! the partner will see it before it is sent, then send or cancel.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::identity::Role;
use domain::referrals::{PacketNotes, Status};
use domain::Sensitive;
use persistence::directory::{DirectoryFilter, OrganisationView};
use persistence::referrals::{NewReferral, PartnerAnswer, ReferralSummary, ReferralView};
use serde::Deserialize;
use serde_json::Value;

use super::form::{kept, Fields};
use super::i18n::Tr;
use super::{render, see_other, Frame, Page, PageError};

#[derive(Template)]
#[template(path = "referrals.html")]
struct ListPage {
    f: Frame,
    id: String,
    referrals: Vec<ReferralSummary>,
}

#[derive(Template)]
#[template(path = "partials/referral_rows.html")]
struct ListPartial {
    f: Frame,
    referrals: Vec<ReferralSummary>,
}

/// `GET /cases/{id}/referrals`: the case's referrals (no packets), as the API lists them; the
/// case page loads it as a partial.
pub(crate) async fn of_case(page: Page, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, referrals, partial) = page
        .run(move |vault, s, actor| Ok(vault.list_referrals(&s.db, actor, Some(&case_id))?))
        .await?;
    Ok(match partial {
        true => render(StatusCode::OK, &ListPartial { f, referrals }),
        false => render(StatusCode::OK, &ListPage { f, id, referrals }),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectoryQuery {
    #[serde(default)]
    service_type: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Template)]
#[template(path = "referral_new.html")]
struct NewPage {
    f: Frame,
    id: String,
    service_type: String,
    region: String,
    organisations: Vec<OrganisationView>,
    form: Fields,
}

fn search(
    vault: &persistence::Vault,
    s: &crate::Services,
    actor: &persistence::identity::Actor,
    service_type: &str,
    region: &str,
) -> Result<Vec<OrganisationView>, crate::ApiError> {
    if service_type.is_empty() {
        return Ok(Vec::new());
    }
    let filter = DirectoryFilter {
        service_type: Some(service_type.to_string()),
        region: (!region.is_empty()).then(|| region.to_string()),
        text: None,
        inactive: false,
    };
    Ok(vault.search_directory(&s.db, actor, &filter)?)
}

/// `GET /cases/{id}/referrals/new?service_type=&region=`: the providers of a service type in
/// the directory, and the referral's form.
pub(crate) async fn new(
    page: Page,
    id: web::Path<String>,
    query: web::Query<DirectoryQuery>,
) -> Result<HttpResponse, PageError> {
    let DirectoryQuery {
        service_type,
        region,
    } = query.into_inner();
    let service_type = service_type.unwrap_or_default();
    let region = region.unwrap_or_default();
    let (st, rg) = (service_type.clone(), region.clone());
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, organisations, _) = page
        .run(move |vault, s, actor| {
            let action = domain::policy::Action::ReferralCreate;
            vault.check_case(&s.db, actor, action, &case_id)?;
            search(vault, s, actor, &st, &rg)
        })
        .await?;
    Ok(render(
        StatusCode::OK,
        &NewPage {
            f,
            id,
            service_type,
            region,
            organisations,
            form: Fields::default(),
        },
    ))
}

const NEW_FIELDS: &[&str] = &[
    "service_type",
    "region",
    "service_id",
    "safety_needs",
    "health_needs",
    "follow_up_on",
    "override_justification",
];

/// `POST /cases/{id}/referrals`: drafts the referral (the packet is built and sealed now, from
/// the case and the consent that covers the provider) and shows it before anything is sent.
pub(crate) async fn create(
    page: Page,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, NEW_FIELDS).map_err(|e| PageError::new(e, lang))?;
    let id = id.into_inner();
    let case_id = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let new = NewReferral {
                service_id: form.get("service_id").to_string(),
                notes: PacketNotes {
                    safety_needs: form.text("safety_needs"),
                    health_needs: form.text("health_needs"),
                },
                follow_up_on: form.text("follow_up_on"),
                override_justification: form.sealed("override_justification"),
            };
            let drafted = vault.create_referral(&s.db, actor, &case_id, new);
            match kept(drafted.map(|v| v.id), form)? {
                Ok(referral) => Ok(Ok(referral)),
                Err(form) => {
                    let found = search(
                        vault,
                        s,
                        actor,
                        form.get("service_type"),
                        form.get("region"),
                    )?;
                    Ok(Err((form, found)))
                }
            }
        })
        .await?;
    Ok(match outcome {
        Ok(referral) => see_other(&format!("/referrals/{referral}")),
        Err((form, organisations)) => render(
            match form.conflict {
                true => StatusCode::CONFLICT,
                false => StatusCode::UNPROCESSABLE_ENTITY,
            },
            &NewPage {
                f,
                id,
                service_type: form.get("service_type").to_string(),
                region: form.get("region").to_string(),
                organisations,
                form,
            },
        ),
    })
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    f: Frame,
    r: ReferralView,
    /// The packet as the partner sees it: label, value.
    packet: Vec<(String, String)>,
    /// What this user may do with it: the hotline's moves or the provider's answers.
    moves: Moves,
    /// An answer that came back (a reason or outcome missing), as typed.
    form: Fields,
}

/// The buttons a referral page shows: exactly the moves its state allows the user's side.
pub(crate) struct Moves {
    pub partner: bool,
    pub send: bool,
    pub cancel: bool,
    pub accept: bool,
    pub start: bool,
    pub complete: bool,
}

impl Moves {
    fn of(r: &ReferralView, role: Role) -> Moves {
        let status = Status::parse(&r.status);
        let partner = role == Role::Partner;
        let live = r.ended_at.is_none();
        let accepted = matches!(status, Some(Status::Accepted | Status::InProgress));
        Moves {
            partner,
            send: !partner && status == Some(Status::Draft),
            cancel: !partner && live,
            accept: partner && live && status == Some(Status::Sent),
            start: partner && live && status == Some(Status::Accepted),
            complete: partner && live && accepted,
        }
    }
}

/// A packet's fields as a partner's page shows them: each field's label and its value in
/// words (codes as their labels, lists joined).
pub(crate) fn packet_rows(
    t: &Tr,
    packet: &std::collections::BTreeMap<String, Value>,
) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    packet
        .iter()
        .map(|(field, value)| {
            let (key, shown) = match field.as_str() {
                "first_name" => ("field-given-name", text(value)),
                "family_name" => ("field-family-name", text(value)),
                "birth_date" => ("field-birth-date", text(value)),
                "gender" => ("field-gender", t.label("gender", &text(value))),
                "age_band" => ("field-age-band", t.label("age_group", &text(value))),
                "nationality" => ("field-nationality", t.label("country", &text(value))),
                "languages" => (
                    "field-languages",
                    value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|l| t.label("language", &text(l)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                ),
                "document_status" => (
                    "field-documents",
                    value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|d| {
                                    format!(
                                        "{}: {}",
                                        t.label("document_type", &text(&d["kind"])),
                                        t.label("document_status", &text(&d["status"]))
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .unwrap_or_default(),
                ),
                "safety_needs" => ("field-safety-needs", text(value)),
                "health_needs" => ("field-health-needs", text(value)),
                _ => ("field-form", value.to_string()),
            };
            (t.get(key), shown)
        })
        .collect()
}

fn referral_page(f: Frame, r: ReferralView, role: Role, form: Fields) -> ReferralPage {
    let packet = r
        .packet
        .as_ref()
        .map(|p| packet_rows(&f.t, p.expose()))
        .unwrap_or_default();
    ReferralPage {
        packet,
        moves: Moves::of(&r, role),
        f,
        r,
        form,
    }
}

/// `GET /referrals/{id}`: the referral, with its packet exactly as the partner will see it
/// (read and audited as `GET /api/v1/referrals/{id}`, a partner's read recorded on it), and
/// the moves its state allows: send or cancel for the hotline; accept, decline, start or
/// complete for the provider.
pub(crate) async fn show(page: Page, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (f, (r, role), _) = page
        .run(move |vault, s, actor| Ok((vault.read_referral(&s.db, actor, &id)?, actor.role)))
        .await?;
    Ok(render(
        StatusCode::OK,
        &referral_page(f, r, role, Fields::default()),
    ))
}

#[derive(Template)]
#[template(path = "referral_list.html")]
struct AllPage {
    f: Frame,
    referrals: Vec<ReferralSummary>,
}

/// `GET /referrals`: a provider's inbox (the live referrals to its organisation), a case
/// worker's open referrals, every open one for a supervisor: `GET /api/v1/referrals`.
pub(crate) async fn list(page: Page) -> Result<HttpResponse, PageError> {
    let (f, referrals, partial) = page
        .run(move |vault, s, actor| Ok(vault.list_referrals(&s.db, actor, None)?))
        .await?;
    Ok(match partial {
        true => render(StatusCode::OK, &ListPartial { f, referrals }),
        false => render(StatusCode::OK, &AllPage { f, referrals }),
    })
}

/// A move of a referral from its page.
#[derive(Clone, Copy)]
enum Move {
    /// The hotline's: send or cancel.
    Hotline(Status),
    Accept,
    Decline,
    Start,
    Complete,
}

/// A move posted from the referral page: the version read, and for a decline the reason, for
/// a completion the outcome (sealed). A stale version is the 409 page; a missing reason or
/// outcome brings the page back with the field named and the rest as typed.
async fn move_to(
    page: Page,
    id: String,
    body: web::Bytes,
    how: Move,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["version", "reason", "outcome"])
        .map_err(|e| PageError::new(e, lang))?;
    let referral = id.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            // A version that is not a number (only a tampered form sends one) is no version
            // the referral has: the vault asks the policy, then answers 409.
            let version = form.get("version").trim().parse().unwrap_or(-1);
            let text = |name| Sensitive::new(form.get(name).trim().to_string());
            let moved = match how {
                Move::Hotline(next) => {
                    vault.move_referral(&s.db, actor, &s.referrals, &referral, version, next)
                }
                partner => {
                    let answer = match partner {
                        Move::Accept => PartnerAnswer::Accept,
                        Move::Decline => PartnerAnswer::Decline(text("reason")),
                        Move::Start => PartnerAnswer::Start,
                        _ => PartnerAnswer::Complete(text("outcome")),
                    };
                    vault.answer_referral(&s.db, actor, &s.referrals, &referral, version, answer)
                }
            };
            match kept(moved.map(|_| ()), form)? {
                Ok(()) => Ok(Ok(())),
                Err(form) if form.conflict => Ok(Err(None)),
                Err(form) => {
                    let r = vault.read_referral(&s.db, actor, &referral)?;
                    Ok(Err(Some((r, actor.role, form))))
                }
            }
        })
        .await?;
    match outcome {
        // A provider's answer that ends the referral shreds the packet: back to the inbox.
        Ok(()) if matches!(how, Move::Decline | Move::Complete) => Ok(see_other("/referrals")),
        Ok(()) => Ok(see_other(&format!("/referrals/{id}"))),
        Err(None) => Err(PageError::new(
            crate::ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the referral changed meanwhile",
            ),
            lang,
        )
        .with_link(format!("/referrals/{id}"), "error-reload")),
        Err(Some((r, role, form))) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &referral_page(f, r, role, form),
        )),
    }
}

/// `POST /referrals/{id}/{move}`: send, cancel (the hotline); accept, decline, start, complete
/// (the provider), each as the API's route of the same name.
pub(crate) async fn act(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (id, name) = path.into_inner();
    let how = match name.as_str() {
        "send" => Move::Hotline(Status::Sent),
        "cancel" => Move::Hotline(Status::Cancelled),
        "accept" => Move::Accept,
        "decline" => Move::Decline,
        "start" => Move::Start,
        "complete" => Move::Complete,
        _ => return Err(PageError::new(crate::ApiError::not_found(), page.lang())),
    };
    move_to(page, id, body, how).await
}

/// The message key of a referral's status.
pub(crate) fn status_key(status: &str) -> &'static str {
    match Status::parse(status) {
        Some(Status::Draft) => "referral-draft",
        Some(Status::Sent) => "referral-sent",
        Some(Status::Accepted) => "referral-accepted",
        Some(Status::Declined) => "referral-declined",
        Some(Status::InProgress) => "referral-in-progress",
        Some(Status::Completed) => "referral-completed",
        Some(Status::Cancelled) => "referral-cancelled",
        Some(Status::Revoked) => "referral-revoked",
        Some(Status::Expired) | None => "referral-expired",
    }
}
