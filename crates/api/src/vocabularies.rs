//! The picklists, for clients to build their forms from.

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::SignedIn;

/// Every picklist with its codes and Ukrainian and English labels. Any signed-in user.
#[utoipa::path(get, path = "/api/v1/vocabularies", tag = "reference", security(("bearer" = [])),
    responses((status = 200, description = "Picklists: {name: [{code, uk, en}]}"), (status = 401, description = "Not signed in")))]
pub(crate) async fn list(_actor: SignedIn) -> HttpResponse {
    let body: serde_json::Map<String, serde_json::Value> = domain::vocabulary::ALL
        .iter()
        .map(|v| {
            let terms: Vec<_> = v
                .terms
                .iter()
                .map(|t| json!({ "code": t.code, "uk": t.uk, "en": t.en }))
                .collect();
            (v.name.to_string(), json!(terms))
        })
        .collect();
    HttpResponse::Ok().json(body)
}
