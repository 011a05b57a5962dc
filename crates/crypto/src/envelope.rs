//! Envelope encryption: a random data key per protected record, stored only wrapped under a
//! master key version; fields sealed under keys derived from it per (table, field).
//!
//! Wrapped data key: `"hk1" ‖ kek_version u32 ‖ nonce 12 ‖ AES-256-GCM(dek) ‖ tag 16`, with
//! associated data lp("hotline-dek-v1", owner) ‖ kek_version ‖ dek_version.
//!
//! Sealed field: `"hv1" ‖ alg 0x01 ‖ dek_version u32 ‖ nonce 12 ‖ ciphertext ‖ tag 16`, with
//! associated data lp("hotline-field-v1", table, field, record, owner) ‖ schema ‖ dek_version,
//! under HKDF-SHA256(dek, info = lp("enc", table, field)). A value copied to another row, field,
//! record, owner or version fails to open.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use zeroize::Zeroizing;

use crate::encoding::lp;
use crate::keyring::KeyRing;
use crate::{CryptoError, SecretKey};

const WRAP_PREFIX: &[u8; 3] = b"hk1";
const FIELD_PREFIX: &[u8; 3] = b"hv1";
const ALG_AES_256_GCM: u8 = 0x01;
const TAG_LEN: usize = 16;
/// Version of the associated-data layout, bound into every sealed value.
pub const SCHEMA_VERSION: u32 = 1;
const FIELD_SALT: &[u8] = b"hotline-field-key-v1";

/// Where a sealed value belongs. Every part is bound into the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct FieldContext<'a> {
    pub table: &'a str,
    pub field: &'a str,
    /// The row the value is stored in.
    pub record_id: &'a str,
    /// The owner of the data key (a case, a call, a referral packet).
    pub owner_id: &'a str,
}

/// An unwrapped data key. Lives only inside one operation; zeroized on drop.
#[derive(Debug)]
pub struct DataKey {
    key: SecretKey,
    version: u32,
}

fn aes(key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Invalid("bad AES key length".into()))
}

fn wrap_aad(owner_id: &str, kek_version: u32, dek_version: u32) -> Vec<u8> {
    let mut aad = lp(&[b"hotline-dek-v1", owner_id.as_bytes()]);
    aad.extend_from_slice(&kek_version.to_be_bytes());
    aad.extend_from_slice(&dek_version.to_be_bytes());
    aad
}

fn seal_with(
    key: &LessSafeKey,
    aad: &[u8],
    header: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let nonce_bytes = crate::random::bytes::<NONCE_LEN>()?;
    let mut out = Vec::with_capacity(header.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(header);
    out.extend_from_slice(&nonce_bytes);
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad),
        &mut body,
    )
    .map_err(|_| CryptoError::Integrity)?;
    out.extend_from_slice(&body);
    body.iter_mut().for_each(|b| *b = 0);
    Ok(out)
}

