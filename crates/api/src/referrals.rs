//! The service provider directory and referrals over HTTP: search and maintain the directory
//! (with CSV import and export), draft, send and follow referrals, and the partner's side.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use domain::referrals::{OrganisationInput, PacketNotes, Status};
use domain::Sensitive;
use persistence::directory::{DirectoryFilter, OrganisationView};
use persistence::referrals::{NewReferral, PartnerAnswer, ReferralSummary, ReferralView};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Claimed, Session};
use crate::bodies::Versioned;
use crate::calls::rfc3339;
use crate::ApiError;

/// A service an organisation offers.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ServiceOut {
    id: String,
    service_type: String,
    description: String,
}

/// An organisation of the directory with its services.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OrganisationOut {
    id: String,
    name: String,
    notification_email: Option<String>,
    /// uk or en: the language of its notifications.
    language: String,
    languages: Vec<String>,
    regions: Vec<String>,
    intake_criteria: String,
    active: bool,
    services: Vec<ServiceOut>,
}

impl From<OrganisationView> for OrganisationOut {
    fn from(o: OrganisationView) -> Self {
        OrganisationOut {
            id: o.id,
            name: o.name,
            notification_email: o.notification_email,
            language: o.language,
            languages: o.languages,
            regions: o.regions,
            intake_criteria: o.intake_criteria,
            active: o.active,
            services: o
                .services
                .into_iter()
                .map(|s| ServiceOut {
                    id: s.id,
                    service_type: s.service_type,
                    description: s.description,
                })
                .collect(),
        }
    }
}

/// The organisations found, by name.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Directory {
    organisations: Vec<OrganisationOut>,
}

/// How many organisations an import saved.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Imported {
    organisations: usize,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DirectoryQuery {
    /// A code of the service_type vocabulary.
    service_type: Option<String>,
    /// A code of the region vocabulary.
    region: Option<String>,
    /// Words that must all appear in the name, intake criteria or a service description.
    text: Option<String>,
    /// Admins: include inactive organisations.
    inactive: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/directory", tag = "directory", security(("bearer" = [])), params(DirectoryQuery),
    responses((status = 200, description = "Organisations with their services, by name", body = Directory), (status = 401, description = "Not signed in"),
              (status = 422, description = "An unknown code")))]
