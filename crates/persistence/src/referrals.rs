//! Referrals: a case worker drafts one from a case to a provider's service (the packet built
//! from the case, only the fields that service type may receive, sealed under the referral's
//! own data key), sends it when a live consent covers that provider (or a supervisor overrides
//! in writing), and follows it; the partner organisation reads the packet while the referral is
//! live and answers. Ending a referral shreds its packet; withdrawing the consent revokes every
//! referral resting on it at once. Every step is authorized and audited in its transaction,
//! and the mails it causes are queued there too.

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use domain::cases::{ConsentFacts, FieldErrors};
use domain::identity::Role;
use domain::mail::Template;
use domain::policy::{Action, Relation};
use domain::referrals::{packet_fields, Mover, PacketField, PacketNotes, Status};
use domain::Sensitive;

use crate::cases::{CaseForReferral, ConsentRow};
use crate::clock::now_micros;
use crate::error::{new_id, AuthError};
use crate::identity::{Actor, AuthSettings, Claim};
use crate::outbox::{queue_to_address, queue_to_user};
use crate::prepared::write;
use crate::schema::{
    case_consents, data_keys, organisations, referral_ledger, referrals, services,
};
use crate::vault::FieldContext;
use crate::{AuditEvent, Database, DbConnection, DbError, Vault};

const STALE: &str = "the referral changed since it was read; read it again";
const BAD_MOVE: &str = "the referral cannot move from its status to that one";
const NO_CONSENT: &str =
    "no live consent to share for referrals covers this provider; record one, or a supervisor may override with a written justification";
const CONFLICTS: [&str; 3] = [STALE, BAD_MOVE, NO_CONSENT];
/// Not yet ended: a draft or a live referral.
/// The statuses of a referral still under way.
pub(crate) const OPEN: [&str; 4] = [
    Status::Draft.as_str(),
    Status::Sent.as_str(),
    Status::Accepted.as_str(),
    Status::InProgress.as_str(),
];
/// Sent and not ended: the partner may see the packet.
const LIVE: [&str; 3] = [
    Status::Sent.as_str(),
    Status::Accepted.as_str(),
    Status::InProgress.as_str(),
];

#[derive(Debug, Clone)]
pub struct ReferralSettings {
    /// How long a provider has to accept or decline a sent referral before it expires.
    pub answer_within: Duration,
    /// The address staff and partners reach the server at, for links in e-mails.
    pub public_url: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = referrals)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
// An absent value is stored as NULL, never left to a column default: one statement text, kept
// prepared.
#[diesel(treat_none_as_default_value = false)]
struct ReferralRow {
    id: String,
    case_id: String,
    organisation_id: String,
    service_id: String,
    service_type: String,
    status: String,
    consent_id: Option<String>,
    override_by: Option<String>,
    override_justification: Option<Vec<u8>>,
    packet: Option<Vec<u8>>,
    packet_fields: String,
    created_by: String,
    follow_up_on: Option<String>,
    sent_at: Option<i64>,
    answer_due_at: Option<i64>,
    answered_at: Option<i64>,
    partner_note: Option<Vec<u8>>,
    first_opened_at: Option<i64>,
    last_opened_at: Option<i64>,
    ended_at: Option<i64>,
    version: i32,
    created_at: i64,
}

/// What the caller of [`Vault::view`] already holds, so it is not read or unsealed again.
#[derive(Default)]
struct Known {
    packet: Option<BTreeMap<String, serde_json::Value>>,
    organisation_name: Option<String>,
}

impl ReferralRow {
    fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Expired)
    }
}

/// A referral as its readers see it. `packet` is there while it can be opened (a draft or a
/// live referral); `case_id` and `case_reference` are for the hotline's side only.
#[derive(Debug, Clone)]
pub struct ReferralView {
    pub id: String,
    pub case_id: Option<String>,
    pub case_reference: Option<String>,
    pub organisation_id: String,
    pub organisation_name: String,
    pub service_id: String,
    pub service_type: String,
    pub status: String,
    pub packet_fields: Vec<String>,
    pub packet: Option<Sensitive<BTreeMap<String, serde_json::Value>>>,
    pub consent_id: Option<String>,
    pub overridden: bool,
    pub override_justification: Option<Sensitive<String>>,
    pub created_by: String,
    pub follow_up_on: Option<String>,
    pub sent_at: Option<i64>,
    pub answer_due_at: Option<i64>,
    pub answered_at: Option<i64>,
    /// The provider's reason (declined) or outcome (completed).
    pub partner_note: Option<Sensitive<String>>,
    /// When the provider first and last opened the packet.
    pub first_opened_at: Option<i64>,
    pub last_opened_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub version: i32,
    pub created_at: i64,
}

/// A referral in a list: no packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralSummary {
    pub id: String,
    pub case_id: Option<String>,
    pub organisation_id: String,
    pub service_type: String,
    pub status: String,
    pub follow_up_on: Option<String>,
    pub sent_at: Option<i64>,
    pub first_opened_at: Option<i64>,
    pub version: i32,
}

