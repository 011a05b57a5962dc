//! Users: roles, login names and the password policy.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Every user has exactly one role (DESIGN.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Counselor,
    CaseWorker,
    Supervisor,
    Auditor,
    Admin,
    Partner,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Counselor,
        Role::CaseWorker,
        Role::Supervisor,
        Role::Auditor,
        Role::Admin,
        Role::Partner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Counselor => "counselor",
            Role::CaseWorker => "case_worker",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Partner => "partner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A login name: 3 to 64 characters of `a-z 0-9 . _ - @`, stored lower-case. Once it exists it
/// is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Login(String);

impl Login {
    pub fn parse(text: &str) -> Result<Login, &'static str> {
        let login = text.trim().to_lowercase();
        if !(3..=64).contains(&login.chars().count()) {
            return Err("must be 3 to 64 characters");
        }
        if !login.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        }) {
            return Err("may contain only letters a-z, digits and . _ - @");
        }
        Ok(Login(login))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
});

/// Number of entries in the shipped list of common passwords.
pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

/// The password policy (SECURITY.md rule 32): 12 to 128 characters, any characters (no
/// composition rules, paste allowed), not a common password, not the login name. The message
/// names the rule broken, never the password.
pub fn check_password(password: &str, login: &Login) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err("must be at least 12 characters");
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err("must be at most 128 characters");
    }
    let folded = password.to_lowercase();
    if COMMON_PASSWORDS.contains(folded.as_str()) || COMMON_PASSWORDS.contains(folded.trim()) {
        return Err("is too common; choose another");
    }
    if folded.contains(login.as_str()) {
        return Err("must not contain the login name");
    }
    if folded.chars().collect::<HashSet<_>>().len() < 4 {
        return Err("has too few different characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn logins_are_normalised_and_checked() {
        assert_eq!(Login::parse("  Olena.K ").unwrap().as_str(), "olena.k");
        assert!(Login::parse("ab").is_err());
        assert!(Login::parse("with space").is_err());
        assert!(Login::parse("семен").is_err());
        assert!(Login::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn password_policy() {
        let login = Login::parse("olena").unwrap();
        assert!(common_password_count() >= 10_000);
        assert!(check_password("correct horse battery staple", &login).is_ok());
        assert!(
            check_password("Пароль-для-лінії-довіри", &login).is_ok(),
            "any script"
        );
        assert_eq!(
            check_password("short", &login),
            Err("must be at least 12 characters")
        );
        assert!(check_password(&"x1".repeat(65), &login).is_err());
        // Long entries of the list, in any case.
        assert_eq!(
            check_password("1qaz2wsx3edc", &login),
            Err("is too common; choose another")
        );
        assert_eq!(
            check_password("QWERTYUIOP12", &login),
            Err("is too common; choose another")
        );
        assert_eq!(
            check_password("my name is OLENA!", &login),
            Err("must not contain the login name")
        );
        assert_eq!(
            check_password("aaaaaaaaaaaaaaaa", &login),
            Err("has too few different characters")
        );
    }
}
