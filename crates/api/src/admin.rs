//! Account management for admins, and the auditor console. Every route asks the policy (in
//! the vault) and every use, allowed or denied, is in the access log.

use actix_web::{web, HttpResponse};
use domain::identity::{Login, Role};
use domain::Sensitive;
use persistence::audit::{EventFilter, EventView};
use persistence::identity::{UserChange, UserSummary};
use serde::{Deserialize, Serialize};

use crate::auth::Session;
use crate::bodies::Created;
use crate::ApiError;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"login": "ivan", "role": "case_worker", "password": "a long passphrase of his own"}))]
pub(crate) struct NewUser {
    login: String,
    role: String,
    #[serde(default)]
    organisation_id: Option<String>,
    #[schema(value_type = String)]
    password: Sensitive<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "supervisor"}))]
pub(crate) struct RoleChange {
    role: String,
}

/// A staff account, without secrets.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserBody {
    id: String,
    login: String,
    role: String,
    organisation_id: Option<String>,
    /// active or disabled.
    status: String,
    totp_enrolled: bool,
    locked: bool,
    /// How many passkeys the account holds.
    passkeys: i64,
}

impl From<UserSummary> for UserBody {
    fn from(u: UserSummary) -> Self {
        let UserSummary {
            id,
            login,
            role,
            organisation_id,
            status,
            totp_enrolled,
            locked,
            passkeys,
        } = u;
        UserBody {
            id,
            login,
            role,
            organisation_id,
            status,
            totp_enrolled,
            locked,
            passkeys,
        }
    }
}

/// Every staff account.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UserList {
    users: Vec<UserBody>,
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "All users, without secrets", body = UserList), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn list_users(session: Session) -> Result<HttpResponse, ApiError> {
    let users = session
        .run(move |vault, s, actor| Ok(vault.list_users(&s.db, actor)?))
        .await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: users.into_iter().map(UserBody::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, description = "Created; the user's id", body = Created), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"),
              (status = 409, description = "The login is taken"), (status = 422, description = "Invalid fields")))]
pub(crate) async fn create_user(
    session: Session,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let id = session
        .hashing()
        .run(move |vault, s, actor| {
            let NewUser {
                login,
                role,
                organisation_id,
                password,
            } = body.into_inner();
            let (login, role) = login_and_role(&login, &role)?;
            Ok(vault.admin_create_user(
                &s.db,
                actor,
                &login,
                role,
                organisation_id.as_deref(),
                &password,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Created { id }))
}

/// A new user's login and role, or 422 naming every field that is wrong.
pub(crate) fn login_and_role(login: &str, role: &str) -> Result<(Login, Role), ApiError> {
    let mut problems = std::collections::BTreeMap::new();
    let login = Login::parse(login)
        .map_err(|m| problems.insert("login".to_string(), m.to_string()))
        .ok();
    let role = Role::parse(role);
    if role.is_none() {
        problems.insert(
            "role".into(),
            "must be one of counselor, case_worker, supervisor, auditor, admin, partner".into(),
        );
    }
    match (login, role) {
        (Some(login), Some(role)) => Ok((login, role)),
        _ => Err(ApiError::invalid_fields(problems)),
    }
}

async fn update(
    session: Session,
    user_id: String,
    change: impl FnOnce() -> Result<UserChange, ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            Ok(vault.admin_update_user(&s.db, actor, &user_id, change()?)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Disabled; their sessions ended"), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"), (status = 404, description = "No such user")))]
pub(crate) async fn disable_user(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), || Ok(UserChange::Disable)).await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Enabled"), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"), (status = 404, description = "No such user")))]
pub(crate) async fn enable_user(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), || Ok(UserChange::Enable)).await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Lockout lifted"), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"), (status = 404, description = "No such user")))]
pub(crate) async fn unlock_user(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), || Ok(UserChange::Unlock)).await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reset-second-factor", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "The second factor and recovery codes removed, their sessions ended: they enrol again at their next sign-in"), (status = 401, description = "Not signed in"),
              (status = 403, description = "The policy denies it (never one's own)"), (status = 404, description = "No such user")))]
pub(crate) async fn reset_second_factor(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), || {
        Ok(UserChange::ResetSecondFactor)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/revoke-passkeys", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 204, description = "Every passkey of the user removed and their sessions ended (a lost or stolen device)"), (status = 401, description = "Not signed in"),
              (status = 403, description = "The policy denies it (never one's own)"), (status = 404, description = "No such user")))]
pub(crate) async fn revoke_passkeys(
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), || Ok(UserChange::RevokePasskeys)).await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/role", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")), request_body = RoleChange,
    responses((status = 204, description = "Changed; their sessions ended"), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"),
              (status = 404, description = "No such user"), (status = 422, description = "Not a role")))]
