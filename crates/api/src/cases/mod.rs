//! Case files over HTTP: open (alone or from a call), read, change, assign, list, search; notes,
//! plan items and consents; break-glass and its review.

use actix_web::{web, HttpResponse};
use domain::cases::{ConsentFacts, VictimProfile};
use domain::normalize::PhoneNumber;
use domain::Sensitive;
use persistence::cases::{
    CaseChanges, CaseFile, CaseFilter, CaseSummary, ConsentView, GrantView, PlanChanges,
    PlanItemView, Verdict,
};
use persistence::identity::Reauth;
use persistence::AuthError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Claimed, Session};
use crate::bodies::{cursor, Created, Versioned};
use crate::calls::{micros, present, rfc3339};
use crate::ApiError;

mod break_glass;
mod consents;
mod notes;
mod plan;

pub(crate) use self::{break_glass::*, consents::*, notes::*, plan::*};

/// The fields of a case as a client sends them, to open one (every field optional; what is
/// not sent keeps its default or what the call carried over) or to change one (only the fields
/// sent change; `null` removes an optional value). Codes come from `GET /api/v1/vocabularies`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "risk_level": "high", "gender": "female", "age_band": "21-23", "nationality": "UA",
    "exploitation_types": ["forced_labour"], "control_methods": ["withheld_documents", "debt_bondage"],
    "recruitment": "online", "recruitment_countries": ["UA"], "exploitation_countries": ["PL"],
    "exploitation_from": "2026-03", "exploitation_to": "2026-09", "nrm_status": "pending",
    "profile": {"given_name": "Olena", "family_name": "Example", "languages": ["uk"],
        "contact": {"safe_contact": "Text only, never after 18:00; never leave voicemail", "phones": ["+380501234567"]},
        "documents": [{"kind": "passport", "status": "withheld"}]},
    "exploitation_details": "Free text, sealed.", "needs_assessment": "Free text, sealed."
}))]
pub(crate) struct CaseBody {
    /// Required to change a case: the version read (a stale one gets 409).
    #[serde(default)]
    version: Option<i32>,
    /// Only to change a case, along the allowed transitions (else 409).
    #[serde(default)]
    status: Option<String>,
    /// Only when opening: a supervisor may name the case worker.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    assigned_to: Option<Option<String>>,
    #[serde(default)]
    risk_level: Option<String>,
    #[serde(default)]
    gender: Option<String>,
    #[serde(default)]
    age_band: Option<String>,
    #[serde(default)]
    nationality: Option<String>,
    #[serde(default)]
    exploitation_types: Option<Vec<String>>,
    #[serde(default)]
    control_methods: Option<Vec<String>>,
    #[serde(default)]
    recruitment: Option<String>,
    #[serde(default)]
    recruitment_countries: Option<Vec<String>>,
    #[serde(default)]
    transit_countries: Option<Vec<String>>,
    #[serde(default)]
    exploitation_countries: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    exploitation_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    exploitation_to: Option<Option<String>>,
    #[serde(default)]
    nrm_status: Option<String>,
    /// The victim profile, replaced as a whole; sealed at rest.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    profile: Option<Option<Sensitive<VictimProfile>>>,
    /// Sealed at rest.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    exploitation_details: Option<Option<Sensitive<String>>>,
    /// Sealed at rest.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    needs_assessment: Option<Option<Sensitive<String>>>,
}

impl CaseBody {
    fn split(self) -> (Option<i32>, Option<Option<String>>, CaseChanges) {
        let CaseBody {
            version,
            status,
            assigned_to,
            risk_level,
            gender,
            age_band,
            nationality,
            exploitation_types,
            control_methods,
            recruitment,
            recruitment_countries,
            transit_countries,
            exploitation_countries,
            exploitation_from,
            exploitation_to,
            nrm_status,
            profile,
            exploitation_details,
            needs_assessment,
        } = self;
        (
            version,
            assigned_to,
            CaseChanges {
                risk_level,
                gender,
                age_band,
                nationality,
                exploitation_types,
                control_methods,
                recruitment,
                recruitment_countries,
                transit_countries,
                exploitation_countries,
                exploitation_from,
                exploitation_to,
                nrm_status,
                status,
                profile,
                exploitation_details,
                needs_assessment,
            },
        )
    }

    /// For opening a case: no version.
    fn for_opening(self) -> Result<(Option<String>, CaseChanges), ApiError> {
        let (version, assigned_to, changes) = self.split();
        if version.is_some() {
            return Err(ApiError::invalid_field(
                "version",
                "a new case has no version yet",
            ));
        }
        Ok((assigned_to.flatten(), changes))
    }
}

