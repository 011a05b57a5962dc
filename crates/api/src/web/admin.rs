//! The admin's pages: staff accounts (create, disable and enable, unlock, change the role,
//! reset the second factor, revoke the passkeys) and the service directory (its organisations, and a CSV import
//! previewed as what will change before anything is saved). Each calls the vault function of
//! its API route, under the same policy; an admin never sees case or call content here.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use domain::identity::Role;
use domain::referrals::OrganisationInput;
use domain::Sensitive;
use persistence::directory::{DirectoryFilter, OrganisationView};
use persistence::identity::{UserChange, UserSummary};

use super::form::{kept, DoneQuery, Fields};
use super::{render, see_other, Frame, Page, PageError};
use crate::ApiError;

/// The notices after a change.
const DONE: &[(&str, &str)] = &[
    ("created", "users-created"),
    ("changed", "users-changed"),
    ("imported", "directory-imported"),
];

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    f: Frame,
    users: Vec<UserSummary>,
    roles: &'static [Role],
    /// The new account's form as typed (never its password).
    form: Fields,
    done: Option<&'static str>,
}

/// `GET /admin/users`: every staff account without secrets, as `GET /api/v1/admin/users`,
/// and the form for a new one.
pub(crate) async fn users(
    page: Page,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (f, users, _) = page
        .run(move |vault, s, actor| Ok(vault.list_users(&s.db, actor)?))
        .await?;
    Ok(render(
        StatusCode::OK,
        &UsersPage {
            f,
            users,
            roles: &Role::ALL,
            form: Fields::default(),
            done: query.notice(DONE),
        },
    ))
}

/// `POST /admin/users`: creates an account with a first passphrase (hashed), as
/// `POST /api/v1/admin/users`. A wrong field comes back named; the passphrase is never
/// written back into the page.
pub(crate) async fn create(page: Page, body: web::Bytes) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["login", "role", "organisation_id", "password"])
        .map_err(|e| PageError::new(e, lang))?;
    let (f, outcome, _) = page
        .hashing()
        .submit(&token, move |vault, s, actor| {
            let mut form = form;
            let created = match crate::admin::login_and_role(form.get("login"), form.get("role")) {
                Ok((login, role)) => {
                    let password = Sensitive::new(form.get("password").to_string());
                    let organisation = form.text("organisation_id");
                    vault
                        .admin_create_user(
                            &s.db,
                            actor,
                            &login,
                            role,
                            organisation.as_deref(),
                            &password,
                        )
                        .map(|_| ())
                }
                Err(e) => {
                    form.refused(e)?;
                    form.clear(&["password"]);
                    return Ok(Err((form, vault.list_users(&s.db, actor)?)));
                }
            };
            match kept(created, form)? {
                Ok(()) => Ok(Ok(())),
                Err(mut form) => {
                    form.clear(&["password"]);
                    Ok(Err((form, vault.list_users(&s.db, actor)?)))
                }
            }
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other("/admin/users?done=created")),
        Err((form, users)) => Ok(render(
            match form.conflict {
                true => StatusCode::CONFLICT,
                false => StatusCode::UNPROCESSABLE_ENTITY,
            },
            &UsersPage {
                f,
                users,
                roles: &Role::ALL,
                form,
                done: None,
            },
        )),
    }
}

