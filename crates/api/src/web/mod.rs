//! The web application: server-rendered pages (askama templates under `crates/api/templates`)
//! over the same vault functions as the JSON API, with the same handler shape.
//!
//! A page handler reads: extract a [`Page`] (the session named by the cookie, judged exactly as
//! a bearer token is) or a [`Visitor`] (no session: sign-in), `run` one vault function (a form:
//! `submit`, which first refuses a forged request), render a template. Requests from the pages'
//! own script (`HX-Request` header) get the page's partial instead of the whole page.
//!
//! See docs/web.md: the cookie, the form tokens, the headers, languages and quick exit.

mod admin;
mod assets;
mod audit;
mod calls;
mod case;
mod cases;
mod desk;
mod enrol;
mod form;
pub(crate) mod i18n;
mod passkeys;
mod referrals;
mod sign_in;
mod stats;
mod supervise;

use std::future::{ready, Ready};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use persistence::identity::Actor;
use persistence::tokens::{check_kind, form_token, form_token_matches, TokenKind};
use persistence::Vault;

use crate::auth::{peer, services_of, Judge, Session};
use crate::{ApiError, Services};
use i18n::{Lang, Tr};

/// What the pages need beyond the API's settings.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The session cookie is `Secure` (and named with the `__Host-` prefix). Off only for plain
    /// HTTP on loopback (development, tests): the binary refuses anything else.
    pub secure_cookie: bool,
    /// Where quick exit sends the browser.
    pub quick_exit_url: String,
}

/// The session cookie's name.
pub(crate) fn cookie_name(settings: &WebSettings) -> &'static str {
    match settings.secure_cookie {
        true => "__Host-hotline",
        false => "hotline",
    }
}

static QUICK_EXIT_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets where quick exit goes, once per process (error pages, rendered without the request's
/// services, show the button too).
pub fn set_quick_exit_url(url: &str) {
    let _ = QUICK_EXIT_URL.set(url.to_string());
}

fn quick_exit_url() -> String {
    QUICK_EXIT_URL
        .get()
        .cloned()
        .unwrap_or_else(|| "https://www.google.com/".to_string())
}

/// The session cookie with `value` (empty, for its removal), with the attributes of
/// docs/web.md: HttpOnly, SameSite=Strict, Path=/, Secure unless on plain-HTTP loopback.
pub(crate) fn session_cookie(
    settings: &WebSettings,
    value: String,
    max_age: std::time::Duration,
) -> actix_web::cookie::Cookie<'static> {
    actix_web::cookie::Cookie::build(cookie_name(settings), value)
        .path("/")
        .http_only(true)
        .secure(settings.secure_cookie)
        .same_site(actix_web::cookie::SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            max_age.as_secs() as i64,
        ))
        .finish()
}

/// The language cookie (not personal: "uk" or "en").
pub(crate) const LANG_COOKIE: &str = "hotline_lang";

/// The page routes: each path with its methods and handlers. `routes` registers exactly
/// these and [`PAGE_ROUTES`] lists them (the role matrix of the pages is generated from it).
macro_rules! pages {
    ($($path:literal => { $($method:ident => $handler:path),+ $(,)? }),* $(,)?) => {
        /// Every page route: method (lower case) and path.
        pub const PAGE_ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),*];

        /// Every page route; each page is a full template and a partial.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            $(cfg.service(web::resource($path)$(.route(web::$method().to($handler)))+);)*
        }
    };
}

