//! TOTP (RFC 6238): 30-second steps, 6 digits, HMAC-SHA1 (what authenticator apps support),
//! one step of drift either way, and a code accepted only for a step after the last one used, so
//! a code works once.

use ring::hmac;

use crate::CryptoError;

pub const STEP_SECS: u64 = 30;
pub const DIGITS: u32 = 6;

/// A new secret of 160 bits (RFC 4226's recommended length).
pub fn new_secret() -> Result<[u8; 20], CryptoError> {
    Ok(crate::random::bytes::<20>()?)
}

/// The HOTP value (RFC 4226) of `counter`, `digits` long, with the given HMAC algorithm.
pub fn hotp(algorithm: hmac::Algorithm, secret: &[u8], counter: u64, digits: u32) -> u32 {
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a Unix time falls in.
pub fn step_at(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// Checks a 6-digit code at `unix_secs`, allowing one step of drift either way, and only for a
/// step later than `last_used` (replay protection). Returns the step matched, to be stored as
/// the new `last_used`. The comparison does not stop at the first mismatching digit.
pub fn verify(secret: &[u8], code: &str, unix_secs: u64, last_used: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    let mut matched = None;
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!(
            "{:06}",
            hotp(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret, step, DIGITS)
        );
        let same = ring_eq(expected.as_bytes(), code.as_bytes());
        if same && last_used.is_none_or(|last| step > last) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Base32 (RFC 4648, no padding), as authenticator apps expect secrets.
pub fn base32(data: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(A[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(A[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app scans (as a QR code) to enrol.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: 8-digit codes for SHA-1, SHA-256 and SHA-512 at fixed times.
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let cases: [(u64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (time, c1, c256, c512) in cases {
            let step = step_at(time);
            assert_eq!(
                hotp(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &sha1, step, 8),
                c1,
                "SHA1 at {time}"
            );
            assert_eq!(
                hotp(hmac::HMAC_SHA256, &sha256, step, 8),
                c256,
                "SHA256 at {time}"
            );
            assert_eq!(
                hotp(hmac::HMAC_SHA512, &sha512, step, 8),
                c512,
                "SHA512 at {time}"
            );
        }
    }

    #[test]
    fn codes_work_once_and_only_within_one_step() {
        let secret = new_secret().unwrap();
        let t = 1_764_500_000u64;
        let code_at = |secs: u64| {
            format!(
                "{:06}",
                hotp(
                    hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    &secret,
                    step_at(secs),
                    6
                )
            )
        };
        let now = code_at(t);
        let step = verify(&secret, &now, t, None).expect("current code");
        assert_eq!(step, step_at(t));
        assert_eq!(verify(&secret, &now, t, Some(step)), None, "replayed");
        assert_eq!(
            verify(&secret, &code_at(t - 30), t, Some(step)),
            None,
            "an earlier step after a later one"
        );
        assert!(
            verify(&secret, &code_at(t - 30), t, None).is_some(),
            "one step behind"
        );
        assert!(
            verify(&secret, &code_at(t + 30), t, None).is_some(),
            "one step ahead"
        );
        assert_eq!(
            verify(&secret, &code_at(t - 60), t, None),
            None,
            "two steps behind"
        );
        assert_eq!(
            verify(&secret, &code_at(t + 60), t, None),
            None,
            "two steps ahead"
        );
        assert_eq!(verify(&secret, "12345", t, None), None);
        assert_eq!(verify(&secret, "abcdef", t, None), None);
        assert_eq!(new_secret().unwrap().len() * 8, 160);
    }

    #[test]
    fn base32_and_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI"); // RFC 4648 section 10, unpadded
        assert_eq!(base32(b"f"), "MY");
        let uri = otpauth_uri("hotline", "olena k", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/hotline:olena%20k?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hotline&algorithm=SHA1&digits=6&period=30"
        );
    }
}