/// A case without personal content, as lists show it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CaseSummaryBody {
    id: String,
    /// The public reference, YYYY-NNNNNN.
    reference: String,
    status: String,
    assigned_to: Option<String>,
    risk_level: String,
    opened_at: String,
    closed_at: Option<String>,
    version: i32,
    updated_at: String,
}

impl From<CaseSummary> for CaseSummaryBody {
    fn from(s: CaseSummary) -> Self {
        CaseSummaryBody {
            opened_at: rfc3339(s.opened_at),
            closed_at: s.closed_at.map(rfc3339),
            updated_at: rfc3339(s.updated_at),
            id: s.id,
            reference: s.reference,
            status: s.status,
            assigned_to: s.assigned_to,
            risk_level: s.risk_level,
            version: s.version,
        }
    }
}

/// A case of the list: its summary and the next follow-up due.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ListedCaseBody {
    #[serde(flatten)]
    summary: CaseSummaryBody,
    /// The earliest date (YYYY-MM-DD, past dates included: overdue) an open plan item is due
    /// or an open referral is to be followed up; none when nothing is.
    next_follow_up: Option<String>,
}

/// A page of cases, newest first, and the cursor of the next page (none on the last).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CaseListBody {
    cases: Vec<ListedCaseBody>,
    next_cursor: Option<String>,
}

/// A new case's id and public reference.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CaseCreated {
    id: String,
    /// YYYY-NNNNNN.
    reference: String,
}

/// A case the search found: the summary and the person's name.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchHitBody<'a> {
    #[serde(flatten)]
    summary: CaseSummaryBody,
    name: &'a str,
}

/// The cases a search found, that the actor may read.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchResult<'a> {
    cases: Vec<SearchHitBody<'a>>,
}

/// A note at its current revision.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NoteOut {
    id: String,
    author_id: String,
    revision: i32,
    created_at: String,
    updated_at: String,
    body: String,
}

/// One entry of a plan item's progress notes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ProgressBody {
    at: String,
    author_id: String,
    text: String,
}

/// A reintegration plan item.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PlanItemBody {
    id: String,
    domain: String,
    status: String,
    due_on: Option<String>,
    completed_at: Option<String>,
    goal: String,
    progress: Vec<ProgressBody>,
    version: i32,
    created_by: String,
    updated_at: String,
}

/// A consent the person gave, and whether it is live now.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsentOut {
    id: String,
    purpose: String,
    service_types: Vec<String>,
    organisations: Vec<String>,
    scope: Option<String>,
    given_at: String,
    expires_at: Option<String>,
    recorded_by: String,
    withdrawn_at: Option<String>,
    withdrawn_by: Option<String>,
    live: bool,
}

/// A call linked to the case (statistical fields only).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LinkedCallBody {
    id: String,
    started_at: String,
    channel: String,
    outcome: String,
}

/// A whole case file: the summary's fields, the statistical facts, the sealed content opened,
/// and the case's notes, plan, consents and linked calls.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CaseFileBody {
    #[serde(flatten)]
    summary: CaseSummaryBody,
    opened_by: String,
    gender: String,
    age_band: String,
    nationality: String,
    exploitation_types: Vec<String>,
    control_methods: Vec<String>,
    recruitment: String,
    recruitment_countries: Vec<String>,
    transit_countries: Vec<String>,
    exploitation_countries: Vec<String>,
    exploitation_from: Option<String>,
    exploitation_to: Option<String>,
    nrm_status: String,
    /// The victim profile; its contact block always carries `safe_contact` next to the phones,
    /// e-mail and address.
    #[schema(value_type = Option<Object>)]
    profile: Option<Value>,
    exploitation_details: Option<String>,
    needs_assessment: Option<String>,
    notes: Vec<NoteOut>,
    plan: Vec<PlanItemBody>,
    consents: Vec<ConsentOut>,
    calls: Vec<LinkedCallBody>,
    /// While the actor reads under a break-glass grant: when it ends.
    break_glass_until: Option<String>,
    /// Under a legal hold (retention and erasure skip it).
    legal_hold: bool,
    /// When the case's personal content was erased (only facts remain).
    erased_at: Option<String>,
}