pages! {
    "/" => { get => sign_in::home },
    "/sign-in" => { get => sign_in::form, post => sign_in::submit },
    "/sign-in/passkey" => { post => sign_in::passkey },
    "/sign-in/passkey/options" => { post => sign_in::passkey_options },
    "/sign-out" => { post => sign_in::sign_out },
    "/language" => { post => sign_in::language },
    "/desk" => { get => desk::form, post => desk::save },
    "/desk/lookup" => { post => desk::lookup },
    "/calls" => { get => calls::list },
    "/cases" => { get => cases::mine },
    "/follow-ups" => { get => cases::overdue },
    "/cases/{id}" => { get => case::show },
    "/cases/{id}/edit" => { get => case::edit_form, post => case::edit },
    "/cases/{id}/notes" => { post => case::add_note },
    "/cases/{id}/notes/{note}" => { get => case::note_history, post => case::edit_note },
    "/cases/{id}/plan" => { post => case::add_plan_item },
    "/cases/{id}/plan/{item}" => { post => case::update_plan_item },
    "/cases/{id}/consents" => { post => case::add_consent },
    "/cases/{id}/consents/{consent}/withdraw" => { post => case::withdraw_consent },
    "/cases/{id}/assignment" => { post => case::assign },
    "/cases/{id}/legal-hold" => { post => case::place_hold },
    "/cases/{id}/legal-hold/lift" => { post => case::lift_hold },
    "/cases/{id}/erasure" => { post => case::request_erasure },
    "/cases/{id}/break-glass" => { get => case::break_glass_form, post => case::break_glass },
    "/cases/{id}/referrals" => { get => referrals::of_case, post => referrals::create },
    "/cases/{id}/referrals/new" => { get => referrals::new },
    "/referrals" => { get => referrals::list },
    "/referrals/{id}" => { get => referrals::show },
    "/referrals/{id}/{move}" => { post => referrals::act },
    "/enrol" => { get => enrol::form, post => enrol::confirm },
    "/passkeys" => { get => passkeys::list, post => passkeys::add },
    "/passkeys/options" => { post => passkeys::options },
    "/passkeys/{id}/{change}" => { post => passkeys::change },
    "/break-glass" => { get => supervise::grants },
    "/break-glass/{id}/review" => { post => supervise::review },
    "/erasure-requests" => { get => supervise::erasures },
    "/erasure-requests/{id}/{decision}" => { post => supervise::decide },
    "/admin/users" => { get => admin::users, post => admin::create },
    "/admin/users/{id}/{change}" => { post => admin::change },
    "/admin/retention" => { get => admin::retention },
    "/admin/directory" => { get => admin::directory },
    "/admin/directory/export" => { get => admin::export },
    "/admin/directory/{step}" => { post => admin::import },
    "/stats" => { get => stats::dashboard },
    "/stats/report" => { get => stats::report },
    "/audit" => { get => audit::log },
    "/audit/records/{type}/{id}" => { get => audit::record },
    "/audit/anomalies" => { get => audit::anomalies },
    "/audit/verify" => { get => audit::verify_form, post => audit::verify },
    "/static/{file}" => { get => assets::serve },
}

/// A form body that cannot be read (only the pages take forms): the error page in the
/// request's language, 400, or 413 when too large; never quoting the body.
pub(crate) fn form_error(err: &actix_web::error::UrlencodedError, req: &HttpRequest) -> PageError {
    use actix_web::error::UrlencodedError;
    let err = match err {
        UrlencodedError::Overflow { limit, .. } => ApiError::too_large(*limit),
        _ => ApiError::bad_request("the form could not be read"),
    };
    PageError::new(err, lang_of(req))
}

