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

/// HTCDS case status.
pub const CASE_STATUS: Vocabulary = Vocabulary {
    name: "case_status",
    terms: &[
        t("Active", "Активна", "Active"),
        t("FollowUp", "Подальший супровід", "Follow-up"),
        t("Closed", "Закрита", "Closed"),
        t(
            "ClosedReferred",
            "Закрита, передана іншій службі",
            "Closed, referred",
        ),
    ],
};

pub const RISK_LEVEL: Vocabulary = Vocabulary {
    name: "risk_level",
    terms: &[
        t("low", "Низький", "Low"),
        t("medium", "Середній", "Medium"),
        t("high", "Високий", "High"),
        t("critical", "Критичний", "Critical"),
    ],
};

/// HTCDS types of exploitation, plus domestic violence for the hotline's other cases.
pub const EXPLOITATION_TYPE: Vocabulary = Vocabulary {
    name: "exploitation_type",
    terms: &[
        t("sexual", "Сексуальна експлуатація", "Sexual exploitation"),
        t("forced_labour", "Примусова праця", "Forced labour"),
        t("forced_marriage", "Примусовий шлюб", "Forced marriage"),
        t("begging", "Примус до жебракування", "Forced begging"),
        t(
            "forced_criminal_activity",
            "Примус до злочинної діяльності",
            "Forced criminal activity",
        ),
        t(
            "domestic_servitude",
            "Домашнє рабство",
            "Domestic servitude",
        ),
        t("organ_removal", "Вилучення органів", "Organ removal"),
        t(
            "forced_military",
            "Примусова участь у збройних конфліктах",
            "Forced military service",
        ),
        t(
            "domestic_violence",
            "Домашнє насильство",
            "Domestic violence",
        ),
        t("other", "Інше", "Other"),
    ],
};

/// HTCDS means of control.
pub const CONTROL_METHOD: Vocabulary = Vocabulary {
    name: "control_method",
    terms: &[
        t("debt_bondage", "Боргова кабала", "Debt bondage"),
        t(
            "withheld_documents",
            "Вилучення документів",
            "Withheld documents",
        ),
        t(
            "withheld_earnings",
            "Невиплата заробітку",
            "Withheld earnings",
        ),
        t(
            "restricted_movement",
            "Обмеження свободи пересування",
            "Restricted movement",
        ),
        t("isolation", "Ізоляція", "Isolation"),
        t("threats", "Погрози", "Threats"),
        t("threats_to_family", "Погрози родині", "Threats to family"),
        t("physical_abuse", "Фізичне насильство", "Physical abuse"),
        t("sexual_abuse", "Сексуальне насильство", "Sexual abuse"),
        t(
            "psychological_abuse",
            "Психологічне насильство",
            "Psychological abuse",
        ),
        t(
            "substances",
            "Примус до вживання алкоголю чи наркотиків",
            "Forced use of alcohol or drugs",
        ),
        t(
            "excessive_hours",
            "Надмірний робочий час",
            "Excessive working hours",
        ),
        t("false_promises", "Неправдиві обіцянки", "False promises"),
        t("other", "Інше", "Other"),
    ],
};

/// HTCDS recruitment: who or what recruited the person.
pub const RECRUITMENT: Vocabulary = Vocabulary {
    name: "recruitment",
    terms: &[
        t("job_offer", "Пропозиція роботи", "Job offer"),
        t(
            "recruitment_agency",
            "Кадрове агентство",
            "Recruitment agency",
        ),
        t(
            "online",
            "Інтернет, соціальні мережі",
            "Online, social media",
        ),
        t("intimate_partner", "Інтимний партнер", "Intimate partner"),
        t("family", "Родина", "Family"),
        t("friend", "Друг або знайомий", "Friend or acquaintance"),
        t("abduction", "Викрадення", "Abduction"),
        t("other", "Інше", "Other"),
        t("unknown", "Невідомо", "Unknown"),
    ],
};

/// Identification with the state's national referral mechanism.
pub const NRM_STATUS: Vocabulary = Vocabulary {
    name: "nrm_status",
    terms: &[
        t("not_referred", "Не звертались", "Not referred"),
        t("pending", "На розгляді", "Pending"),
        t(
            "identified",
            "Встановлено статус постраждалої особи",
            "Identified as a victim",
        ),
        t("not_identified", "У статусі відмовлено", "Not identified"),
        t("not_applicable", "Не застосовується", "Not applicable"),
    ],
};

