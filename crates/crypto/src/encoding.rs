//! Unambiguous encodings: length-prefixed fields for associated data and key derivation, and
//! hex for key files.

/// Appends `u32 BE length ‖ bytes`, so ("ab","c") and ("a","bc") never encode alike.
pub(crate) fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(field);
}

/// Length-prefixed concatenation of all fields.
pub(crate) fn lp(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for f in fields {
        put(&mut out, f);
    }
    out
}

/// Decodes hex (either case); `None` for an odd length or a non-hex character.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixes_keep_fields_apart() {
        assert_ne!(lp(&[b"ab", b"c"]), lp(&[b"a", b"bc"]));
        assert_eq!(lp(&[b"ab"]), vec![0, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&crate::random::hex(&bytes)).unwrap(), bytes);
        assert_eq!(from_hex("ABff").unwrap(), vec![0xab, 0xff]);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
    }
}
