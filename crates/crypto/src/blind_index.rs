//! Blind indexes (CipherSweet): HMAC-SHA256 of a normalised value (the normal forms are
//! `domain::normalize`'s) under a per-(table, field) key
//! derived from the index root key, truncated to a configured number of bits so that collisions
//! are expected. A hit is a candidate only: callers decrypt and compare before trusting it.

use ring::{hkdf, hmac};

use crate::encoding::lp;
use crate::keyring::KeyRing;
use crate::CryptoError;

const INDEX_SALT: &[u8] = b"hotline-blind-index-v1";

/// The CipherSweet leakage budget: with R expected rows and an index of `bits` bits, the
/// expected number of rows per index value C = R / 2^bits must satisfy 2 <= C < sqrt(R), so
/// every hit hides among at least two rows and the index still narrows the search.
pub fn check_budget(bits: u32, expected_rows: u64) -> Result<f64, CryptoError> {
    if !(1..=32).contains(&bits) {
        return Err(CryptoError::Invalid(format!(
            "blind index size {bits} bits is outside 1..=32"
        )));
    }
    let rows = expected_rows as f64;
    let c = rows / 2f64.powi(bits as i32);
    if c < 2.0 || c >= rows.sqrt() {
        return Err(CryptoError::Invalid(format!(
            "blind index of {bits} bits for {expected_rows} expected rows gives {c:.2} rows per \
             value; the leakage budget needs 2 <= R/2^bits < sqrt(R) = {:.1}",
            rows.sqrt()
        )));
    }
    Ok(c)
}

/// Computes blind index values. Holds the per-field keys it derives.
pub struct BlindIndexer {
    root: hkdf::Prk,
    bits: u32,
}

impl std::fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindIndexer({} bits)", self.bits)
    }
}

struct HmacLen;
impl hkdf::KeyType for HmacLen {
    fn len(&self) -> usize {
        32
    }
}

impl BlindIndexer {
    pub fn new(ring: &KeyRing, bits: u32) -> Result<Self, CryptoError> {
        if !(1..=32).contains(&bits) {
            return Err(CryptoError::Invalid(format!(
                "blind index size {bits} bits is outside 1..=32"
            )));
        }
        Ok(Self {
            root: hkdf::Salt::new(hkdf::HKDF_SHA256, INDEX_SALT).extract(ring.index_root().bytes()),
            bits,
        })
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The index value of an already normalised value for (table, field).
    pub fn compute(&self, table: &str, field: &str, normalized: &str) -> Result<i64, CryptoError> {
        let info = lp(&[b"bidx", table.as_bytes(), field.as_bytes()]);
        let info_parts = [info.as_slice()];
        let okm = self
            .root
            .expand(&info_parts, HmacLen)
            .map_err(|_| CryptoError::Invalid("HKDF output length".into()))?;
        let mut key_bytes = zeroize::Zeroizing::new([0u8; 32]);
        okm.fill(key_bytes.as_mut())
            .map_err(|_| CryptoError::Invalid("HKDF output length".into()))?;
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key_bytes.as_ref()),
            normalized.as_bytes(),
        );
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag.as_ref()[..8]);
        Ok((u64::from_be_bytes(first) >> (64 - self.bits)) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyEnvironment;

    #[test]
    fn budget_follows_ciphersweet() {
        assert!(check_budget(16, 1_000_000).is_ok()); // C = 15.3
        assert!(check_budget(19, 1_000_000).is_err()); // C = 1.9 < 2
        assert!(check_budget(9, 1_000_000).is_err()); // C = 1953 >= 1000
        assert!(check_budget(15, 100_000).is_ok());
        assert!(check_budget(16, 100_000).is_err());
        assert!(check_budget(0, 100).is_err());
        assert!(check_budget(40, 100).is_err());
    }

    #[test]
    fn values_are_keyed_truncated_and_separated_by_field() {
        let ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        let idx = BlindIndexer::new(&ring, 16).unwrap();
        let a = idx.compute("calls", "phone", "+380441234567").unwrap();
        assert_eq!(a, idx.compute("calls", "phone", "+380441234567").unwrap());
        assert!((0..1 << 16).contains(&a));
        // Another field, another table or another key ring gives unrelated values (a 1 in 65536
        // chance each of colliding; the fixed inputs here do not).
        let other_ring =
            BlindIndexer::new(&KeyRing::generate(KeyEnvironment::Development).unwrap(), 16)
                .unwrap();
        let values = [
            idx.compute("calls", "caller_phone", "+380441234567")
                .unwrap(),
            idx.compute("cases", "phone", "+380441234567").unwrap(),
            other_ring
                .compute("calls", "phone", "+380441234567")
                .unwrap(),
        ];
        assert!(
            values.iter().filter(|v| **v == a).count() <= 1,
            "{a} {values:?}"
        );
        // Spread: 5,000 distinct inputs fill many of the 256 buckets of an 8-bit index.
        let idx8 = BlindIndexer::new(&ring, 8).unwrap();
        let buckets: std::collections::HashSet<_> = (0..5000)
            .map(|i| idx8.compute("t", "f", &i.to_string()).unwrap())
            .collect();
        assert!(buckets.len() > 250, "{}", buckets.len());
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        // The primitive under the index: RFC 4231 test case 2.
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"Jefe"),
            b"what do ya want for nothing?",
        );
        assert_eq!(
            crate::random::hex(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
