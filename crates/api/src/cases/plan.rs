//! The reintegration plan over HTTP: add an item, change it.

use super::*;

/// A new plan item's id and version (always 1).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PlanItemCreated {
    id: String,
    version: i32,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"domain": "housing", "goal": "Move to a rented flat", "due_on": "2027-03-01"}))]
pub(crate) struct PlanBody {
    /// Required to change an item: the version read.
    #[serde(default)]
    version: Option<i32>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    due_on: Option<Option<String>>,
    /// Sealed at rest.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    goal: Option<Sensitive<String>>,
    /// Added to the item's progress notes (sealed).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    progress_note: Option<Sensitive<String>>,
}

impl PlanBody {
    fn split(self) -> (Option<i32>, PlanChanges) {
        let PlanBody {
            version,
            domain,
            status,
            due_on,
            goal,
            progress_note,
        } = self;
        (
            version,
            PlanChanges {
                domain,
                status,
                due_on,
                goal,
                progress_note,
            },
        )
    }
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/plan", tag = "cases", security(("bearer" = [])), request_body = PlanBody,
    params(("id" = String, Path, description = "Case id")),
    responses((status = 201, description = "Added; the item's id", body = PlanItemCreated), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such case, or not one the actor may change"), (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn add_plan_item(
    session: Session,
    id: web::Path<String>,
    body: web::Json<PlanBody>,
) -> Result<HttpResponse, ApiError> {
    let item = session
        .run(move |vault, s, actor| {
            let (version, changes) = body.into_inner().split();
            if version.is_some() {
                return Err(ApiError::invalid_field("version", "a new item has none"));
            }
            Ok(vault.add_plan_item(&s.db, actor, &id, changes)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(PlanItemCreated {
        id: item,
        version: 1,
    }))
}

#[utoipa::path(patch, path = "/api/v1/cases/{id}/plan/{item_id}", tag = "cases", security(("bearer" = [])), request_body = PlanBody,
    params(("id" = String, Path, description = "Case id"), ("item_id" = String, Path, description = "Plan item id")),
    responses((status = 200, description = "Changed; the new version", body = Versioned), (status = 401, description = "Not signed in"),
              (status = 404, description = "No such item or case"), (status = 409, description = "The item changed since it was read"),
              (status = 422, description = "Invalid fields, named")))]
pub(crate) async fn update_plan_item(
    session: Session,
    path: web::Path<(String, String)>,
    body: web::Json<PlanBody>,
) -> Result<HttpResponse, ApiError> {
    let version = session
        .run(move |vault, s, actor| {
            let (id, item) = path.into_inner();
            let (version, changes) = body.into_inner().split();
            let version =
                version.ok_or_else(|| ApiError::invalid_field("version", "is required"))?;
            Ok(vault.update_plan_item(&s.db, actor, &id, &item, version, changes)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Versioned { version }))
}
