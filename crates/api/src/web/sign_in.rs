//! Signing in and out, and the language switch.
//!
//! Sign-in takes the login, the password and (for an account with a second factor) the current
//! one-time code or a recovery code in one form, so the password is never written back into a
//! page. The session it opens is the same server-side session as the API's; the browser holds
//! it in an HttpOnly, SameSite=Strict cookie (Secure, `__Host-` named, except on plain-HTTP
//! loopback development). Logout, disabling the user and a password change end it at once.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::Sensitive;
use persistence::identity::NewSession;
use persistence::tokens::{mint_kind, TokenKind};
use persistence::AuthError;
use serde::Deserialize;

use super::i18n::Lang;
use super::{render, see_other, session_cookie, Frame, Page, PageError, Visitor, LANG_COOKIE};
use crate::auth::Enrolling;
use crate::ApiError;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    f: Frame,
    login: String,
    /// A message key: why the last attempt failed.
    problem: Option<&'static str>,
    retry_after: Option<i64>,
    /// The page to come back to after signing in (checked: a path of this site).
    next: Option<String>,
}

/// `GET /`: the signed-in user's first page (`main_page`), or sign-in.
pub(crate) async fn home(page: Page<Enrolling>) -> Result<HttpResponse, PageError> {
    let (_, role, _) = page.run(|_, _, who| Ok(who.0.role)).await?;
    Ok(see_other(super::main_page(role)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// `GET /sign-in?next=`: the form; `next` (a path of this site) is where it goes after.
pub(crate) async fn form(
    visitor: Visitor,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = query
        .into_inner()
        .next
        .and_then(|n| super::safe_next(&n).map(String::from));
    let (f, ()) = visitor.run(|_, _, _| Ok(())).await?;
    Ok(render(
        StatusCode::OK,
        &SignInPage {
            f,
            login: String::new(),
            problem: None,
            retry_after: None,
            next,
        },
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInForm {
    login: Sensitive<String>,
    password: Sensitive<String>,
    #[serde(default)]
    code: Option<Sensitive<String>>,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /sign-in`: opens a session and sets its cookie, or shows the form again with the
/// login kept (never the password) and one generic reason.
pub(crate) async fn submit(
    visitor: Visitor,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, PageError> {
    let SignInForm {
        login,
        password,
        code,
        next,
    } = form.into_inner();
    let typed_login = login.expose().clone();
    let signing_in = SigningIn::new(&visitor, next, typed_login);
    let (f, outcome) = visitor
        .hashing()
        .submit(move |vault, s, source| {
            let code = code
                .as_ref()
                .map(|c| c.expose().trim())
                .filter(|c| !c.is_empty());
            let signed_in = vault.login(
                &s.db,
                &s.auth,
                login.expose().trim(),
                password.expose(),
                code,
                source,
            );
            cookie_of(vault, s, signed_in)
        })
        .await?;
    signing_in.answer(f, outcome, "sign-in-failed")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyStartForm {
    login: Sensitive<String>,
}

/// `POST /sign-in/passkey/options` (the script's request): a sign-in ceremony for the login,
/// as `POST /api/v1/auth/passkey`, in JSON: the same shape whether or not the login exists or
/// has a passkey.
pub(crate) async fn passkey_options(
    visitor: Visitor,
    form: web::Form<PasskeyStartForm>,
) -> Result<HttpResponse, PageError> {
    let login = form.into_inner().login;
    let (_, started) = visitor
        .submit(move |vault, s, source| {
            let login = login.expose().trim();
            Ok(vault.passkey_sign_in_start(&s.db, &s.auth, login, source)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(crate::passkeys::Ceremony::from(started)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyForm {
    /// The login as typed, only to show it again if the sign-in fails.
    #[serde(default)]
    login: String,
    ceremony: String,
    credential: Sensitive<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /sign-in/passkey`: the browser's answer to a sign-in ceremony, as
/// `POST /api/v1/auth/passkey/finish`; a session and its cookie as `POST /sign-in` gives.
pub(crate) async fn passkey(
    visitor: Visitor,
    form: web::Form<PasskeyForm>,
) -> Result<HttpResponse, PageError> {
    let PasskeyForm {
        login,
        ceremony,
        credential,
        next,
    } = form.into_inner();
    let signing_in = SigningIn::new(&visitor, next, login);
    let (f, outcome) = visitor
        .submit(move |vault, s, source| {
            // An answer that is not JSON is refused as one of the wrong shape: before any
            // ceremony is taken, so nothing is spent and no login is named to audit.
            let credential =
                serde_json::from_str(credential.expose()).unwrap_or(serde_json::Value::Null);
            let signed_in =
                vault.passkey_sign_in_finish(&s.db, &s.auth, &ceremony, &credential, source);
            cookie_of(vault, s, signed_in)
        })
        .await?;
    signing_in.answer(f, outcome, "sign-in-passkey-failed")
}

/// A sign-in's outcome: the cookie's token and the user's language, or why it was refused.
type SignedIn = Result<(String, Option<Lang>), AuthError>;

/// The cookie of the session a sign-in opened (the same token kind for password and passkey).
fn cookie_of(
    vault: &persistence::Vault,
    s: &crate::Services,
    signed_in: Result<NewSession, AuthError>,
) -> Result<SignedIn, ApiError> {
    match signed_in {
        Ok(session) => {
            let kind = TokenKind::Cookie {
                ttl: s.auth.session_absolute,
            };
            let token = mint_kind(vault, &s.tokens, kind, &session.actor)?;
            let lang = session.language.as_deref().and_then(Lang::parse);
            Ok(Ok((token, lang)))
        }
        Err(AuthError::Db(e)) => Err(e.into()),
        Err(e) => Ok(Err(e)),
    }
}

/// What a sign-in form answers with, whichever way it signed in.
struct SigningIn {
    web: super::WebSettings,
    ttl: std::time::Duration,
    lang: Lang,
    next: Option<String>,
    login: String,
}

impl SigningIn {
    fn new(visitor: &Visitor, next: Option<String>, login: String) -> Self {
        SigningIn {
            web: visitor.services().web.clone(),
            ttl: visitor.services().auth.session_absolute,
            lang: visitor.lang(),
            next: next.and_then(|n| super::safe_next(&n).map(String::from)),
            login,
        }
    }

    /// Signed in: the session cookie and the user's language, then the page asked for (or the
    /// first page). Refused: the form again with the login kept and one generic reason
    /// (`failed` unless the account needs its code or its passkey, or it is throttled).
    fn answer(
        self,
        f: Frame,
        outcome: SignedIn,
        failed: &'static str,
    ) -> Result<HttpResponse, PageError> {
        let SigningIn {
            web,
            ttl,
            lang,
            next,
            login,
        } = self;
        let (status, problem, retry_after) = match outcome {
            Ok((token, user_lang)) => {
                let mut res = see_other(next.as_deref().unwrap_or("/"));
                res.add_cookie(&session_cookie(&web, token, ttl))
                    .map_err(|_| internal(lang))?;
                // The pages speak the user's language from here on, on any device.
                let lang_cookie = language_cookie(user_lang.unwrap_or(lang));
                res.add_cookie(&lang_cookie).map_err(|_| internal(lang))?;
                return Ok(res);
            }
            Err(AuthError::TotpRequired) => (StatusCode::UNAUTHORIZED, "sign-in-code-needed", None),
            Err(AuthError::PasskeyRequired) => {
                (StatusCode::UNAUTHORIZED, "sign-in-passkey-required", None)
            }
            Err(AuthError::Throttled(wait)) => (
                StatusCode::TOO_MANY_REQUESTS,
                "sign-in-throttled",
                Some(wait.as_secs().max(1) as i64),
            ),
            Err(_) => (StatusCode::UNAUTHORIZED, failed, None),
        };
        Ok(render(
            status,
            &SignInPage {
                f,
                login,
                problem: Some(problem),
                retry_after,
                next,
            },
        ))
    }
}

fn internal(lang: Lang) -> PageError {
    PageError::new(ApiError::internal(), lang)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenForm {
    form_token: String,
}

/// `POST /sign-out`: ends the session and tells the browser to forget everything of this site
/// (cookies, storage, cache). Also what quick exit sends.
pub(crate) async fn sign_out(
    page: Page<Enrolling>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    let web = page.services().web.clone();
    let ended = page
        .submit(&form.form_token, |vault, s, Enrolling(actor)| {
            Ok(vault.logout(&s.db, actor)?)
        })
        .await;
    match ended {
        // A session that has already ended is signed out all the same.
        Err(e) if e.api().status() != StatusCode::UNAUTHORIZED => return Err(e),
        _ => {}
    }
    let mut res = see_other("/sign-in");
    let mut gone = session_cookie(&web, String::new(), std::time::Duration::ZERO);
    gone.make_removal();
    let _ = res.add_cookie(&gone);
    res.headers_mut().insert(
        header::HeaderName::from_static("clear-site-data"),
        header::HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    Ok(res)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LanguageForm {
    lang: String,
    back: String,
    /// Present when signed in: the switch is then saved as the user's language.
    #[serde(default)]
    form_token: Option<String>,
}

/// `POST /language`: switches the pages' language (a cookie of this browser) and goes back to
/// the page the switch was on. Signed in, it is also saved as the user's own language (the
/// form token checked, audited as `user.language`), so the next sign-in anywhere keeps it.
pub(crate) async fn language(
    page: Option<Page<Enrolling>>,
    visitor: Visitor,
    form: web::Form<LanguageForm>,
) -> Result<HttpResponse, PageError> {
    let LanguageForm {
        lang,
        back,
        form_token,
    } = form.into_inner();
    let current = visitor.lang();
    let lang = move || {
        Lang::parse(&lang)
            .ok_or_else(|| ApiError::invalid_field("lang", "is not a language of this server"))
    };
    // The form is judged first (a forged one is refused whatever it asks), then its language.
    let lang = match page {
        Some(page) => {
            let token = form_token.unwrap_or_default();
            let (_, lang, _) = page
                .submit(&token, move |vault, s, Enrolling(actor)| {
                    let lang = lang()?;
                    vault.set_own_language(&s.db, actor, lang.code())?;
                    Ok(lang)
                })
                .await?;
            lang
        }
        None => visitor.submit(move |_, _, _| lang()).await?.1,
    };
    // Only a path of this site: never a full address (an open redirect) or `//host`.
    let local = back.starts_with('/')
        && !back.starts_with("//")
        && back.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let back = if local { back } else { "/".to_string() };
    let mut res = see_other(&back);
    res.add_cookie(&language_cookie(lang))
        .map_err(|_| internal(current))?;
    Ok(res)
}

/// The language cookie: not personal ("uk" or "en"), so readable by the pages for a year.
fn language_cookie(lang: Lang) -> Cookie<'static> {
    Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}
