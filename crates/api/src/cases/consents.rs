//! Consents over HTTP: give, withdraw.

use super::*;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purpose": "referral_sharing", "service_types": ["shelter", "legal"],
    "scope": "Agreed on the phone to share her first name and needs with a shelter", "expires_at": "2027-06-01T00:00:00Z"}))]
pub(crate) struct ConsentBody {
    purpose: String,
    #[serde(default)]
    service_types: Vec<String>,
    #[serde(default)]
    organisations: Vec<String>,
    /// What the person agreed to, in their words (sealed).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    scope: Option<Sensitive<String>>,
    /// When it was given (RFC 3339); now if absent.
    #[serde(default)]
    given_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/consents", tag = "cases", security(("bearer" = [])), request_body = ConsentBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "Recorded; the consent's id", body = Created), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or not one the actor may change"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn add_consent(
    session: Session,
    id: web::Path<String>,
    body: web::Json<ConsentBody>,
) -> Result<HttpResponse, ApiError> {
    let consent = session
        .run(move |vault, s, actor| {
            let ConsentBody {
                purpose,
                service_types,
                organisations,
                scope,
                given_at,
                expires_at,
            } = body.into_inner();
            let facts = ConsentFacts {
                purpose,
                service_types,
                organisations,
                given_at: match given_at {
                    Some(t) => micros("given_at", &t)?,
                    None => persistence::now_micros(),
                },
                expires_at: expires_at.map(|t| micros("expires_at", &t)).transpose()?,
            };
            Ok(vault.add_consent(&s.db, actor, &id, facts, scope)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Created { id: consent }))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/consents/{consent_id}/withdraw", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id"), ("consent_id" = String, Path, description = "Consent id")),
    responses((status = 204, description = "Withdrawn, with immediate effect"), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such consent or case"), (status = 409, description = "Already withdrawn")))]
pub(crate) async fn withdraw_consent(
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    session
        .run(move |vault, s, actor| {
            let (id, consent) = path.into_inner();
            Ok(vault.withdraw_consent(&s.db, actor, &s.cases, &id, &consent)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