pub(crate) async fn search(
    session: Session,
    query: web::Query<DirectoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = session
        .run(move |vault, s, actor| {
            let DirectoryQuery {
                service_type,
                region,
                text,
                inactive,
            } = query.into_inner();
            if service_type
                .as_deref()
                .is_some_and(|t| !domain::vocabulary::SERVICE_TYPE.contains(t))
            {
                return Err(ApiError::invalid_field(
                    "service_type",
                    "must be one of the codes of the service_type vocabulary",
                ));
            }
            if region
                .as_deref()
                .is_some_and(|r| !domain::vocabulary::REGION.contains(r))
            {
                return Err(ApiError::invalid_field(
                    "region",
                    "must be one of the codes of the region vocabulary",
                ));
            }
            let filter = DirectoryFilter {
                service_type,
                region,
                text,
                inactive: inactive.unwrap_or(false),
            };
            Ok(vault.search_directory(&s.db, actor, &filter)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Directory {
        organisations: found.into_iter().map(OrganisationOut::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Lviv women's shelter", "notification_email": "intake@shelter.example.org",
    "language": "uk", "languages": ["uk", "en"], "regions": ["UA-46"], "intake_criteria": "Women 18+, with children",
    "active": true, "services": [{"service_type": "shelter", "description": "24 beds, open day and night"}]}))]
pub(crate) struct OrganisationBody {
    name: String,
    #[serde(default)]
    notification_email: Option<String>,
    /// uk or en: the language of its notifications.
    #[serde(default = "uk")]
    language: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    intake_criteria: String,
    #[serde(default = "yes")]
    active: bool,
    services: Vec<ServiceBody>,
}

fn uk() -> String {
    "uk".into()
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceBody {
    service_type: String,
    #[serde(default)]
    description: String,
}

#[utoipa::path(put, path = "/api/v1/directory/organisations/{id}", tag = "directory", security(("bearer" = [])), request_body = OrganisationBody,
    params(("id" = String, Path, description = "The organisation's short code (lowercase letters, digits, hyphens)")),
    responses((status = 204, description = "Saved (created or replaced with its services)"), (status = 401, description = "Not signed in"),
              (status = 403, description = "Admins only"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn save_organisation(
    session: Session,
    id: web::Path<String>,
    body: web::Json<OrganisationBody>,
) -> Result<HttpResponse, ApiError> {
    let OrganisationBody {
        name,
        notification_email,
        language,
        languages,
        regions,
        intake_criteria,
        active,
        services: offered,
    } = body.into_inner();
    let mut input = OrganisationInput {
        id: id.into_inner(),
        name,
        notification_email,
        language,
        languages,
        regions,
        intake_criteria,
        active,
        services: offered
            .into_iter()
            .map(|s| (s.service_type, s.description))
            .collect(),
    };
    session
        .run(move |vault, s, actor| {
            // An admin's question first: a caller who may not manage the directory learns
            // nothing of what is wrong with the input.
            vault.may_manage_directory(&s.db, actor)?;
            let errors = input.validate();
            if !errors.is_empty() {
                return Err(ApiError::invalid_fields(errors));
            }
            Ok(vault.save_organisations(&s.db, actor, &[input])?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

const CSV_HEADER: [&str; 10] = [
    "organisation",
    "name",
    "notification_email",
    "language",
    "languages",
    "regions",
    "intake_criteria",
    "active",
    "service_type",
    "description",
];

/// Reads the directory CSV: one row per service; organisation columns repeat and must agree.
/// Any bad row fails the whole file, with its line number and reason.
pub(crate) fn parse_csv(
    text: &[u8],
) -> Result<Vec<OrganisationInput>, std::collections::BTreeMap<String, String>> {
    let mut errors = std::collections::BTreeMap::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text);
    match reader.headers() {
        Ok(h) if h.iter().map(str::trim).eq(CSV_HEADER.iter().copied()) => {}
        _ => {
            errors.insert(
                "line 1".into(),
                format!("the header must be: {}", CSV_HEADER.join(",")),
            );
            return Err(errors);
        }
    }
    // Each organisation with the line of its first row.
    let mut orgs: Vec<(usize, OrganisationInput)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = format!("line {}", i + 2);
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                errors.insert(line, "is not a well-formed CSV row of 10 columns".into());
                continue;
            }
        };
        // The export's guard against formulas undone: `'=x` is read back as `=x`.
        let col = |n: usize| {
            let cell = record.get(n).unwrap_or("").trim();
            match cell.strip_prefix('\'') {
                Some(rest) if csv_cell(rest).len() != rest.len() => rest.to_string(),
                _ => cell.to_string(),
            }
        };
        let split = |n: usize| -> Vec<String> {
            col(n)
                .split(';')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let active = match col(7).as_str() {
            "true" | "yes" | "1" | "" => true,
            "false" | "no" | "0" => false,
            _ => {
                errors.insert(line, "active: must be true or false".into());
                continue;
            }
        };
        let row = OrganisationInput {
            id: col(0),
            name: col(1),
            notification_email: Some(col(2)).filter(|e| !e.is_empty()),
            language: Some(col(3)).filter(|l| !l.is_empty()).unwrap_or_else(uk),
            languages: split(4),
            regions: split(5),
            intake_criteria: col(6),
            active,
            services: vec![(col(8), col(9))],
        };
        match orgs.iter_mut().find(|(_, o)| o.id == row.id) {
            Some((_, o)) => {
                let same = OrganisationInput {
                    services: o.services.clone(),
                    ..row.clone()
                };
                if same != *o {
                    errors.insert(
                        line,
                        "the organisation's columns differ from its earlier rows".into(),
                    );
                    continue;
                }
                o.services.extend(row.services);
            }
            None => orgs.push((i + 2, row)),
        }
    }
    for (line, o) in &mut orgs {
        for (field, message) in o.validate() {
            errors
                .entry(format!("line {line}"))
                .or_insert(format!("{field}: {message}"));
        }
    }
    if orgs.is_empty() && errors.is_empty() {
        errors.insert("line 2".into(), "the file has no rows".into());
    }
    if errors.is_empty() {
        Ok(orgs.into_iter().map(|(_, o)| o).collect())
    } else {
        Err(errors)
    }
}

#[utoipa::path(post, path = "/api/v1/directory/import", tag = "directory", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "Header: organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description; one row per service; lists separated by ';'"),
    responses((status = 200, description = "Imported: how many organisations were saved", body = Imported), (status = 401, description = "Not signed in"),
              (status = 403, description = "Admins only"), (status = 422, description = "Bad rows, by line number; nothing was changed")))]
pub(crate) async fn import(session: Session, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let organisations = session
        .run(move |vault, s, actor| {
            vault.may_manage_directory(&s.db, actor)?;
            let orgs = parse_csv(&body).map_err(ApiError::invalid_fields)?;
            vault.save_organisations(&s.db, actor, &orgs)?;
            Ok(orgs.len())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Imported { organisations }))
}

#[utoipa::path(get, path = "/api/v1/directory/export", tag = "directory", security(("bearer" = [])),
    responses((status = 200, description = "The whole directory as CSV, in the import's layout", body = String, content_type = "text/csv"),
              (status = 401, description = "Not signed in"), (status = 403, description = "Admins only")))]
pub(crate) async fn export(session: Session) -> Result<HttpResponse, ApiError> {
    let all = session
        .run(move |vault, s, actor| Ok(vault.export_directory(&s.db, actor)?))
        .await?;
    directory_csv(&all)
}

/// A cell as exported: one that a spreadsheet would take for a formula (it begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe, so opening the export
/// never runs anything (OWASP CSV injection).
pub(crate) fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// The directory as CSV in the import's layout, every cell safe to open in a spreadsheet.
pub(crate) fn directory_csv(
    all: &[persistence::directory::OrganisationView],
) -> Result<HttpResponse, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |_| ApiError::internal();
    writer.write_record(CSV_HEADER).map_err(fail)?;
    for o in all {
        for svc in &o.services {
            let (languages, regions) = (o.languages.join(";"), o.regions.join(";"));
            let row = [
                o.id.as_str(),
                &o.name,
                o.notification_email.as_deref().unwrap_or(""),
                &o.language,
                &languages,
                &regions,
                &o.intake_criteria,
                if o.active { "true" } else { "false" },
                &svc.service_type,
                &svc.description,
            ];
            writer
                .write_record(row.iter().map(|c| csv_cell(c).into_owned()))
                .map_err(fail)?;
        }
    }
    let bytes = writer.into_inner().map_err(|_| ApiError::internal())?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"directory.csv\"",
        ))
        .body(bytes))
}

