//! The picklists of the hotline's records, with Ukrainian and English labels. Values follow
//! IOM's Human Trafficking Case Data Standard (HTCDS) where it has a list (age brackets, the
//! forms of exploitation), ISO 3166-2 for Ukraine's regions and ISO 639-1 for languages; the
//! rest extends it for hotline work. Clients read them from `GET /api/v1/vocabularies` instead
//! of hard-coding them; stored values are the `code`s, never the labels.

/// One entry of a picklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub code: &'static str,
    pub uk: &'static str,
    pub en: &'static str,
}

const fn t(code: &'static str, uk: &'static str, en: &'static str) -> Term {
    Term { code, uk, en }
}

/// A named picklist.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    pub name: &'static str,
    pub terms: &'static [Term],
}

impl Vocabulary {
    pub fn contains(&self, code: &str) -> bool {
        self.terms.iter().any(|t| t.code == code)
    }
}

pub const CHANNEL: Vocabulary = Vocabulary {
    name: "channel",
    terms: &[
        t("phone", "Телефон", "Phone"),
        t("chat", "Чат", "Chat"),
        t("email", "Електронна пошта", "E-mail"),
        t("social", "Соціальні мережі", "Social media"),
        t("walk_in", "Особисте звернення", "Walk-in"),
    ],
};

pub const DIRECTION: Vocabulary = Vocabulary {
    name: "direction",
    terms: &[
        t("inbound", "Вхідний", "Inbound"),
        t("outbound", "Вихідний", "Outbound"),
    ],
};

pub const CALLER_ROLE: Vocabulary = Vocabulary {
    name: "caller_role",
    terms: &[
        t(
            "potential_victim",
            "Потенційна постраждала особа",
            "Potential victim",
        ),
        t("relative", "Родич або знайомий", "Relative or friend"),
        t("professional", "Фахівець", "Professional"),
        t(
            "public",
            "Представник громадськості",
            "Member of the public",
        ),
        t("other", "Інше", "Other"),
    ],
};

pub const TOPIC: Vocabulary = Vocabulary {
    name: "topic",
    terms: &[
        t(
            "trafficking_labour",
            "Торгівля людьми: трудова експлуатація",
            "Trafficking: labour exploitation",
        ),
        t(
            "trafficking_sexual",
            "Торгівля людьми: сексуальна експлуатація",
            "Trafficking: sexual exploitation",
        ),
        t(
            "trafficking_begging",
            "Торгівля людьми: примус до жебракування",
            "Trafficking: forced begging",
        ),
        t(
            "trafficking_forced_marriage",
            "Торгівля людьми: примусовий шлюб",
            "Trafficking: forced marriage",
        ),
        t(
            "trafficking_other",
            "Торгівля людьми: інше",
            "Trafficking: other",
        ),
        t(
            "domestic_violence",
            "Домашнє насильство",
            "Domestic violence",
        ),
        t(
            "gender_discrimination",
            "Гендерна дискримінація",
            "Gender discrimination",
        ),
        t(
            "safe_migration",
            "Безпечна міграція, виїзд за кордон",
            "Safe migration, travel abroad",
        ),
        t("other", "Інше", "Other"),
    ],
};

pub const GENDER: Vocabulary = Vocabulary {
    name: "gender",
    terms: &[
        t("female", "Жіноча", "Female"),
        t("male", "Чоловіча", "Male"),
        t("other", "Інша", "Other"),
        t("unknown", "Невідомо", "Unknown"),
    ],
};

/// HTCDS `ageBroad` brackets.
pub const AGE_GROUP: Vocabulary = Vocabulary {
    name: "age_group",
    terms: &[
        t("0-8", "0-8", "0-8"),
        t("9-17", "9-17", "9-17"),
        t("18-20", "18-20", "18-20"),
        t("21-23", "21-23", "21-23"),
        t("24-26", "24-26", "24-26"),
        t("27-29", "27-29", "27-29"),
        t("30-38", "30-38", "30-38"),
        t("39-47", "39-47", "39-47"),
        t("48+", "48+", "48+"),
        t("unknown", "Невідомо", "Unknown"),
    ],
};

