//! The service provider directory: organisations and their services. No personal data; admins
//! maintain it (every change audited), every signed-in user searches it.

use diesel::prelude::*;
use domain::policy::{Action, Relation};
use domain::referrals::OrganisationInput;

use crate::clock::{code_list, now_micros};
use crate::error::AuthError;
use crate::identity::Actor;
use crate::schema::{organisations, services};
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

/// A service of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    pub id: String,
    pub service_type: String,
    pub description: String,
}

/// An organisation with its services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationView {
    pub id: String,
    pub name: String,
    pub notification_email: Option<String>,
    pub language: String,
    pub languages: Vec<String>,
    pub regions: Vec<String>,
    pub intake_criteria: String,
    pub active: bool,
    pub services: Vec<ServiceView>,
}

/// Search filters, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter {
    pub service_type: Option<String>,
    pub region: Option<String>,
    /// Words that must all appear (any letter case) in the name, intake criteria or a service's
    /// description.
    pub text: Option<String>,
    /// Include inactive organisations (admins).
    pub inactive: bool,
}

type OrgRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    bool,
);

fn load_all(conn: &mut DbConnection) -> Result<Vec<OrganisationView>, DbError> {
    let orgs: Vec<OrgRow> = organisations::table
        .select((
            organisations::id,
            organisations::name,
            organisations::notification_email,
            organisations::language,
            organisations::languages,
            organisations::regions,
            organisations::intake_criteria,
            organisations::active,
        ))
        .order_by(organisations::name)
        .load(conn)?;
    let mut svc: Vec<(String, String, String, String)> = services::table
        .select((
            services::organisation_id,
            services::id,
            services::service_type,
            services::description,
        ))
        .order_by((
            services::organisation_id,
            services::service_type,
            services::id,
        ))
        .load(conn)?;
    Ok(orgs
        .into_iter()
        .map(
            |(
                id,
                name,
                notification_email,
                language,
                languages,
                regions,
                intake_criteria,
                active,
            )| {
                let services = svc
                    .iter_mut()
                    .filter(|(org, ..)| *org == id)
                    .map(|(_, sid, t, d)| ServiceView {
                        id: std::mem::take(sid),
                        service_type: t.clone(),
                        description: d.clone(),
                    })
                    .collect();
                OrganisationView {
                    languages: code_list(&languages),
                    regions: code_list(&regions),
                    id,
                    name,
                    notification_email,
                    language,
                    intake_criteria,
                    active,
                    services,
                }
            },
        )
        .collect())
}