/// A referral as the hotline's side sees it (and a partner, without the case).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralOut {
    id: String,
    /// Not shown to a partner.
    case_id: Option<String>,
    case_reference: Option<String>,
    organisation_id: String,
    organisation_name: String,
    service_id: String,
    service_type: String,
    status: String,
    /// The names of the packet's fields.
    packet_fields: Vec<String>,
    /// The packet exactly as the partner sees it, while the referral has one.
    #[schema(value_type = Option<Object>)]
    packet: Option<BTreeMap<String, Value>>,
    consent_id: Option<String>,
    overridden: bool,
    override_justification: Option<String>,
    created_by: String,
    follow_up_on: Option<String>,
    sent_at: Option<String>,
    answer_due_at: Option<String>,
    answered_at: Option<String>,
    /// The provider's reason (declined) or outcome (completed).
    partner_note: Option<String>,
    first_opened_at: Option<String>,
    last_opened_at: Option<String>,
    ended_at: Option<String>,
    version: i32,
    created_at: String,
}

impl From<ReferralView> for ReferralOut {
    fn from(r: ReferralView) -> Self {
        ReferralOut {
            sent_at: r.sent_at.map(rfc3339),
            answer_due_at: r.answer_due_at.map(rfc3339),
            answered_at: r.answered_at.map(rfc3339),
            first_opened_at: r.first_opened_at.map(rfc3339),
            last_opened_at: r.last_opened_at.map(rfc3339),
            ended_at: r.ended_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
            id: r.id,
            case_id: r.case_id,
            case_reference: r.case_reference,
            organisation_id: r.organisation_id,
            organisation_name: r.organisation_name,
            service_id: r.service_id,
            service_type: r.service_type,
            status: r.status,
            packet_fields: r.packet_fields,
            packet: r.packet.map(Sensitive::into_inner),
            consent_id: r.consent_id,
            overridden: r.overridden,
            override_justification: r.override_justification.map(Sensitive::into_inner),
            created_by: r.created_by,
            follow_up_on: r.follow_up_on,
            partner_note: r.partner_note.map(Sensitive::into_inner),
            version: r.version,
        }
    }
}