pub const PLAN_DOMAIN: Vocabulary = Vocabulary {
    name: "plan_domain",
    terms: &[
        t("housing", "Житло", "Housing"),
        t("health", "Здоров'я", "Health"),
        t("legal", "Правова допомога", "Legal"),
        t("employment", "Працевлаштування", "Employment"),
        t("education", "Освіта", "Education"),
        t("family", "Родина", "Family"),
    ],
};

pub const PLAN_STATUS: Vocabulary = Vocabulary {
    name: "plan_status",
    terms: &[
        t("planned", "Заплановано", "Planned"),
        t("in_progress", "Виконується", "In progress"),
        t("achieved", "Досягнуто", "Achieved"),
        t("cancelled", "Скасовано", "Cancelled"),
    ],
};

pub const CONSENT_PURPOSE: Vocabulary = Vocabulary {
    name: "consent_purpose",
    terms: &[
        t(
            "data_processing",
            "Обробка персональних даних",
            "Data processing",
        ),
        t(
            "referral_sharing",
            "Передача даних для переадресації",
            "Sharing for referrals",
        ),
        t(
            "research_use",
            "Використання для досліджень",
            "Research use",
        ),
    ],
};

pub const DOCUMENT_TYPE: Vocabulary = Vocabulary {
    name: "document_type",
    terms: &[
        t("passport", "Паспорт", "Passport"),
        t("national_id", "Посвідчення особи", "National ID card"),
        t(
            "birth_certificate",
            "Свідоцтво про народження",
            "Birth certificate",
        ),
        t(
            "residence_permit",
            "Посвідка на проживання",
            "Residence permit",
        ),
        t("visa", "Віза", "Visa"),
        t("other", "Інше", "Other"),
    ],
};

pub const DOCUMENT_STATUS: Vocabulary = Vocabulary {
    name: "document_status",
    terms: &[
        t("held", "На руках", "Held by the person"),
        t("withheld", "Утримується іншими", "Withheld by others"),
        t("lost", "Втрачено", "Lost"),
        t("expired", "Прострочено", "Expired"),
        t("applied_for", "Оформлюється", "Applied for"),
        t("none", "Немає", "None"),
    ],
};

/// Why someone opened a case that is not theirs (break-glass).
pub const BREAK_GLASS_REASON: Vocabulary = Vocabulary {
    name: "break_glass_reason",
    terms: &[
        t(
            "imminent_danger",
            "Безпосередня загроза життю чи здоров'ю",
            "Imminent danger",
        ),
        t(
            "caller_on_line",
            "Постраждала особа на лінії",
            "The person is on the line",
        ),
        t(
            "assigned_unavailable",
            "Відповідальний фахівець недоступний",
            "Assigned case worker unavailable",
        ),
        t("other", "Інше", "Other"),
    ],
};

/// Services of the provider directory, and what a referral-sharing consent covers.
pub const SERVICE_TYPE: Vocabulary = Vocabulary {
    name: "service_type",
    terms: &[
        t("shelter", "Притулок", "Shelter"),
        t("medical", "Медична допомога", "Medical"),
        t("psychological", "Психологічна допомога", "Psychological"),
        t("legal", "Правова допомога", "Legal"),
        t("employment", "Працевлаштування", "Employment"),
        t("education", "Освіта", "Education"),
        t("financial", "Фінансова допомога", "Financial"),
        t("repatriation", "Репатріація", "Repatriation"),
        t("other", "Інше", "Other"),
    ],
};

pub use crate::countries::COUNTRY;

/// Every picklist, in the order `GET /api/v1/vocabularies` returns them.
pub const ALL: [Vocabulary; 23] = [
    CHANNEL,
    DIRECTION,
    CALLER_ROLE,
    TOPIC,
    GENDER,
    AGE_GROUP,
    OUTCOME,
    LANGUAGE,
    REGION,
    CASE_STATUS,
    RISK_LEVEL,
    EXPLOITATION_TYPE,
    CONTROL_METHOD,
    RECRUITMENT,
    NRM_STATUS,
    PLAN_DOMAIN,
    PLAN_STATUS,
    CONSENT_PURPOSE,
    DOCUMENT_TYPE,
    DOCUMENT_STATUS,
    BREAK_GLASS_REASON,
    SERVICE_TYPE,
    COUNTRY,
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
        assert_eq!(COUNTRY.terms.len(), 250);
        assert!(COUNTRY.contains("UA") && COUNTRY.contains("XX"));
        assert!(TOPIC.contains("domestic_violence") && !TOPIC.contains("Domestic violence"));
    }
}
