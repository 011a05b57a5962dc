//! The user's passkeys: the list (name, when added and last used, synced or this device only,
//! flagged), renaming and removing one, and adding one. Adding is the one step that needs the
//! pages' script: it asks `/passkeys/options` for a registration ceremony, hands its options
//! to the browser (`navigator.credentials.create`), and posts the answer with this form; the
//! ceremony's state stays on the server. Each step calls the vault function of its API route.
//! A session that must register a passkey before it may work is sent here.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use persistence::identity::PasskeySummary;
use persistence::AuthError;

use super::enrol::EnrolledPage;
use super::form::{kept, DoneQuery, Fields};
use super::{render, see_other, Frame, Page, PageError};
use crate::auth::Enrolling;
use crate::passkeys::Ceremony;
use crate::ApiError;

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage {
    f: Frame,
    passkeys: Vec<PasskeySummary>,
    /// This session may only register a passkey (its role signs in with one).
    required: bool,
    /// What was just done: a message key.
    done: Option<&'static str>,
    form: Fields,
}

impl PasskeysPage {
    fn at(&self, us: &i64) -> String {
        super::minute(*us)
    }
}

/// The notices after a change.
const DONE: &[(&str, &str)] = &[
    ("added", "passkeys-added"),
    ("renamed", "passkeys-renamed"),
    ("removed", "passkeys-removed"),
];

/// The page with this user's passkeys (as `GET /api/v1/auth/passkeys`: one's own list is not
/// audited) and `form` as it came back.
fn page_of(
    f: Frame,
    (passkeys, required): (Vec<PasskeySummary>, bool),
    form: Fields,
    done: Option<&'static str>,
) -> PasskeysPage {
    PasskeysPage {
        f,
        passkeys,
        required,
        done,
        form,
    }
}

/// What the page lists: the user's passkeys, and whether this session must still add one.
fn held(
    vault: &persistence::Vault,
    s: &crate::Services,
    actor: &persistence::identity::Actor,
) -> Result<(Vec<PasskeySummary>, bool), ApiError> {
    Ok((vault.passkeys(&s.db, actor)?, actor.needs_passkey))
}

/// `GET /passkeys`: the list and the form to add one.
pub(crate) async fn list(
    page: Page<Enrolling>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (f, held, _) = page
        .run(|vault, s, Enrolling(actor)| held(vault, s, actor))
        .await?;
    let done = query.notice(DONE);
    Ok(render(
        StatusCode::OK,
        &page_of(f, held, Fields::default(), done),
    ))
}

/// `POST /passkeys/options` (the script's request): a registration ceremony, as
/// `POST /api/v1/auth/passkeys/register`, in JSON.
pub(crate) async fn options(
    page: Page<Enrolling>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, _) = Fields::parse(&body, &[]).map_err(|e| PageError::new(e, lang))?;
    let (_, started, _) = page
        .submit(&token, |vault, s, Enrolling(actor)| {
            Ok(vault.passkey_register_start(&s.db, &s.auth, actor)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Ceremony::from(started)))
}

/// `POST /passkeys`: the browser's answer to the ceremony, with the passkey's name, as
/// `POST /api/v1/auth/passkeys/register/finish`. The first passkey of an account without
/// recovery codes shows its new codes once; otherwise back to the list. A refused answer comes
/// back as the list with the field named (the ceremony is spent: adding starts again).
pub(crate) async fn add(
    page: Page<Enrolling>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["ceremony", "credential", "name"])
        .map_err(|e| PageError::new(e, lang))?;
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, Enrolling(actor)| {
            let credential =
                serde_json::from_str(form.get("credential")).map_err(|_| AuthError::Invalid {
                    field: "credential",
                    message: "is not a WebAuthn registration response",
                });
            let name = form.text("name");
            let registered = credential.and_then(|credential| {
                vault.passkey_register_finish(
                    &s.db,
                    &s.auth,
                    actor,
                    form.get("ceremony"),
                    name.as_deref(),
                    &credential,
                )
            });
            match kept(registered, form)? {
                Ok(registered) => Ok(Ok(registered.recovery_codes)),
                Err(mut form) => {
                    form.clear(&["ceremony", "credential"]);
                    Ok(Err((form, held(vault, s, actor)?)))
                }
            }
        })
        .await?;
    Ok(match outcome {
        Ok(codes) if codes.is_empty() => see_other("/passkeys?done=added"),
        Ok(codes) => render(
            StatusCode::OK,
            &EnrolledPage {
                f,
                codes: codes.into_iter().map(|c| c.into_inner()).collect(),
            },
        ),
        Err((form, held)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page_of(f, held, form, None),
        ),
    })
}

/// `POST /passkeys/{id}/{change}`: `rename` (with the new `name`) or `remove`, as the API's
/// `PATCH` and `DELETE /api/v1/auth/passkeys/{id}`. Removing the passkey this session signed
/// in with ends the session (the browser is then asked to sign in again).
pub(crate) async fn change(
    page: Page<Enrolling>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (id, change) = path.into_inner();
    let (token, form) = Fields::parse(&body, &["name"]).map_err(|e| PageError::new(e, lang))?;
    let renaming = match change.as_str() {
        "rename" => true,
        "remove" => false,
        _ => return Err(PageError::new(ApiError::not_found(), lang)),
    };
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, Enrolling(actor)| {
            let changed = match renaming {
                true => vault.rename_passkey(&s.db, actor, &id, form.get("name")),
                false => vault.remove_passkey(&s.db, actor, &id),
            };
            match kept(changed, form)? {
                Ok(()) => Ok(Ok(())),
                Err(form) => Ok(Err((form, held(vault, s, actor)?))),
            }
        })
        .await
        .map_err(|e| e.with_link("/passkeys".into(), "error-reload"))?;
    Ok(match outcome {
        Ok(()) if renaming => see_other("/passkeys?done=renamed"),
        Ok(()) => see_other("/passkeys?done=removed"),
        Err((form, held)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page_of(f, held, form, None),
        ),
    })
}
