//! Victim case files: what case workers submit and the rules it must keep. The status machine
//! (HTCDS statuses), the clear statistical facts, the sealed victim profile with its
//! safe-contact instructions, notes, reintegration plan items and consent records.
//!
//! Errors name fields and rules, never values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::normalize::{self, PhoneNumber};
use crate::vocabulary::{self, Vocabulary};

/// Narrative fields: exploitation details, needs assessment, a note.
pub const TEXT_MAX_CHARS: usize = 20_000;
/// Names, document numbers, a plan goal's first line and the like.
pub const SHORT_MAX_CHARS: usize = 200;
/// An address, safe-contact instructions, a consent's scope, a progress note.
pub const MEDIUM_MAX_CHARS: usize = 2_000;
/// Entries of any list (phones, names, documents, countries, types).
pub const LIST_MAX: usize = 20;

pub type FieldErrors = BTreeMap<String, String>;

/// HTCDS case status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    FollowUp,
    Closed,
    ClosedReferred,
}

impl Status {
    pub fn parse(code: &str) -> Option<Status> {
        Some(match code {
            "Active" => Status::Active,
            "FollowUp" => Status::FollowUp,
            "Closed" => Status::Closed,
            "ClosedReferred" => Status::ClosedReferred,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::FollowUp => "FollowUp",
            Status::Closed => "Closed",
            Status::ClosedReferred => "ClosedReferred",
        }
    }

    pub fn is_closed(self) -> bool {
        matches!(self, Status::Closed | Status::ClosedReferred)
    }

    /// The allowed transitions: open cases move between Active and FollowUp and may close
    /// either way; a closed case can only be reopened (to Active). Staying put is not a move.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Active, FollowUp | Closed | ClosedReferred)
                | (FollowUp, Active | Closed | ClosedReferred)
                | (Closed | ClosedReferred, Active)
        )
    }
}

/// How to reach the person, always together with when and how it is safe to do so.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// When and how contact is safe ("no calls after 18:00", "never leave voicemail").
    #[serde(default)]
    pub safe_contact: Option<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// An identity document and where it is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub kind: String,
    #[serde(default)]
    pub number: Option<String>,
    pub status: String,
}

/// The victim's profile, sealed as one value. Gender, age band and nationality are the clear
/// statistical facts of the case, not repeated here.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VictimProfile {
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    /// Other names and spellings the person is known by.
    #[serde(default)]
    pub other_names: Vec<String>,
    /// YYYY-MM-DD.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// ISO 639-1 codes of the language vocabulary.
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub contact: Contact,
    #[serde(default)]
    pub documents: Vec<Document>,
}

impl fmt::Debug for VictimProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VictimProfile([redacted])")
    }
}

