//! Calls over HTTP: log one while the caller is on the line, read one, list, and ask whether a
//! number called before.

use crate::auth::Session;
use crate::bodies::{Created, Versioned};
use crate::ApiError;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::calls::{validate, CallInput};
use domain::normalize::PhoneNumber;
use domain::Sensitive;
use persistence::calls::{CallFacts, CallView};
use serde::{Deserialize, Serialize};

pub(crate) fn micros(field: &'static str, text: &str) -> Result<i64, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
        .map_err(|_| {
            ApiError::invalid_field(
                field,
                "must be an RFC 3339 time such as 2026-11-30T14:05:00Z",
            )
        })
}

pub(crate) fn rfc3339(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A call as logged. Times are RFC 3339; codes come from `GET /api/v1/vocabularies`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "phone", "direction": "inbound", "started_at": "2026-11-30T09:30:00Z",
    "ended_at": "2026-11-30T09:50:00Z", "caller_role": "potential_victim", "topics": ["trafficking_labour"],
    "region": "UA-46", "caller_gender": "female", "caller_age_group": "24-26", "language": "uk",
    "outcome": "referral", "caller_phone": "050 765 43 21", "summary": "Passport taken by the employer"}))]
pub(crate) struct NewCall {
    channel: String,
    direction: String,
    started_at: String,
    #[serde(default)]
    ended_at: Option<String>,
    caller_role: String,
    topics: Vec<String>,
    region: String,
    caller_gender: String,
    caller_age_group: String,
    language: String,
    outcome: String,
    /// Sealed at rest.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    summary: Option<Sensitive<String>>,
    /// Sealed at rest.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    caller_name: Option<Sensitive<String>>,
    /// Sealed at rest, and findable by the repeat-caller lookup.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    caller_phone: Option<Sensitive<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+380507654321"}))]
pub(crate) struct LookupRequest {
    #[schema(value_type = String)]
    phone: Sensitive<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
    pub(crate) limit: Option<i64>,
    /// Calls that started at or after this time (RFC 3339).
    pub(crate) from: Option<String>,
    /// Calls that started before this time (RFC 3339).
    pub(crate) to: Option<String>,
    /// A topic code.
    pub(crate) topic: Option<String>,
    /// An outcome code.
    pub(crate) outcome: Option<String>,
    /// A region code.
    pub(crate) region: Option<String>,
}

/// A call's statistical facts: no personal field.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CallFactsBody {
    id: String,
    counselor_id: String,
    channel: String,
    direction: String,
    started_at: String,
    ended_at: Option<String>,
    caller_role: String,
    topics: Vec<String>,
    region: String,
    caller_gender: String,
    caller_age_group: String,
    language: String,
    outcome: String,
    case_id: Option<String>,
    version: i32,
    updated_at: String,
}

impl From<CallFacts> for CallFactsBody {
    fn from(f: CallFacts) -> Self {
        let CallFacts {
            id,
            counselor_id,
            channel,
            direction,
            started_at,
            ended_at,
            caller_role,
            topics,
            region,
            caller_gender,
            caller_age_group,
            language,
            outcome,
            case_id,
            version,
            updated_at,
        } = f;
        CallFactsBody {
            id,
            counselor_id,
            channel,
            direction,
            started_at: rfc3339(started_at),
            ended_at: ended_at.map(rfc3339),
            caller_role,
            topics,
            region,
            caller_gender,
            caller_age_group,
            language,
            outcome,
            case_id,
            version,
            updated_at: rfc3339(updated_at),
        }
    }
}

/// A call with its personal fields opened.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CallBody<'a> {
    #[serde(flatten)]
    facts: CallFactsBody,
    summary: Option<&'a str>,
    caller_name: Option<&'a str>,
    caller_phone: Option<&'a str>,
}