fn packet_ctx(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "referrals",
        field: "packet",
        record_id: id,
        owner_id: id,
    }
}

/// Notes about the referral sealed under the case's key (they outlive the packet).
fn case_note_ctx<'a>(field: &'a str, id: &'a str, case_id: &'a str) -> FieldContext<'a> {
    FieldContext {
        table: "referrals",
        field,
        record_id: id,
        owner_id: case_id,
    }
}

/// The packet of a service type from a case: only the allowed fields that the case has.
fn build_packet(
    service_type: &str,
    facts: &domain::cases::CaseFacts,
    profile: Option<&domain::cases::VictimProfile>,
    notes: &PacketNotes,
) -> BTreeMap<String, serde_json::Value> {
    use serde_json::json;
    let mut packet = BTreeMap::new();
    for field in packet_fields(service_type) {
        let value = match field {
            PacketField::FirstName => profile.and_then(|p| p.given_name.clone()).map(|v| json!(v)),
            PacketField::FamilyName => profile
                .and_then(|p| p.family_name.clone())
                .map(|v| json!(v)),
            PacketField::BirthDate => profile.and_then(|p| p.birth_date.clone()).map(|v| json!(v)),
            PacketField::Gender => Some(json!(facts.gender)),
            PacketField::AgeBand => Some(json!(facts.age_band)),
            PacketField::Languages => profile
                .filter(|p| !p.languages.is_empty())
                .map(|p| json!(p.languages)),
            PacketField::Nationality => Some(json!(facts.nationality)),
            PacketField::DocumentStatus => profile.filter(|p| !p.documents.is_empty()).map(|p| {
                json!(p
                    .documents
                    .iter()
                    .map(|d| json!({ "kind": d.kind, "status": d.status }))
                    .collect::<Vec<_>>())
            }),
            PacketField::SafetyNeeds => notes.safety_needs.clone().map(|v| json!(v)),
            PacketField::HealthNeeds => notes.health_needs.clone().map(|v| json!(v)),
        };
        if let Some(v) = value {
            packet.insert(field.as_str().to_string(), v);
        }
    }
    packet
}

/// What a referral draft asks for.
#[derive(Debug, Clone, Default)]
pub struct NewReferral {
    pub service_id: String,
    pub notes: PacketNotes,
    /// YYYY-MM-DD.
    pub follow_up_on: Option<String>,
    /// A supervisor's reason to refer without a consent that covers the provider.
    pub override_justification: Option<Sensitive<String>>,
}

/// What a partner does with a referral.
#[derive(Debug, Clone)]
pub enum PartnerAnswer {
    Accept,
    Decline(Sensitive<String>),
    Start,
    Complete(Sensitive<String>),
}

/// The newest of `consents` (live ones) that covers sharing with a service of `service_type`
/// run by `organisation_id` (a consent naming no organisations covers any).
fn covering(
    consents: Vec<(String, ConsentFacts)>,
    service_type: &str,
    organisation_id: &str,
) -> Option<String> {
    consents
        .into_iter()
        .filter(|(_, f)| {
            f.service_types.iter().any(|t| t == service_type)
                && (f.organisations.is_empty()
                    || f.organisations.iter().any(|o| o == organisation_id))
        })
        .max_by_key(|(_, f)| f.given_at)
        .map(|(id, _)| id)
}

impl Vault {
    /// The live consent for referral sharing that covers this provider and service type.
    fn covering_consent(
        &self,
        conn: &mut DbConnection,
        case_id: &str,
        service_type: &str,
        organisation_id: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(covering(
            self.live_consents(conn, case_id, "referral_sharing")?,
            service_type,
            organisation_id,
        ))
    }

    /// Drafts a referral: checks the consent (or the override), builds the packet from the case
    /// and seals it under the referral's own key. The draft shows the case worker exactly what
    /// would be sent.
    pub fn create_referral(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        new: NewReferral,
    ) -> Result<ReferralView, AuthError> {
        let case = self.case_for_referral(db, actor, case_id)?;
        self.referral_from(db, actor, case_id, case, new)
    }

    /// [`Vault::create_referral`] for a request whose session is not checked yet: the session
    /// check and the case with its key are one query (see `Vault::case_in_session`).
    pub fn create_referral_in_session(
        &self,
        db: &Database,
        claim: Claim<'_>,
        settings: &AuthSettings,
        case_id: &str,
        new: NewReferral,
    ) -> Result<ReferralView, AuthError> {
        let (actor, case) = self.case_for_referral_in_session(db, claim, settings, case_id)?;
        self.referral_from(db, &actor, case_id, case, new)
    }