impl From<CaseFile> for CaseFileBody {
    fn from(file: CaseFile) -> Self {
        let f = file.facts;
        CaseFileBody {
            summary: file.summary.into(),
            opened_by: file.opened_by,
            gender: f.gender,
            age_band: f.age_band,
            nationality: f.nationality,
            exploitation_types: f.exploitation_types,
            control_methods: f.control_methods,
            recruitment: f.recruitment,
            recruitment_countries: f.recruitment_countries,
            transit_countries: f.transit_countries,
            exploitation_countries: f.exploitation_countries,
            exploitation_from: f.exploitation_from,
            exploitation_to: f.exploitation_to,
            nrm_status: f.nrm_status,
            profile: file
                .profile
                .as_ref()
                .map(|p| serde_json::to_value(p.expose()).unwrap_or(Value::Null)),
            exploitation_details: file.exploitation_details.map(Sensitive::into_inner),
            needs_assessment: file.needs_assessment.map(Sensitive::into_inner),
            notes: file
                .notes
                .into_iter()
                .map(|n| NoteOut {
                    created_at: rfc3339(n.created_at),
                    updated_at: rfc3339(n.updated_at),
                    id: n.id,
                    author_id: n.author_id,
                    revision: n.revision,
                    body: n.body.into_inner(),
                })
                .collect(),
            plan: file.plan.into_iter().map(plan_body).collect(),
            consents: file.consents.into_iter().map(consent_body).collect(),
            calls: file
                .calls
                .into_iter()
                .map(|c| LinkedCallBody {
                    started_at: rfc3339(c.started_at),
                    id: c.id,
                    channel: c.channel,
                    outcome: c.outcome,
                })
                .collect(),
            break_glass_until: file.break_glass_until.map(rfc3339),
            legal_hold: file.legal_hold,
            erased_at: file.erased_at.map(rfc3339),
        }
    }
}

fn plan_body(p: PlanItemView) -> PlanItemBody {
    PlanItemBody {
        completed_at: p.completed_at.map(rfc3339),
        updated_at: rfc3339(p.updated_at),
        progress: p
            .progress
            .into_iter()
            .map(|e| ProgressBody {
                at: rfc3339(e.at),
                author_id: e.author_id,
                text: e.text,
            })
            .collect(),
        id: p.id,
        domain: p.facts.domain,
        status: p.facts.status,
        due_on: p.facts.due_on,
        goal: p.goal.into_inner(),
        version: p.version,
        created_by: p.created_by,
    }
}