impl VictimProfile {
    /// The names to find the person by, normalised for the blind index: the full name and
    /// every other name.
    pub fn search_names(&self) -> Vec<String> {
        let full = [&self.given_name, &self.family_name]
            .iter()
            .filter_map(|n| n.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let mut names: Vec<String> = std::iter::once(full.as_str())
            .chain(self.other_names.iter().map(String::as_str))
            .map(normalize::name)
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The phone numbers (already E.164 after validation).
    pub fn phones(&self) -> &[String] {
        &self.contact.phones
    }

    pub fn is_empty(&self) -> bool {
        *self == VictimProfile::default()
    }
}

/// The clear, statistical facts of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub risk_level: String,
    pub gender: String,
    pub age_band: String,
    pub nationality: String,
    pub exploitation_types: Vec<String>,
    pub control_methods: Vec<String>,
    pub recruitment: String,
    pub recruitment_countries: Vec<String>,
    pub transit_countries: Vec<String>,
    pub exploitation_countries: Vec<String>,
    /// YYYY-MM.
    pub exploitation_from: Option<String>,
    /// YYYY-MM.
    pub exploitation_to: Option<String>,
    pub nrm_status: String,
}

impl Default for CaseFacts {
    /// What a case starts with when nothing is known yet.
    fn default() -> Self {
        CaseFacts {
            risk_level: "medium".into(),
            gender: "unknown".into(),
            age_band: "unknown".into(),
            nationality: "XX".into(),
            exploitation_types: Vec::new(),
            control_methods: Vec::new(),
            recruitment: "unknown".into(),
            recruitment_countries: Vec::new(),
            transit_countries: Vec::new(),
            exploitation_countries: Vec::new(),
            exploitation_from: None,
            exploitation_to: None,
            nrm_status: "not_referred".into(),
        }
    }
}

/// The call topics that say which form of exploitation a case opened from a call is about.
pub fn exploitation_types_of_topics(topics: &[String]) -> Vec<String> {
    let mut types: Vec<String> = topics
        .iter()
        .filter_map(|t| match t.as_str() {
            "trafficking_labour" => Some("forced_labour"),
            "trafficking_sexual" => Some("sexual"),
            "trafficking_begging" => Some("begging"),
            "trafficking_forced_marriage" => Some("forced_marriage"),
            "trafficking_other" => Some("other"),
            "domestic_violence" => Some("domestic_violence"),
            _ => None,
        })
        .map(String::from)
        .collect();
    types.sort();
    types.dedup();
    types
}

fn pick(errors: &mut FieldErrors, field: &str, value: &str, vocabulary: Vocabulary) {
    if !vocabulary.contains(value) {
        errors.insert(
            field.to_string(),
            format!(
                "must be one of the codes of the {} vocabulary",
                vocabulary.name
            ),
        );
    }
}

fn pick_all(errors: &mut FieldErrors, field: &str, values: &mut Vec<String>, v: Vocabulary) {
    values.sort();
    values.dedup();
    if values.len() > LIST_MAX {
        errors.insert(
            field.into(),
            format!("must have at most {LIST_MAX} entries"),
        );
    } else if !values.iter().all(|x| v.contains(x)) {
        errors.insert(
            field.into(),
            format!("must be codes of the {} vocabulary", v.name),
        );
    }
}

/// `YYYY-MM` with a plausible year.
fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && s[..4]
            .parse::<u32>()
            .is_ok_and(|y| (1900..=2200).contains(&y))
        && s[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

/// `YYYY-MM-DD`, a real day of the Gregorian calendar with a plausible year.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[7] != b'-' || !is_month(&s[..7]) || !b[8..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let (y, m): (u32, u32) = (s[..4].parse().unwrap_or(0), s[5..7].parse().unwrap_or(0));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    s[8..].parse::<u32>().is_ok_and(|d| (1..=days).contains(&d))
}

impl CaseFacts {
    /// Checks every code; sorts and de-duplicates the lists.
    pub fn validate(&mut self, errors: &mut FieldErrors) {
        pick(
            errors,
            "risk_level",
            &self.risk_level,
            vocabulary::RISK_LEVEL,
        );
        pick(errors, "gender", &self.gender, vocabulary::GENDER);
        pick(errors, "age_band", &self.age_band, vocabulary::AGE_GROUP);
        pick(
            errors,
            "nationality",
            &self.nationality,
            vocabulary::COUNTRY,
        );
        pick(
            errors,
            "recruitment",
            &self.recruitment,
            vocabulary::RECRUITMENT,
        );
        pick(
            errors,
            "nrm_status",
            &self.nrm_status,
            vocabulary::NRM_STATUS,
        );
        pick_all(
            errors,
            "exploitation_types",
            &mut self.exploitation_types,
            vocabulary::EXPLOITATION_TYPE,
        );
        pick_all(
            errors,
            "control_methods",
            &mut self.control_methods,
            vocabulary::CONTROL_METHOD,
        );
        for (field, list) in [
            ("recruitment_countries", &mut self.recruitment_countries),
            ("transit_countries", &mut self.transit_countries),
            ("exploitation_countries", &mut self.exploitation_countries),
        ] {
            pick_all(errors, field, list, vocabulary::COUNTRY);
        }
        for (field, value) in [
            ("exploitation_from", &self.exploitation_from),
            ("exploitation_to", &self.exploitation_to),
        ] {
            if value.as_deref().is_some_and(|m| !is_month(m)) {
                errors.insert(field.into(), "must be a month as YYYY-MM".into());
            }
        }
        if let (Some(from), Some(to)) = (&self.exploitation_from, &self.exploitation_to) {
            if is_month(from) && is_month(to) && to < from {
                errors.insert(
                    "exploitation_to".into(),
                    "must not be before exploitation_from".into(),
                );
            }
        }
    }
}

/// Trims; an empty value is an absent one; checks the length.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &mut Option<String>,
    max: usize,
) {
    if let Some(v) = value {
        let trimmed = v.trim();
        if trimmed.is_empty() {
            *value = None;
        } else if trimmed.chars().count() > max {
            errors.insert(field.into(), format!("must be at most {max} characters"));
        } else if trimmed.len() != v.len() {
            *v = trimmed.to_string();
        }
    }
}

