//! Password hashing: argon2id, m = 19 MiB, t = 2, p = 1 (OWASP), as PHC strings.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::CryptoError;

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn policy() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|_| CryptoError::Invalid("argon2 parameters".into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh 128-bit salt from the system's random generator.
pub fn hash(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>()?)
        .map_err(|_| CryptoError::Invalid("salt".into()))?;
    policy()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Invalid("password hashing failed".into()))
}

/// Checks a password against a stored PHC string, in constant time for the comparison, using the
/// parameters stored with the hash. A malformed stored hash is an error, never a match.
pub fn verify(password: &str, stored: &str) -> Result<bool, CryptoError> {
    let parsed = PasswordHash::new(stored).map_err(|_| CryptoError::Malformed)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(CryptoError::UnknownFormat);
    }
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Whether a stored hash is weaker than the policy (or not argon2id) and should be replaced at
/// the next successful login.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != argon2::ARGON2ID_IDENT
        || parsed.version != Some(Version::V0x13 as u32)
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < ITERATIONS
        || params.p_cost() < PARALLELISM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h).unwrap());
        assert!(!verify("correct horse battery stapl", &h).unwrap());
        assert!(!needs_rehash(&h));
        assert_ne!(
            h,
            hash("correct horse battery staple").unwrap(),
            "salts differ"
        );
    }

    #[test]
    fn weaker_hashes_need_a_rehash_and_junk_is_refused() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify("pw", &weak).unwrap(),
            "old hashes still verify, so users can log in to upgrade"
        );
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
            .unwrap()
            .to_string();
        assert!(needs_rehash(&argon2i));
        assert_eq!(verify("pw", &argon2i), Err(CryptoError::UnknownFormat));
        assert_eq!(verify("pw", "not a hash"), Err(CryptoError::Malformed));
        assert!(needs_rehash("not a hash"));
    }

    #[test]
    fn argon2id_matches_rfc_9106_test_vector() {
        // RFC 9106 section 5.3: Argon2id, m = 32 KiB, t = 3, p = 4, with secret and data.
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .output_len(32)
            .data(argon2::AssociatedData::new(&[4u8; 12]).unwrap())
            .build()
            .unwrap();
        let mut out = [0u8; 32];
        Argon2::new_with_secret(&[3u8; 8], Algorithm::Argon2id, Version::V0x13, params)
            .unwrap()
            .hash_password_into(&[1u8; 32], &[2u8; 16], &mut out)
            .unwrap();
        assert_eq!(
            crate::random::hex(&out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }
}