    fn referral_from(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: &str,
        case: CaseForReferral,
        mut new: NewReferral,
    ) -> Result<ReferralView, AuthError> {
        let CaseForReferral {
            access,
            facts,
            profile,
            dek: case_dek,
        } = case;
        // The service, and the case's referral-sharing consents alongside (one row per consent,
        // or one without): one query.
        type ServiceRow = (String, String, bool, String);
        let rows: Vec<(ServiceRow, Option<ConsentRow>)> = db.with_conn(|conn| {
            Ok(services::table
                .inner_join(
                    organisations::table.on(organisations::id.eq(services::organisation_id)),
                )
                .left_join(
                    case_consents::table.on(case_consents::case_id
                        .eq(case_id)
                        .and(case_consents::purpose.eq("referral_sharing"))
                        .and(case_consents::withdrawn_at.is_null())),
                )
                .filter(services::id.eq(&new.service_id))
                .select((
                    (
                        services::organisation_id,
                        services::service_type,
                        organisations::active,
                        organisations::name,
                    ),
                    (
                        case_consents::id,
                        case_consents::purpose,
                        case_consents::service_types,
                        case_consents::organisations,
                        case_consents::scope,
                        case_consents::given_at,
                        case_consents::expires_at,
                        case_consents::recorded_by,
                        case_consents::withdrawn_at,
                        case_consents::withdrawn_by,
                    )
                        .nullable(),
                ))
                .load(conn)?)
        })?;
        let (services, consents): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let service = services.into_iter().next();
        let consents = crate::cases::live(consents.into_iter().flatten());
        let Some((organisation_id, service_type, true, organisation_name)) = service else {
            return Err(AuthError::Invalid {
                field: "service_id",
                message: "is not a service of an active organisation in the directory",
            });
        };
        let mut errors = FieldErrors::new();
        new.notes.validate(&service_type, &mut errors);
        if new
            .follow_up_on
            .as_deref()
            .is_some_and(|d| !domain::cases::is_date(d))
        {
            errors.insert("follow_up_on".into(), "must be a date as YYYY-MM-DD".into());
        }
        let mut justification = new.override_justification.map(Sensitive::into_inner);
        domain::cases::optional_text(
            &mut errors,
            "override_justification",
            &mut justification,
            domain::cases::MEDIUM_MAX_CHARS,
        );
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        let consent = covering(consents, &service_type, &organisation_id);
        let override_rule = match (&consent, &justification) {
            (Some(_), _) => None,
            (None, None) => return Err(AuthError::Conflict(NO_CONSENT)),
            (None, Some(_)) => Some(self.authorize(
                db,
                actor,
                Action::ReferralOverride,
                access.relation,
                Some(("case", case_id)),
            )?),
        };
        let id = new_id()?;
        let now = now_micros();
        Ok(db.write_single(|conn| {
            let packet = build_packet(&service_type, &facts, profile.as_ref(), &new.notes);
            let fields: Vec<String> = packet.keys().cloned().collect();
            let (dek, key_row) = self.new_data_key("referral", &id)?;
            let json = zeroize::Zeroizing::new(
                serde_json::to_vec(&packet).map_err(|e| DbError::Refused(e.to_string()))?,
            );
            let sealed = dek.seal(&packet_ctx(&id), &json)?;
            let sealed_justification = match &justification {
                Some(j) if consent.is_none() => Some(case_dek.seal(
                    &case_note_ctx("override_justification", &id, case_id),
                    j.as_bytes(),
                )?),
                _ => None,
            };
            let row = ReferralRow {
                id: id.clone(),
                case_id: case_id.to_string(),
                organisation_id,
                service_id: new.service_id.clone(),
                service_type,
                status: Status::Draft.as_str().to_string(),
                override_by: consent.is_none().then(|| actor.user_id.clone()),
                consent_id: consent,
                override_justification: sealed_justification,
                packet: Some(sealed),
                packet_fields: fields.join(","),
                created_by: actor.user_id.clone(),
                follow_up_on: new.follow_up_on.clone(),
                sent_at: None,
                answer_due_at: None,
                answered_at: None,
                partner_note: None,
                first_opened_at: None,
                last_opened_at: None,
                ended_at: None,
                version: 1,
                created_at: now,
            };
            let event = AuditEvent {
                record_type: Some("referral".into()),
                record_id: Some(id.clone()),
                fields: fields.clone(),
                rule: Some(
                    override_rule
                        .map(|r| format!("{}+{r}", access.rule))
                        .unwrap_or_else(|| access.rule.to_string()),
                ),
                purpose: override_rule.map(|_| "consent_override".into()),
                ..actor.event("referral.create")
            };
            let key = diesel::insert_into(data_keys::table).values(&key_row);
            let insert =
                diesel::insert_into(referrals::table).values((&row, referrals::updated_at.eq(now)));
            // The referral's key and the referral (one statement on PostgreSQL).
            self.record_with(conn, vec![write(key), write(insert)], &event)?;
            // The answer is the draft just stored, in the same transaction: its creation event
            // names the packet's fields, so no second (read) event. Built from what this
            // transaction wrote, so nothing is read back or unsealed again.
            let known = Known {
                packet: Some(packet),
                organisation_name: Some(organisation_name),
            };
            self.view(conn, row, Some(access.reference.clone()), false, known)
        })?)
    }

