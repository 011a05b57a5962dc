//! Referrals to service providers: the status machine, which fields a packet may carry for each
//! service type, and the provider directory's entries.

use std::collections::BTreeMap;

use crate::cases::{optional_text, FieldErrors};
use crate::vocabulary;

/// A referral's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Sent,
    Accepted,
    Declined,
    InProgress,
    Completed,
    Cancelled,
    Revoked,
    Expired,
}

/// Who moves a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The case worker (or a supervisor) on the hotline's side.
    Hotline,
    /// The partner organisation the referral is addressed to.
    Partner,
    /// The system: consent withdrawn or expired, no answer in time.
    System,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Draft,
        Status::Sent,
        Status::Accepted,
        Status::Declined,
        Status::InProgress,
        Status::Completed,
        Status::Cancelled,
        Status::Revoked,
        Status::Expired,
    ];

    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == code)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Sent => "sent",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    /// Sent to the partner and not yet ended: the partner may see the packet.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Sent | Status::Accepted | Status::InProgress)
    }

    /// Ended: nothing moves it any more, and its packet is shredded.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Declined
                | Status::Completed
                | Status::Cancelled
                | Status::Revoked
                | Status::Expired
        )
    }

    /// Whether `by` may move a referral from this status to `next`.
    pub fn can_become(self, next: Status, by: Mover) -> bool {
        use Status::*;
        match by {
            Mover::Hotline => matches!(
                (self, next),
                (Draft, Sent) | (Draft | Sent | Accepted | InProgress, Cancelled)
            ),
            Mover::Partner => matches!(
                (self, next),
                (Sent, Accepted | Declined)
                    | (Accepted, InProgress)
                    | (Accepted | InProgress, Completed)
            ),
            Mover::System => (self == Draft || self.is_live()) && matches!(next, Revoked | Expired),
        }
    }
}

/// A field a packet can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PacketField {
    FirstName,
    FamilyName,
    BirthDate,
    Gender,
    AgeBand,
    Languages,
    Nationality,
    DocumentStatus,
    SafetyNeeds,
    HealthNeeds,
}

impl PacketField {
    pub fn as_str(self) -> &'static str {
        match self {
            PacketField::FirstName => "first_name",
            PacketField::FamilyName => "family_name",
            PacketField::BirthDate => "birth_date",
            PacketField::Gender => "gender",
            PacketField::AgeBand => "age_band",
            PacketField::Languages => "languages",
            PacketField::Nationality => "nationality",
            PacketField::DocumentStatus => "document_status",
            PacketField::SafetyNeeds => "safety_needs",
            PacketField::HealthNeeds => "health_needs",
        }
    }
}

/// The fields a packet may carry for a service type: what that provider needs to take the
/// person in, and nothing more. Contact details are never in a packet: the provider reaches the
/// person through the case worker, who knows when and how contact is safe.
pub fn packet_fields(service_type: &str) -> &'static [PacketField] {
    use PacketField::*;
    match service_type {
        "shelter" => &[FirstName, Gender, AgeBand, Languages, SafetyNeeds],
        "legal" => &[
            FirstName,
            Gender,
            AgeBand,
            Languages,
            SafetyNeeds,
            Nationality,
            DocumentStatus,
        ],
        "medical" => &[
            FirstName,
            Gender,
            AgeBand,
            Languages,
            SafetyNeeds,
            HealthNeeds,
        ],
        "psychological" => &[FirstName, Gender, AgeBand, Languages],
        "employment" | "education" => &[FirstName, AgeBand, Languages],
        "financial" => &[FirstName, AgeBand],
        "repatriation" => &[
            FirstName,
            FamilyName,
            BirthDate,
            Nationality,
            DocumentStatus,
            Languages,
        ],
        _ => &[FirstName, Languages],
    }
}

/// What a case worker adds to a packet in their own words.
#[derive(Clone, Default)]
pub struct PacketNotes {
    pub safety_needs: Option<String>,
    pub health_needs: Option<String>,
}

impl std::fmt::Debug for PacketNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketNotes([redacted])")
    }
}

impl PacketNotes {
    /// Trims, checks lengths, and refuses a note the service type may not receive.
    pub fn validate(&mut self, service_type: &str, errors: &mut FieldErrors) {
        let allowed = packet_fields(service_type);
        for (field, kind, value) in [
            (
                "safety_needs",
                PacketField::SafetyNeeds,
                &mut self.safety_needs,
            ),
            (
                "health_needs",
                PacketField::HealthNeeds,
                &mut self.health_needs,
            ),
        ] {
            optional_text(errors, field, value, crate::cases::MEDIUM_MAX_CHARS);
            if value.is_some() && !allowed.contains(&kind) {
                errors.insert(
                    field.into(),
                    "is not shared with this type of service".into(),
                );
            }
        }
    }
}