/// The language of a request: its cookie, else Ukrainian.
fn lang_of(req: &HttpRequest) -> Lang {
    req.cookie(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or(Lang::Uk)
}

/// Where a page is, for the language switch to come back to: its path, and for a page read
/// with GET its query too (the filters of a list: codes and cursors, nothing personal).
fn here_of(req: &HttpRequest) -> String {
    match (req.method() == Method::GET, req.query_string()) {
        (true, query) if !query.is_empty() => format!("{}?{query}", req.path()),
        _ => req.path().to_string(),
    }
}

fn is_partial(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// A state-changing request that a browser says came from another site. `Sec-Fetch-Site` is
/// decisive when present (every current browser sends it): only `same-origin` (or `none`, a
/// request the user made directly) passes. Without it, an `Origin` other than this server's
/// host is refused. `Origin: null` says nothing (browsers send it for our own forms too, because
/// the pages' referrer policy is `no-referrer`), and a client that sends neither header is not a
/// browser: both are judged by the form token alone.
fn cross_site(req: &HttpRequest) -> bool {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return false;
    }
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    if origin.as_bytes() == b"null" {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    !matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// What every template's frame shows: the language, the signed-in user (if any), the form
/// token, quick exit and the idle warning.
pub(crate) struct Frame {
    pub t: Tr,
    pub login: Option<String>,
    pub form_token: String,
    pub quick_exit_url: String,
    /// Seconds of idleness after which the session ends (the warning comes a minute before).
    pub idle_secs: u64,
    /// The path the language switch comes back to.
    pub here: String,
    /// The main pages this user's role may open: path and label key.
    pub nav: Vec<(&'static str, &'static str)>,
    pub script: &'static str,
    /// The script's SHA-256 (base64), for its `integrity` attribute; the CSP names the same.
    pub script_hash: &'static str,
    pub style: &'static str,
}

impl Frame {
    /// Whether this page is the main page at `path` (for the navigation's `aria-current`).
    pub(crate) fn is_at(&self, path: &str) -> bool {
        self.here.split('?').next() == Some(path)
    }

    /// The frame of a page without a session (sign-in, error pages).
    fn plain(lang: Lang, here: &str) -> Frame {
        Frame {
            t: Tr::new(lang),
            login: None,
            form_token: String::new(),
            quick_exit_url: quick_exit_url(),
            idle_secs: 0,
            here: here.to_string(),
            nav: Vec::new(),
            script: assets::SCRIPT_PATH,
            script_hash: assets::SCRIPT_SHA256,
            style: assets::STYLE_PATH,
        }
    }
}

/// The message key of a role's name.
pub(crate) fn role_key(role: &str) -> &'static str {
    match role {
        "counselor" => "role-counselor",
        "case_worker" => "role-case-worker",
        "supervisor" => "role-supervisor",
        "auditor" => "role-auditor",
        "admin" => "role-admin",
        _ => "role-partner",
    }
}

/// The message key of a statistics table's title.
pub(crate) fn stats_key(table: &str) -> &'static str {
    match table {
        "cases_by_status" => "stats-cases-by-status",
        "cases_by_gender_and_age" => "stats-cases-by-gender-and-age",
        "referrals_by_service" => "stats-referrals-by-service",
        _ => "stats-plan-items",
    }
}

/// A day of a time in microseconds, as pages show it (`2026-12-06`).
pub(crate) fn day(us: i64) -> String {
    crate::calls::rfc3339(us)
        .get(..10)
        .unwrap_or_default()
        .to_string()
}

/// A time as the queues and lists show it (`2026-12-07 09:05`, UTC).
pub(crate) fn minute(us: i64) -> String {
    crate::calls::rfc3339(us)
        .get(..16)
        .unwrap_or_default()
        .replacen('T', " ", 1)
}

/// A signed-in page request: the session the cookie names, judged by `W` as a bearer token
/// would be (see [`Session`]).
pub(crate) struct Page<W: Judge = Actor> {
    session: Session<W>,
    services: web::Data<Services>,
    lang: Lang,
    partial: bool,
    forged: bool,
    here: String,
    source: Option<String>,
    /// For a page read with GET: where to come back to if the session turns out to be over.
    back: Option<String>,
}

impl<W: Judge> FromRequest for Page<W> {
    type Error = PageError;
    type Future = Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let lang = lang_of(req);
        let page = || {
            let services = services_of(req)?;
            let vault = services.vault()?;
            let cookie = req
                .cookie(cookie_name(&services.web))
                .ok_or_else(ApiError::unauthenticated)?;
            let kind = TokenKind::Cookie {
                ttl: services.auth.session_absolute,
            };
            let (user_id, session_id) = check_kind(&vault, &services.tokens, kind, cookie.value())
                .ok_or_else(ApiError::unauthenticated)?;
            Ok(Page {
                session: Session::claimed(services.clone(), user_id, session_id),
                services,
                lang,
                partial: is_partial(req),
                forged: cross_site(req),
                here: here_of(req),
                source: peer(req),
                back: back_to(req),
            })
        };
        ready(page().map_err(|e| PageError::new(e, lang).coming_back(back_to(req))))
    }
}

/// Where a page read with GET comes back to after signing in (not for a form: its body is
/// gone, nor for `/`).
fn back_to(req: &HttpRequest) -> Option<String> {
    (req.method() == Method::GET)
        .then(|| here_of(req))
        .filter(|p| p != "/" && safe_next(p).is_some())
}

/// A path to come back to after signing in, when it is one of this site's: it starts with one
/// `/` (no scheme, no `//host`, no backslash, no control character) and is not overlong.
pub(crate) fn safe_next(path: &str) -> Option<&str> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && !path.chars().any(|c| c == '\\' || c.is_control());
    ok.then_some(path)
}

