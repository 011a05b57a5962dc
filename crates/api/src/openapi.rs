//! The OpenAPI document, generated from the route annotations. `docs/openapi.json` is this
//! document (`hotline openapi > docs/openapi.json`); a test fails when they differ, and the
//! authorization matrix test takes its list of routes from here.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "hotline", description = "Case management for an anti-trafficking and domestic-violence hotline"),
    paths(
        crate::health::live,
        crate::health::ready,
        crate::auth::login,
        crate::auth::refresh,
        crate::auth::logout,
        crate::auth::me,
        crate::auth::change_password,
        crate::auth::totp_enrol,
        crate::auth::totp_confirm,
        crate::passkeys::register_start,
        crate::passkeys::register_finish,
        crate::passkeys::list,
        crate::passkeys::rename,
        crate::passkeys::remove,
        crate::passkeys::sign_in_start,
        crate::passkeys::sign_in_finish,
        crate::admin::list_users,
        crate::admin::create_user,
        crate::admin::disable_user,
        crate::admin::enable_user,
        crate::admin::unlock_user,
        crate::admin::reset_second_factor,
        crate::admin::revoke_passkeys,
        crate::admin::change_role,
        crate::admin::events,
        crate::admin::record_history,
        crate::admin::verify,
        crate::admin::anomalies,
        crate::vocabularies::list,
        crate::calls::create,
        crate::calls::list,
        crate::calls::read,
        crate::calls::update,
        crate::calls::lookup,
        crate::cases::open_from_call,
        crate::cases::link_call,
        crate::cases::create,
        crate::cases::list,
        crate::cases::search,
        crate::cases::read,
        crate::cases::update,
        crate::cases::assign,
        crate::cases::add_note,
        crate::cases::edit_note,
        crate::cases::note_history,
        crate::cases::add_plan_item,
        crate::cases::update_plan_item,
        crate::cases::add_consent,
        crate::cases::withdraw_consent,
        crate::cases::break_glass,
        crate::cases::list_grants,
        crate::cases::review_grant,
        crate::admin::set_contact,
        crate::stats::table,
        crate::stats::chart,
        crate::stats::report,
        crate::lifecycle::place_hold,
        crate::lifecycle::lift_hold,
        crate::lifecycle::export,
        crate::lifecycle::request_erasure,
        crate::lifecycle::list_erasures,
        crate::lifecycle::approve,
        crate::lifecycle::reject,
        crate::referrals::search,
        crate::referrals::save_organisation,
        crate::referrals::import,
        crate::referrals::export,
        crate::referrals::create,
        crate::referrals::list_for_case,
        crate::referrals::list,
        crate::referrals::due,
        crate::referrals::read,
        crate::referrals::send,
        crate::referrals::cancel,
        crate::referrals::follow_up,
        crate::referrals::accept,
        crate::referrals::decline,
        crate::referrals::start,
        crate::referrals::complete,
    ),
    modifiers(&BearerAuth, &ErrorResponses, &ClosedBodies)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every error has one body, `Error`, and some errors can answer any request of a kind: the