/// A referral without its packet, as lists show it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralSummaryOut {
    id: String,
    /// Absent for a partner, who never learns the case.
    case_id: Option<String>,
    organisation_id: String,
    service_type: String,
    status: String,
    follow_up_on: Option<String>,
    sent_at: Option<String>,
    first_opened_at: Option<String>,
    version: i32,
}

impl From<ReferralSummary> for ReferralSummaryOut {
    fn from(r: ReferralSummary) -> Self {
        ReferralSummaryOut {
            id: r.id,
            case_id: r.case_id,
            organisation_id: r.organisation_id,
            service_type: r.service_type,
            status: r.status,
            follow_up_on: r.follow_up_on,
            sent_at: r.sent_at.map(rfc3339),
            first_opened_at: r.first_opened_at.map(rfc3339),
            version: r.version,
        }
    }
}

/// Referrals, newest first, without packets.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralList {
    referrals: Vec<ReferralSummaryOut>,
}

impl From<Vec<ReferralSummary>> for ReferralList {
    fn from(list: Vec<ReferralSummary>) -> Self {
        ReferralList {
            referrals: list.into_iter().map(ReferralSummaryOut::from).collect(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"service_id": "9a1f…", "safety_needs": "Must not be placed in Lviv city", "follow_up_on": "2026-12-07"}))]