    /// The referral and the rule that lets the actor do `action` to it: for the hotline's
    /// side through its case, for a partner only while it is live and addressed to their
    /// organisation. Anything else is `NotFound`.
    fn referral_for(
        &self,
        db: &Database,
        actor: &Actor,
        action: Action,
        id: &str,
    ) -> Result<(ReferralRow, &'static str, Option<String>), AuthError> {
        let row: Option<ReferralRow> = db.with_conn(|conn| {
            Ok(referrals::table
                .find(id)
                .select(ReferralRow::as_select())
                .first(conn)
                .optional()?)
        })?;
        let Some(row) = row else {
            return Err(AuthError::NotFound);
        };
        if actor.role == Role::Partner {
            let relation = if actor.organisation_id.as_deref() == Some(row.organisation_id.as_str())
                && row.status().is_live()
            {
                Relation::PartnerReferral
            } else {
                Relation::OtherCase
            };
            return match self.authorize(db, actor, action, relation, Some(("referral", id))) {
                Ok(rule) => Ok((row, rule, None)),
                Err(AuthError::Forbidden(_)) => Err(AuthError::NotFound),
                Err(e) => Err(e),
            };
        }
        let access = self.case_access(db, actor, action, &row.case_id)?;
        Ok((row, access.rule, Some(access.reference)))
    }

    fn view(
        &self,
        conn: &mut DbConnection,
        row: ReferralRow,
        case_reference: Option<String>,
        partner: bool,
        known: Known,
    ) -> Result<ReferralView, DbError> {
        let packet = match (&row.packet, known.packet) {
            (Some(_), Some(packet)) => Some(Sensitive::new(packet)),
            (Some(sealed), None) => match self.data_key(conn, &row.id) {
                Ok(dek) => {
                    let json = zeroize::Zeroizing::new(dek.open(&packet_ctx(&row.id), sealed)?);
                    Some(Sensitive::new(serde_json::from_slice(&json).map_err(
                        |_| DbError::Refused("a stored packet does not parse".into()),
                    )?))
                }
                Err(DbError::Erased) => None,
                Err(e) => return Err(e),
            },
            (None, _) => None,
        };
        let case_dek = if row.partner_note.is_some() || row.override_justification.is_some() {
            match self.data_key(conn, &row.case_id) {
                Ok(dek) => Some(dek),
                Err(DbError::Erased) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let open_note =
            |field: &str, sealed: &Option<Vec<u8>>| -> Result<Option<Sensitive<String>>, DbError> {
                match (sealed, &case_dek) {
                    (Some(s), Some(dek)) => Ok(Some(Sensitive::new(
                        String::from_utf8_lossy(
                            &dek.open(&case_note_ctx(field, &row.id, &row.case_id), s)?,
                        )
                        .into_owned(),
                    ))),
                    _ => Ok(None),
                }
            };
        let partner_note = open_note("partner_note", &row.partner_note)?;
        let override_justification = if partner {
            None
        } else {
            open_note("override_justification", &row.override_justification)?
        };
        let organisation_name: String = match known.organisation_name {
            Some(name) => name,
            None => organisations::table
                .find(&row.organisation_id)
                .select(organisations::name)
                .first(conn)?,
        };
        Ok(ReferralView {
            case_id: (!partner).then(|| row.case_id.clone()),
            case_reference: if partner { None } else { case_reference },
            organisation_name,
            packet_fields: crate::clock::code_list(&row.packet_fields),
            packet,
            overridden: row.override_by.is_some(),
            override_justification,
            partner_note,
            consent_id: if partner { None } else { row.consent_id },
            id: row.id,
            organisation_id: row.organisation_id,
            service_id: row.service_id,
            service_type: row.service_type,
            status: row.status,
            created_by: row.created_by,
            follow_up_on: row.follow_up_on,
            sent_at: row.sent_at,
            answer_due_at: row.answer_due_at,
            answered_at: row.answered_at,
            first_opened_at: row.first_opened_at,
            last_opened_at: row.last_opened_at,
            ended_at: row.ended_at,
            version: row.version,
            created_at: row.created_at,
        })
    }

    /// One referral with its packet (while it has one). A partner's read is recorded on the
    /// referral, for the case worker to see, and in the access log.
    pub fn read_referral(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
    ) -> Result<ReferralView, AuthError> {
        let (row, rule, reference) = self.referral_for(db, actor, Action::ReferralRead, id)?;
        let partner = actor.role == Role::Partner;
        Ok(db.write(|conn| {
            let mut row = row;
            if partner {
                let now = now_micros();
                diesel::update(
                    referrals::table
                        .find(id)
                        .filter(referrals::first_opened_at.is_null()),
                )
                .set(referrals::first_opened_at.eq(Some(now)))
                .execute(conn)?;
                diesel::update(referrals::table.find(id))
                    .set(referrals::last_opened_at.eq(Some(now)))
                    .execute(conn)?;
                row.first_opened_at = row.first_opened_at.or(Some(now));
                row.last_opened_at = Some(now);
            }
            let fields = if row.packet.is_some() {
                vec!["packet".to_string()]
            } else {
                Vec::new()
            };
            let view = self.view(conn, row, reference, partner, Known::default())?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("referral".into()),
                    record_id: Some(id.to_string()),
                    fields,
                    rule: Some(rule.into()),
                    ..actor.event("referral.read")
                },
            )?;
            Ok(view)
        })?)
    }