/// An optional e-mail address: trimmed, empty as absent, at most 254 characters, one `@` with
/// a dot in the domain and no white space, then lower-cased (`normalize::email`).
pub fn optional_email(errors: &mut FieldErrors, field: &str, value: &mut Option<String>) {
    optional_text(errors, field, value, 254);
    if let Some(e) = value {
        let (local, domain) = e.split_once('@').unwrap_or(("", ""));
        if local.is_empty() || !domain.contains('.') || e.chars().any(char::is_whitespace) {
            errors.insert(field.into(), "is not an e-mail address".into());
        } else {
            *e = normalize::email(e);
        }
    }
}

/// Like [`optional_text`], but the value must be there.
pub fn required_text(errors: &mut FieldErrors, field: &str, value: &mut String, max: usize) {
    let mut v = Some(std::mem::take(value));
    optional_text(errors, field, &mut v, max);
    match v {
        Some(v) => *value = v,
        None => {
            errors.insert(field.into(), "must not be empty".into());
        }
    }
}

impl VictimProfile {
    /// Checks and normalises the profile: phones to E.164, e-mail lower-cased, names trimmed,
    /// empty values dropped. Errors are keyed `profile.<path>`.
    pub fn validate(&mut self, errors: &mut FieldErrors, default_country_code: &str) {
        optional_text(
            errors,
            "profile.given_name",
            &mut self.given_name,
            SHORT_MAX_CHARS,
        );
        optional_text(
            errors,
            "profile.family_name",
            &mut self.family_name,
            SHORT_MAX_CHARS,
        );
        let mut names = Vec::new();
        for (i, n) in std::mem::take(&mut self.other_names)
            .into_iter()
            .enumerate()
        {
            let mut n = Some(n);
            optional_text(
                errors,
                &format!("profile.other_names[{i}]"),
                &mut n,
                SHORT_MAX_CHARS,
            );
            names.extend(n);
        }
        self.other_names = names;
        if self.other_names.len() > LIST_MAX {
            errors.insert(
                "profile.other_names".into(),
                format!("must have at most {LIST_MAX} entries"),
            );
        }
        optional_text(errors, "profile.birth_date", &mut self.birth_date, 10);
        if self.birth_date.as_deref().is_some_and(|d| !is_date(d)) {
            errors.insert(
                "profile.birth_date".into(),
                "must be a date as YYYY-MM-DD".into(),
            );
        }
        pick_all(
            errors,
            "profile.languages",
            &mut self.languages,
            vocabulary::LANGUAGE,
        );
        let c = &mut self.contact;
        optional_text(
            errors,
            "profile.contact.safe_contact",
            &mut c.safe_contact,
            MEDIUM_MAX_CHARS,
        );
        optional_text(
            errors,
            "profile.contact.address",
            &mut c.address,
            MEDIUM_MAX_CHARS,
        );
        optional_email(errors, "profile.contact.email", &mut c.email);
        let mut phones = Vec::new();
        for (i, p) in std::mem::take(&mut c.phones).into_iter().enumerate() {
            if p.trim().is_empty() {
                continue;
            }
            match PhoneNumber::parse(&p, default_country_code) {
                Some(n) => phones.push(n.e164().to_string()),
                None => {
                    errors.insert(
                        format!("profile.contact.phones[{i}]"),
                        "is not a phone number (international, or national with a leading 0)"
                            .into(),
                    );
                }
            }
        }
        phones.dedup();
        if phones.len() > LIST_MAX {
            errors.insert(
                "profile.contact.phones".into(),
                format!("must have at most {LIST_MAX} entries"),
            );
        }
        c.phones = phones;
        if self.documents.len() > LIST_MAX {
            errors.insert(
                "profile.documents".into(),
                format!("must have at most {LIST_MAX} entries"),
            );
        }
        for (i, d) in self.documents.iter_mut().enumerate() {
            pick(
                errors,
                &format!("profile.documents[{i}].kind"),
                &d.kind,
                vocabulary::DOCUMENT_TYPE,
            );
            pick(
                errors,
                &format!("profile.documents[{i}].status"),
                &d.status,
                vocabulary::DOCUMENT_STATUS,
            );
            optional_text(
                errors,
                &format!("profile.documents[{i}].number"),
                &mut d.number,
                SHORT_MAX_CHARS,
            );
        }
    }
}