/// `POST /admin/users/{id}/{change}`: disable, enable, unlock, reset-second-factor,
/// revoke-passkeys, or role
/// (with the new `role`), as the API's routes of the same names. Never one's own account.
pub(crate) async fn change(
    page: Page,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (id, name) = path.into_inner();
    let (token, form) = Fields::parse(&body, &["role"]).map_err(|e| PageError::new(e, lang))?;
    let change = match name.as_str() {
        "disable" => UserChange::Disable,
        "enable" => UserChange::Enable,
        "unlock" => UserChange::Unlock,
        "reset-second-factor" => UserChange::ResetSecondFactor,
        "revoke-passkeys" => UserChange::RevokePasskeys,
        "role" => match Role::parse(form.get("role")) {
            Some(role) => UserChange::Role(role),
            None => {
                let err = ApiError::invalid_field("role", "is not a role");
                return Err(
                    PageError::new(err, lang).with_link("/admin/users".into(), "error-reload")
                );
            }
        },
        _ => return Err(PageError::new(ApiError::not_found(), lang)),
    };
    page.submit(&token, move |vault, s, actor| {
        Ok(vault.admin_update_user(&s.db, actor, &id, change)?)
    })
    .await
    .map_err(|e| e.with_link("/admin/users".into(), "error-reload"))?;
    Ok(see_other("/admin/users?done=changed"))
}

/// One organisation of an import, and what saving it would change.
pub(crate) struct Change {
    pub id: String,
    pub name: String,
    /// New to the directory.
    pub new: bool,
    /// The message keys of the fields that change (empty: nothing changes).
    pub fields: Vec<&'static str>,
    pub services_added: Vec<String>,
    pub services_removed: Vec<String>,
}

/// What an import of `inputs` would change in `current`.
fn changes(current: &[OrganisationView], inputs: &[OrganisationInput]) -> Vec<Change> {
    inputs
        .iter()
        .map(|input| {
            let Some(was) = current.iter().find(|o| o.id == input.id) else {
                return Change {
                    id: input.id.clone(),
                    name: input.name.clone(),
                    new: true,
                    fields: Vec::new(),
                    services_added: input.services.iter().map(|(t, _)| t.clone()).collect(),
                    services_removed: Vec::new(),
                };
            };
            let mut fields = Vec::new();
            let checks = [
                (was.name != input.name, "field-organisation-name"),
                (
                    was.notification_email != input.notification_email,
                    "field-notification-email",
                ),
                (
                    was.language != input.language,
                    "field-notification-language",
                ),
                (was.languages != input.languages, "field-languages"),
                (was.regions != input.regions, "field-regions"),
                (
                    was.intake_criteria != input.intake_criteria,
                    "field-intake-criteria",
                ),
                (was.active != input.active, "field-active"),
            ];
            for (changed, key) in checks {
                if changed {
                    fields.push(key);
                }
            }
            let had: Vec<(&str, &str)> = was
                .services
                .iter()
                .map(|s| (s.service_type.as_str(), s.description.as_str()))
                .collect();
            let will: Vec<(&str, &str)> = input
                .services
                .iter()
                .map(|(t, d)| (t.as_str(), d.as_str()))
                .collect();
            Change {
                id: input.id.clone(),
                name: input.name.clone(),
                new: false,
                fields,
                services_added: will
                    .iter()
                    .filter(|s| !had.contains(s))
                    .map(|(t, _)| t.to_string())
                    .collect(),
                services_removed: had
                    .iter()
                    .filter(|s| !will.contains(s))
                    .map(|(t, _)| t.to_string())
                    .collect(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    f: Frame,
    organisations: Vec<OrganisationView>,
    /// The CSV as pasted or read from the file, kept for the confirmation.
    csv: String,
    /// The import's bad rows, by line.
    errors: Vec<(String, String)>,
    /// The preview: what the import would change.
    preview: Option<Vec<Change>>,
    done: Option<&'static str>,
}

fn all_organisations(
    vault: &persistence::Vault,
    s: &crate::Services,
    actor: &persistence::identity::Actor,
) -> Result<Vec<OrganisationView>, ApiError> {
    vault.may_manage_directory(&s.db, actor)?;
    let filter = DirectoryFilter {
        inactive: true,
        ..Default::default()
    };
    Ok(vault.search_directory(&s.db, actor, &filter)?)
}

/// `GET /admin/directory`: the organisations (active or not) and the import form.
pub(crate) async fn directory(
    page: Page,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (f, organisations, _) = page.run(all_organisations).await?;
    Ok(render(
        StatusCode::OK,
        &DirectoryPage {
            f,
            organisations,
            csv: String::new(),
            errors: Vec::new(),
            preview: None,
            done: query.notice(DONE),
        },
    ))
}

/// `POST /admin/directory/preview`: reads the CSV as `POST /api/v1/directory/import` would and
/// shows what it would change, saving nothing; bad rows are named by line, nothing else.
/// `POST /admin/directory/import`: the same CSV, saved (all or nothing).
pub(crate) async fn import(
    page: Page,
    step: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let save = match step.as_str() {
        "preview" => false,
        "import" => true,
        _ => return Err(PageError::new(ApiError::not_found(), lang)),
    };
    let (token, form) = Fields::parse(&body, &["csv"]).map_err(|e| PageError::new(e, lang))?;
    let csv = form.get("csv").replace("\r\n", "\n");
    let text = csv.clone();
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, actor| {
            let current = all_organisations(vault, s, actor)?;
            match crate::referrals::parse_csv(text.as_bytes()) {
                Err(errors) => Ok((current, Err(errors.into_iter().collect()))),
                Ok(inputs) if save => {
                    vault.save_organisations(&s.db, actor, &inputs)?;
                    Ok((current, Ok(None)))
                }
                Ok(inputs) => {
                    let preview = changes(&current, &inputs);
                    Ok((current, Ok(Some(preview))))
                }
            }
        })
        .await?;
    let (organisations, result) = outcome;
    match result {
        Ok(None) => Ok(see_other("/admin/directory?done=imported")),
        Ok(Some(preview)) => Ok(render(
            StatusCode::OK,
            &DirectoryPage {
                f,
                organisations,
                csv,
                errors: Vec::new(),
                preview: Some(preview),
                done: None,
            },
        )),
        Err(errors) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &DirectoryPage {
                f,
                organisations,
                csv,
                errors,
                preview: None,
                done: None,
            },
        )),
    }
}

/// `GET /admin/directory/export`: the whole directory as CSV, as
/// `GET /api/v1/directory/export` (every cell safe to open in a spreadsheet).
pub(crate) async fn export(page: Page) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (_, all, _) = page
        .run(move |vault, s, actor| Ok(vault.export_directory(&s.db, actor)?))
        .await?;
    crate::referrals::directory_csv(&all).map_err(|e| PageError::new(e, lang))
}