    /// Ends a referral in the caller's transaction: the status, the end time, the packet
    /// shredded; the provider told when they had received it.
    fn end_referral(
        &self,
        conn: &mut DbConnection,
        row: &ReferralRow,
        status: Status,
        event: AuditEvent,
        base_url: &str,
    ) -> Result<(), DbError> {
        let now = now_micros();
        diesel::update(referrals::table.find(&row.id))
            .set((
                referrals::status.eq(status.as_str()),
                referrals::ended_at.eq(Some(now)),
                referrals::packet.eq(None::<Vec<u8>>),
                referrals::version.eq(referrals::version + 1),
                referrals::updated_at.eq(now),
            ))
            .execute(conn)?;
        self.record(conn, &event)?;
        self.shred(conn, &row.id, event)?;
        if row.status().is_live()
            && matches!(
                status,
                Status::Revoked | Status::Expired | Status::Cancelled
            )
        {
            self.notify_provider(
                conn,
                &row.organisation_id,
                &Template::ReferralWithdrawn {
                    referral: row.id.clone(),
                },
                base_url,
            )?;
            diesel::update(
                referral_ledger::table
                    .filter(referral_ledger::referral_id.eq(&row.id))
                    .filter(referral_ledger::notice_sent_at.is_null()),
            )
            .set(referral_ledger::notice_sent_at.eq(Some(now)))
            .execute(conn)?;
        }
        Ok(())
    }

    fn notify_provider(
        &self,
        conn: &mut DbConnection,
        organisation_id: &str,
        template: &Template,
        base_url: &str,
    ) -> Result<(), DbError> {
        let (address, language): (Option<String>, String) = organisations::table
            .find(organisation_id)
            .select((organisations::notification_email, organisations::language))
            .first(conn)?;
        if let Some(address) = address {
            queue_to_address(conn, &address, &language, template, base_url)?;
        }
        Ok(())
    }

    /// The hotline's moves: send a draft (the consent checked again), or cancel.
    pub fn move_referral(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &ReferralSettings,
        id: &str,
        version: i32,
        next: Status,
    ) -> Result<i32, AuthError> {
        let (row, rule, _) = self.referral_for(db, actor, Action::ReferralUpdate, id)?;
        if row.version != version {
            return Err(AuthError::Conflict(STALE));
        }
        if !row.status().can_become(next, Mover::Hotline) {
            return Err(AuthError::Conflict(BAD_MOVE));
        }
        let now = now_micros();
        db.write(|conn| {
            let current: i32 = referrals::table
                .find(id)
                .select(referrals::version)
                .first(conn)?;
            if current != version {
                return Err(crate::error::refuse(STALE));
            }
            let event = AuditEvent {
                record_type: Some("referral".into()),
                record_id: Some(id.to_string()),
                fields: vec!["status".into()],
                rule: Some(rule.into()),
                ..actor.event(if next == Status::Sent {
                    "referral.send"
                } else {
                    "referral.cancel"
                })
            };
            if next == Status::Sent {
                if row.override_by.is_none() {
                    let still = self.covering_consent(
                        conn,
                        &row.case_id,
                        &row.service_type,
                        &row.organisation_id,
                    )?;
                    if still.is_none() {
                        return Err(crate::error::refuse(NO_CONSENT));
                    }
                }
                let due = now.saturating_add(crate::clock::duration_micros(settings.answer_within));
                diesel::update(referrals::table.find(id))
                    .set((
                        referrals::status.eq(Status::Sent.as_str()),
                        referrals::sent_at.eq(Some(now)),
                        referrals::answer_due_at.eq(Some(due)),
                        referrals::version.eq(version + 1),
                        referrals::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::insert_into(referral_ledger::table)
                    .values((
                        referral_ledger::id.eq(new_id()?),
                        referral_ledger::referral_id.eq(id),
                        referral_ledger::case_id.eq(&row.case_id),
                        referral_ledger::organisation_id.eq(&row.organisation_id),
                        referral_ledger::fields.eq(&row.packet_fields),
                        referral_ledger::shared_at.eq(now),
                    ))
                    .execute(conn)?;
                self.notify_provider(
                    conn,
                    &row.organisation_id,
                    &Template::ReferralSent {
                        referral: id.to_string(),
                    },
                    &settings.public_url,
                )?;
                self.record(
                    conn,
                    &AuditEvent {
                        fields: vec!["status".into(), "packet".into()],
                        ..event
                    },
                )?;
            } else {
                self.end_referral(conn, &row, next, event, &settings.public_url)?;
            }
            Ok(version + 1)
        })
        .map_err(conflict)
    }

    /// Sets or clears the follow-up date.
    pub fn set_follow_up(
        &self,
        db: &Database,
        actor: &Actor,
        id: &str,
        version: i32,
        follow_up_on: Option<String>,
    ) -> Result<i32, AuthError> {
        if follow_up_on
            .as_deref()
            .is_some_and(|d| !domain::cases::is_date(d))
        {
            return Err(AuthError::Invalid {
                field: "follow_up_on",
                message: "must be a date as YYYY-MM-DD",
            });
        }
        let (row, rule, _) = self.referral_for(db, actor, Action::ReferralUpdate, id)?;
        if row.status().is_final() {
            return Err(AuthError::Conflict(BAD_MOVE));
        }
        db.write(|conn| {
            let updated = diesel::update(
                referrals::table
                    .find(id)
                    .filter(referrals::version.eq(version)),
            )
            .set((
                referrals::follow_up_on.eq(&follow_up_on),
                referrals::follow_up_notified_on.eq(None::<String>),
                referrals::version.eq(version + 1),
                referrals::updated_at.eq(now_micros()),
            ))
            .execute(conn)?;
            if updated == 0 {
                return Err(crate::error::refuse(STALE));
            }
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("referral".into()),
                    record_id: Some(id.to_string()),
                    fields: vec!["follow_up_on".into()],
                    rule: Some(rule.into()),
                    ..actor.event("referral.follow_up")
                },
            )?;
            Ok(version + 1)
        })
        .map_err(conflict)
    }