/// A page of calls, newest first, and the cursor of the next page (none on the last).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CallPage {
    calls: Vec<CallFactsBody>,
    next_cursor: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", security(("bearer" = [])), request_body = NewCall,
    responses((status = 201, description = "Logged; the call's id", body = Created), (status = 401, description = "Not signed in"),
              (status = 403, description = "The policy denies it"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn create(
    session: Session,
    body: web::Json<NewCall>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = session
        .run(move |vault, s, actor| {
            let input = body.input()?;
            let call = validate(
                input,
                persistence::now_micros(),
                &s.calls.default_country_code,
            )
            .map_err(ApiError::invalid_fields)?;
            Ok(vault.create_call(&s.db, actor, &call)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Created { id }))
}

impl NewCall {
    /// The call as the domain takes it, or 422 for a time that is not RFC 3339.
    fn input(self) -> Result<CallInput, ApiError> {
        Ok(CallInput {
            started_at: micros("started_at", &self.started_at)?,
            ended_at: self.ended_at.map(|e| micros("ended_at", &e)).transpose()?,
            channel: self.channel,
            direction: self.direction,
            caller_role: self.caller_role,
            topics: self.topics,
            region: self.region,
            caller_gender: self.caller_gender,
            caller_age_group: self.caller_age_group,
            language: self.language,
            outcome: self.outcome,
            summary: self.summary,
            caller_name: self.caller_name,
            caller_phone: self.caller_phone,
        })
    }
}

/// What the repeat-caller lookup tells a counselor.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CallerHistoryBody {
    /// How many calls came from this number.
    calls: usize,
    /// When (RFC 3339), oldest first.
    dates: Vec<String>,
    /// Cases linked to those calls.
    case_ids: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", security(("bearer" = [])),
    params(("id" = String, Path, description = "Call id")),
    responses((status = 200, description = "The call with its personal fields", body = CallBody), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such call, or not one the actor may see")))]
pub(crate) async fn read(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let CallView {
        facts,
        summary,
        caller_name,
        caller_phone,
    } = session
        .run(move |vault, s, actor| Ok(vault.read_call(&s.db, actor, &s.calls, &id)?))
        .await?;
    Ok(HttpResponse::Ok().json(CallBody {
        facts: facts.into(),
        summary: summary.as_ref().map(|v| v.expose().as_str()),
        caller_name: caller_name.as_ref().map(|v| v.expose().as_str()),
        caller_phone: caller_phone.as_ref().map(|v| v.expose().as_str()),
    }))
}

#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "Calls, newest first (no personal fields), and the next cursor", body = CallPage),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn list(
    session: Session,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = session
        .run(move |vault, s, actor| {
            let filter = query.into_inner().filter()?;
            let calls = vault.list_calls(&s.db, actor, &s.calls, &filter)?;
            Ok(CallPage::of(calls, filter.limit))
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

impl ListQuery {
    /// The list's filter, or 422 naming every code that is not in its vocabulary (400 for a
    /// cursor this server did not give).
    pub(crate) fn filter(self) -> Result<persistence::calls::CallFilter, ApiError> {
        let ListQuery {
            cursor,
            limit,
            from,
            to,
            topic,
            outcome,
            region,
        } = self;
        let mut errors = std::collections::BTreeMap::new();
        for (field, value, vocabulary) in [
            ("topic", &topic, domain::vocabulary::TOPIC),
            ("outcome", &outcome, domain::vocabulary::OUTCOME),
            ("region", &region, domain::vocabulary::REGION),
        ] {
            if value.as_deref().is_some_and(|v| !vocabulary.contains(v)) {
                errors.insert(
                    field.to_string(),
                    format!(
                        "must be one of the codes of the {} vocabulary",
                        vocabulary.name
                    ),
                );
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_fields(errors));
        }
        let from = from.map(|t| micros("from", &t)).transpose()?;
        let to = to.map(|t| micros("to", &t)).transpose()?;
        let before = crate::bodies::cursor::parse(cursor)?;
        Ok(persistence::calls::CallFilter {
            from,
            to,
            topic,
            outcome,
            region,
            before,
            limit: limit.unwrap_or(50).clamp(1, 200),
        })
    }
}

impl CallPage {
    /// A page of `limit` calls at most; a full page has a next cursor.
    fn of(calls: Vec<CallFacts>, limit: i64) -> Self {
        let next_cursor = crate::bodies::cursor::next(&calls, limit, |c| (c.started_at, &c.id));
        CallPage {
            calls: calls.into_iter().map(CallFactsBody::from).collect(),
            next_cursor,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/calls/lookup", tag = "calls", security(("bearer" = [])), request_body = LookupRequest,
    responses((status = 200, description = "How often and when this number called, and linked cases", body = CallerHistoryBody),
              (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"),
              (status = 422, description = "Not a phone number")))]
pub(crate) async fn lookup(
    session: Session,
    body: web::Json<LookupRequest>,
) -> Result<HttpResponse, ApiError> {
    let history = session
        .run(move |vault, s, actor| {
            let phone = PhoneNumber::parse(body.phone.expose(), &s.calls.default_country_code)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "phone",
                        "is not a phone number (international, or national with a leading 0)",
                    )
                })?;
            Ok(vault.lookup_caller(&s.db, actor, &phone)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(CallerHistoryBody {
        calls: history.calls,
        dates: history.dates.into_iter().map(rfc3339).collect(),
        case_ids: history.case_ids,
    }))
}

/// Absent stays absent (`None`); `null` becomes `Some(None)`: "remove this value".
pub(crate) fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Changes to a call: only the fields sent change; `null` removes a personal field. `version`
/// is the one read: if the call changed since, the answer is 409 and nothing is written.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"version": 1, "outcome": "case_opened", "caller_name": null}))]
pub(crate) struct CallChanges {
    version: i32,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    ended_at: Option<Option<String>>,
    #[serde(default)]
    caller_role: Option<String>,
    #[serde(default)]
    topics: Option<Vec<String>>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    caller_gender: Option<String>,
    #[serde(default)]
    caller_age_group: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    summary: Option<Option<Sensitive<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    caller_name: Option<Option<Sensitive<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    caller_phone: Option<Option<Sensitive<String>>>,
}

#[utoipa::path(patch, path = "/api/v1/calls/{id}", tag = "calls", security(("bearer" = [])), request_body = CallChanges,
    params(("id" = String, Path, description = "Call id")),
    responses((status = 200, description = "Changed; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such call, or not one the actor may change"),
              (status = 409, description = "The call changed since it was read"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn update(
    session: Session,
    id: web::Path<String>,
    body: web::Json<CallChanges>,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            let (version, patch) = body.into_inner().patch()?;
            Ok(vault.update_call(&s.db, actor, &s.calls, &id, version, patch)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}

impl CallChanges {
    /// The version read and the changes, or 422 for a time that is not RFC 3339.
    fn patch(self) -> Result<(i32, persistence::calls::CallPatch), ApiError> {
        let CallChanges {
            version,
            channel,
            direction,
            started_at,
            ended_at,
            caller_role,
            topics,
            region,
            caller_gender,
            caller_age_group,
            language,
            outcome,
            summary,
            caller_name,
            caller_phone,
        } = self;
        let patch = persistence::calls::CallPatch {
            channel,
            direction,
            started_at: started_at.map(|t| micros("started_at", &t)).transpose()?,
            ended_at: ended_at
                .map(|e| e.map(|t| micros("ended_at", &t)).transpose())
                .transpose()?,
            caller_role,
            topics,
            region,
            caller_gender,
            caller_age_group,
            language,
            outcome,
            summary,
            caller_name,
            caller_phone,
        };
        Ok((version, patch))
    }
}