/// A directory organisation as an admin submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationInput {
    /// A short code: lowercase letters, digits and hyphens (partner accounts name it).
    pub id: String,
    pub name: String,
    pub notification_email: Option<String>,
    /// The language of its notifications: uk or en.
    pub language: String,
    pub languages: Vec<String>,
    pub regions: Vec<String>,
    pub intake_criteria: String,
    pub active: bool,
    /// (service type, description)
    pub services: Vec<(String, String)>,
}

pub fn is_code(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

impl OrganisationInput {
    pub fn validate(&mut self) -> FieldErrors {
        let mut errors = BTreeMap::new();
        if !is_code(&self.id) {
            errors.insert(
                "id".into(),
                "must be 2 to 64 lowercase letters, digits or hyphens".into(),
            );
        }
        crate::cases::required_text(&mut errors, "name", &mut self.name, 200);
        crate::cases::optional_email(
            &mut errors,
            "notification_email",
            &mut self.notification_email,
        );
        if !matches!(self.language.as_str(), "uk" | "en") {
            errors.insert("language".into(), "must be uk or en".into());
        }
        for (field, list, v) in [
            ("languages", &mut self.languages, vocabulary::LANGUAGE),
            ("regions", &mut self.regions, vocabulary::REGION),
        ] {
            list.sort();
            list.dedup();
            if !list.iter().all(|x| v.contains(x)) || list.len() > 40 {
                errors.insert(
                    field.into(),
                    format!("must be codes of the {} vocabulary", v.name),
                );
            }
        }
        let mut criteria = Some(std::mem::take(&mut self.intake_criteria));
        optional_text(
            &mut errors,
            "intake_criteria",
            &mut criteria,
            crate::cases::MEDIUM_MAX_CHARS,
        );
        self.intake_criteria = criteria.unwrap_or_default();
        if self.services.is_empty() || self.services.len() > 20 {
            errors.insert(
                "services".into(),
                "an organisation offers 1 to 20 services".into(),
            );
        }
        for (i, (kind, description)) in self.services.iter_mut().enumerate() {
            if !vocabulary::SERVICE_TYPE.contains(kind) {
                errors.insert(
                    format!("services[{i}].service_type"),
                    "must be one of the codes of the service_type vocabulary".into(),
                );
            }
            let mut d = Some(std::mem::take(description));
            optional_text(
                &mut errors,
                &format!("services[{i}].description"),
                &mut d,
                crate::cases::MEDIUM_MAX_CHARS,
            );
            *description = d.unwrap_or_default();
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_moves_a_referral_where() {
        use Mover::*;
        use Status::*;
        let moves = |by: Mover| -> Vec<(Status, Status)> {
            Status::ALL
                .iter()
                .flat_map(|a| Status::ALL.iter().map(move |b| (*a, *b)))
                .filter(|(a, b)| a.can_become(*b, by))
                .collect()
        };
        assert_eq!(
            moves(Hotline),
            vec![
                (Draft, Sent),
                (Draft, Cancelled),
                (Sent, Cancelled),
                (Accepted, Cancelled),
                (InProgress, Cancelled)
            ]
        );
        assert_eq!(
            moves(Partner),
            vec![
                (Sent, Accepted),
                (Sent, Declined),
                (Accepted, InProgress),
                (Accepted, Completed),
                (InProgress, Completed)
            ]
        );
        for (from, to) in moves(System) {
            assert!(!from.is_final() && to.is_final(), "{from:?} -> {to:?}");
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            // Nothing leaves a final status.
            if s.is_final() {
                for by in [Hotline, Partner, System] {
                    assert!(Status::ALL.iter().all(|n| !s.can_become(*n, by)));
                }
            }
        }
    }

    #[test]
    fn packets_carry_only_their_service_types_fields() {
        assert!(!packet_fields("shelter").contains(&PacketField::Nationality));
        assert!(packet_fields("legal").contains(&PacketField::DocumentStatus));
        assert!(packet_fields("medical").contains(&PacketField::HealthNeeds));
        for t in vocabulary::SERVICE_TYPE.terms {
            let fields = packet_fields(t.code);
            assert!(fields.contains(&PacketField::FirstName), "{}", t.code);
        }
        let mut notes = PacketNotes {
            safety_needs: Some("night arrival".into()),
            health_needs: Some("insulin".into()),
        };
        let mut errors = FieldErrors::new();
        notes.validate("shelter", &mut errors);
        assert_eq!(errors.keys().collect::<Vec<_>>(), vec!["health_needs"]);
    }

    #[test]
    fn organisations_are_checked() {
        let mut o = OrganisationInput {
            id: "Shelter 1".into(),
            name: " ".into(),
            notification_email: Some("intake@shelter.example.org".into()),
            language: "uk".into(),
            languages: vec!["uk".into()],
            regions: vec!["UA-46".into(), "Lviv".into()],
            intake_criteria: "Women 18+".into(),
            active: true,
            services: vec![
                ("shelter".into(), "24 beds".into()),
                ("spa".into(), "".into()),
            ],
        };
        let errors = o.validate();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["id", "name", "regions", "services[1].service_type"]
        );
    }
}