/// The main pages, each shown in the navigation to the roles the policy lets do what it lists
/// (one rule in one place: the link is there exactly when the page would answer).
const NAV: &[(&str, &str, domain::policy::Action)] = {
    use domain::policy::Action::*;
    &[
        ("/desk", "nav-desk", CallCreate),
        ("/calls", "nav-calls", CallList),
        ("/cases", "nav-cases", CaseList),
        ("/follow-ups", "nav-follow-ups", CaseList),
        ("/referrals", "nav-referrals", ReferralList),
        ("/break-glass", "nav-break-glass", BreakGlassReview),
        ("/erasure-requests", "nav-erasures", CaseErasureDecide),
        ("/stats", "nav-stats", StatsRead),
        ("/admin/users", "nav-users", UserList),
        ("/admin/directory", "nav-directory", DirectoryManage),
        ("/admin/retention", "nav-retention", RetentionRead),
        ("/audit", "nav-audit", AuditRead),
    ]
};

/// A role's first page: the desk for a counselor, the cases for case workers and
/// supervisors, the inbox for a partner, the log for an auditor, the accounts for an admin.
pub(crate) fn main_page(role: domain::identity::Role) -> &'static str {
    use domain::identity::Role;
    match role {
        Role::Counselor => "/desk",
        Role::CaseWorker | Role::Supervisor => "/cases",
        Role::Partner => "/referrals",
        Role::Auditor => "/audit",
        Role::Admin => "/admin/users",
    }
}

/// The frame of a page: with a session, its user, form token, idle time and navigation.
fn frame(
    vault: &Vault,
    services: &Services,
    lang: Lang,
    here: &str,
    actor: Option<&Actor>,
) -> Result<Frame, ApiError> {
    let mut f = Frame::plain(lang, here);
    if let Some(a) = actor {
        f.login = Some(a.login.clone());
        f.form_token = form_token(vault, &a.session_id)?;
        f.idle_secs = services.auth.session_idle.as_secs();
        if !a.enrolling_only() {
            f.nav = NAV
                .iter()
                .filter(|(_, _, action)| {
                    let relation = domain::policy::Relation::NoObject;
                    domain::policy::authorize(a.role, *action, relation).is_allowed()
                })
                .map(|(path, key, _)| match (*key, a.role) {
                    // A supervisor's list is every case of the organisation.
                    ("nav-cases", domain::identity::Role::Supervisor) => (*path, "nav-cases-all"),
                    _ => (*path, *key),
                })
                .collect();
        }
    }
    Ok(f)
}

/// What a signed-in page's work gets: the vault, the services, the judged caller, and the
/// frame to render with.
impl<W: Judge + AsActor> Page<W> {
    /// Runs `work` (one vault function) for the judged caller and gives back its result with
    /// the page's frame; on one blocking thread, as [`Session::run`].
    pub(crate) async fn run<T, F>(self, work: F) -> Result<(Frame, T, bool), PageError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, &W) -> Result<T, ApiError> + Send + 'static,
    {
        let Page {
            session,
            lang,
            partial,
            here,
            back,
            ..
        } = self;
        session
            .run(move |vault, s, who| {
                let out = work(vault, s, who)?;
                Ok((
                    frame(vault, s, lang, &here, Some(who.actor()))?,
                    out,
                    partial,
                ))
            })
            .await
            .map_err(|e| PageError::new(e, lang).coming_back(back))
    }

    /// As [`Page::run`] for a form: first refuses (403, and one audit event) a request from
    /// another site or without this session's form token.
    pub(crate) async fn submit<T, F>(
        self,
        token: &str,
        work: F,
    ) -> Result<(Frame, T, bool), PageError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, &W) -> Result<T, ApiError> + Send + 'static,
    {
        let lang = self.lang;
        let vault = self.services.vault().map_err(|e| PageError::new(e, lang))?;
        let session_id = self.session.session_id().to_string();
        if self.forged || !form_token_matches(&vault, &session_id, token) {
            return Err(refuse_forged(self.services, Some(session_id), self.source, lang).await);
        }
        self.run(work).await
    }
}

impl Page {
    /// For a page that only shows a form (nothing read yet): its frame, when the policy lets
    /// the role do `action`; a denial is audited as the API's route would audit it.
    pub(crate) async fn allowed(self, action: domain::policy::Action) -> Result<Frame, PageError> {
        let (f, _, _) = self
            .run(move |vault, s, actor| {
                let relation = domain::policy::Relation::NoObject;
                Ok(vault.authorize(&s.db, actor, action, relation, None)?)
            })
            .await?;
        Ok(f)
    }
}