pub(crate) struct ReferralBody {
    /// A service from the directory.
    service_id: String,
    /// Shared with shelter, legal and medical services (sealed).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    safety_needs: Option<Sensitive<String>>,
    /// Shared with medical services only (sealed).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    health_needs: Option<Sensitive<String>>,
    /// YYYY-MM-DD.
    #[serde(default)]
    follow_up_on: Option<String>,
    /// Supervisors only, when no live consent covers the provider: why it must go anyway.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    override_justification: Option<Sensitive<String>>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/referrals", tag = "referrals", security(("bearer" = [])), request_body = ReferralBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "A draft, with the packet exactly as it would be sent", body = ReferralOut), (status = 401, description = "Not signed in"),
              (status = 403, description = "Only a supervisor may override a missing consent"),
              (status = 404, description = "No such case, or not one the actor may refer"),
              (status = 409, description = "No live consent covers this provider"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn create(
    session: Session<Claimed>,
    case_id: web::Path<String>,
    body: web::Json<ReferralBody>,
) -> Result<HttpResponse, ApiError> {
    let ReferralBody {
        service_id,
        safety_needs,
        health_needs,
        follow_up_on,
        override_justification,
    } = body.into_inner();
    let new = NewReferral {
        service_id,
        notes: PacketNotes {
            safety_needs: safety_needs.map(Sensitive::into_inner),
            health_needs: health_needs.map(Sensitive::into_inner),
        },
        follow_up_on,
        override_justification,
    };
    let view = session
        .run(move |vault, s, who| {
            Ok(vault.create_referral_in_session(&s.db, who.claim(), &s.auth, &case_id, new)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(ReferralOut::from(view)))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/referrals", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case's referrals, newest first, without packets", body = ReferralList), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or not one the actor may see")))]
pub(crate) async fn list_for_case(
    session: Session,
    case_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let list = session
        .run(move |vault, s, actor| Ok(vault.list_referrals(&s.db, actor, Some(&case_id))?))
        .await?;
    Ok(HttpResponse::Ok().json(ReferralList::from(list)))
}

#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", security(("bearer" = [])),
    responses((status = 200, description = "A partner's live incoming referrals; a case worker's open ones; every open one for a supervisor", body = ReferralList),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn list(session: Session) -> Result<HttpResponse, ApiError> {
    let list = session
        .run(move |vault, s, actor| Ok(vault.list_referrals(&s.db, actor, None)?))
        .await?;
    Ok(HttpResponse::Ok().json(ReferralList::from(list)))
}

#[utoipa::path(get, path = "/api/v1/referrals/due", tag = "referrals", security(("bearer" = [])),
    responses((status = 200, description = "The actor's open referrals whose follow-up date has come", body = ReferralList),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn due(session: Session) -> Result<HttpResponse, ApiError> {
    let list = session
        .run(move |vault, s, actor| {
            let today = rfc3339(persistence::now_micros())[..10].to_string();
            Ok(vault.due_referrals(&s.db, actor, &today)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReferralList::from(list)))
}

#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "The referral with its packet while it has one; a partner's read is recorded on it", body = ReferralOut),
              (status = 401, description = "Not signed in"), (status = 404, description = "No such referral, or not one the actor may see")))]
pub(crate) async fn read(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = session
        .run(move |vault, s, actor| Ok(vault.read_referral(&s.db, actor, &id)?))
        .await?;
    Ok(HttpResponse::Ok().json(ReferralOut::from(view)))
}

/// The version read, and for some moves a text.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 2}))]
pub(crate) struct MoveBody {
    version: i32,
    /// Decline: the reason. Complete: the outcome. Sealed.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    reason: Option<Sensitive<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    outcome: Option<Sensitive<String>>,
}

async fn hotline_move(
    session: Session,
    id: String,
    body: MoveBody,
    next: Status,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            Ok(vault.move_referral(&s.db, actor, &s.referrals, &id, body.version, next)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/send", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Sent: the provider is notified and the ledger records what they received; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such referral, or not one the actor may send"),
              (status = 409, description = "Stale version, not a draft, or the consent no longer covers it")))]
pub(crate) async fn send(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    hotline_move(session, id.into_inner(), body.into_inner(), Status::Sent).await
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/cancel", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Cancelled: the packet is shredded and a provider who had it is told; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such referral, or not one the actor may cancel"), (status = 409, description = "Stale version or already ended")))]
pub(crate) async fn cancel(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    hotline_move(
        session,
        id.into_inner(),
        body.into_inner(),
        Status::Cancelled,
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 3, "follow_up_on": "2026-12-14"}))]
pub(crate) struct FollowUpBody {
    version: i32,
    /// YYYY-MM-DD, or null to clear.
    follow_up_on: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/follow-up", tag = "referrals", security(("bearer" = [])), request_body = FollowUpBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Rescheduled; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such referral"), (status = 409, description = "Stale version or already ended"),
              (status = 422, description = "Not a date")))]