#[derive(Template)]
#[template(path = "retention.html")]
struct RetentionPage {
    f: Frame,
    /// The periods as configured: months of call details, years of a closed case, years of
    /// the access log.
    call_months: u64,
    case_years: u64,
    audit_years: u64,
    plan: persistence::lifecycle::RetentionReport,
}

impl RetentionPage {
    fn calls(&self) -> usize {
        self.plan.items.iter().filter(|i| i.kind == "call").count()
    }

    fn cases(&self) -> Vec<(&str, String)> {
        self.plan
            .items
            .iter()
            .filter(|i| i.kind == "case")
            .map(|i| (i.reference.as_deref().unwrap_or(&i.id), super::day(i.since)))
            .collect()
    }
}

/// `GET /admin/retention`: the retention periods (deployment configuration, `[retention]`: a
/// reviewed change, not a click) and what the next run would erase now: how many calls'
/// details, which closed cases by reference, how many held ones are skipped.
pub(crate) async fn retention(page: Page) -> Result<HttpResponse, PageError> {
    let (f, (plan, settings), _) = page
        .run(move |vault, s, actor| {
            let plan = vault.retention_plan_for(&s.db, actor, &s.retention)?;
            Ok((plan, s.retention.clone()))
        })
        .await?;
    const DAY: u64 = 86_400;
    Ok(render(
        StatusCode::OK,
        &RetentionPage {
            f,
            call_months: settings.call_details.as_secs() / (30 * DAY),
            case_years: settings.case_after_closure.as_secs() / (365 * DAY),
            audit_years: settings.audit_events.as_secs() / (365 * DAY),
            plan,
        },
    ))
}
