//! A hotline call as logged while the caller is on the line: validation of what a counselor
//! submits. Anonymous calls are normal: no personal field is required.

use std::collections::BTreeMap;

use crate::normalize::PhoneNumber;
use crate::vocabulary::{self, Vocabulary};
use crate::Sensitive;

pub const SUMMARY_MAX_CHARS: usize = 10_000;
pub const NAME_MAX_CHARS: usize = 200;
/// A call may be logged with a start up to this far in the future (clock skew), in µs.
const FUTURE_SKEW_US: i64 = 5 * 60 * 1_000_000;

/// What a client submits (already parsed from JSON; values unchecked).
#[derive(Debug, Clone)]
pub struct CallInput {
    pub channel: String,
    pub direction: String,
    /// Microseconds since the epoch.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub caller_role: String,
    pub topics: Vec<String>,
    pub region: String,
    pub caller_gender: String,
    pub caller_age_group: String,
    pub language: String,
    pub outcome: String,
    pub summary: Option<Sensitive<String>>,
    pub caller_name: Option<Sensitive<String>>,
    pub caller_phone: Option<Sensitive<String>>,
}

/// A call that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidCall {
    pub input: CallInput,
    pub phone: Option<PhoneNumber>,
}

impl ValidCall {
    pub fn has_personal_data(&self) -> bool {
        self.input.summary.is_some() || self.input.caller_name.is_some() || self.phone.is_some()
    }
}

/// Checks a call. Errors name the fields and the rule broken, never the values.
pub fn validate(
    mut input: CallInput,
    now_us: i64,
    default_country_code: &str,
) -> Result<ValidCall, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut pick = |field: &str, value: &str, vocabulary: Vocabulary| {
        if !vocabulary.contains(value) {
            errors.insert(
                field.to_string(),
                format!(
                    "must be one of the codes of the {} vocabulary",
                    vocabulary.name
                ),
            );
        }
    };
    pick("channel", &input.channel, vocabulary::CHANNEL);
    pick("direction", &input.direction, vocabulary::DIRECTION);
    pick("caller_role", &input.caller_role, vocabulary::CALLER_ROLE);
    pick("region", &input.region, vocabulary::REGION);
    pick("caller_gender", &input.caller_gender, vocabulary::GENDER);
    pick(
        "caller_age_group",
        &input.caller_age_group,
        vocabulary::AGE_GROUP,
    );
    pick("language", &input.language, vocabulary::LANGUAGE);
    pick("outcome", &input.outcome, vocabulary::OUTCOME);
    input.topics.sort();
    input.topics.dedup();
    if input.topics.is_empty() {
        errors.insert("topics".into(), "at least one topic is required".into());
    } else if !input.topics.iter().all(|t| vocabulary::TOPIC.contains(t)) {
        errors.insert(
            "topics".into(),
            "must be codes of the topic vocabulary".into(),
        );
    }
    if input.started_at <= 0 || input.started_at > now_us + FUTURE_SKEW_US {
        errors.insert("started_at".into(), "must not be in the future".into());
    }
    if input.ended_at.is_some_and(|end| end < input.started_at) {
        errors.insert("ended_at".into(), "must not be before started_at".into());
    }
    // Empty personal fields are absent ones.
    for field in [
        &mut input.summary,
        &mut input.caller_name,
        &mut input.caller_phone,
    ] {
        if field.as_ref().is_some_and(|v| v.expose().trim().is_empty()) {
            *field = None;
        }
    }
    if input
        .summary
        .as_ref()
        .is_some_and(|s| s.expose().chars().count() > SUMMARY_MAX_CHARS)
    {
        errors.insert(
            "summary".into(),
            format!("must be at most {SUMMARY_MAX_CHARS} characters"),
        );
    }
    if input
        .caller_name
        .as_ref()
        .is_some_and(|s| s.expose().chars().count() > NAME_MAX_CHARS)
    {
        errors.insert(
            "caller_name".into(),
            format!("must be at most {NAME_MAX_CHARS} characters"),
        );
    }
    let phone = match &input.caller_phone {
        None => None,
        Some(raw) => {
            let parsed = PhoneNumber::parse(raw.expose(), default_country_code);
            if parsed.is_none() {
                errors.insert(
                    "caller_phone".into(),
                    "is not a phone number (international, or national with a leading 0)".into(),
                );
            }
            parsed
        }
    };
    if errors.is_empty() {
        Ok(ValidCall { input, phone })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CallInput {
        CallInput {
            channel: "phone".into(),
            direction: "inbound".into(),
            started_at: 1_000_000,
            ended_at: Some(2_000_000),
            caller_role: "potential_victim".into(),
            topics: vec!["domestic_violence".into(), "domestic_violence".into()],
            region: "UA-30".into(),
            caller_gender: "female".into(),
            caller_age_group: "24-26".into(),
            language: "uk".into(),
            outcome: "information".into(),
            summary: None,
            caller_name: Some(Sensitive::new("  ".into())),
            caller_phone: None,
        }
    }

    #[test]
    fn an_anonymous_call_is_valid() {
        let call = validate(input(), 10_000_000, "380").unwrap();
        assert!(!call.has_personal_data(), "a blank name is no name");
        assert_eq!(call.input.topics, vec!["domestic_violence"]);
    }

    #[test]
    fn every_broken_rule_is_named_and_no_value_repeated() {
        let mut bad = input();
        bad.channel = "CNRY-carrier-pigeon".into();
        bad.topics = vec![];
        bad.ended_at = Some(1);
        bad.started_at = 10_000_000_000;
        bad.caller_phone = Some(Sensitive::new("CNRY-12".into()));
        bad.summary = Some(Sensitive::new("x".repeat(SUMMARY_MAX_CHARS + 1)));
        let errors = validate(bad, 1_000_000, "380").unwrap_err();
        for field in [
            "channel",
            "topics",
            "ended_at",
            "started_at",
            "caller_phone",
            "summary",
        ] {
            assert!(errors.contains_key(field), "{field}: {errors:?}");
        }
        assert!(!format!("{errors:?}").contains("CNRY"));
    }
}