impl<W: Judge> Page<W> {
    pub(crate) fn lang(&self) -> Lang {
        self.lang
    }

    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// For work that hashes a password: waits for a turn first (as `Session::hashing`).
    pub(crate) fn hashing(mut self) -> Self {
        self.session = self.session.hashing();
        self
    }
}

impl Page<crate::auth::Claimed> {
    /// As [`Page::run`] for work that checks the session itself (the vault's `*_in_session`
    /// reads, one query for the session and the record) and gives back the actor it found,
    /// for the page's frame.
    pub(crate) async fn read<T, F>(self, work: F) -> Result<(Frame, T, bool), PageError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, &crate::auth::Claimed) -> Result<(Actor, T), ApiError>
            + Send
            + 'static,
    {
        let Page {
            session,
            lang,
            partial,
            here,
            back,
            ..
        } = self;
        session
            .run(move |vault, s, who| {
                let (actor, out) = work(vault, s, who)?;
                Ok((frame(vault, s, lang, &here, Some(&actor))?, out, partial))
            })
            .await
            .map_err(|e| PageError::new(e, lang).coming_back(back))
    }
}

/// The actor behind a judged caller, for the page's frame.
pub(crate) trait AsActor {
    fn actor(&self) -> &Actor;
}

impl AsActor for Actor {
    fn actor(&self) -> &Actor {
        self
    }
}

impl AsActor for crate::auth::Enrolling {
    fn actor(&self) -> &Actor {
        &self.0
    }
}

/// Records the refusal of a forged form and gives the 403 page.
async fn refuse_forged(
    services: web::Data<Services>,
    session_id: Option<String>,
    source: Option<String>,
    lang: Lang,
) -> PageError {
    let request_id = crate::middleware::current_request_id();
    let recorded = web::block(move || {
        let vault = services.vault()?;
        vault.refuse_forged_request(
            &services.db,
            session_id.as_deref(),
            source.as_deref(),
            &request_id,
        )?;
        Ok::<_, ApiError>(())
    })
    .await;
    let err = match recorded {
        Ok(Ok(())) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forged_request",
            "the form did not come from this site",
        ),
        Ok(Err(e)) => e,
        Err(e) => e.into(),
    };
    PageError::new(err, lang)
}

/// A request without a session (the sign-in page): the language and whether a form came from
/// another site.
pub(crate) struct Visitor {
    services: web::Data<Services>,
    lang: Lang,
    forged: bool,
    here: String,
    source: Option<String>,
    /// The session cookie, if the request carried one: checked only to name its session in
    /// the audit event of a forged form.
    cookie: Option<String>,
    hashing: bool,
}

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let lang = lang_of(req);
        let visitor = || {
            let services = services_of(req)?;
            let cookie = req
                .cookie(cookie_name(&services.web))
                .map(|c| c.value().to_string());
            Ok(Visitor {
                services,
                lang,
                forged: cross_site(req),
                here: here_of(req),
                source: peer(req),
                cookie,
                hashing: false,
            })
        };
        ready(visitor().map_err(|e| PageError::new(e, lang)))
    }
}

impl Visitor {
    /// Runs `work` on one blocking thread with the frame of a page without a session.
    pub(crate) async fn run<T, F>(self, work: F) -> Result<(Frame, T), PageError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, Option<&str>) -> Result<T, ApiError> + Send + 'static,
    {
        let Visitor {
            services,
            lang,
            here,
            source,
            hashing,
            ..
        } = self;
        let permits = services.clone();
        let _permit = match hashing {
            true => Some(
                permits
                    .hashing_permit()
                    .await
                    .map_err(|e| PageError::new(e, lang))?,
            ),
            false => None,
        };
        let out = web::block(move || {
            let vault = services.vault()?;
            let out = work(&vault, &services, source.as_deref())?;
            Ok::<_, ApiError>((frame(&vault, &services, lang, &here, None)?, out))
        })
        .await
        .map_err(ApiError::from)
        .and_then(|r| r);
        out.map_err(|e| PageError::new(e, lang))
    }

    /// As [`Visitor::run`] for a form: first refuses (403, audited) one from another site.
    pub(crate) async fn submit<T, F>(self, work: F) -> Result<(Frame, T), PageError>
    where
        T: Send + 'static,
        F: FnOnce(&Vault, &Services, Option<&str>) -> Result<T, ApiError> + Send + 'static,
    {
        if self.forged {
            let kind = TokenKind::Cookie {
                ttl: self.services.auth.session_absolute,
            };
            let session = self.cookie.and_then(|c| {
                let vault = self.services.vault().ok()?;
                check_kind(&vault, &self.services.tokens, kind, &c).map(|(_, s)| s)
            });
            return Err(refuse_forged(self.services, session, self.source, self.lang).await);
        }
        self.run(work).await
    }

    pub(crate) fn lang(&self) -> Lang {
        self.lang
    }

    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// For work that hashes a password: waits for a turn first (as `Session::hashing`).
    pub(crate) fn hashing(mut self) -> Self {
        self.hashing = true;
        self
    }
}