/// A reintegration plan item's clear part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFacts {
    pub domain: String,
    pub status: String,
    /// YYYY-MM-DD.
    pub due_on: Option<String>,
}

impl PlanFacts {
    pub fn validate(&self, errors: &mut FieldErrors) {
        pick(errors, "domain", &self.domain, vocabulary::PLAN_DOMAIN);
        pick(errors, "status", &self.status, vocabulary::PLAN_STATUS);
        if self.due_on.as_deref().is_some_and(|d| !is_date(d)) {
            errors.insert("due_on".into(), "must be a date as YYYY-MM-DD".into());
        }
    }

    /// Achieved and cancelled items are finished.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "achieved" | "cancelled")
    }
}

/// A consent record's clear part: what it is for and which providers it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFacts {
    pub purpose: String,
    /// For referral sharing: the service types it covers.
    pub service_types: Vec<String>,
    /// For referral sharing: provider organisations it names (empty: any of those types).
    pub organisations: Vec<String>,
    /// Microseconds since the epoch.
    pub given_at: i64,
    pub expires_at: Option<i64>,
}

impl ConsentFacts {
    pub fn validate(&mut self, errors: &mut FieldErrors, now_us: i64) {
        pick(
            errors,
            "purpose",
            &self.purpose,
            vocabulary::CONSENT_PURPOSE,
        );
        pick_all(
            errors,
            "service_types",
            &mut self.service_types,
            vocabulary::SERVICE_TYPE,
        );
        self.organisations.sort();
        self.organisations.dedup();
        if self.organisations.len() > LIST_MAX
            || self
                .organisations
                .iter()
                .any(|o| o.is_empty() || o.len() > 64 || o.contains(','))
        {
            errors.insert(
                "organisations".into(),
                format!("must be at most {LIST_MAX} organisation ids"),
            );
        }
        if self.purpose == "referral_sharing" && self.service_types.is_empty() {
            errors.insert(
                "service_types".into(),
                "a consent to share for referrals must name the service types it covers".into(),
            );
        }
        if self.purpose != "referral_sharing"
            && (!self.service_types.is_empty() || !self.organisations.is_empty())
        {
            errors.insert(
                "service_types".into(),
                "only a consent to share for referrals names service types or organisations".into(),
            );
        }
        // A paper form signed earlier is recorded later; a consent given in the future is not.
        if self.given_at <= 0 || self.given_at > now_us + 5 * 60 * 1_000_000 {
            errors.insert("given_at".into(), "must not be in the future".into());
        }
        if self.expires_at.is_some_and(|e| e <= self.given_at) {
            errors.insert("expires_at".into(), "must be after given_at".into());
        }
    }

    /// Given, not withdrawn and not expired at `now`.
    pub fn is_live(&self, withdrawn_at: Option<i64>, now_us: i64) -> bool {
        withdrawn_at.is_none() && self.expires_at.is_none_or(|e| e > now_us)
    }
}