fn open_with(
    key: &LessSafeKey,
    aad: &[u8],
    nonce: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

impl DataKey {
    /// A fresh random data key of version 1.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(DataKey {
            key: SecretKey::random()?,
            version: 1,
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Wraps this key for `owner_id` under the ring's primary master key.
    pub fn wrap(&self, ring: &KeyRing, owner_id: &str) -> Result<Vec<u8>, CryptoError> {
        let kek_version = ring.primary();
        let kek = aes(ring.kek(kek_version)?.bytes())?;
        let mut header = WRAP_PREFIX.to_vec();
        header.extend_from_slice(&kek_version.to_be_bytes());
        seal_with(
            &kek,
            &wrap_aad(owner_id, kek_version, self.version),
            &header,
            self.key.bytes(),
        )
    }

    /// The master key version a wrapped key was made with.
    pub fn wrapped_kek_version(wrapped: &[u8]) -> Result<u32, CryptoError> {
        if wrapped.len() < 7 || &wrapped[..3] != WRAP_PREFIX {
            return Err(if wrapped.len() >= 3 && wrapped[..2] == WRAP_PREFIX[..2] {
                CryptoError::UnknownFormat
            } else {
                CryptoError::Malformed
            });
        }
        Ok(u32::from_be_bytes([
            wrapped[3], wrapped[4], wrapped[5], wrapped[6],
        ]))
    }

    /// Unwraps a data key of `owner_id` stored with `dek_version`.
    pub fn unwrap(
        ring: &KeyRing,
        owner_id: &str,
        dek_version: u32,
        wrapped: &[u8],
    ) -> Result<Self, CryptoError> {
        let kek_version = Self::wrapped_kek_version(wrapped)?;
        if wrapped.len() != 7 + NONCE_LEN + 32 + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let kek = aes(ring.kek(kek_version)?.bytes())?;
        let plain = open_with(
            &kek,
            &wrap_aad(owner_id, kek_version, dek_version),
            &wrapped[7..7 + NONCE_LEN],
            &wrapped[7 + NONCE_LEN..],
        )?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed)?;
        Ok(DataKey {
            key: SecretKey::from_bytes(bytes),
            version: dek_version,
        })
    }

    fn field_key(&self, ctx: &FieldContext<'_>) -> Result<LessSafeKey, CryptoError> {
        let info = lp(&[b"enc", ctx.table.as_bytes(), ctx.field.as_bytes()]);
        let info_parts = [info.as_slice()];
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, FIELD_SALT).extract(self.key.bytes());
        let okm = prk
            .expand(&info_parts, &AES_256_GCM)
            .map_err(|_| CryptoError::Invalid("HKDF output length".into()))?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    fn field_aad(&self, ctx: &FieldContext<'_>) -> Vec<u8> {
        let mut aad = lp(&[
            b"hotline-field-v1",
            ctx.table.as_bytes(),
            ctx.field.as_bytes(),
            ctx.record_id.as_bytes(),
            ctx.owner_id.as_bytes(),
        ]);
        aad.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad
    }

    /// Seals one field value for the place `ctx` describes, with a fresh random nonce.
    pub fn seal(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut header = FIELD_PREFIX.to_vec();
        header.push(ALG_AES_256_GCM);
        header.extend_from_slice(&self.version.to_be_bytes());
        seal_with(
            &self.field_key(ctx)?,
            &self.field_aad(ctx),
            &header,
            plaintext,
        )
    }

    /// Opens a value sealed for exactly the place `ctx` describes.
    pub fn open(
        &self,
        ctx: &FieldContext<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        const HEADER: usize = 3 + 1 + 4;
        if sealed.len() < HEADER + NONCE_LEN + TAG_LEN || sealed[..3] != FIELD_PREFIX[..] {
            return Err(if sealed.len() >= 3 && sealed[..2] == FIELD_PREFIX[..2] {
                CryptoError::UnknownFormat
            } else {
                CryptoError::Malformed
            });
        }
        if sealed[3] != ALG_AES_256_GCM {
            return Err(CryptoError::UnknownFormat);
        }
        let version = u32::from_be_bytes([sealed[4], sealed[5], sealed[6], sealed[7]]);
        if version != self.version {
            return Err(CryptoError::Integrity);
        }
        open_with(
            &self.field_key(ctx)?,
            &self.field_aad(ctx),
            &sealed[HEADER..HEADER + NONCE_LEN],
            &sealed[HEADER + NONCE_LEN..],
        )
    }
}

