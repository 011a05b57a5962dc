//! What the API hands out and takes back: access tokens (JWTs with one pinned algorithm, signed
//! with a key of the master key ring that never leaves the vault) and request ids.
//!
//! The token only says which session claims to be calling; the session itself is checked in
//! the database on every request (`Vault::authenticate`, or the `*_in_session` functions), so
//! logout, disabling a user or a password change take effect on the very next request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crypto::CryptoError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::identity::Actor;
use crate::{DbError, Vault};

/// How access tokens are made.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// At most five minutes (SECURITY.md rule 36).
    pub access_ttl: Duration,
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 30;
/// What a token is for: each kind has its own `typ`, so one is never taken for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token of the JSON API (`Authorization: Bearer`), `typ` at+jwt, living
    /// `access_ttl`.
    Access,
    /// The web application's session cookie, `typ` web+jwt. It lives as long as the session
    /// may (`ttl`); the server-side session check on every request ends it sooner (idle time,
    /// logout, disabling, a password change), exactly as for an access token.
    Cookie { ttl: Duration },
}

impl TokenKind {
    fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::Cookie { .. } => "web+jwt",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: u64,
    iat: u64,
    jti: String,
    sid: String,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn token_key(vault: &Vault) -> Result<crypto::SecretKey, DbError> {
    Ok(vault.ring().purpose_key("access-token-hs256")?)
}

/// A new access token for the actor's session.
pub fn mint(vault: &Vault, settings: &TokenSettings, actor: &Actor) -> Result<String, DbError> {
    mint_kind(vault, settings, TokenKind::Access, actor)
}

/// A new token of `kind` for the actor's session.
pub fn mint_kind(
    vault: &Vault,
    settings: &TokenSettings,
    kind: TokenKind,
    actor: &Actor,
) -> Result<String, DbError> {
    sign(
        token_key(vault)?.expose_bytes(),
        settings,
        kind,
        &actor.user_id,
        &actor.session_id,
    )
}

fn sign(
    key: &[u8],
    settings: &TokenSettings,
    kind: TokenKind,
    user_id: &str,
    session_id: &str,
) -> Result<String, DbError> {
    let now = now_secs();
    let ttl = match kind {
        TokenKind::Access => settings.access_ttl,
        TokenKind::Cookie { ttl } => ttl,
    };
    let claims = Claims {
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        sub: user_id.to_string(),
        exp: now + ttl.as_secs(),
        iat: now,
        jti: crypto::random::hex_id::<16>().map_err(CryptoError::from)?,
        sid: session_id.to_string(),
    };
    let header = Header {
        typ: Some(kind.typ().into()),
        ..Header::new(Algorithm::HS256)
    };
    let unsigned = || DbError::Refused("the access token could not be signed".to_string());
    let key = EncodingKey::from_secret(key).map_err(|_| unsigned())?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(|_| unsigned())
}

/// Checks an access token: the header (HS256, `typ` at+jwt, nothing else that could point at
/// other keys), the signature, issuer, audience, expiry and the required claims. Returns
/// (user id, session id).
pub fn check(vault: &Vault, settings: &TokenSettings, token: &str) -> Option<(String, String)> {
    check_kind(vault, settings, TokenKind::Access, token)
}

/// As [`check`], for a token of `kind` (a cookie is never taken as an access token, nor the
/// other way round).
pub fn check_kind(
    vault: &Vault,
    settings: &TokenSettings,
    kind: TokenKind,
    token: &str,
) -> Option<(String, String)> {
    verify(token_key(vault).ok()?.expose_bytes(), settings, kind, token)
}

/// The web form token of a session: an HMAC of the session id under a key of its own, so it
/// is bound to the session, needs no storage, and tells nothing of the session id.
pub fn form_token(vault: &Vault, session_id: &str) -> Result<String, DbError> {
    let key = vault.ring().purpose_key("web-form-token")?;
    Ok(crypto::random::hex(&crypto::token::keyed_hash(
        &key,
        session_id.as_bytes(),
    )))
}

/// Whether `token` is the session's form token (compared in constant time).
pub fn form_token_matches(vault: &Vault, session_id: &str, token: &str) -> bool {
    let Ok(key) = vault.ring().purpose_key("web-form-token") else {
        return false;
    };
    let Some(tag) = unhex(token) else {
        return false;
    };
    crypto::token::keyed_hash_matches(&key, session_id.as_bytes(), &tag)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn verify(
    key: &[u8],
    settings: &TokenSettings,
    kind: TokenKind,
    token: &str,
) -> Option<(String, String)> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let Header {
        typ,
        alg,
        cty,
        jku,
        jwk,
        kid,
        x5u,
        x5c,
        x5t,
        x5t_s256,
        crit,
        enc,
        zip,
        ..
    } = header;
    let plain = typ.as_deref() == Some(kind.typ())
        && alg == Algorithm::HS256
        && [cty, jku, kid, x5u, x5t, x5t_s256]
            .iter()
            .all(Option::is_none)
        && jwk.is_none()
        && x5c.is_none()
        && crit.is_none()
        && enc.is_none()
        && zip.is_none();
    if !plain {
        return None;
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let key = DecodingKey::from_secret(key).ok()?;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .ok()?
        .claims;
    if claims.iat > now_secs() + LEEWAY_SECS || claims.sid.is_empty() || claims.jti.is_empty() {
        return None;
    }
    Some((claims.sub, claims.sid))
}

/// A new request id (64 bits, hex), for error bodies and the access log; never secret.
pub fn request_id() -> String {
    crypto::random::hex_id::<8>().unwrap_or_else(|_| "no-id".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use proptest::prelude::*;

    const KEY: &[u8] = b"a test key of thirty-two bytes!!";

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "hotline-test".into(),
            audience: "hotline-api".into(),
            access_ttl: Duration::from_secs(300),
        }
    }

    #[test]
    fn a_signed_token_verifies_and_names_its_user_and_session() {
        let token = sign(KEY, &settings(), TokenKind::Access, "user-1", "session-1").unwrap();
        assert_eq!(
            verify(KEY, &settings(), TokenKind::Access, &token),
            Some(("user-1".to_string(), "session-1".to_string()))
        );
        assert_eq!(
            verify(
                b"another key of thirty-two bytes!",
                &settings(),
                TokenKind::Access,
                &token
            ),
            None
        );
    }

    /// A web session cookie and an access token are signed with one key but never stand in
    /// for each other; the cookie lives as long as it was minted for.
    #[test]
    fn a_cookie_is_not_an_access_token_nor_the_other_way_round() {
        let cookie_kind = TokenKind::Cookie {
            ttl: Duration::from_secs(3600),
        };
        let cookie = sign(KEY, &settings(), cookie_kind, "user-1", "session-1").unwrap();
        let access = sign(KEY, &settings(), TokenKind::Access, "user-1", "session-1").unwrap();
        assert_eq!(verify(KEY, &settings(), TokenKind::Access, &cookie), None);
        assert_eq!(verify(KEY, &settings(), cookie_kind, &access), None);
        assert!(verify(KEY, &settings(), cookie_kind, &cookie).is_some());
        let expired = sign(
            KEY,
            &settings(),
            TokenKind::Cookie {
                ttl: Duration::from_secs(0),
            },
            "user-1",
            "session-1",
        )
        .unwrap();
        // Within the leeway it still verifies; the server-side session decides the rest.
        assert!(verify(KEY, &settings(), cookie_kind, &expired).is_some());
    }

    #[test]
    fn form_tokens_are_hex_of_the_right_length_only() {
        assert_eq!(unhex(&"ab".repeat(32)).map(|v| v.len()), Some(32));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex(&"zz".repeat(32)), None);
        assert_eq!(unhex(&"é".repeat(32)), None);
    }