/// An answer of a page: the page rendered, with the headers every page carries.
pub(crate) fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    page_headers(res.headers_mut());
    res
}

/// Renders a template, or the plain 500 page if it cannot be.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => html(status, body),
        Err(_) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<!doctype html><title>500</title>".into(),
        ),
    }
}

/// The Content Security Policy of every page: the one script only by its hash (with the same
/// hash as its `integrity`, so no other file of this server runs either), styles only from
/// `/static/`, no inline script or style, no eval, no frames, forms only to this server.
static CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        assets::SCRIPT_SHA256
    );
    HeaderValue::from_str(&policy).expect("an ASCII policy")
});

fn page_headers(headers: &mut header::HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
}

/// A redirect after a form (303: the browser follows with GET).
pub(crate) fn see_other(to: &str) -> HttpResponse {
    let mut res = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish();
    page_headers(res.headers_mut());
    res
}

/// An error of a page, shown as a page in the request's language: 401 sends the browser to
/// sign in; every other error is a short page with the request id (never the request's data).
#[derive(Debug)]
pub(crate) struct PageError {
    err: ApiError,
    lang: Lang,
    /// Ways on from the error page (boxed: most errors have none).
    ways: Option<Box<Ways>>,
}

#[derive(Debug, Default)]
struct Ways {
    /// A link from the error page: its path and the message key of its text.
    link: Option<(String, &'static str)>,
    /// For a 401: the page to come back to after signing in (a path of this site).
    next: Option<String>,
}

impl PageError {
    pub(crate) fn new(err: ApiError, lang: Lang) -> Self {
        PageError {
            err,
            lang,
            ways: None,
        }
    }

    /// For a 401: after signing in, the browser comes back to `back` (see [`back_to`]).
    fn coming_back(mut self, back: Option<String>) -> Self {
        if let Some(back) = back.filter(|_| self.err.status() == StatusCode::UNAUTHORIZED) {
            self.ways.get_or_insert_with(Default::default).next = Some(back);
        }
        self
    }

    /// The error page with a link to `path`, labelled by the message `key`.
    pub(crate) fn with_link(mut self, path: String, key: &'static str) -> Self {
        self.ways.get_or_insert_with(Default::default).link = Some((path, key));
        self
    }

    pub(crate) fn api(&self) -> &ApiError {
        &self.err
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.err.fmt(f)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    f: Frame,
    status: u16,
    title_key: &'static str,
    request_id: String,
    link: Option<(String, &'static str)>,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.err.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.err.status();
        if status == StatusCode::UNAUTHORIZED {
            return match self.ways.as_ref().and_then(|w| w.next.as_ref()) {
                Some(next) => {
                    let query: String = form_urlencoded::Serializer::new(String::new())
                        .append_pair("next", next)
                        .finish();
                    see_other(&format!("/sign-in?{query}"))
                }
                None => see_other("/sign-in"),
            };
        }
        // A session that must set up its second factor or register a passkey first is taken
        // to do so.
        match self.err.code() {
            "totp_enrolment_required" => return see_other("/enrol"),
            "passkey_enrolment_required" => return see_other("/passkeys"),
            _ => {}
        }
        let title_key = match status.as_u16() {
            403 => "error-forbidden",
            404 => "error-not-found",
            409 => "error-conflict",
            413 => "error-too-large",
            422 => "error-invalid",
            429 => "error-too-many",
            503 => "error-unavailable",
            s if s >= 500 => "error-internal",
            _ => "error-bad-request",
        };
        let page = ErrorPage {
            f: Frame::plain(self.lang, "/"),
            status: status.as_u16(),
            title_key,
            request_id: crate::middleware::current_request_id(),
            link: self.ways.as_ref().and_then(|w| w.link.clone()),
        };
        render(status, &page)
    }
}