/// Free text with third parties' data removed, for a subject access export: case workers mark
/// what belongs to someone else (a recruiter's name, an employer's address) with `[[...]]`, and
/// each marked span becomes `[third party]`. An unclosed `[[` hides the rest of the text, so a
/// typo never leaks.
pub fn redact_third_parties(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        out.push_str("[third party]");
        match rest[start + 2..].find("]]") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_table_and_staying_is_not_one() {
        use Status::*;
        let all = [Active, FollowUp, Closed, ClosedReferred];
        let allowed: Vec<(Status, Status)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Active, FollowUp),
                (Active, Closed),
                (Active, ClosedReferred),
                (FollowUp, Active),
                (FollowUp, Closed),
                (FollowUp, ClosedReferred),
                (Closed, Active),
                (ClosedReferred, Active),
            ]
        );
        for s in all {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert!(vocabulary::CASE_STATUS.contains(s.as_str()));
        }
        assert_eq!(Status::parse("closed"), None);
    }

    #[test]
    fn dates_and_months() {
        for ok in ["2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024-04-31",
            "24-04-30",
            "2024-04-3a",
            "+024-04-30",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        assert!(is_month("2026-11") && !is_month("2026-00") && !is_month("2026/11"));
    }

    #[test]
    fn a_profile_is_normalised_and_errors_name_the_path() {
        let mut p = VictimProfile {
            given_name: Some("  Olena ".into()),
            family_name: Some("KOVALENKO".into()),
            other_names: vec!["".into(), " Lena  K ".into()],
            contact: Contact {
                phones: vec!["050 123 45 67".into(), "not a phone".into()],
                email: Some(" Olena@Example.ORG ".into()),
                ..Default::default()
            },
            documents: vec![Document {
                kind: "passport".into(),
                number: None,
                status: "confiscated".into(),
            }],
            ..Default::default()
        };
        let mut errors = FieldErrors::new();
        p.validate(&mut errors, "380");
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["profile.contact.phones[1]", "profile.documents[0].status"]
        );
        assert!(errors.values().all(|m| !m.contains("confiscated")));
        assert_eq!(p.contact.phones, vec!["+380501234567"]);
        assert_eq!(p.contact.email.as_deref(), Some("olena@example.org"));
        assert_eq!(p.search_names(), vec!["lena k", "olena kovalenko"]);
        assert_eq!(format!("{p:?}"), "VictimProfile([redacted])");
    }

    #[test]
    fn facts_check_every_code() {
        let mut f = CaseFacts {
            nationality: "Ukraine".into(),
            exploitation_types: vec!["sexual".into(), "sexual".into()],
            exploitation_from: Some("2025-07".into()),
            exploitation_to: Some("2025-03".into()),
            ..Default::default()
        };
        let mut errors = FieldErrors::new();
        f.validate(&mut errors);
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["exploitation_to", "nationality"]
        );
        assert_eq!(f.exploitation_types, vec!["sexual"]);
        let mut ok = CaseFacts::default();
        let mut errors = FieldErrors::new();
        ok.validate(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn consents_for_referrals_name_what_they_cover() {
        let now = 1_800_000_000_000_000;
        let mut c = ConsentFacts {
            purpose: "referral_sharing".into(),
            service_types: vec![],
            organisations: vec![],
            given_at: now,
            expires_at: Some(now - 1),
        };
        let mut errors = FieldErrors::new();
        c.validate(&mut errors, now);
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            vec!["expires_at", "service_types"]
        );
        c.expires_at = Some(now + 10);
        assert!(c.is_live(None, now) && !c.is_live(Some(now), now) && !c.is_live(None, now + 10));
    }

    #[test]
    fn third_parties_are_redacted_and_a_typo_hides_the_rest() {
        assert_eq!(
            redact_third_parties("Recruited by [[Petro K.]] in [[Lviv, Main st 1]], then left."),
            "Recruited by [third party] in [third party], then left."
        );
        assert_eq!(redact_third_parties("no marks"), "no marks");
        assert_eq!(
            redact_third_parties("ok [[unclosed secret name"),
            "ok [third party]"
        );
    }

    #[test]
    fn topics_carry_over_to_exploitation_types() {
        let topics = vec![
            "trafficking_sexual".to_string(),
            "safe_migration".into(),
            "domestic_violence".into(),
        ];
        assert_eq!(
            exploitation_types_of_topics(&topics),
            vec!["domestic_violence", "sexual"]
        );
    }

    proptest::proptest! {
        /// Free text and dates from clients never panic the checks, and no error repeats them.
        #[test]
        fn untrusted_profile_text_is_checked_without_echo(
            text in "\\PC{0,80}",
            date in "\\PC{0,12}",
        ) {
            let _ = redact_third_parties(&text);
            let _ = is_date(&date);
            let mut p = VictimProfile {
                given_name: Some(text.clone()),
                birth_date: Some(date.clone()),
                languages: vec![text.clone()],
                contact: Contact {
                    phones: vec![text.clone()],
                    email: Some(text.clone()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let mut errors = FieldErrors::new();
            p.validate(&mut errors, "380");
            for message in errors.values() {
                proptest::prop_assert!(text.trim().len() < 4 || !message.contains(text.trim()));
            }
        }
    }
}