    /// The partner's moves: accept, decline (with a reason), start, complete (with the
    /// outcome). The case worker hears of an acceptance or a decline by mail.
    pub fn answer_referral(
        &self,
        db: &Database,
        actor: &Actor,
        settings: &ReferralSettings,
        id: &str,
        version: i32,
        answer: PartnerAnswer,
    ) -> Result<i32, AuthError> {
        let (row, rule, _) = self.referral_for(db, actor, Action::ReferralRespond, id)?;
        let (next, note) = match answer {
            PartnerAnswer::Accept => (Status::Accepted, None),
            PartnerAnswer::Decline(reason) => (Status::Declined, Some(reason)),
            PartnerAnswer::Start => (Status::InProgress, None),
            PartnerAnswer::Complete(outcome) => (Status::Completed, Some(outcome)),
        };
        let mut note = note.map(Sensitive::into_inner);
        let mut errors = FieldErrors::new();
        let field = if next == Status::Declined {
            "reason"
        } else {
            "outcome"
        };
        domain::cases::optional_text(
            &mut errors,
            field,
            &mut note,
            domain::cases::MEDIUM_MAX_CHARS,
        );
        if matches!(next, Status::Declined | Status::Completed)
            && note.is_none()
            && errors.is_empty()
        {
            errors.insert(field.into(), "must not be empty".into());
        }
        if !errors.is_empty() {
            return Err(AuthError::InvalidMany(errors));
        }
        if row.version != version {
            return Err(AuthError::Conflict(STALE));
        }
        if !row.status().can_become(next, Mover::Partner) {
            return Err(AuthError::Conflict(BAD_MOVE));
        }
        let now = now_micros();
        db.write(|conn| {
            let current: i32 = referrals::table
                .find(id)
                .select(referrals::version)
                .first(conn)?;
            if current != version {
                return Err(crate::error::refuse(STALE));
            }
            if let Some(text) = &note {
                let case_dek = self.data_key(conn, &row.case_id)?;
                let sealed = case_dek.seal(
                    &case_note_ctx("partner_note", id, &row.case_id),
                    text.as_bytes(),
                )?;
                diesel::update(referrals::table.find(id))
                    .set(referrals::partner_note.eq(Some(sealed)))
                    .execute(conn)?;
            }
            if matches!(next, Status::Accepted | Status::Declined) {
                diesel::update(referrals::table.find(id))
                    .set(referrals::answered_at.eq(Some(now)))
                    .execute(conn)?;
                queue_to_user(
                    conn,
                    &row.created_by,
                    &Template::ReferralAnswered {
                        referral: id.to_string(),
                        accepted: next == Status::Accepted,
                    },
                    &settings.public_url,
                )?;
            }
            let event = AuditEvent {
                record_type: Some("referral".into()),
                record_id: Some(id.to_string()),
                fields: if note.is_some() {
                    vec!["status".into(), field.into()]
                } else {
                    vec!["status".into()]
                },
                rule: Some(rule.into()),
                ..actor.event(&format!("referral.{}", next.as_str()))
            };
            if next.is_final() {
                self.end_referral(conn, &row, next, event, &settings.public_url)?;
            } else {
                diesel::update(referrals::table.find(id))
                    .set((
                        referrals::status.eq(next.as_str()),
                        referrals::version.eq(version + 1),
                        referrals::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                self.record(conn, &event)?;
            }
            Ok(version + 1)
        })
        .map_err(conflict)
    }

    /// Referrals for the actor: a partner's live incoming ones; a case worker's own open ones;
    /// all open ones for a supervisor. With `case_id`, that case's referrals (any status).
    pub fn list_referrals(
        &self,
        db: &Database,
        actor: &Actor,
        case_id: Option<&str>,
    ) -> Result<Vec<ReferralSummary>, AuthError> {
        let rule = match case_id {
            Some(case) => {
                self.case_access(db, actor, Action::ReferralRead, case)?
                    .rule
            }
            None => self.authorize(db, actor, Action::ReferralList, Relation::NoObject, None)?,
        };
        Ok(db.write(|conn| {
            let mut q = referrals::table
                .select(SummaryRow::as_select())
                .into_boxed();
            if let Some(case) = case_id {
                q = q.filter(referrals::case_id.eq(case.to_string()));
            } else if actor.role == Role::Partner {
                q = q
                    .filter(
                        referrals::organisation_id
                            .eq(actor.organisation_id.clone().unwrap_or_default()),
                    )
                    .filter(referrals::status.eq_any(LIVE));
            } else if actor.role == Role::Supervisor {
                q = q.filter(referrals::status.eq_any(OPEN));
            } else {
                q = q
                    .filter(referrals::created_by.eq(actor.user_id.clone()))
                    .filter(referrals::status.eq_any(OPEN));
            }
            let rows: Vec<SummaryRow> = q
                .order_by((referrals::created_at.desc(), referrals::id.desc()))
                .limit(500)
                .load(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some(
                        if case_id.is_some() {
                            "case"
                        } else {
                            "referral"
                        }
                        .into(),
                    ),
                    record_id: case_id.map(String::from),
                    rule: Some(rule.into()),
                    ..actor.event("referral.list")
                },
            )?;
            let partner = actor.role == Role::Partner;
            Ok(rows.into_iter().map(|r| summary(r, partner)).collect())
        })?)
    }

    /// A case worker's referrals whose follow-up date has come (today or earlier), open ones
    /// only.
    pub fn due_referrals(
        &self,
        db: &Database,
        actor: &Actor,
        today: &str,
    ) -> Result<Vec<ReferralSummary>, AuthError> {
        let rule = self.authorize(db, actor, Action::ReferralList, Relation::NoObject, None)?;
        if actor.role == Role::Partner {
            return Ok(Vec::new());
        }
        Ok(db.write(|conn| {
            let rows: Vec<SummaryRow> = referrals::table
                .filter(referrals::created_by.eq(&actor.user_id))
                .filter(referrals::status.eq_any(OPEN))
                .filter(referrals::follow_up_on.le(today))
                .select(SummaryRow::as_select())
                .order_by((referrals::follow_up_on, referrals::id))
                .load(conn)?;
            self.record(
                conn,
                &AuditEvent {
                    record_type: Some("referral".into()),
                    rule: Some(rule.into()),
                    ..actor.event("referral.due")
                },
            )?;
            Ok(rows.into_iter().map(|r| summary(r, false)).collect())
        })?)
    }

    /// Revokes every open referral resting on a withdrawn consent, in the caller's transaction:
    /// packets shredded at once, providers that had them told. Returns how many.
    pub(crate) fn revoke_for_consent(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        consent_id: &str,
        base_url: &str,
    ) -> Result<usize, DbError> {
        let rows: Vec<ReferralRow> = referrals::table
            .filter(referrals::consent_id.eq(consent_id))
            .filter(referrals::status.eq_any(OPEN))
            .select(ReferralRow::as_select())
            .load(conn)?;
        for row in &rows {
            let event = AuditEvent {
                record_type: Some("referral".into()),
                record_id: Some(row.id.clone()),
                fields: vec!["status".into(), "packet".into()],
                rule: Some("consent_withdrawn".into()),
                ..actor.event("referral.revoke")
            };
            self.end_referral(conn, row, Status::Revoked, event, base_url)?;
        }
        Ok(rows.len())
    }
}

impl Vault {
    /// Revokes every open referral of a case (its erasure), in the caller's transaction.
    pub(crate) fn revoke_for_case(
        &self,
        conn: &mut DbConnection,
        case_id: &str,
        event: &AuditEvent,
        base_url: &str,
    ) -> Result<usize, DbError> {
        let rows: Vec<ReferralRow> = referrals::table
            .filter(referrals::case_id.eq(case_id))
            .filter(referrals::status.eq_any(OPEN))
            .select(ReferralRow::as_select())
            .load(conn)?;
        for row in &rows {
            let e = AuditEvent {
                action: "referral.revoke".into(),
                record_type: Some("referral".into()),
                record_id: Some(row.id.clone()),
                fields: vec!["status".into(), "packet".into()],
                ..event.clone()
            };
            self.end_referral(conn, row, Status::Revoked, e, base_url)?;
        }
        Ok(rows.len())
    }