fn matches(o: &OrganisationView, f: &DirectoryFilter) -> bool {
    if !o.active && !f.inactive {
        return false;
    }
    if let Some(t) = &f.service_type {
        if !o.services.iter().any(|s| &s.service_type == t) {
            return false;
        }
    }
    if let Some(r) = &f.region {
        if !o.regions.contains(r) {
            return false;
        }
    }
    if let Some(text) = &f.text {
        let haystack = std::iter::once(o.name.as_str())
            .chain(std::iter::once(o.intake_criteria.as_str()))
            .chain(o.services.iter().map(|s| s.description.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        return text
            .to_lowercase()
            .split_whitespace()
            .all(|w| haystack.contains(w));
    }
    true
}

impl Vault {
    /// Organisations matching the filter, by name. (The directory is small: the text match runs
    /// here, with Unicode letter case, which neither database's LIKE does for Cyrillic.)
    pub fn search_directory(
        &self,
        db: &Database,
        actor: &Actor,
        filter: &DirectoryFilter,
    ) -> Result<Vec<OrganisationView>, AuthError> {
        self.authorize(db, actor, Action::DirectoryRead, Relation::NoObject, None)?;
        let all = db.with_conn(load_all)?;
        Ok(all.into_iter().filter(|o| matches(o, filter)).collect())
    }

    /// Creates or replaces organisations and their services, all or nothing, in one
    /// transaction. Each input must be valid already (see `OrganisationInput::validate`).
    pub fn save_organisations(
        &self,
        db: &Database,
        actor: &Actor,
        inputs: &[OrganisationInput],
    ) -> Result<(), AuthError> {
        let rule = self.authorize(db, actor, Action::DirectoryManage, Relation::NoObject, None)?;
        let now = now_micros();
        db.write(|conn| {
            for o in inputs {
                let exists: i64 = organisations::table
                    .find(&o.id)
                    .count()
                    .get_result(conn)?;
                let values = (
                    organisations::name.eq(&o.name),
                    organisations::notification_email.eq(&o.notification_email),
                    organisations::language.eq(&o.language),
                    organisations::languages.eq(o.languages.join(",")),
                    organisations::regions.eq(o.regions.join(",")),
                    organisations::intake_criteria.eq(&o.intake_criteria),
                    organisations::active.eq(o.active),
                    organisations::updated_at.eq(now),
                );
                if exists == 0 {
                    diesel::insert_into(organisations::table)
                        .values((
                            values,
                            organisations::id.eq(&o.id),
                            organisations::version.eq(1),
                            organisations::created_at.eq(now),
                        ))
                        .execute(conn)?;
                } else {
                    diesel::update(organisations::table.find(&o.id))
                        .set((values, organisations::version.eq(organisations::version + 1)))
                        .execute(conn)?;
                }
                // Services keep their ids (referrals point at them) when type and description
                // stay; the others are replaced.
                let current: Vec<(String, String, String)> = services::table
                    .filter(services::organisation_id.eq(&o.id))
                    .select((services::id, services::service_type, services::description))
                    .load(conn)?;
                let mut keep = Vec::new();
                for (kind, description) in &o.services {
                    match current
                        .iter()
                        .find(|(id, t, d)| t == kind && d == description && !keep.contains(id))
                    {
                        Some((id, ..)) => keep.push(id.clone()),
                        None => {
                            let id = crypto::random::hex_id::<16>()
                                .map_err(crypto::CryptoError::from)?;
                            diesel::insert_into(services::table)
                                .values((
                                    services::id.eq(&id),
                                    services::organisation_id.eq(&o.id),
                                    services::service_type.eq(kind),
                                    services::description.eq(description),
                                    services::created_at.eq(now),
                                ))
                                .execute(conn)?;
                            keep.push(id);
                        }
                    }
                }
                for (id, ..) in current.iter().filter(|(id, ..)| !keep.contains(id)) {
                    let used: i64 = crate::schema::referrals::table
                        .filter(crate::schema::referrals::service_id.eq(id))
                        .count()
                        .get_result(conn)?;
                    if used > 0 {
                        return Err(DbError::Refused(format!(
                            "organisation {}: a service that referrals point at cannot be removed; mark the organisation inactive instead",
                            o.id
                        )));
                    }
                    diesel::delete(services::table.find(id)).execute(conn)?;
                }
                self.record(
                    conn,
                    &AuditEvent {
                        record_type: Some("organisation".into()),
                        record_id: Some(o.id.clone()),
                        fields: vec!["organisation".into(), "services".into()],
                        rule: Some(rule.into()),
                        ..actor.event("directory.save")
                    },
                )?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            DbError::Refused(m) if m.contains("cannot be removed") => AuthError::Invalid {
                field: "services",
                message: "a service that referrals point at cannot be removed; mark the organisation inactive instead",
            },
            other => AuthError::from(other),
        })
    }

    /// Whether the actor may maintain the directory (checked before reading an upload; a
    /// denial is in the access log).
    pub fn may_manage_directory(&self, db: &Database, actor: &Actor) -> Result<(), AuthError> {
        self.authorize(db, actor, Action::DirectoryManage, Relation::NoObject, None)
            .map(|_| ())
    }

    /// Every organisation, active or not (for admins: the CSV export).
    pub fn export_directory(
        &self,
        db: &Database,
        actor: &Actor,
    ) -> Result<Vec<OrganisationView>, AuthError> {
        self.authorize(db, actor, Action::DirectoryManage, Relation::NoObject, None)?;
        Ok(db.with_conn(load_all)?)
    }
}
