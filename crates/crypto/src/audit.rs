//! Hash chaining of audit events and Ed25519 signatures over checkpoints of chain heads.
//!
//! Link: `SHA-256(lp("hotline-audit-v1") ‖ 0x00 ‖ lp(canonical event) ‖ previous hash)`. The
//! first event of a chain links to [`GENESIS`]. The canonical encoding starts with a version byte
//! and length-prefixes every field, so no two different events encode alike.

use ring::digest::{Context, SHA256};
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::encoding::put;
use crate::keyring::KeyRing;

pub const GENESIS: [u8; 32] = [0u8; 32];
const LINK_DOMAIN: &[u8] = b"hotline-audit-v1";
const CHECKPOINT_DOMAIN: &[u8] = b"hotline-checkpoint-v1\n";

/// Builds the canonical encoding of an event, field by field, in a fixed order.
#[derive(Debug, Clone)]
pub struct Canonical(Vec<u8>);

impl Canonical {
    pub fn new(version: u8) -> Self {
        Canonical(vec![version])
    }

    pub fn text(mut self, value: &str) -> Self {
        self.0.push(b's');
        put(&mut self.0, value.as_bytes());
        self
    }

    /// An absent value encodes differently from an empty one.
    pub fn opt_text(mut self, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.text(v),
            None => {
                self.0.push(b'n');
                self
            }
        }
    }

    pub fn int(mut self, value: i64) -> Self {
        self.0.push(b'i');
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The hash of an event given the hash of its predecessor in the same chain.
pub fn link(previous: &[u8; 32], canonical: &Canonical) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    let mut head = Vec::with_capacity(LINK_DOMAIN.len() + 9);
    put(&mut head, LINK_DOMAIN);
    head.push(0x00);
    ctx.update(&head);
    ctx.update(
        &u32::try_from(canonical.0.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    ctx.update(&canonical.0);
    ctx.update(previous);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The bytes [`link`] hashes before and after the 8-byte integer at `at` in the canonical
/// encoding (a sequence number the database assigns): `link(previous, canonical)` is
/// `SHA-256(before ‖ the integer, big-endian ‖ after ‖ previous)`, which PostgreSQL computes as
/// `sha256(before || int8send(n) || after || previous)`. `None` if no integer is encoded at `at`.
pub fn link_around(canonical: &Canonical, at: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let bytes = &canonical.0;
    if at == 0 || bytes.get(at - 1) != Some(&b'i') || bytes.len() < at + 8 {
        return None;
    }
    let mut before = Vec::with_capacity(LINK_DOMAIN.len() + 9 + at);
    put(&mut before, LINK_DOMAIN);
    before.push(0x00);
    before.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    before.extend_from_slice(&bytes[..at]);
    Some((before, bytes[at + 8..].to_vec()))
}

/// Signs a checkpoint body with the ring's Ed25519 key.
pub fn sign_checkpoint(ring: &KeyRing, body: &[u8]) -> Vec<u8> {
    let mut msg = CHECKPOINT_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    ring.signing_key().sign(&msg).as_ref().to_vec()
}

/// Checks a checkpoint signature against a public key.
pub fn verify_checkpoint(public_key: &[u8], body: &[u8], signature: &[u8]) -> bool {
    let mut msg = CHECKPOINT_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&msg, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyEnvironment;

    fn event(action: &str) -> Canonical {
        Canonical::new(1).int(1).text(action).opt_text(None)
    }

    #[test]
    fn links_depend_on_everything() {
        let a = link(&GENESIS, &event("read"));
        assert_eq!(a, link(&GENESIS, &event("read")));
        assert_ne!(a, link(&GENESIS, &event("reads")));
        assert_ne!(a, link(&[1u8; 32], &event("read")));
        assert_ne!(
            link(&GENESIS, &Canonical::new(1).opt_text(None)),
            link(&GENESIS, &Canonical::new(1).text(""))
        );
        assert_ne!(
            link(&GENESIS, &Canonical::new(1).text("ab").text("c")),
            link(&GENESIS, &Canonical::new(1).text("a").text("bc"))
        );
        assert_ne!(
            link(&GENESIS, &Canonical::new(1)),
            link(&GENESIS, &Canonical::new(2))
        );
    }

    #[test]
    fn a_link_computed_around_a_sequence_number_is_the_link() {
        let with = |seq: i64| Canonical::new(1).int(3).int(seq).text("case.read");
        let previous = [7u8; 32];
        let (before, after) = link_around(&with(0), 11).unwrap();
        for seq in [0, 1, 41, i64::MAX] {
            let mut ctx = Context::new(&SHA256);
            ctx.update(&before);
            ctx.update(&seq.to_be_bytes());
            ctx.update(&after);
            ctx.update(&previous);
            assert_eq!(ctx.finish().as_ref(), link(&previous, &with(seq)));
        }
        // Not at an integer: the tag before it is not `i`, or the encoding is too short.
        assert!(link_around(&with(0), 12).is_none());
        assert!(link_around(&with(0), 0).is_none());
        assert!(link_around(&Canonical::new(1).int(3), 11).is_none());
    }

    #[test]
    fn sha256_matches_fips_180_abc() {
        let d = ring::digest::digest(&SHA256, b"abc");
        assert_eq!(
            crate::random::hex(d.as_ref()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ed25519_matches_rfc_8032_test_1() {
        let seed = crate::encoding::from_hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        )
        .unwrap();
        let public = crate::encoding::from_hex(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        )
        .unwrap();
        let pair =
            ring::signature::Ed25519KeyPair::from_seed_and_public_key(&seed, &public).unwrap();
        assert_eq!(
            crate::random::hex(pair.sign(b"").as_ref()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn checkpoints_verify_only_unaltered_and_with_the_right_key() {
        let ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        let body = b"hotline/abc\n3\nstripe 0 12 deadbeef\n";
        let sig = sign_checkpoint(&ring, body);
        let pk = ring.signing_public_key();
        assert!(verify_checkpoint(&pk, body, &sig));
        assert!(!verify_checkpoint(
            &pk,
            b"hotline/abc\n3\nstripe 0 11 deadbeef\n",
            &sig
        ));
        let other = KeyRing::generate(KeyEnvironment::Development).unwrap();
        assert!(!verify_checkpoint(&other.signing_public_key(), body, &sig));
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert!(!verify_checkpoint(&pk, body, &bad));
        assert!(!verify_checkpoint(&pk, body, b"short"));
    }
}