pub(crate) async fn change_role(
    session: Session,
    id: web::Path<String>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ApiError> {
    update(session, id.into_inner(), move || {
        Role::parse(&body.role)
            .map(UserChange::Role)
            .ok_or_else(|| ApiError::invalid_field("role", "is not a role"))
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ivan@ngo.example.org", "language": "en"}))]
pub(crate) struct ContactChange {
    /// Where notifications go; null removes it.
    email: Option<String>,
    /// uk or en: the language of the user's messages.
    language: String,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/contact", tag = "admin", security(("bearer" = [])), params(("id" = String, Path, description = "User id")), request_body = ContactChange,
    responses((status = 204, description = "Set"), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it"),
              (status = 404, description = "No such user"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn set_contact(
    session: Session,
    id: web::Path<String>,
    body: web::Json<ContactChange>,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            let ContactChange { email, language } = body.into_inner();
            Ok(vault.admin_set_contact(&s.db, actor, &id, email, &language)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventQuery {
    actor: Option<String>,
    record_type: Option<String>,
    record_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    /// Microseconds since the epoch.
    from: Option<i64>,
    to: Option<i64>,
    cursor: Option<i64>,
    limit: Option<i64>,
}

/// One access-log event. It names records and fields, never their content.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventBody {
    id: i64,
    /// Microseconds since the epoch.
    occurred_at: i64,
    actor_id: Option<String>,
    actor_role: Option<String>,
    session_ref: Option<String>,
    mfa: bool,
    action: String,
    record_type: Option<String>,
    record_id: Option<String>,
    fields: Vec<String>,
    purpose: Option<String>,
    outcome: String,
    rule: Option<String>,
    source: Option<String>,
    request_id: Option<String>,
}

impl From<EventView> for EventBody {
    fn from(e: EventView) -> Self {
        let EventView {
            id,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
        } = e;
        EventBody {
            id,
            occurred_at,
            actor_id,
            actor_role,
            session_ref,
            mfa,
            action,
            record_type,
            record_id,
            fields,
            purpose,
            outcome,
            rule,
            source,
            request_id,
        }
    }
}

/// A page of events, newest first, and the cursor of the next page (none on the last).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    events: Vec<EventBody>,
    next_cursor: Option<i64>,
}

async fn events_page(session: Session, filter: EventFilter) -> Result<HttpResponse, ApiError> {
    let limit = filter.limit;
    let events = session
        .run(move |vault, s, actor| Ok(vault.auditor_events(&s.db, actor, &filter)?))
        .await?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(EventPage {
        events: events.into_iter().map(EventBody::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", security(("bearer" = [])), params(EventQuery),
    responses((status = 200, description = "Events, newest first, and the next cursor", body = EventPage), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn events(
    session: Session,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let EventQuery {
        actor: who,
        record_type,
        record_id,
        action,
        outcome,
        from,
        to,
        cursor,
        limit,
    } = query.into_inner();
    let filter = EventFilter {
        actor_id: who,
        record_type,
        record_id,
        action,
        outcome,
        from,
        to,
        before_id: cursor,
        limit: limit.unwrap_or(100).clamp(1, 1000),
    };
    events_page(session, filter).await
}

#[utoipa::path(get, path = "/api/v1/audit/records/{type}/{id}", tag = "audit", security(("bearer" = [])),
    params(("type" = String, Path, description = "Record type"), ("id" = String, Path, description = "Record id")),
    responses((status = 200, description = "Every event about this record", body = EventPage), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn record_history(
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (record_type, record_id) = path.into_inner();
    let filter = EventFilter {
        record_type: Some(record_type),
        record_id: Some(record_id),
        limit: 1000,
        ..Default::default()
    };
    events_page(session, filter).await
}

#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, description = "Counts and the first break, if any", body = VerifyBody), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn verify(session: Session) -> Result<HttpResponse, ApiError> {
    let report = session
        .run(move |vault, s, actor| Ok(vault.auditor_verify(&s.db, actor)?))
        .await?;
    Ok(HttpResponse::Ok().json(VerifyBody {
        ok: report.ok(),
        events_checked: report.events_checked,
        checkpoints_checked: report.checkpoints_checked,
        problems: report.problems.len(),
        first_problem: report.first_problem().map(ToString::to_string),
    }))
}

/// What a check of the audit chain and its checkpoints found.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyBody {
    /// No problem found.
    ok: bool,
    events_checked: u64,
    checkpoints_checked: u64,
    /// How many problems.
    problems: usize,
    /// The first broken place in chain order, described.
    first_problem: Option<String>,
}

/// An actor (or a pseudonymous sign-in source) and how many times.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WhoCount {
    who: String,
    count: i64,
}

/// Signals in the window worth an auditor's look.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AnomaliesBody {
    /// Actors whose record reads exceed the threshold.
    heavy_readers: Vec<WhoCount>,
    /// Actors or sign-in sources with many denials.
    denial_bursts: Vec<WhoCount>,
    /// Break-glass events (event ids).
    break_glass_events: Vec<i64>,
    /// Successful sign-ins at unusual hours (event ids).
    odd_hour_login_events: Vec<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AnomalyQuery {
    window_hours: Option<i64>,
    read_threshold: Option<i64>,
    denial_threshold: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit/anomalies", tag = "audit", security(("bearer" = [])), params(AnomalyQuery),
    responses((status = 200, description = "Signals worth a look", body = AnomaliesBody), (status = 401, description = "Not signed in"), (status = 403, description = "The policy denies it")))]
pub(crate) async fn anomalies(
    session: Session,
    query: web::Query<AnomalyQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = session
        .run(move |vault, s, actor| {
            let q = query.into_inner();
            let since = persistence::now_micros()
                - q.window_hours.unwrap_or(24).clamp(1, 24 * 90) * 3_600_000_000;
            let (reads, denials) = (
                q.read_threshold.unwrap_or(200),
                q.denial_threshold.unwrap_or(10),
            );
            Ok(vault.auditor_anomalies(&s.db, actor, since, reads, denials)?)
        })
        .await?;
    let pairs = |v: Vec<(String, i64)>| {
        v.into_iter()
            .map(|(who, count)| WhoCount { who, count })
            .collect()
    };
    Ok(HttpResponse::Ok().json(AnomaliesBody {
        heavy_readers: pairs(found.heavy_readers),
        denial_bursts: pairs(found.denial_bursts),
        break_glass_events: found.break_glass,
        odd_hour_login_events: found.odd_hour_logins,
    }))
}
