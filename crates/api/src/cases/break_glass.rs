//! Break-glass over HTTP: break the glass, and the supervisors' review.

use super::*;

/// A break-glass grant: read-only access to the case until `expires_at`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GrantCreated {
    grant_id: String,
    expires_at: String,
}

/// A break-glass use, with its justification, for a supervisor's review.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GrantBody<'a> {
    id: &'a str,
    case_id: &'a str,
    case_reference: &'a str,
    user_id: &'a str,
    login: &'a str,
    reason: &'a str,
    justification: Option<&'a str>,
    granted_at: String,
    expires_at: String,
    reviewed_by: Option<&'a str>,
    reviewed_at: Option<String>,
    /// `justified` or `flagged`, once reviewed.
    review_verdict: Option<&'a str>,
}

impl<'a> From<&'a GrantView> for GrantBody<'a> {
    fn from(g: &'a GrantView) -> Self {
        GrantBody {
            id: &g.id,
            case_id: &g.case_id,
            case_reference: &g.case_reference,
            user_id: &g.user_id,
            login: &g.login,
            reason: &g.reason,
            justification: g.justification.as_ref().map(|j| j.expose().as_str()),
            granted_at: rfc3339(g.granted_at),
            expires_at: rfc3339(g.expires_at),
            reviewed_by: g.reviewed_by.as_deref(),
            reviewed_at: g.reviewed_at.map(rfc3339),
            review_verdict: g.review_verdict.as_deref(),
        }
    }
}

/// Break-glass uses, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct GrantList<'a> {
    grants: Vec<GrantBody<'a>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "caller_on_line", "justification": "She is on the line in danger; the assigned case worker is off duty", "password": "…"}))]
pub(crate) struct BreakGlassBody {
    /// A code of the break_glass_reason vocabulary.
    reason: String,
    /// Why, in words (sealed; supervisors read it when they review).
    #[schema(value_type = String)]
    justification: Sensitive<String>,
    /// Re-authentication: the password...
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    password: Option<Sensitive<String>>,
    /// ...or a one-time code.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    totp: Option<Sensitive<String>>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/break-glass", tag = "cases", security(("bearer" = [])), request_body = BreakGlassBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "A read-only grant to the case until `expires_at`; flagged, and every supervisor is alerted", body = GrantCreated),
              (status = 401, description = "Not signed in"), (status = 404, description = "No such case, or the actor's role may not break the glass"),
              (status = 409, description = "The actor can already open the case"),
              (status = 422, description = "Invalid fields, or re-authentication failed"), (status = 429, description = "Too many failed attempts")))]
pub(crate) async fn break_glass(
    session: Session,
    id: web::Path<String>,
    body: web::Json<BreakGlassBody>,
) -> Result<HttpResponse, ApiError> {
    let BreakGlassBody {
        reason,
        justification,
        password,
        totp,
    } = body.into_inner();
    let reauth = Reauth { password, totp };
    let (grant, expires_at) = session
        .hashing()
        .run(move |vault, s, actor| {
            Ok(vault.break_glass(
                &s.db,
                actor,
                &s.cases,
                &s.auth,
                &id,
                &reason,
                justification,
                &reauth,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(GrantCreated {
        grant_id: grant,
        expires_at: rfc3339(expires_at),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct GrantQuery {
    /// `false`: the uses still to review.
    reviewed: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/break-glass", tag = "cases", security(("bearer" = [])), params(GrantQuery),
    responses((status = 200, description = "Break-glass uses, newest first, with their justifications", body = GrantList),
              (status = 401, description = "Not signed in"), (status = 403, description = "Supervisors only")))]
pub(crate) async fn list_grants(
    session: Session,
    query: web::Query<GrantQuery>,
) -> Result<HttpResponse, ApiError> {
    let grants = session
        .run(move |vault, s, actor| {
            let reviewed = query.reviewed;
            Ok(vault.list_break_glass(&s.db, actor, reviewed)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(GrantList {
        grants: grants.iter().map(GrantBody::from).collect(),
    }))
}

/// The supervisor's verdict on a break-glass use.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"verdict": "flagged"}))]
pub(crate) struct ReviewBody {
    /// `justified` (the default) or `flagged` for follow-up.
    #[serde(default)]
    verdict: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/break-glass/{id}/review", tag = "cases", security(("bearer" = [])), request_body(content = Option<ReviewBody>, description = "The verdict; no body: justified"),
    params(("id" = String, Path, description = "Grant id")),
    responses((status = 204, description = "Reviewed"), (status = 401, description = "Not signed in"),
              (status = 403, description = "Supervisors only"), (status = 404, description = "No such grant"),
              (status = 409, description = "Already reviewed"), (status = 422, description = "A verdict other than justified or flagged")))]
pub(crate) async fn review_grant(
    session: Session,
    id: web::Path<String>,
    body: Option<web::Json<ReviewBody>>,
) -> Result<HttpResponse, ApiError> {
    let verdict = body.and_then(|b| b.into_inner().verdict);
    let verdict = match verdict.as_deref() {
        None => Verdict::Justified,
        Some(v) => Verdict::parse(v)
            .ok_or_else(|| ApiError::invalid_field("verdict", "is justified or flagged"))?,
    };
    session
        .run(move |vault, s, actor| Ok(vault.review_break_glass(&s.db, actor, &id, verdict)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
