//! Normal forms of values that are searched by exact match (through blind indexes): two
//! spellings of the same phone number or name must give the same form.

/// A phone number in E.164 (`+` and 8 to 15 digits). Once it exists it is valid.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneNumber([redacted])")
    }
}

impl PhoneNumber {
    /// Spaces, dots, dashes, slashes and parentheses are ignored; `00` starts an international
    /// number; a number starting with a single `0` is national and takes
    /// `default_country_code` (e.g. "380") in place of the `0`.
    pub fn parse(raw: &str, default_country_code: &str) -> Option<PhoneNumber> {
        let mut s: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '/' | '(' | ')' | '\u{a0}'))
            .collect();
        if let Some(rest) = s.strip_prefix("00") {
            s = format!("+{rest}");
        } else if let Some(rest) = s.strip_prefix('0') {
            s = format!("+{default_country_code}{rest}");
        }
        let digits = s.strip_prefix('+')?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        ok.then_some(PhoneNumber(s))
    }

    pub fn e164(&self) -> &str {
        &self.0
    }
}

/// A name: case-folded (Unicode lower case), trimmed, inner whitespace collapsed to one space.
pub fn name(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An e-mail address: trimmed and lower-cased.
pub fn email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        for raw in [
            "+380 44 123 45 67",
            "00380441234567",
            "044-123-45-67",
            "(044) 123.45.67",
            " +380441234567 ",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw, "380")
                    .map(|p| p.e164().to_string())
                    .as_deref(),
                Some("+380441234567"),
                "{raw}"
            );
        }
        for bad in [
            "",
            "+",
            "12345",
            "+0441234567",
            "+38044123456789012",
            "+38044abc4567",
            "hello",
        ] {
            assert!(PhoneNumber::parse(bad, "380").is_none(), "{bad}");
        }
        assert!(!format!("{:?}", PhoneNumber::parse("+380441234567", "380")).contains("380"));
    }

    #[test]
    fn names_and_emails_normalise() {
        assert_eq!(name("  ОЛЕНА \t  Коваль\n"), "олена коваль");
        assert_eq!(name("Anna-Maria  DE la Cruz"), "anna-maria de la cruz");
        assert_eq!(email(" Olena.K@Example.ORG "), "olena.k@example.org");
    }

    proptest::proptest! {
        /// Untrusted text never panics a normaliser, and a parsed phone number is E.164.
        #[test]
        fn normalisers_take_any_text(raw in "\\PC{0,64}", cc in "[0-9]{1,3}") {
            if let Some(p) = PhoneNumber::parse(&raw, &cc) {
                let e = p.e164();
                proptest::prop_assert!(e.starts_with('+') && e[1..].bytes().all(|b| b.is_ascii_digit()));
                proptest::prop_assert!((8..=16).contains(&e.len()), "{e}");
            }
            let _ = name(&raw);
            let _ = email(&raw);
        }
    }
}
