//! A wrapper for values that must never reach a log line, an error body or a panic message.

use std::fmt;

/// Holds personal data or a secret. `Debug` and `Display` print `[redacted]`, so the value can
/// only leave through a deliberate call to [`Sensitive::expose`].
///
/// It deliberately implements no `Serialize`: a sensitive value reaches JSON only through a DTO
/// that calls `expose()` on purpose.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself. Every call site is a place where personal data or a secret leaves the
    /// wrapper; keep them few and obvious.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Sensitive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let canary = "CNRY-5b0e1c7e-secret";
        let s = Sensitive::new(canary.to_string());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    [redacted],\n)");
        assert_eq!(s.expose(), canary);
    }

    #[test]
    fn deserializes_transparently() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Form {
            phone: Sensitive<String>,
        }
        let form: Form = serde_json::from_str(r#"{"phone":"+380441234567"}"#).unwrap();
        assert_eq!(form.phone.expose(), "+380441234567");
        assert!(!format!("{form:?}").contains("380"));
    }
}
