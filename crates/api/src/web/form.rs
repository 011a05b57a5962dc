//! A form as the browser sent it: every field's values as typed (a repeated name, such as a
//! group of chips, keeps all its values in order), and what was wrong with it. A form that
//! comes back (422, or 409 when someone changed the record meanwhile) is rendered from the same
//! [`Fields`], so nothing typed is lost and the wrong fields are named, never quoted in a log.

use std::collections::BTreeMap;

use domain::Sensitive;
use persistence::AuthError;

use crate::ApiError;

/// The field names a form may carry and their labels' message keys (the error summary links
/// each wrong field by its label).
pub(crate) const LABELS: &[(&str, &str)] = &[
    ("status", "field-status"),
    ("risk_level", "field-risk-level"),
    ("gender", "field-gender"),
    ("age_band", "field-age-band"),
    ("nationality", "field-nationality"),
    ("recruitment", "field-recruitment"),
    ("nrm_status", "field-nrm-status"),
    ("exploitation_types", "field-exploitation-types"),
    ("control_methods", "field-control-methods"),
    ("recruitment_countries", "field-recruitment-countries"),
    ("transit_countries", "field-transit-countries"),
    ("exploitation_countries", "field-exploitation-countries"),
    ("exploitation_from", "field-exploitation-from"),
    ("exploitation_to", "field-exploitation-to"),
    ("given_name", "field-given-name"),
    ("family_name", "field-family-name"),
    ("other_names", "field-other-names"),
    ("birth_date", "field-birth-date"),
    ("languages", "field-languages"),
    ("safe_contact", "field-safe-contact"),
    ("phones", "field-phones"),
    ("email", "field-email"),
    ("address", "field-address"),
    ("documents", "field-documents"),
    ("exploitation_details", "field-exploitation-details"),
    ("needs_assessment", "field-needs-assessment"),
    ("profile", "field-profile"),
    ("body", "field-note"),
    ("domain", "field-plan-domain"),
    ("goal", "field-plan-goal"),
    ("due_on", "field-due-on"),
    ("progress_note", "field-progress-note"),
    ("purpose", "field-consent-purpose"),
    ("service_types", "field-service-types"),
    ("scope", "field-consent-scope"),
    ("expires_at", "field-expires-at"),
    ("service_id", "field-service"),
    ("safety_needs", "field-safety-needs"),
    ("health_needs", "field-health-needs"),
    ("follow_up_on", "field-follow-up-on"),
    ("override_justification", "field-override-justification"),
    ("reason", "field-reason"),
    ("justification", "field-justification"),
    ("password", "field-password"),
    ("code", "field-code"),
    ("version", "field-version"),
    ("from", "field-from"),
    ("to", "field-to"),
    ("topic", "field-topic"),
    ("outcome", "field-outcome"),
    ("region", "field-region"),
    ("actor", "field-actor"),
    ("action", "field-action"),
    ("record_type", "field-record-type"),
    ("record_id", "field-record-id"),
    ("before", "field-before"),
    ("assigned", "field-assigned"),
    ("channel", "field-channel"),
    ("direction", "field-direction"),
    ("caller_role", "field-caller-role"),
    ("caller_gender", "field-caller-gender"),
    ("caller_age_group", "field-caller-age-group"),
    ("language", "field-language"),
    ("topics", "field-topics"),
    ("summary", "field-summary"),
    ("caller_name", "field-caller-name"),
    ("caller_phone", "field-caller-phone"),
    ("started_at", "field-started-at"),
    ("ended_at", "field-ended-at"),
    ("assigned_to", "field-assigned-to"),
    ("role", "field-role"),
    ("login", "field-login"),
    ("organisation_id", "field-organisation"),
    ("name", "field-passkey-name"),
    ("credential", "field-passkey"),
    ("ceremony", "field-passkey"),
];

/// The form field a rule the vault names is about: `profile.contact.email` is the form's
/// `email`, `profile.documents[1].status` its `documents` rows.
pub(crate) fn form_name(rule_name: &str) -> &str {
    let name = rule_name
        .strip_prefix("profile.contact.")
        .or_else(|| rule_name.strip_prefix("profile."))
        .unwrap_or(rule_name);
    name.split('[').next().unwrap_or(name)
}

/// The message key of a field's label ("field-form" for a name no form has).
pub(crate) fn label_key(name: &str) -> &'static str {
    LABELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .unwrap_or("field-form")
}

/// The fields of a form, as typed, and the names of the wrong ones.
#[derive(Default)]
pub(crate) struct Fields {
    values: Vec<(String, String)>,
    /// Field name -> the rule it broke (shown only as "check this field"; never the value).
    pub errors: BTreeMap<String, String>,
    /// The record changed since the form was read (409).
    pub conflict: bool,
}

impl Fields {
    /// The fields of an `application/x-www-form-urlencoded` body and its form token. A field
    /// not in `allowed` is refused, naming no value.
    pub(crate) fn parse(body: &[u8], allowed: &[&str]) -> Result<(String, Fields), ApiError> {
        let mut token = String::new();
        let mut fields = Fields::default();
        for (name, value) in form_urlencoded::parse(body) {
            if name == "form_token" {
                token = value.into_owned();
            } else if allowed.contains(&name.as_ref()) {
                fields.values.push((name.into_owned(), value.into_owned()));
            } else {
                return Err(ApiError::invalid_field(
                    "form",
                    "has a field this form does not have",
                ));
            }
        }
        Ok((token, fields))
    }

    /// A form filled in with `values` (an edit form shows what the record holds).
    pub(crate) fn filled(values: Vec<(String, String)>) -> Self {
        Fields {
            values,
            ..Default::default()
        }
    }