    /// Tells a provider a referral it received is void (consent withdrawn or case erased).
    pub(crate) fn notify_withdrawn(
        &self,
        conn: &mut DbConnection,
        organisation_id: &str,
        referral_id: &str,
        base_url: &str,
    ) -> Result<(), DbError> {
        self.notify_provider(
            conn,
            organisation_id,
            &Template::ReferralWithdrawn {
                referral: referral_id.to_string(),
            },
            base_url,
        )
    }
}

/// The columns a list shows (no sealed blobs).
#[derive(Queryable, Selectable)]
#[diesel(table_name = referrals)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct SummaryRow {
    id: String,
    case_id: String,
    organisation_id: String,
    service_type: String,
    status: String,
    follow_up_on: Option<String>,
    sent_at: Option<i64>,
    first_opened_at: Option<i64>,
    version: i32,
}

fn summary(r: SummaryRow, partner: bool) -> ReferralSummary {
    ReferralSummary {
        case_id: (!partner).then_some(r.case_id),
        id: r.id,
        organisation_id: r.organisation_id,
        service_type: r.service_type,
        status: r.status,
        follow_up_on: r.follow_up_on,
        sent_at: r.sent_at,
        first_opened_at: r.first_opened_at,
        version: r.version,
    }
}

/// What one run of the referral jobs did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobReport {
    pub expired_unanswered: usize,
    pub expired_consent: usize,
    pub follow_ups_due: usize,
}

