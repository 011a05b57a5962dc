//! Opaque tokens and keyed hashes: refresh tokens are random and stored only as an HMAC;
//! pseudonyms (of sessions and addresses, for the access log) are truncated HMACs.

use ring::hmac;

use crate::{CryptoError, SecretKey};

/// A new opaque token: 256 random bits as 64 hex digits.
pub fn random_token() -> Result<String, CryptoError> {
    Ok(crate::random::hex(&crate::random::bytes::<32>()?))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn keyed_hash(key: &SecretKey, data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.bytes()), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether `tag` is the HMAC-SHA256 of `data` under `key` (compared in constant time).
pub fn keyed_hash_matches(key: &SecretKey, data: &[u8], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key.bytes()), data, tag).is_ok()
}

/// A stable pseudonym of `data`: the first 64 bits of its HMAC, as hex. Linkable within this
/// installation (the same session or address gives the same pseudonym), reversible by no one
/// without the key.
pub fn pseudonym(key: &SecretKey, data: &[u8]) -> String {
    crate::random::hex(&keyed_hash(key, data)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{KeyEnvironment, KeyRing};

    #[test]
    fn tokens_are_long_random_and_hashes_keyed() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token().unwrap());
        let ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        let k1 = ring.purpose_key("refresh").unwrap();
        let k2 = ring.purpose_key("session-ref").unwrap();
        assert_ne!(k1.expose_bytes(), k2.expose_bytes());
        assert_eq!(
            ring.purpose_key("refresh").unwrap().expose_bytes(),
            k1.expose_bytes()
        );
        assert_ne!(keyed_hash(&k1, a.as_bytes()), keyed_hash(&k2, a.as_bytes()));
        assert_eq!(pseudonym(&k2, b"s1"), pseudonym(&k2, b"s1"));
        assert_eq!(pseudonym(&k2, b"s1").len(), 16);
    }
}