pub(crate) async fn follow_up(
    session: Session,
    id: web::Path<String>,
    body: web::Json<FollowUpBody>,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            let FollowUpBody {
                version,
                follow_up_on,
            } = body.into_inner();
            Ok(vault.set_follow_up(&s.db, actor, &id, version, follow_up_on)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

async fn partner_move(
    session: Session,
    id: String,
    body: MoveBody,
    make: fn(Option<Sensitive<String>>, Option<Sensitive<String>>) -> PartnerAnswer,
) -> Result<HttpResponse, ApiError> {
    let MoveBody {
        version,
        reason,
        outcome,
    } = body;
    let answer = make(reason, outcome);
    let version = session
        .run(move |vault, s, actor| {
            Ok(vault.answer_referral(&s.db, actor, &s.referrals, &id, version, answer)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

fn empty() -> Sensitive<String> {
    Sensitive::new(String::new())
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/accept", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Accepted; the case worker is notified; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such live referral to the actor's organisation"), (status = 409, description = "Stale version or not awaiting an answer")))]
pub(crate) async fn accept(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    partner_move(session, id.into_inner(), body.into_inner(), |_, _| {
        PartnerAnswer::Accept
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/decline", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Declined with a reason; the packet is shredded and the case worker notified; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such live referral to the actor's organisation"), (status = 409, description = "Stale version or not awaiting an answer"),
              (status = 422, description = "The reason is missing")))]
pub(crate) async fn decline(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    partner_move(session, id.into_inner(), body.into_inner(), |r, _| {
        PartnerAnswer::Decline(r.unwrap_or_else(empty))
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/start", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "In progress; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such live referral to the actor's organisation"), (status = 409, description = "Stale version or not accepted")))]
pub(crate) async fn start(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    partner_move(session, id.into_inner(), body.into_inner(), |_, _| {
        PartnerAnswer::Start
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/referrals/{id}/complete", tag = "referrals", security(("bearer" = [])), request_body = MoveBody,
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, description = "Completed with the outcome; the packet is shredded; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such live referral to the actor's organisation"), (status = 409, description = "Stale version or not accepted"),
              (status = 422, description = "The outcome is missing")))]
pub(crate) async fn complete(
    session: Session,
    id: web::Path<String>,
    body: web::Json<MoveBody>,
) -> Result<HttpResponse, ApiError> {
    partner_move(session, id.into_inner(), body.into_inner(), |_, o| {
        PartnerAnswer::Complete(o.unwrap_or_else(empty))
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_csv_with_any_bad_row_is_refused_by_line() {
        let good = "organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description\n\
                    shelter-1,Shelter One,intake@one.example.org,uk,uk;en,UA-46,Women 18+,true,shelter,24 beds\n\
                    shelter-1,Shelter One,intake@one.example.org,uk,uk;en,UA-46,Women 18+,true,psychological,\"Counselling, weekly\"\n";
        let orgs = super::parse_csv(good.as_bytes()).unwrap();
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0].services.len(), 2);
        let bad = format!("{good}lawyers,Lawyers,not-an-address,uk,uk,UA-30,,true,legal,\nshelter-1,Shelter Two,,uk,uk,UA-46,,true,shelter,x\nx,y\n");
        let errors = super::parse_csv(bad.as_bytes()).unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["line 4", "line 5", "line 6"],
            "{errors:?}"
        );
        assert!(super::parse_csv(b"name,organisation\n").is_err());
    }

    #[test]
    fn exported_cells_never_start_a_formula_and_read_back_the_same() {
        for cell in ["=HYPERLINK(\"http://x\")", "+380", "-1", "@SUM(A1)", "\tx"] {
            let out = super::csv_cell(cell);
            assert!(out.starts_with('\''), "{cell}");
            let csv = format!(
                "organisation,name,notification_email,language,languages,regions,intake_criteria,active,service_type,description\n\
                 org-1,Org,,uk,uk,UA-46,,true,shelter,\"{}\"\n",
                out.replace('"', "\"\"")
            );
            let orgs = super::parse_csv(csv.as_bytes()).unwrap();
            assert_eq!(orgs[0].services[0].1, cell.trim(), "{cell}");
        }
        assert_eq!(super::csv_cell("Shelter"), "Shelter");
    }

    proptest::proptest! {
        /// Any upload, however broken, is refused or read; never a panic, never its text echoed.
        #[test]
        fn any_bytes_are_a_csv_or_a_refusal(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            if let Err(errors) = super::parse_csv(&bytes) {
                let text = String::from_utf8_lossy(&bytes);
                for m in errors.values() {
                    proptest::prop_assert!(text.len() < 8 || !m.contains(text.as_ref()));
                }
            }
        }
    }
}