/// Nonce bytes of a sealed value (for the nonce-uniqueness test and audits of stored data).
pub fn sealed_nonce(sealed: &[u8]) -> Option<&[u8]> {
    sealed.get(8..8 + NONCE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyEnvironment;
    use proptest::prelude::*;

    fn ring() -> KeyRing {
        KeyRing::generate(KeyEnvironment::Development).unwrap()
    }

    const CTX: FieldContext<'static> = FieldContext {
        table: "cases",
        field: "victim_name",
        record_id: "rec-1",
        owner_id: "case-1",
    };

    #[test]
    fn wrap_and_seal_round_trip() {
        let ring = ring();
        let dek = DataKey::generate().unwrap();
        let wrapped = dek.wrap(&ring, "case-1").unwrap();
        assert_eq!(DataKey::wrapped_kek_version(&wrapped).unwrap(), 1);
        let back = DataKey::unwrap(&ring, "case-1", 1, &wrapped).unwrap();
        let sealed = dek.seal(&CTX, b"Olena").unwrap();
        assert_eq!(&back.open(&CTX, &sealed).unwrap()[..], b"Olena");
        assert_eq!(&sealed[..4], b"hv1\x01");
        // Empty values seal too.
        assert_eq!(
            back.open(&CTX, &dek.seal(&CTX, b"").unwrap())
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn a_wrapped_key_is_bound_to_its_owner_and_versions() {
        let ring = ring();
        let dek = DataKey::generate().unwrap();
        let wrapped = dek.wrap(&ring, "case-1").unwrap();
        assert_eq!(
            DataKey::unwrap(&ring, "case-2", 1, &wrapped).unwrap_err(),
            CryptoError::Integrity
        );
        assert_eq!(
            DataKey::unwrap(&ring, "case-1", 2, &wrapped).unwrap_err(),
            CryptoError::Integrity
        );
        let other = super::super::keyring::KeyRing::generate(KeyEnvironment::Development).unwrap();
        assert_eq!(
            DataKey::unwrap(&other, "case-1", 1, &wrapped).unwrap_err(),
            CryptoError::Integrity
        );
        let mut relabelled = wrapped.clone();
        relabelled[6] = 9;
        assert_eq!(
            DataKey::unwrap(&ring, "case-1", 1, &relabelled).unwrap_err(),
            CryptoError::MissingKeyVersion(9)
        );
    }

    #[test]
    fn rewrapping_under_a_new_primary_keeps_the_key() {
        let mut ring = ring();
        let dek = DataKey::generate().unwrap();
        let sealed = dek.seal(&CTX, b"x").unwrap();
        let old = dek.wrap(&ring, "case-1").unwrap();
        ring.add_version().unwrap();
        let new = DataKey::unwrap(&ring, "case-1", 1, &old)
            .unwrap()
            .wrap(&ring, "case-1")
            .unwrap();
        assert_eq!(DataKey::wrapped_kek_version(&new).unwrap(), 2);
        ring.remove_version(1).unwrap();
        let back = DataKey::unwrap(&ring, "case-1", 1, &new).unwrap();
        assert_eq!(&back.open(&CTX, &sealed).unwrap()[..], b"x");
        assert_eq!(
            DataKey::unwrap(&ring, "case-1", 1, &old).unwrap_err(),
            CryptoError::MissingKeyVersion(1)
        );
    }

    #[test]
    fn malformed_input_gives_typed_errors() {
        let dek = DataKey::generate().unwrap();
        assert_eq!(dek.open(&CTX, b"").unwrap_err(), CryptoError::Malformed);
        assert_eq!(
            dek.open(&CTX, b"garbage garbage garbage garbage")
                .unwrap_err(),
            CryptoError::Malformed
        );
        let mut sealed = dek.seal(&CTX, b"x").unwrap();
        sealed[2] = b'9';
        assert_eq!(
            dek.open(&CTX, &sealed).unwrap_err(),
            CryptoError::UnknownFormat
        );
        let mut sealed = dek.seal(&CTX, b"x").unwrap();
        sealed[3] = 7;
        assert_eq!(
            dek.open(&CTX, &sealed).unwrap_err(),
            CryptoError::UnknownFormat
        );
        assert_eq!(
            DataKey::unwrap(&ring(), "o", 1, b"hk").unwrap_err(),
            CryptoError::Malformed
        );
        assert_eq!(
            DataKey::unwrap(&ring(), "o", 1, b"hk9\0\0\0\x01").unwrap_err(),
            CryptoError::UnknownFormat
        );
    }

    #[test]
    fn aes_256_gcm_matches_the_gcm_specification_test_case_14() {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14.
        let key = aes(&[0u8; 32]).unwrap();
        let mut data = vec![0u8; 16];
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0u8; 12]),
            Aad::empty(),
            &mut data,
        )
        .unwrap();
        assert_eq!(
            crate::random::hex(&data),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"
        );
    }

    #[test]
    fn hkdf_sha256_matches_rfc_5869_test_case_1() {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&[0x0b; 22]);
        let info_parts = [info.as_slice()];
        let okm = prk.expand(&info_parts, Len(42)).unwrap();
        let mut out = [0u8; 42];
        okm.fill(&mut out).unwrap();
        assert_eq!(
            crate::random::hex(&out),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn no_nonce_repeats_over_a_million_seals() {
        let dek = DataKey::generate().unwrap();
        let key = dek.field_key(&CTX).unwrap();
        let aad = dek.field_aad(&CTX);
        let mut seen = std::collections::HashSet::with_capacity(1_000_000);
        for _ in 0..1_000_000 {
            let sealed = seal_with(&key, &aad, b"hv1\x01\0\0\0\x01", b"v").unwrap();
            assert!(seen.insert(<[u8; 12]>::try_from(sealed_nonce(&sealed).unwrap()).unwrap()));
        }
    }

    fn arb_ctx() -> impl Strategy<Value = (String, String, String, String)> {
        ("[a-z]{1,6}", "[a-z]{1,6}", "[a-z0-9]{1,6}", "[a-z0-9]{1,6}")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trip_any_value(value in proptest::collection::vec(any::<u8>(), 0..2048), (t, f, r, o) in arb_ctx()) {
            let dek = DataKey::generate().unwrap();
            let ctx = FieldContext { table: &t, field: &f, record_id: &r, owner_id: &o };
            let sealed = dek.seal(&ctx, &value).unwrap();
            prop_assert_eq!(&dek.open(&ctx, &sealed).unwrap()[..], &value[..]);
        }

        #[test]
        fn every_bit_flip_and_truncation_fails(value in proptest::collection::vec(any::<u8>(), 0..64), bit in any::<usize>(), cut in any::<usize>()) {
            let dek = DataKey::generate().unwrap();
            let sealed = dek.seal(&CTX, &value).unwrap();
            let mut flipped = sealed.clone();
            let i = bit % (sealed.len() * 8);
            flipped[i / 8] ^= 1 << (i % 8);
            prop_assert!(dek.open(&CTX, &flipped).is_err());
            let truncated = &sealed[..cut % sealed.len()];
            prop_assert!(dek.open(&CTX, truncated).is_err());
        }

        #[test]
        fn moving_a_value_anywhere_else_fails(value in proptest::collection::vec(any::<u8>(), 0..64), (t, f, r, o) in arb_ctx(), which in 0usize..5) {
            let dek = DataKey::generate().unwrap();
            let home = FieldContext { table: &t, field: &f, record_id: &r, owner_id: &o };
            let sealed = dek.seal(&home, &value).unwrap();
            let other = format!("{}x", [&t, &f, &r, &o][which % 4]);
            let moved = match which {
                0 => FieldContext { table: &other, ..home },
                1 => FieldContext { field: &other, ..home },
                2 => FieldContext { record_id: &other, ..home },
                3 => FieldContext { owner_id: &other, ..home },
                _ => home,
            };
            if which < 4 {
                prop_assert_eq!(dek.open(&moved, &sealed).unwrap_err(), CryptoError::Integrity);
            } else {
                // Another data key version: the same bytes under a key of version 2 fail.
                let v2 = DataKey { key: dek.key.clone(), version: 2 };
                prop_assert_eq!(v2.open(&home, &sealed).unwrap_err(), CryptoError::Integrity);
                let mut relabelled = sealed.clone();
                relabelled[7] = 2;
                prop_assert_eq!(v2.open(&home, &relabelled).unwrap_err(), CryptoError::Integrity);
            }
        }
    }
}
