//! The pages' languages: Ukrainian (the default) and English, from Fluent message files
//! (`crates/api/locales/*.ftl`, compiled into the binary), with each language's real plural
//! rules (Ukrainian one / few / many / other, English one / other; CLDR through
//! `intl_pluralrules`).
//!
//! Adding a language: a new `locales/xx.ftl` with every key of `en.ftl` (a test compares the
//! keys), a variant of [`Lang`], and its line in [`BUNDLES`].

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Uk,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Uk, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Uk => "uk",
            Lang::En => "en",
        }
    }

    /// A language code as a client sent it (a cookie, a form): only the known ones.
    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    fn index(self) -> usize {
        match self {
            Lang::Uk => 0,
            Lang::En => 1,
        }
    }
}

const SOURCES: [(&str, &str); 2] = [
    ("uk", include_str!("../../locales/uk.ftl")),
    ("en", include_str!("../../locales/en.ftl")),
];

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(code, text)| {
            let id: LanguageIdentifier = code.parse().expect("a valid language code");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Values go into HTML, escaped by the templates; the isolation marks Fluent adds
            // around placeables would only show up in copied text.
            bundle.set_use_isolating(false);
            let resource = FluentResource::try_new(text.to_string())
                .unwrap_or_else(|(_, errors)| panic!("locales/{code}.ftl: {errors:?}"));
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("locales/{code}.ftl: {errors:?}"));
            bundle
        })
        .collect()
});

/// The translations of one page in one language; templates call `t.get("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Tr { lang }
    }

    /// The message `key`. A key missing from the file gives the key itself (tests prove no
    /// template uses one).
    pub fn get(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with `$count` = `n`, in the language's plural form for `n`.
    pub fn count<'n>(&self, key: &str, n: impl Into<FluentValue<'n>>) -> String {
        let mut args = FluentArgs::new();
        args.set("count", n);
        self.format(key, Some(&args))
    }

    /// The label of a picklist code in this language (the vocabularies carry both).
    pub fn term(&self, vocabulary: &domain::vocabulary::Vocabulary, code: &str) -> String {
        vocabulary
            .terms
            .iter()
            .find(|t| t.code == code)
            .map(|t| match self.lang {
                Lang::Uk => t.uk,
                Lang::En => t.en,
            })
            .unwrap_or(code)
            .to_string()
    }

    /// The label of `code` in the vocabulary named `name` (templates name vocabularies).
    pub fn label(&self, name: &str, code: &str) -> String {
        match vocabulary(name) {
            Some(v) => self.term(v, code),
            None => code.to_string(),
        }
    }

    fn format(&self, key: &str, args: Option<&FluentArgs>) -> String {
        let bundle = &BUNDLES[self.lang.index()];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }
}

/// The vocabulary named `name` (`risk_level`, `service_type`, ...).
pub fn vocabulary(name: &str) -> Option<&'static domain::vocabulary::Vocabulary> {
    domain::vocabulary::ALL.iter().find(|v| v.name == name)
}

/// The terms of the vocabulary named `name`, for a picklist (none for an unknown name).
pub fn terms(name: &str) -> &'static [domain::vocabulary::Term] {
    vocabulary(name).map(|v| v.terms).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_string()))
            .collect()
    }

    #[test]
    fn every_language_has_the_same_keys_and_parses() {
        let en = keys(SOURCES[1].1);
        assert!(en.len() > 50, "{} keys", en.len());
        for (code, text) in SOURCES {
            assert_eq!(keys(text), en, "locales/{code}.ftl");
        }
        for lang in Lang::ALL {
            for key in &en {
                assert_ne!(Tr::new(lang).get(key), *key, "{key} in {}", lang.code());
            }
        }
    }

    /// Every `t.get("...")` and `t.count("...", ..)` of every template, and every message key
    /// the page code hands to templates (error titles, field labels, sign-in problems), names a
    /// key that exists.
    #[test]
    fn every_key_a_template_uses_exists() {
        let en = keys(SOURCES[1].1);
        let root = env!("CARGO_MANIFEST_DIR");
        let mut used = BTreeSet::new();
        let mut files = Vec::new();
        for dir in ["templates", "templates/partials", "src/web"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 10, "{files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            if path.extension().is_some_and(|e| e == "html") {
                for marker in ["t.get(\"", "t.count(\""] {
                    for part in text.split(marker).skip(1) {
                        used.insert(part.split('"').next().unwrap().to_string());
                    }
                }
            } else {
                for part in text.split('"').skip(1).step_by(2) {
                    let key_like = [
                        "error-",
                        "field-",
                        "sign-in-",
                        "referral-",
                        "calls-",
                        "nav-",
                        "audit-",
                        "anomaly-",
                        "grants-",
                        "erasures-",
                        "hold-",
                        "queue-",
                        "stats-",
                        "follow-ups-",
                        "users-",
                        "directory-",
                        "role-",
                        "retention-",
                    ]
                    .iter()
                    .any(|p| part.starts_with(p) && part.len() > p.len())
                        && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                    if key_like {
                        used.insert(part.to_string());
                    }
                }
            }
        }
        assert!(used.len() > 50, "{} keys used", used.len());
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(missing.is_empty(), "missing keys: {missing:?}");
    }

    /// Ukrainian has three plural forms for whole numbers: 1, 21 (one); 2, 22 (few); 5, 11
    /// (many). English two.
    #[test]
    fn plurals_follow_each_language() {
        let uk = Tr::new(Lang::Uk);
        let en = Tr::new(Lang::En);
        let uk_forms: Vec<String> = [1, 2, 5, 11, 21, 22]
            .iter()
            .map(|n| uk.count("cases-count", *n))
            .collect();
        assert_eq!(
            uk_forms,
            [
                "1 справа",
                "2 справи",
                "5 справ",
                "11 справ",
                "21 справа",
                "22 справи"
            ]
        );
        let en_forms: Vec<String> = [1, 2, 5, 11, 21, 22]
            .iter()
            .map(|n| en.count("cases-count", *n))
            .collect();
        assert_eq!(
            en_forms,
            ["1 case", "2 cases", "5 cases", "11 cases", "21 cases", "22 cases"]
        );
        assert_eq!(uk.count("calls-count", 3), "3 дзвінки");
        assert_eq!(uk.count("calls-count", 25), "25 дзвінків");
        assert_eq!(en.count("calls-count", 1), "1 call");
    }

    #[test]
    fn only_known_language_codes_are_taken() {
        assert_eq!(Lang::parse("uk"), Some(Lang::Uk));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("ru"), None);
        assert_eq!(Lang::parse("en\r\nSet-Cookie: x"), None);
    }
}