fn consent_body(c: ConsentView) -> ConsentOut {
    ConsentOut {
        given_at: rfc3339(c.facts.given_at),
        expires_at: c.facts.expires_at.map(rfc3339),
        withdrawn_at: c.withdrawn_at.map(rfc3339),
        id: c.id,
        purpose: c.facts.purpose,
        service_types: c.facts.service_types,
        organisations: c.facts.organisations,
        scope: c.scope.map(Sensitive::into_inner),
        recorded_by: c.recorded_by,
        withdrawn_by: c.withdrawn_by,
        live: c.live,
    }
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), request_body = CaseBody,
    responses((status = 201, description = "Opened; its id and public reference", body = CaseCreated),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"),
              (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn create(
    session: Session,
    body: web::Json<CaseBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, reference) = session
        .run(move |vault, s, actor| {
            let (assigned_to, changes) = body.into_inner().for_opening()?;
            Ok(vault.create_case(&s.db, actor, &s.calls, None, assigned_to, changes)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(CaseCreated { id, reference }))
}

#[utoipa::path(post, path = "/api/v1/calls/{id}/case", tag = "cases", security(("bearer" = [])), request_body = CaseBody,
    params(("id" = String, Path, description = "Call id")),
    responses((status = 201, description = "Opened from the call (its statistical fields carried over, the call linked); the case's id and reference", body = CaseCreated),
              (status = 401, description = "Not signed in"), (status = 404, description = "No such call, or not one the actor may use"),
              (status = 409, description = "The call is already linked to a case"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn open_from_call(
    session: Session,
    call_id: web::Path<String>,
    body: web::Json<CaseBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, reference) = session
        .run(move |vault, s, actor| {
            let (assigned_to, changes) = body.into_inner().for_opening()?;
            let call = Some(call_id.as_str());
            Ok(vault.create_case(&s.db, actor, &s.calls, call, assigned_to, changes)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(CaseCreated { id, reference }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"case_id": "e2b9013090ec87ea1a80a96a36b93149"}))]
pub(crate) struct LinkBody {
    case_id: String,
}

#[utoipa::path(put, path = "/api/v1/calls/{id}/case", tag = "cases", security(("bearer" = [])), request_body = LinkBody,
    params(("id" = String, Path, description = "Call id")),
    responses((status = 204, description = "The call is linked to the case"), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such call or case, or not one the actor may change"),
              (status = 409, description = "The call changed meanwhile")))]
pub(crate) async fn link_call(
    session: Session,
    call_id: web::Path<String>,
    body: web::Json<LinkBody>,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            Ok(vault.link_call(&s.db, actor, &s.calls, &call_id, &body.case_id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case file: facts, profile (its contact block always with the safe-contact instructions), narratives, notes, plan, consents, linked calls", body = CaseFileBody),
              (status = 401, description = "Not signed in"), (status = 404, description = "No such case, or not one the actor may see")))]
pub(crate) async fn read(
    session: Session<Claimed>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, file) = session
        .run(move |vault, s, who| {
            Ok(vault.read_case_in_session(&s.db, who.claim(), &s.auth, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(CaseFileBody::from(file)))
}

#[utoipa::path(patch, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])), request_body = CaseBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "Changed; the new version", body = Versioned),
              (status = 401, description = "Not signed in"), (status = 403, description = "Read-only under break-glass"),
              (status = 404, description = "No such case, or not one the actor may change"),
              (status = 409, description = "The case changed since it was read, or the status cannot move that way"),
              (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn update(
    session: Session,
    id: web::Path<String>,
    body: web::Json<CaseBody>,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            let (version, assigned_to, changes) = body.into_inner().split();
            if assigned_to.is_some() {
                return Err(ApiError::invalid_field(
                    "assigned_to",
                    "assign with POST /api/v1/cases/{id}/assignment",
                ));
            }
            let version =
                version.ok_or_else(|| ApiError::invalid_field("version", "is required"))?;
            Ok(vault.update_case(&s.db, actor, &s.calls, &id, version, changes)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 3, "assigned_to": "5d0c8a0e1f6b4c2a9e7d3b1f0a2c4e6d"}))]
pub(crate) struct AssignBody {
    version: i32,
    /// A case worker's (or supervisor's) user id; `null` returns the case to the queue.
    assigned_to: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/assignment", tag = "cases", security(("bearer" = [])), request_body = AssignBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "Assigned; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or the actor may not assign"),
              (status = 409, description = "The case changed since it was read"), (status = 422, description = "Not someone a case can go to")))]
pub(crate) async fn assign(
    session: Session,
    id: web::Path<String>,
    body: web::Json<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            let AssignBody {
                version,
                assigned_to,
            } = body.into_inner();
            Ok(vault.assign_case(&s.db, actor, &id, version, assigned_to)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    limit: Option<i64>,
    status: Option<String>,
    risk_level: Option<String>,
    /// Supervisors: a user id, or `none` for the unassigned queue.
    assigned_to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "Cases, newest first, without personal content (a case worker's own; all for a supervisor), and the next cursor", body = CaseListBody),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn list(
    session: Session,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery {
        cursor,
        limit,
        status,
        risk_level,
        assigned_to,
    } = query.into_inner();
    let limit = limit.unwrap_or(50).clamp(1, 200);
    let cases = session
        .run(move |vault, s, actor| {
            let filter = CaseFilter {
                status,
                risk_level,
                assigned_to,
                before: cursor::parse(cursor)?,
                limit,
            };
            Ok(vault.list_cases(&s.db, actor, &filter)?)
        })
        .await?;
    let next = cursor::next(&cases, limit, |c| (c.summary.opened_at, &c.summary.id));
    Ok(HttpResponse::Ok().json(CaseListBody {
        cases: cases
            .into_iter()
            .map(|c| ListedCaseBody {
                summary: c.summary.into(),
                next_follow_up: c.next_follow_up,
            })
            .collect(),
        next_cursor: next,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Olena Example"}))]
pub(crate) struct SearchBody {
    /// The victim's full name or another name they are known by (exact, after normalisation).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    name: Option<Sensitive<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    phone: Option<Sensitive<String>>,
}

#[utoipa::path(post, path = "/api/v1/cases/search", tag = "cases", security(("bearer" = [])), request_body = SearchBody,
    responses((status = 200, description = "Matching cases the actor may read", body = SearchResult), (status = 401, description = "Not signed in"),
              (status = 403, description = "The policy denies it"), (status = 422, description = "Nothing to search for, or not a phone number")))]
pub(crate) async fn search(
    session: Session,
    body: web::Json<SearchBody>,
) -> Result<HttpResponse, ApiError> {
    let hits = session
        .run(move |vault, s, actor| {
            let SearchBody { name, phone } = body.into_inner();
            let name = name.filter(|n| !n.expose().trim().is_empty());
            let phone = phone
                .filter(|p| !p.expose().trim().is_empty())
                .map(|p| {
                    PhoneNumber::parse(p.expose(), &s.calls.default_country_code).ok_or_else(|| {
                        ApiError::invalid_field(
                            "phone",
                            "is not a phone number (international, or national with a leading 0)",
                        )
                    })
                })
                .transpose()?;
            if name.is_none() && phone.is_none() {
                return Err(ApiError::invalid_field("name", "send a name or a phone"));
            }
            Ok(vault.search_cases(&s.db, actor, name.as_ref(), phone.as_ref())?)
        })
        .await?;
    let cases = hits
        .iter()
        .map(|h| SearchHitBody {
            summary: h.summary.clone().into(),
            name: h.name.expose(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(SearchResult { cases }))
}
