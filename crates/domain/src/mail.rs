//! The fixed e-mail templates, in Ukrainian and English. A message carries an opaque reference
//! and a link, never personal data: whoever reads it signs in to see more.

/// What a message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// To a provider: a referral was sent to them.
    ReferralSent { referral: String },
    /// To the case worker: the provider accepted or declined.
    ReferralAnswered { referral: String, accepted: bool },
    /// To the case worker: a referral's follow-up date has come.
    FollowUpDue { referral: String },
    /// To a provider: consent was withdrawn or the case erased; the referral is void.
    ReferralWithdrawn { referral: String },
    /// To supervisors: someone broke the glass on a case.
    BreakGlass {
        case_reference: String,
        reason: String,
        grant: String,
    },
    /// To a user: their account was locked after failed sign-ins.
    AccountLocked,
}

impl Template {
    /// A short name stored with the message (`mail_outbox.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Template::ReferralSent { .. } => "referral_sent",
            Template::ReferralAnswered { .. } => "referral_answered",
            Template::FollowUpDue { .. } => "follow_up_due",
            Template::ReferralWithdrawn { .. } => "referral_withdrawn",
            Template::BreakGlass { .. } => "break_glass",
            Template::AccountLocked => "account_locked",
        }
    }

    /// (subject, body) in the recipient's language (`uk`, anything else is English). `base`
    /// is the address staff and partners reach the server at.
    pub fn render(&self, language: &str, base: &str) -> (String, String) {
        let base = base.trim_end_matches('/');
        let uk = language == "uk";
        let (subject, text) = match self {
            Template::ReferralSent { referral } => (
                if uk {
                    "Нове скерування"
                } else {
                    "A new referral"
                }
                .to_string(),
                if uk {
                    format!("Вашій організації надіслано скерування {referral}.\nУвійдіть, щоб переглянути його: {base}/referrals/{referral}")
                } else {
                    format!("A referral was sent to your organisation: {referral}.\nSign in to see it: {base}/referrals/{referral}")
                },
            ),
            Template::ReferralAnswered { referral, accepted } => {
                (
                    match (uk, accepted) {
                        (true, true) => "Скерування прийнято",
                        (true, false) => "Скерування відхилено",
                        (false, true) => "A referral was accepted",
                        (false, false) => "A referral was declined",
                    }
                    .to_string(),
                    if uk {
                        format!("Організація відповіла на скерування {referral}: {base}/referrals/{referral}")
                    } else {
                        format!("The provider answered referral {referral}: {base}/referrals/{referral}")
                    },
                )
            }
            Template::FollowUpDue { referral } => {
                (
                    if uk {
                        "Час перевірити скерування"
                    } else {
                        "A referral's follow-up is due"
                    }
                    .to_string(),
                    if uk {
                        format!("Настав день перевірки скерування {referral}: {base}/referrals/{referral}")
                    } else {
                        format!("The follow-up of referral {referral} is due: {base}/referrals/{referral}")
                    },
                )
            }
            Template::ReferralWithdrawn { referral } => (
                if uk {
                    "Скерування відкликано"
                } else {
                    "A referral was withdrawn"
                }
                .to_string(),
                if uk {
                    format!("Скерування {referral} відкликано: згоду відкликано або справу видалено.\nВидаліть усі копії отриманих даних.")
                } else {
                    format!("Referral {referral} was withdrawn: consent was withdrawn or the case erased.\nPlease delete any copy of the data you received.")
                },
            ),
            Template::BreakGlass {
                case_reference,
                reason,
                grant,
            } => (
                if uk {
                    format!("Екстрений доступ до справи {case_reference}")
                } else {
                    format!("Break-glass access to case {case_reference}")
                },
                if uk {
                    format!("Хтось скористався екстреним доступом до справи {case_reference} (причина: {reason}).\nПеревірте: {base}/break-glass (запис {grant}).")
                } else {
                    format!("Someone used break-glass access to case {case_reference} (reason: {reason}).\nPlease review it: {base}/break-glass (use {grant}).")
                },
            ),
            Template::AccountLocked => (
                if uk {
                    "Обліковий запис заблоковано"
                } else {
                    "Your account was locked"
                }
                .to_string(),
                if uk {
                    "Ваш обліковий запис тимчасово заблоковано після невдалих спроб входу. Якщо це були не ви, повідомте адміністратора.".to_string()
                } else {
                    "Your account was locked for a while after failed sign-ins. If that was not you, tell an administrator.".to_string()
                },
            ),
        };
        (subject, format!("{text}\n\n-- hotline\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_carry_the_reference_and_the_link() {
        let t = Template::ReferralSent {
            referral: "ab12".into(),
        };
        for lang in ["uk", "en"] {
            let (subject, body) = t.render(lang, "https://hotline.example.org/");
            assert!(!subject.is_empty());
            assert!(
                body.contains("https://hotline.example.org/referrals/ab12"),
                "{body}"
            );
        }
        assert_ne!(t.render("uk", "x").0, t.render("en", "x").0);
        assert_eq!(t.render("pl", "x"), t.render("en", "x"));
    }
}