pub const OUTCOME: Vocabulary = Vocabulary {
    name: "outcome",
    terms: &[
        t("information", "Надано інформацію", "Information given"),
        t("referral", "Перенаправлено", "Referred"),
        t("case_opened", "Відкрито справу", "Case opened"),
        t("no_action", "Без дій", "No action"),
    ],
};

/// ISO 639-1, the languages the hotline answers in, and "other".
pub const LANGUAGE: Vocabulary = Vocabulary {
    name: "language",
    terms: &[
        t("uk", "Українська", "Ukrainian"),
        t("ru", "Російська", "Russian"),
        t("en", "Англійська", "English"),
        t("pl", "Польська", "Polish"),
        t("ro", "Румунська", "Romanian"),
        t("hu", "Угорська", "Hungarian"),
        t("crh", "Кримськотатарська", "Crimean Tatar"),
        t("other", "Інша", "Other"),
    ],
};

/// ISO 3166-2:UA, plus calls from abroad and unknown.
pub const REGION: Vocabulary = Vocabulary {
    name: "region",
    terms: &[
        t("UA-05", "Вінницька область", "Vinnytsia oblast"),
        t("UA-07", "Волинська область", "Volyn oblast"),
        t("UA-09", "Луганська область", "Luhansk oblast"),
        t("UA-12", "Дніпропетровська область", "Dnipropetrovsk oblast"),
        t("UA-14", "Донецька область", "Donetsk oblast"),
        t("UA-18", "Житомирська область", "Zhytomyr oblast"),
        t("UA-21", "Закарпатська область", "Zakarpattia oblast"),
        t("UA-23", "Запорізька область", "Zaporizhzhia oblast"),
        t(
            "UA-26",
            "Івано-Франківська область",
            "Ivano-Frankivsk oblast",
        ),
        t("UA-30", "Київ", "Kyiv"),
        t("UA-32", "Київська область", "Kyiv oblast"),
        t("UA-35", "Кіровоградська область", "Kirovohrad oblast"),
        t("UA-40", "Севастополь", "Sevastopol"),
        t(
            "UA-43",
            "Автономна Республіка Крим",
            "Autonomous Republic of Crimea",
        ),
        t("UA-46", "Львівська область", "Lviv oblast"),
        t("UA-48", "Миколаївська область", "Mykolaiv oblast"),
        t("UA-51", "Одеська область", "Odesa oblast"),
        t("UA-53", "Полтавська область", "Poltava oblast"),
        t("UA-56", "Рівненська область", "Rivne oblast"),
        t("UA-59", "Сумська область", "Sumy oblast"),
        t("UA-61", "Тернопільська область", "Ternopil oblast"),
        t("UA-63", "Харківська область", "Kharkiv oblast"),
        t("UA-65", "Херсонська область", "Kherson oblast"),
        t("UA-68", "Хмельницька область", "Khmelnytskyi oblast"),
        t("UA-71", "Черкаська область", "Cherkasy oblast"),
        t("UA-74", "Чернігівська область", "Chernihiv oblast"),
        t("UA-77", "Чернівецька область", "Chernivtsi oblast"),
        t("abroad", "За кордоном", "Abroad"),
        t("unknown", "Невідомо", "Unknown"),
    ],
};

/// Every picklist, in the order `GET /api/v1/vocabularies` returns them.
pub const ALL: [Vocabulary; 9] = [
    CHANNEL,
    DIRECTION,
    CALLER_ROLE,
    TOPIC,
    GENDER,
    AGE_GROUP,
    OUTCOME,
    LANGUAGE,
    REGION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_labelled_in_both_languages() {
        for v in ALL {
            let mut codes: Vec<_> = v.terms.iter().map(|t| t.code).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), v.terms.len(), "{}", v.name);
            assert!(v
                .terms
                .iter()
                .all(|t| !t.uk.is_empty() && !t.en.is_empty() && !t.code.is_empty()));
        }
        assert_eq!(REGION.terms.len(), 29);
        assert!(TOPIC.contains("domestic_violence") && !TOPIC.contains("Domestic violence"));
    }
}
