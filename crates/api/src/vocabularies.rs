//! The picklists, for clients to build their forms from.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use domain::vocabulary::Term;
use serde::Serialize;

use crate::auth::{Enrolling, Session};
use crate::ApiError;

/// A code of a picklist with its labels.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TermBody {
    code: &'static str,
    uk: &'static str,
    en: &'static str,
}

impl From<&Term> for TermBody {
    fn from(t: &Term) -> Self {
        TermBody {
            code: t.code,
            uk: t.uk,
            en: t.en,
        }
    }
}

/// Every picklist with its codes and Ukrainian and English labels. Any signed-in user.
#[utoipa::path(get, path = "/api/v1/vocabularies", tag = "reference", security(("bearer" = [])),
    responses((status = 200, description = "Picklists: {name: [{code, uk, en}]}", body = BTreeMap<String, Vec<TermBody>>), (status = 401, description = "Not signed in")))]
pub(crate) async fn list(session: Session<Enrolling>) -> Result<HttpResponse, ApiError> {
    session.run(|_, _, _| Ok(())).await?;
    let body: BTreeMap<&str, Vec<TermBody>> = domain::vocabulary::ALL
        .iter()
        .map(|v| (v.name, v.terms.iter().map(TermBody::from).collect()))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