    /// The first value of `name`, as typed ("" if absent).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` holds `value` (a ticked chip, a selected option).
    pub(crate) fn has(&self, name: &str, value: &str) -> bool {
        self.values.iter().any(|(n, v)| n == name && v == value)
    }

    /// The value of `name` trimmed, or `None` when empty.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    /// As [`Fields::text`], sealed.
    pub(crate) fn sealed(&self, name: &str) -> Option<Sensitive<String>> {
        self.text(name).map(Sensitive::new)
    }

    /// The non-empty lines of a text area.
    pub(crate) fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    /// Codes typed in one field, separated by spaces or commas, upper-cased (country codes).
    pub(crate) fn codes(&self, name: &str) -> Vec<String> {
        self.get(name)
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|c| !c.is_empty())
            .map(str::to_uppercase)
            .collect()
    }

    /// The chips ticked of `name`.
    pub(crate) fn chips(&self, name: &str) -> Vec<String> {
        self.all(name).into_iter().map(String::from).collect()
    }

    /// A whole number, or the field named as wrong.
    pub(crate) fn number(&mut self, name: &str) -> Option<i32> {
        match self.get(name).trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.errors.insert(name.to_string(), "not a number".into());
                None
            }
        }
    }

    /// The day typed in `name` (`YYYY-MM-DD`) plus `days_after` days; a text that is not a
    /// day is named as wrong. `None` when empty or wrong.
    pub(crate) fn day(&mut self, name: &str, days_after: u64) -> Option<chrono::NaiveDate> {
        let text = self.text(name)?;
        let day = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.checked_add_days(chrono::Days::new(days_after)));
        if day.is_none() {
            self.errors
                .insert(name.to_string(), "must be a day such as 2026-12-06".into());
        }
        day
    }

    /// `path` with the filters `names` as typed (the empty ones left out) and, for the next
    /// page of a list, its cursor: the link that shows the same list again.
    pub(crate) fn href(&self, path: &str, names: &[&str], cursor: Option<(&str, &str)>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for name in names {
            if let Some(value) = self.text(name) {
                query.append_pair(name, &value);
            }
        }
        if let Some((name, value)) = cursor {
            query.append_pair(name, value);
        }
        match query.finish() {
            q if q.is_empty() => path.to_string(),
            q => format!("{path}?{q}"),
        }
    }

    /// Forgets what was typed in `names` (a password is never written back into a page).
    pub(crate) fn clear(&mut self, names: &[&str]) {
        self.values.retain(|(n, _)| !names.contains(&n.as_str()));
    }

    /// Whether `name` was named as wrong (for `aria-invalid`).
    pub(crate) fn error(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }

    /// The wrong fields' names and label keys, for the error summary.
    pub(crate) fn wrong(&self) -> Vec<(&str, &'static str)> {
        self.errors
            .keys()
            .map(|n| (n.as_str(), label_key(n)))
            .collect()
    }

    /// Takes what the vault said was wrong with this form into it: the fields it named (422) or
    /// the change of the record meanwhile (409). Anything else is an error of the page.
    pub(crate) fn refused(&mut self, err: ApiError) -> Result<(), ApiError> {
        match err.status().as_u16() {
            422 => {
                for (name, rule) in err.fields().cloned().unwrap_or_default() {
                    self.errors.insert(form_name(&name).to_string(), rule);
                }
                if self.errors.is_empty() {
                    self.errors.insert("form".into(), "invalid".into());
                }
                Ok(())
            }
            409 => {
                self.conflict = true;
                Ok(())
            }
            _ => Err(err),
        }
    }
}

/// The query of a page that a change redirects back to (`?done=added`): which notice to show.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

impl DoneQuery {
    /// The message key of the notice, when `done` is one of the page's `known` (name, key)
    /// pairs; anything else shows none (the query never reaches the page as text).
    pub(crate) fn notice(&self, known: &[(&str, &'static str)]) -> Option<&'static str> {
        let done = self.done.as_deref()?;
        known.iter().find(|(n, _)| *n == done).map(|(_, k)| *k)
    }
}

/// The outcome of a vault call made for a form: `Ok(Err(fields))` when the form comes back
/// (invalid fields, or the record changed meanwhile), `Err` for an error of the page.
pub(crate) fn kept<T>(
    result: Result<T, AuthError>,
    mut fields: Fields,
) -> Result<Result<T, Fields>, ApiError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) => {
            fields.refused(ApiError::from(e))?;
            Ok(Err(fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_keep_every_value_and_unknown_names_are_refused() {
        let (token, f) = Fields::parse(
            b"form_token=abc&service_types=shelter&service_types=legal&scope=+She+agreed+",
            &["service_types", "scope"],
        )
        .unwrap();
        assert_eq!(token, "abc");
        assert_eq!(f.all("service_types"), ["shelter", "legal"]);
        assert!(f.has("service_types", "legal"));
        assert_eq!(f.text("scope").as_deref(), Some("She agreed"));
        assert_eq!(f.text("missing"), None);
        let err = Fields::parse(b"is_admin=1", &["scope"]).err().unwrap();
        assert_eq!(err.status().as_u16(), 422);
        assert!(err.fields().unwrap().contains_key("form"));
    }

    #[test]
    fn every_field_has_a_label_and_codes_split() {
        assert_eq!(form_name("profile.contact.email"), "email");
        assert_eq!(form_name("profile.documents[1].status"), "documents");
        assert_eq!(
            label_key(form_name("profile.given_name")),
            "field-given-name"
        );
        assert_eq!(label_key("nothing"), "field-form");
        let f = Fields::filled(vec![("c".into(), "ua, pl  de".into())]);
        assert_eq!(f.codes("c"), ["UA", "PL", "DE"]);
    }
}