impl Vault {
    /// The scheduled work: referrals not answered in time and those whose consent expired end
    /// as expired (packets shredded, providers told); case workers hear of follow-ups that are
    /// due today (once per date).
    pub fn run_referral_jobs(
        &self,
        db: &Database,
        settings: &ReferralSettings,
        today: &str,
    ) -> Result<JobReport, DbError> {
        let now = now_micros();
        db.write(|conn| {
            let mut report = JobReport::default();
            let unanswered: Vec<ReferralRow> = referrals::table
                .filter(referrals::status.eq(Status::Sent.as_str()))
                .filter(referrals::answer_due_at.le(now))
                .select(ReferralRow::as_select())
                .load(conn)?;
            for row in &unanswered {
                let event = AuditEvent {
                    record_type: Some("referral".into()),
                    record_id: Some(row.id.clone()),
                    fields: vec!["status".into(), "packet".into()],
                    rule: Some("no_answer_in_time".into()),
                    ..AuditEvent::system("referral.expire")
                };
                self.end_referral(conn, row, Status::Expired, event, &settings.public_url)?;
            }
            report.expired_unanswered = unanswered.len();
            let with_consent: Vec<ReferralRow> = referrals::table
                .inner_join(
                    crate::schema::case_consents::table.on(crate::schema::case_consents::id
                        .nullable()
                        .eq(referrals::consent_id)),
                )
                .filter(referrals::status.eq_any(OPEN))
                .filter(crate::schema::case_consents::expires_at.le(now))
                .select(ReferralRow::as_select())
                .load(conn)?;
            for row in &with_consent {
                let event = AuditEvent {
                    record_type: Some("referral".into()),
                    record_id: Some(row.id.clone()),
                    fields: vec!["status".into(), "packet".into()],
                    rule: Some("consent_expired".into()),
                    ..AuditEvent::system("referral.expire")
                };
                self.end_referral(conn, row, Status::Expired, event, &settings.public_url)?;
            }
            report.expired_consent = with_consent.len();
            let due: Vec<(String, String, String)> = referrals::table
                .filter(referrals::status.eq_any(OPEN))
                .filter(referrals::follow_up_on.le(today))
                .filter(
                    referrals::follow_up_notified_on
                        .is_null()
                        .or(referrals::follow_up_notified_on.ne(referrals::follow_up_on)),
                )
                .select((
                    referrals::id,
                    referrals::created_by,
                    referrals::follow_up_on.assume_not_null(),
                ))
                .load(conn)?;
            for (id, worker, date) in &due {
                queue_to_user(
                    conn,
                    worker,
                    &Template::FollowUpDue {
                        referral: id.clone(),
                    },
                    &settings.public_url,
                )?;
                diesel::update(referrals::table.find(id))
                    .set(referrals::follow_up_notified_on.eq(Some(date)))
                    .execute(conn)?;
            }
            report.follow_ups_due = due.len();
            Ok(report)
        })
    }
}

fn conflict(e: DbError) -> AuthError {
    crate::error::conflict_among(e, &CONFLICTS)
}