/// annotations name the errors particular to a route; this adds the ones every route shares
/// (400 malformed request, 500 unexpected failure, 503 database unavailable; with a body 413 and
/// 415; with a body or parameters 422; signed in 401 and 403; a change to a case 409, since an
/// erased case cannot change), and points every 4xx and 5xx response at the `Error` schema.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        use utoipa::openapi::{Content, Ref, RefOr, Response};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let error = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An error: a fixed code, a fixed message, the request id to quote; for invalid \
                 fields, their names and what is wrong (never the submitted values)",
            ))
            .property("error", text())
            .required("error")
            .property("message", text())
            .required("message")
            .property(
                "fields",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                        text().into(),
                    )))),
            )
            .property("request_id", text())
            .required("request_id")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .insert("Error".into(), RefOr::T(error.into()));
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Every method but GET changes something.
            let changes = [false, true, true, true, true];
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for (op, changes) in operations.into_iter().zip(changes) {
                let Some(op) = op else { continue };
                let mut shared = Vec::new();
                if path != "/health/live" {
                    shared.push(("400", "Malformed request (path, query or body)"));
                    shared.push(("503", "The database is unavailable; try again shortly"));
                }
                if op.request_body.is_some() {
                    shared.push(("413", "The body is larger than the limit"));
                    shared.push(("415", "The body is not JSON"));
                }
                if op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty())
                {
                    shared.push((
                        "422",
                        "Invalid fields, named; or a value the database cannot store (NUL)",
                    ));
                }
                if op.security.is_some() {
                    shared.push(("401", "Not signed in"));
                    shared.push(("403", "The policy denies it"));
                }
                if path.starts_with("/api/v1/cases/{id}") && changes {
                    shared.push((
                        "409",
                        "The case's personal data was erased; it can no longer change",
                    ));
                }
                shared.push((
                    "500",
                    "An unexpected failure, logged under the request id; nothing was half-written \
                     and nothing released",
                ));
                for (status, description) in shared {
                    op.responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| RefOr::T(Response::new(description)));
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) =
                        (status.starts_with('4') || status.starts_with('5'), response)
                    {
                        response.content.insert(
                            "application/json".into(),
                            Content::new(Some(Ref::from_schema_name("Error"))),
                        );
                    }
                }
            }
        }
    }
}

/// Every body the document describes is a closed object: a field it does not name is not part
/// of the API, and the tests (which hold every answer to the document) fail on one. A struct
/// that flattens another (`#[serde(flatten)]`, which utoipa writes as `allOf`) becomes one object
/// with the parts' properties and required fields merged, because in JSON Schema a part of an
/// `allOf` cannot be closed without refusing the other parts' fields; then every object schema
/// with properties and no `additionalProperties` gets `additionalProperties: false`. (Request
/// bodies are closed already: they are `deny_unknown_fields`.) A free-form object (the victim
/// profile, the export's parts) has no properties and stays open.
struct ClosedBodies;

impl Modify for ClosedBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AdditionalProperties, Object, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let before = components.schemas.clone();
        let object_of = |part: &RefOr<Schema>| -> Option<Object> {
            let schema = match part {
                RefOr::T(schema) => schema,
                RefOr::Ref(r) => match before.get(r.ref_location.rsplit('/').next()?)? {
                    RefOr::T(schema) => schema,
                    RefOr::Ref(_) => return None,
                },
            };
            match schema {
                Schema::Object(object) => Some(object.clone()),
                _ => None,
            }
        };
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::AllOf(all)) = schema else {
                continue;
            };
            let parts: Option<Vec<Object>> = all.items.iter().map(object_of).collect();
            let Some(parts) = parts else { continue };
            let mut merged = Object::with_type(utoipa::openapi::Type::Object);
            merged.description = all.description.clone();
            for part in parts {
                merged.properties.extend(part.properties);
                merged.required.extend(part.required);
            }
            *schema = RefOr::T(Schema::Object(merged));
        }
        for schema in components.schemas.values_mut() {
            if let RefOr::T(Schema::Object(object)) = schema {
                if !object.properties.is_empty() && object.additional_properties.is_none() {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// The document as pretty JSON with a final newline.
pub fn openapi_json() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_request_body_has_an_example_of_its_own_fields() {
        let doc: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let mut bodies = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(body) = op.get("requestBody") else {
                    continue;
                };
                let Some(reference) =
                    body["content"]["application/json"]["schema"]["$ref"].as_str()
                else {
                    // Not JSON (the directory's CSV import).
                    continue;
                };
                let name = reference.rsplit('/').next().unwrap();
                let schema = &doc["components"]["schemas"][name];
                let example = schema["example"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{method} {path}: {name} has no example"));
                let properties = schema["properties"].as_object().unwrap();
                for key in example.keys() {
                    assert!(
                        properties.contains_key(key),
                        "{name}: example field {key} is not a field"
                    );
                }
                bodies += 1;
            }
        }
        assert!(bodies >= 20, "{bodies}");
    }

    #[test]
    fn docs_openapi_json_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == super::openapi_json(),
            "docs/openapi.json is out of date: run `cargo run -- openapi > docs/openapi.json`"
        );
    }
}