    /// Correctly signed with our key, but with a header the server does not issue: refused
    /// (a `kid`, `jku` or `jwk` could point at other keys; another `typ` is another kind of
    /// token; another algorithm is an algorithm-confusion attempt).
    #[test]
    fn correctly_signed_tokens_with_other_headers_are_refused() {
        let claims = serde_json::json!({
            "iss": "hotline-test", "aud": "hotline-api", "sub": "user-1", "sid": "session-1",
            "jti": "j", "iat": now_secs(), "exp": now_secs() + 300,
        });
        let key = EncodingKey::from_secret(KEY).unwrap();
        let ours = Header {
            typ: Some("at+jwt".into()),
            ..Header::new(Algorithm::HS256)
        };
        let good = jsonwebtoken::encode(&ours, &claims, &key).unwrap();
        assert!(verify(KEY, &settings(), TokenKind::Access, &good).is_some());
        let variants = [
            Header::new(Algorithm::HS256),
            Header {
                typ: Some("JWT".into()),
                ..ours.clone()
            },
            Header {
                kid: Some("1".into()),
                ..ours.clone()
            },
            Header {
                jku: Some("https://attacker.example/keys".into()),
                ..ours.clone()
            },
            Header {
                cty: Some("JWT".into()),
                ..ours.clone()
            },
            Header {
                alg: Algorithm::HS384,
                ..ours.clone()
            },
            Header {
                alg: Algorithm::HS512,
                ..ours.clone()
            },
        ];
        for header in variants {
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            assert_eq!(
                verify(KEY, &settings(), TokenKind::Access, &token),
                None,
                "{header:?}"
            );
        }
        // alg "none" with no signature, and our header on a payload without its signature.
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
        assert_eq!(
            verify(
                KEY,
                &settings(),
                TokenKind::Access,
                &format!("{none}.{payload}.")
            ),
            None
        );
        let (head, _) = good.split_once('.').unwrap();
        assert_eq!(
            verify(
                KEY,
                &settings(),
                TokenKind::Access,
                &format!("{head}.{payload}.")
            ),
            None
        );
        // A missing session or token id: refused.
        for missing in ["sid", "jti", "sub", "exp"] {
            let mut partial = claims.clone();
            partial.as_object_mut().unwrap().remove(missing);
            let token = jsonwebtoken::encode(&ours, &partial, &key).unwrap();
            assert_eq!(
                verify(KEY, &settings(), TokenKind::Access, &token),
                None,
                "without {missing}"
            );
        }
        // Expired beyond the leeway: refused.
        let mut old = claims.clone();
        old["exp"] = serde_json::json!(now_secs() - LEEWAY_SECS - 5);
        let token = jsonwebtoken::encode(&ours, &old, &key).unwrap();
        assert_eq!(verify(KEY, &settings(), TokenKind::Access, &token), None);
    }

    proptest! {
        // Fuzzing the token parser: any text is refused without a panic.
        #[test]
        fn any_text_is_refused(token in ".{0,400}") {
            prop_assert_eq!(verify(KEY, &settings(), TokenKind::Access, &token), None);
        }

        // Any bytes in the three dot-separated parts, as base64url: refused.
        #[test]
        fn any_three_parts_are_refused(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 3)
        ) {
            let token = parts
                .iter()
                .map(|p| URL_SAFE_NO_PAD.encode(p))
                .collect::<Vec<_>>()
                .join(".");
            prop_assert_eq!(verify(KEY, &settings(), TokenKind::Access, &token), None);
        }

        // A real token with one character changed, inserted or removed never yields another
        // user or session.
        #[test]
        fn a_tampered_token_never_names_anyone_else(
            at in any::<prop::sample::Index>(),
            replacement in any::<char>(),
            edit in 0..3u8,
        ) {
            let token = sign(KEY, &settings(), TokenKind::Access, "user-1", "session-1").unwrap();
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            match edit {
                0 => chars[i] = replacement,
                1 => chars.insert(i, replacement),
                _ => { chars.remove(i); }
            }
            let tampered: String = chars.into_iter().collect();
            match verify(KEY, &settings(), TokenKind::Access, &tampered) {
                None => {}
                Some(found) => {
                    // Only an edit that decodes to the same bytes may pass, and then it names
                    // the same user and session.
                    prop_assert_eq!(found, ("user-1".to_string(), "session-1".to_string()));
                }
            }
        }

        // Claims of another issuer, audience or key: refused.
        #[test]
        fn foreign_tokens_are_refused(issuer in "[a-z-]{1,20}", audience in "[a-z-]{1,20}") {
            let foreign = TokenSettings {
                issuer: issuer.clone(),
                audience: audience.clone(),
                access_ttl: Duration::from_secs(300),
            };
            let token = sign(KEY, &foreign, TokenKind::Access, "user-1", "session-1").unwrap();
            let ours = settings();
            let expected = (issuer == ours.issuer && audience == ours.audience)
                .then(|| ("user-1".to_string(), "session-1".to_string()));
            prop_assert_eq!(verify(KEY, &ours, TokenKind::Access, &token), expected);
        }
    }
}
