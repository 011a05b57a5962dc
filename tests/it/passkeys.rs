//! Passkeys over the JSON API with a software authenticator (a P-256 key of ring's, answering
//! the server's options the way a browser and a platform authenticator would): register, sign
//! in, and everything an attacker would try instead: a replayed assertion, another origin or
//! relying party id, no user verification, a removed or flagged credential, a counter that goes
//! backwards, a password instead of the passkey; on both databases.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

use crate::auth::{add_user, login, start_with, tokens, PASSWORD};
use crate::both;
use crate::support::http::{self, post_json, request};
use crate::support::server::Server;
use crate::support::TestDb;
use crate::web::Browser;
use persistence::testing::{execute, query_strings};

/// Unpadded base64url, as WebAuthn's JSON carries binary fields.
pub(crate) fn b64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// CBOR byte string header and bytes.
fn cbor_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = match data.len() {
        n if n < 24 => vec![0x40 | n as u8],
        n if n < 256 => vec![0x58, n as u8],
        n => vec![0x59, (n >> 8) as u8, n as u8],
    };
    out.extend_from_slice(data);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = vec![0x60 | text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// A software passkey: one P-256 credential with a signature counter, user verification on
/// unless told otherwise.
pub(crate) struct SoftPasskey {
    key: EcdsaKeyPair,
    pub cred_id: Vec<u8>,
    pub counter: u32,
    pub verified: bool,
}

impl SoftPasskey {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut cred_id = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&rng, &mut cred_id).unwrap();
        SoftPasskey {
            key,
            cred_id,
            counter: 0,
            verified: true,
        }
    }

    fn auth_data(&self, rp_id: &str, attested: bool) -> Vec<u8> {
        let mut flags = 0x01; // user present
        if self.verified {
            flags |= 0x04;
        }
        if attested {
            flags |= 0x40;
        }
        let mut data = sha256(rp_id.as_bytes());
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0u8; 16]); // AAGUID
            data.extend_from_slice(&(self.cred_id.len() as u16).to_be_bytes());
            data.extend_from_slice(&self.cred_id);
            let point = self.key.public_key().as_ref(); // 0x04 || x || y
                                                        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
            data.extend_from_slice(&[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
            data.extend(cbor_bytes(&point[1..33]));
            data.push(0x22);
            data.extend(cbor_bytes(&point[33..65]));
        }
        data
    }

    fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": options["publicKey"]["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// The response of `navigator.credentials.create()` to `options`, from `origin`, for the
    /// relying party id `rp_id` (a browser takes it from the options; an attacker's page
    /// would not).
    pub fn register_as(&self, options: &Value, origin: &str, rp_id: &str) -> Value {
        let client = Self::client_data("webauthn.create", options, origin);
        let mut attestation = vec![0xa3];
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.push(0xa0);
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&self.auth_data(rp_id, true)));
        json!({
            "id": b64url(&self.cred_id),
            "rawId": b64url(&self.cred_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64url(&attestation),
                "clientDataJSON": b64url(&client),
            },
        })
    }

    pub fn register(&self, options: &Value, origin: &str) -> Value {
        let rp_id = options["publicKey"]["rp"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.register_as(options, origin, &rp_id)
    }

    /// The response of `navigator.credentials.get()`: the counter goes up first.
    pub fn assert_as(&mut self, options: &Value, origin: &str, rp_id: &str) -> Value {
        self.counter += 1;
        let client = Self::client_data("webauthn.get", options, origin);
        let auth_data = self.auth_data(rp_id, false);
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client));
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        json!({
            "id": b64url(&self.cred_id),
            "rawId": b64url(&self.cred_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(&auth_data),
                "clientDataJSON": b64url(&client),
                "signature": b64url(&signature),
            },
        })
    }

    pub fn assert(&mut self, options: &Value, origin: &str) -> Value {
        let rp_id = options["publicKey"]["rpId"].as_str().unwrap().to_string();
        self.assert_as(options, origin, &rp_id)
    }
}

pub(crate) fn bearer(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> http::Response {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    request(
        server.addr,
        method,
        path,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
}

/// The origin the server's pages are at, as a browser on this machine would send it.
pub(crate) fn origin(server: &Server) -> String {
    format!("http://localhost:{}", server.addr.port())
}

/// Registers `key` for the user of `token`: the finish route's answer.
pub(crate) fn enrol(server: &Server, token: &str, key: &SoftPasskey, name: &str) -> http::Response {
    let started = bearer(
        server,
        "POST",
        "/api/v1/auth/passkeys/register",
        token,
        &Value::Null,
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let started = started.json();
    let credential = key.register(&started["options"], &origin(server));
    bearer(
        server,
        "POST",
        "/api/v1/auth/passkeys/register/finish",
        token,
        &json!({"ceremony": started["ceremony"], "name": name, "credential": credential}),
    )
}

/// Starts a passkey sign-in for `login`: (ceremony, options).
pub(crate) fn sign_in_start(server: &Server, login: &str) -> (String, Value) {
    let res = post_json(
        server.addr,
        "/api/v1/auth/passkey",
        json!({"login": login}).to_string().as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    (
        body["ceremony"].as_str().unwrap().to_string(),
        body["options"].clone(),
    )
}

pub(crate) fn sign_in_finish(
    server: &Server,
    ceremony: &str,
    credential: &Value,
) -> http::Response {
    post_json(
        server.addr,
        "/api/v1/auth/passkey/finish",
        json!({"ceremony": ceremony, "credential": credential})
            .to_string()
            .as_bytes(),
    )
}

/// A whole passkey sign-in of `login` with `key`, from this server's origin: the finish
/// route's answer.
pub(crate) fn sign_in_with(server: &Server, login: &str, key: &mut SoftPasskey) -> http::Response {
    let (ceremony, options) = sign_in_start(server, login);
    sign_in_finish(server, &ceremony, &key.assert(&options, &origin(server)))
}

fn refused(res: &http::Response) {
    assert_eq!(res.status, 401, "{}", res.text());
    assert_eq!(res.json()["error"], "invalid_credentials", "{}", res.text());
}

fn denials(db: &TestDb) -> Vec<String> {
    query_strings(
        &db.open(),
        "SELECT action || ' ' || COALESCE(rule, '') AS item FROM audit_events \
         WHERE outcome = 'denied' AND action IN ('auth.passkey', 'passkey.register', 'auth.login') ORDER BY id",
    )
    .unwrap()
}

/// A server where passkeys are required of supervisors, auditors and admins (the default of
/// config/default.toml) and TOTP of no one.
fn server(db: &TestDb) -> Server {
    start_with(
        db,
        &[
            ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", ""),
            (
                "HOTLINE__AUTH__PASSKEY_REQUIRED_ROLES",
                "supervisor,auditor,admin",
            ),
            ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000"),
        ],
    )
}

both!(
    a_supervisor_enrols_a_passkey_then_signs_in_only_with_it,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        let server = server(&db);
        // A password opens a session that may only enrol a passkey.
        let (token, _) = tokens(&login(&server, "sofia", PASSWORD));
        let me = bearer(&server, "GET", "/api/v1/auth/me", &token, &Value::Null).json();
        assert_eq!(me["passkey_enrolment_required"], true, "{me}");
        let work = bearer(&server, "GET", "/api/v1/cases", &token, &Value::Null);
        assert_eq!(work.status, 403, "{}", work.text());
        assert_eq!(work.json()["error"], "passkey_enrolment_required");

        // Registering one: the recovery codes come with the first, and the session may work.
        let mut key = SoftPasskey::new();
        let done = enrol(&server, &token, &key, "Work laptop");
        assert_eq!(done.status, 201, "{}", done.text());
        let done = done.json();
        assert_eq!(done["passkey"]["name"], "Work laptop");
        let codes: Vec<String> = done["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes.len(), 10);
        let work = bearer(&server, "GET", "/api/v1/cases", &token, &Value::Null);
        assert_eq!(work.status, 200, "{}", work.text());

        // A second passkey comes without new codes; both are listed.
        let second = SoftPasskey::new();
        let again = enrol(&server, &token, &second, "");
        assert_eq!(again.status, 201, "{}", again.text());
        assert_eq!(again.json()["recovery_codes"], json!([]));
        assert_eq!(again.json()["passkey"]["name"], "Passkey 2");
        let list = bearer(
            &server,
            "GET",
            "/api/v1/auth/passkeys",
            &token,
            &Value::Null,
        )
        .json();
        assert_eq!(list["passkeys"].as_array().unwrap().len(), 2, "{list}");

        // The same authenticator cannot be registered twice (it is in the excluded list, which
        // the server checks too).
        let twice = enrol(&server, &token, &key, "again");
        assert_eq!(twice.status, 422, "{}", twice.text());

        // From now on a password alone opens nothing.
        let password = login(&server, "sofia", PASSWORD);
        assert_eq!(password.status, 401, "{}", password.text());
        assert_eq!(password.json()["error"], "passkey_required");

        // The passkey signs in, with the second factor passed; the counter is kept.
        let (ceremony, options) = sign_in_start(&server, "sofia");
        assert_eq!(options["publicKey"]["userVerification"], "required");
        assert_eq!(options["publicKey"]["rpId"], "localhost");
        let assertion = key.assert(&options, &origin(&server));
        let (signed_in, _) = tokens(&sign_in_finish(&server, &ceremony, &assertion));
        let me = bearer(&server, "GET", "/api/v1/auth/me", &signed_in, &Value::Null).json();
        assert_eq!(me["login"], "sofia");
        assert_eq!(me["second_factor_used"], true);
        assert_eq!(me["passkey_enrolment_required"], false);
        let work = bearer(&server, "GET", "/api/v1/cases", &signed_in, &Value::Null);
        assert_eq!(work.status, 200, "{}", work.text());
        let list = bearer(
            &server,
            "GET",
            "/api/v1/auth/passkeys",
            &signed_in,
            &Value::Null,
        )
        .json();
        let first = &list["passkeys"][0];
        assert_eq!(first["sign_count"], 1, "{list}");
        assert!(first["last_used_at"].is_i64(), "{list}");

        // The same assertion again: the ceremony is spent.
        refused(&sign_in_finish(&server, &ceremony, &assertion));

        // A recovery code with the password opens only an enrolling session (a lost passkey).
        let recovered = post_json(
            server.addr,
            "/api/v1/auth/login",
            json!({"login": "sofia", "password": PASSWORD, "totp": codes[0]})
                .to_string()
                .as_bytes(),
        );
        let (recovered, _) = tokens(&recovered);
        let work = bearer(&server, "GET", "/api/v1/cases", &recovered, &Value::Null);
        assert_eq!(work.status, 403, "{}", work.text());
        // ...and a code is good once.
        let reused = post_json(
            server.addr,
            "/api/v1/auth/login",
            json!({"login": "sofia", "password": PASSWORD, "totp": codes[0]})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(reused.status, 401, "{}", reused.text());

        // Every use and refusal is in the access log.
        let events = query_strings(
            &db.open(),
            "SELECT action || ' ' || outcome AS item FROM audit_events \
         WHERE action LIKE 'passkey.%' OR action = 'auth.passkey' ORDER BY id",
        )
        .unwrap();
        assert_eq!(
            events,
            [
                "passkey.register allowed",
                "passkey.register allowed",
                "passkey.register denied",
                "auth.passkey allowed",
                "auth.passkey denied",
            ]
        );
        let rules = denials(&db);
        assert!(
            rules.contains(&"auth.login passkey_required".to_string()),
            "{rules:?}"
        );
        assert!(
            rules.contains(&"auth.passkey ceremony_unknown".to_string()),
            "{rules:?}"
        );
    }
);

both!(
    assertions_from_elsewhere_or_without_verification_are_refused,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        let server = server(&db);
        let (token, _) = tokens(&login(&server, "sofia", PASSWORD));
        let mut key = SoftPasskey::new();

        // Registration from another origin or for another relying party is refused.
        for (origin, rp_id) in [
            ("https://hotline.example.evil", "localhost"),
            ("http://localhost.evil:8080", "localhost"),
        ] {
            let started = bearer(
                &server,
                "POST",
                "/api/v1/auth/passkeys/register",
                &token,
                &Value::Null,
            )
            .json();
            let credential = key.register_as(&started["options"], origin, rp_id);
            let res = bearer(
                &server,
                "POST",
                "/api/v1/auth/passkeys/register/finish",
                &token,
                &json!({"ceremony": started["ceremony"], "credential": credential}),
            );
            assert_eq!(res.status, 422, "{}", res.text());
            assert!(
                res.json()["fields"]["credential"].is_string(),
                "{}",
                res.text()
            );
        }
        let started = bearer(
            &server,
            "POST",
            "/api/v1/auth/passkeys/register",
            &token,
            &Value::Null,
        )
        .json();
        let credential = key.register_as(&started["options"], &origin(&server), "evil.example");
        let res = bearer(
            &server,
            "POST",
            "/api/v1/auth/passkeys/register/finish",
            &token,
            &json!({"ceremony": started["ceremony"], "credential": credential}),
        );
        assert_eq!(res.status, 422, "{}", res.text());
        assert_eq!(enrol(&server, &token, &key, "laptop").status, 201);

        // Sign-in from a phishing origin, for another RP id, or without user verification.
        let (ceremony, options) = sign_in_start(&server, "sofia");
        let phished = key.assert(&options, "https://hotline-login.example.evil");
        refused(&sign_in_finish(&server, &ceremony, &phished));
        let (ceremony, options) = sign_in_start(&server, "sofia");
        let other_rp = key.assert_as(&options, &origin(&server), "evil.example");
        refused(&sign_in_finish(&server, &ceremony, &other_rp));
        key.verified = false;
        let (ceremony, options) = sign_in_start(&server, "sofia");
        let unverified = key.assert(&options, &origin(&server));
        refused(&sign_in_finish(&server, &ceremony, &unverified));
        key.verified = true;

        // An answer to one ceremony does not finish another.
        let (first, options) = sign_in_start(&server, "sofia");
        let (second, _) = sign_in_start(&server, "sofia");
        let answer = key.assert(&options, &origin(&server));
        refused(&sign_in_finish(&server, &second, &answer));
        // (the first still works: the wrong answer spent only the second)
        tokens(&sign_in_finish(&server, &first, &answer));

        // A ceremony expires after five minutes.
        let (late, options) = sign_in_start(&server, "sofia");
        execute(
            &db.open(),
            &format!("UPDATE passkey_ceremonies SET expires_at = 0 WHERE id = '{late}'"),
        )
        .unwrap();
        let answer = key.assert(&options, &origin(&server));
        refused(&sign_in_finish(&server, &late, &answer));

        // A response that is not WebAuthn at all is a 422 naming the field.
        let (ceremony, _) = sign_in_start(&server, "sofia");
        let junk = sign_in_finish(&server, &ceremony, &json!({"id": "x"}));
        assert_eq!(junk.status, 422, "{}", junk.text());
        assert!(
            junk.json()["fields"]["credential"].is_string(),
            "{}",
            junk.text()
        );

        let rules = denials(&db);
        for rule in [
            "passkey.register wrong_origin",
            "auth.passkey wrong_origin",
            "auth.passkey wrong_rp_id",
            "auth.passkey user_not_verified",
            "auth.passkey challenge_mismatch",
            "auth.passkey ceremony_unknown",
        ] {
            assert!(rules.contains(&rule.to_string()), "{rule} not in {rules:?}");
        }
    }
);

both!(
    removed_revoked_and_cloned_passkeys_cannot_sign_in,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        add_user(&db, "admin", "admin");
        let server = server(&db);
        let (token, _) = tokens(&login(&server, "sofia", PASSWORD));
        let mut laptop = SoftPasskey::new();
        let mut phone = SoftPasskey::new();
        assert_eq!(enrol(&server, &token, &laptop, "laptop").status, 201);
        let phone_id = enrol(&server, &token, &phone, "phone").json()["passkey"]["id"]
            .as_str()
            .unwrap()
            .to_string();

        // Signed in with the phone; the phone is removed: that session ends, the phone is refused,
        // even with a ceremony started while it was still registered.
        let (by_phone, _) = tokens(&sign_in_with(&server, "sofia", &mut phone));
        let (pending, pending_options) = sign_in_start(&server, "sofia");
        let rename = bearer(
            &server,
            "PATCH",
            &format!("/api/v1/auth/passkeys/{phone_id}"),
            &token,
            &json!({"name": "old phone"}),
        );
        assert_eq!(rename.status, 204, "{}", rename.text());
        let removed = bearer(
            &server,
            "DELETE",
            &format!("/api/v1/auth/passkeys/{phone_id}"),
            &token,
            &Value::Null,
        );
        assert_eq!(removed.status, 204, "{}", removed.text());
        let gone = bearer(&server, "GET", "/api/v1/auth/me", &by_phone, &Value::Null);
        assert_eq!(gone.status, 401, "{}", gone.text());
        refused(&sign_in_finish(
            &server,
            &pending,
            &phone.assert(&pending_options, &origin(&server)),
        ));
        refused(&sign_in_with(&server, "sofia", &mut phone));
        // The session that registered both counts as signed in with the first (the laptop):
        // removing the phone leaves it.
        assert_eq!(
            bearer(&server, "GET", "/api/v1/auth/me", &token, &Value::Null).status,
            200
        );
        let (token, _) = tokens(&sign_in_with(&server, "sofia", &mut laptop));
        // Another user's passkey id is not found, for rename or removal.
        let (admin_token, _) = tokens(&login(&server, "admin", PASSWORD));
        let admin_key = SoftPasskey::new();
        assert_eq!(
            enrol(&server, &admin_token, &admin_key, "admin key").status,
            201
        );
        let list = bearer(
            &server,
            "GET",
            "/api/v1/auth/passkeys",
            &token,
            &Value::Null,
        )
        .json();
        let laptop_id = list["passkeys"][0]["id"].as_str().unwrap().to_string();
        let theirs = bearer(
            &server,
            "DELETE",
            &format!("/api/v1/auth/passkeys/{laptop_id}"),
            &admin_token,
            &Value::Null,
        );
        assert_eq!(theirs.status, 404, "{}", theirs.text());

        // A counter that goes backwards (a cloned authenticator) is refused and flags the passkey:
        // it cannot sign in again, even with a good counter, until it is removed.
        tokens(&sign_in_with(&server, "sofia", &mut laptop));
        laptop.counter = 0;
        refused(&sign_in_with(&server, "sofia", &mut laptop));
        let list = bearer(
            &server,
            "GET",
            "/api/v1/auth/passkeys",
            &token,
            &Value::Null,
        )
        .json();
        assert_eq!(list["passkeys"][0]["flagged"], true, "{list}");
        laptop.counter = 100;
        refused(&sign_in_with(&server, "sofia", &mut laptop));

        // The admin revokes every passkey of an account: their sessions end.
        let admin_me = bearer(
            &server,
            "GET",
            "/api/v1/admin/users",
            &admin_token,
            &Value::Null,
        );
        assert_eq!(admin_me.status, 200, "{}", admin_me.text());
        let sofia = admin_me.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == "sofia")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let revoke = bearer(
            &server,
            "POST",
            &format!("/api/v1/admin/users/{sofia}/revoke-passkeys"),
            &admin_token,
            &Value::Null,
        );
        assert_eq!(revoke.status, 204, "{}", revoke.text());
        assert_eq!(
            bearer(&server, "GET", "/api/v1/auth/me", &token, &Value::Null).status,
            401
        );
        let none = query_strings(
            &db.open(),
            &format!(
                "SELECT CAST(COUNT(*) AS TEXT) AS item FROM passkeys WHERE user_id = '{sofia}'"
            ),
        )
        .unwrap();
        assert_eq!(none, ["0"]);
        // Without passkeys, a password opens an enrolling session again.
        let (again, _) = tokens(&login(&server, "sofia", PASSWORD));
        let me = bearer(&server, "GET", "/api/v1/auth/me", &again, &Value::Null).json();
        assert_eq!(me["passkey_enrolment_required"], true);

        let rules = denials(&db);
        for rule in [
            "auth.passkey removed_credential",
            "auth.passkey unknown_credential",
            "auth.passkey counter_regression",
            "auth.passkey no_passkey",
        ] {
            assert!(rules.contains(&rule.to_string()), "{rule} not in {rules:?}");
        }
        let events = query_strings(
        &db.open(),
        "SELECT action AS item FROM audit_events WHERE action IN ('passkey.rename', 'passkey.remove', 'user.revoke_passkeys') ORDER BY id",
    )
    .unwrap();
        assert_eq!(
            events,
            ["passkey.rename", "passkey.remove", "user.revoke_passkeys"]
        );
    }
);

both!(
    the_sign_in_start_does_not_tell_who_has_a_passkey,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        add_user(&db, "olena", "counselor");
        let server = server(&db);
        let (token, _) = tokens(&login(&server, "sofia", PASSWORD));
        assert_eq!(
            enrol(&server, &token, &SoftPasskey::new(), "laptop").status,
            201
        );
        let shape = |options: &Value| -> Vec<(String, String)> {
            let mut keys: Vec<(String, String)> = options["publicKey"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if v.is_array() {
                            format!("{}", v.as_array().unwrap().len())
                        } else {
                            String::new()
                        },
                    )
                })
                .collect();
            keys.sort();
            keys
        };
        let (_, real) = sign_in_start(&server, "sofia");
        let (_, none) = sign_in_start(&server, "olena");
        let (_, unknown) = sign_in_start(&server, "nobody-at-all");
        assert_eq!(shape(&real), shape(&none), "{real} vs {none}");
        assert_eq!(shape(&real), shape(&unknown), "{real} vs {unknown}");
        assert_eq!(
            real["publicKey"]["allowCredentials"][0]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            unknown["publicKey"]["allowCredentials"][0]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>()
        );
        // The decoy's credential is the same every time (a changing one would give it away).
        let (_, unknown_again) = sign_in_start(&server, "nobody-at-all");
        assert_eq!(
            unknown["publicKey"]["allowCredentials"],
            unknown_again["publicKey"]["allowCredentials"]
        );
        // A decoy ceremony always fails, like a wrong passkey.
        refused(&sign_in_with(
            &server,
            "nobody-at-all",
            &mut SoftPasskey::new(),
        ));
        // Nothing of the login is in the log.
        let logged = query_strings(
            &db.open(),
            "SELECT COALESCE(actor_id, '') || COALESCE(rule, '') AS item FROM audit_events",
        )
        .unwrap();
        assert!(logged.iter().all(|e| !e.contains("nobody")), "{logged:?}");
    }
);

/// The id of the passkey named `name` in the list page's HTML (`<tr id="passkey-…">` then
/// its name cell).
fn listed_id(page: &str, name: &str) -> String {
    let cell = format!("<td class=\"passkey-name\">{name}</td>");
    let at = page
        .find(&cell)
        .unwrap_or_else(|| panic!("{name} not listed"));
    let row = page[..at].rfind("<tr id=\"passkey-").unwrap() + "<tr id=\"passkey-".len();
    page[row..].split('"').next().unwrap().to_string()
}

/// A passkey added through the pages: the page's options request, the browser's answer, the
/// form post. Gives the post's answer.
fn add_on_page(
    browser: &mut Browser,
    server: &Server,
    token: &str,
    key: &SoftPasskey,
    name: &str,
) -> http::Response {
    let started = browser.post("/passkeys/options", &[("form_token", token)]);
    assert_eq!(started.status, 200, "{}", started.text());
    let started = started.json();
    let credential = key
        .register(&started["options"], &origin(server))
        .to_string();
    browser.post(
        "/passkeys",
        &[
            ("form_token", token),
            ("ceremony", started["ceremony"].as_str().unwrap()),
            ("credential", &credential),
            ("name", name),
        ],
    )
}

/// A passkey sign-in through the sign-in page: the options request, then the form post.
fn sign_in_on_page(
    browser: &mut Browser,
    server: &Server,
    login: &str,
    key: &mut SoftPasskey,
    next: &str,
) -> (http::Response, String, String) {
    let started = browser.post("/sign-in/passkey/options", &[("login", login)]);
    assert_eq!(started.status, 200, "{}", started.text());
    let started = started.json();
    let ceremony = started["ceremony"].as_str().unwrap().to_string();
    let credential = key.assert(&started["options"], &origin(server)).to_string();
    let res = browser.post(
        "/sign-in/passkey",
        &[
            ("login", login),
            ("ceremony", &ceremony),
            ("credential", &credential),
            ("next", next),
        ],
    );
    (res, ceremony, credential)
}

both!(
    a_supervisor_sets_up_and_uses_a_passkey_on_the_pages,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        add_user(&db, "adm", "admin");
        let server = start_with(
            &db,
            &[
                ("HOTLINE__AUTH__TOTP_REQUIRED_ROLES", ""),
                ("HOTLINE__AUTH__PASSKEY_REQUIRED_ROLES", "supervisor"),
                ("HOTLINE__AUTH__THROTTLE_AFTER_FAILURES", "1000"),
            ],
        );
        // Her password opens a session that is sent to add a passkey, whatever page it asks.
        let mut sofia = Browser::new(&server);
        assert_eq!(sofia.sign_in("sofia", PASSWORD, "").status, 303);
        for page in ["/cases", "/break-glass", "/stats"] {
            let res = sofia.get(page);
            assert_eq!(res.status, 303, "{page}");
            assert_eq!(res.header("location"), Some("/passkeys"), "{page}");
        }
        let list = sofia.get("/passkeys");
        assert_eq!(list.status, 200);
        assert!(list.text().contains("id=\"passkey-needed\""));
        assert!(list.text().contains("id=\"no-passkeys\""));
        let token = sofia.form_token("/passkeys");
        // The options need this session's form token, from this site.
        assert_eq!(sofia.post("/passkeys/options", &[]).status, 403);
        let forged = sofia.post_with(
            "/passkeys/options",
            &[("form_token", &token)],
            &[("Sec-Fetch-Site", "cross-site")],
        );
        assert_eq!(forged.status, 403);
        // A registration answer that is not one comes back as the form, the field named.
        let junk = sofia.post(
            "/passkeys",
            &[
                ("form_token", &token),
                ("ceremony", "x"),
                ("credential", "{not json"),
                ("name", "Laptop"),
            ],
        );
        assert_eq!(junk.status, 422, "{}", junk.text());
        assert!(
            junk.text().contains("href=\"#credential\""),
            "{}",
            junk.text()
        );
        assert!(!junk.text().contains("{not json"));

        // The first passkey shows ten recovery codes once; then the work pages open.
        let laptop = SoftPasskey::new();
        let added = add_on_page(&mut sofia, &server, &token, &laptop, "Laptop");
        assert_eq!(added.status, 200, "{}", added.text());
        assert_eq!(added.text().matches("<li><code>").count(), 10);
        assert_eq!(sofia.get("/cases").status, 200);
        // A second one goes back to the list; both are listed, the second renamed, removed.
        let phone = SoftPasskey::new();
        let added = add_on_page(&mut sofia, &server, &token, &phone, "Phone");
        assert_eq!(added.status, 303, "{}", added.text());
        assert_eq!(added.header("location"), Some("/passkeys?done=added"));
        let list = sofia.get("/passkeys?done=added").text();
        assert!(list.contains("id=\"saved\""));
        let phone_id = listed_id(&list, "Phone");
        let renamed = sofia.post(
            &format!("/passkeys/{phone_id}/rename"),
            &[("form_token", &token), ("name", "Work phone")],
        );
        assert_eq!(renamed.header("location"), Some("/passkeys?done=renamed"));
        let empty = sofia.post(
            &format!("/passkeys/{phone_id}/rename"),
            &[("form_token", &token), ("name", "  ")],
        );
        assert_eq!(empty.status, 422);
        assert_eq!(
            listed_id(&sofia.get("/passkeys").text(), "Work phone"),
            phone_id
        );
        let removed = sofia.post(
            &format!("/passkeys/{phone_id}/remove"),
            &[("form_token", &token)],
        );
        assert_eq!(removed.header("location"), Some("/passkeys?done=removed"));
        assert!(!sofia.get("/passkeys").text().contains("Work phone"));
        let unknown = sofia.post(
            &format!("/passkeys/{phone_id}/remove"),
            &[("form_token", &token)],
        );
        assert_eq!(unknown.status, 404);

        // Signed out, her password alone no longer signs her in; the page says why.
        assert_eq!(
            sofia.post("/sign-out", &[("form_token", &token)]).status,
            303
        );
        let mut sofia = Browser::new(&server);
        let refused = sofia.post_with(
            "/sign-in",
            &[("login", "sofia"), ("password", PASSWORD), ("code", "")],
            &[("Cookie", "hotline_lang=en")],
        );
        assert_eq!(refused.status, 401);
        assert!(
            refused.text().contains("signs in with its passkey"),
            "{}",
            refused.text()
        );
        assert!(sofia.cookies.is_empty());

        // Her passkey signs her in and takes her to the page she asked for.
        let mut laptop = laptop;
        let (signed_in, ceremony, credential) =
            sign_in_on_page(&mut sofia, &server, "sofia", &mut laptop, "/follow-ups");
        assert_eq!(signed_in.status, 303, "{}", signed_in.text());
        assert_eq!(signed_in.header("location"), Some("/follow-ups"));
        assert_eq!(sofia.get("/follow-ups").status, 200);
        // The same answer again (replayed) is refused, as are junk and a forged post.
        let mut thief = Browser::new(&server);
        let replayed = thief.post(
            "/sign-in/passkey",
            &[
                ("login", "sofia"),
                ("ceremony", &ceremony),
                ("credential", &credential),
            ],
        );
        assert_eq!(replayed.status, 401, "{}", replayed.text());
        assert!(replayed.text().contains("id=\"sign-in-problem\""));
        assert!(thief.cookies.iter().all(|(k, _)| k != "hotline"));
        let junk = thief.post(
            "/sign-in/passkey",
            &[("ceremony", "nope"), ("credential", "not json")],
        );
        assert_eq!(junk.status, 401);
        let forged = thief.post_with(
            "/sign-in/passkey/options",
            &[("login", "sofia")],
            &[("Sec-Fetch-Site", "cross-site")],
        );
        assert_eq!(forged.status, 403);

        // The admin sees her passkey and revokes it: her session ends at once.
        let mut adm = Browser::new(&server);
        assert_eq!(adm.sign_in("adm", PASSWORD, "").status, 303);
        let users = adm.get("/admin/users").text();
        let sofia_id = query_strings(
            &db.open(),
            "SELECT id AS item FROM users WHERE login = 'sofia'",
        )
        .unwrap()
        .remove(0);
        let revoke = format!("/admin/users/{sofia_id}/revoke-passkeys");
        assert!(users.contains(&format!("action=\"{revoke}\"")), "{users}");
        let adm_token = adm.form_token("/admin/users");
        let revoked = adm.post(&revoke, &[("form_token", &adm_token)]);
        assert_eq!(revoked.status, 303, "{}", revoked.text());
        let gone = sofia.get("/follow-ups");
        assert_eq!(gone.status, 303);
        assert!(gone
            .header("location")
            .is_some_and(|l| l.starts_with("/sign-in")));
        assert!(!adm
            .get("/admin/users")
            .text()
            .contains(&format!("action=\"{revoke}\"")));
        // The revoked passkey no longer signs in.
        let (after, _, _) = sign_in_on_page(&mut thief, &server, "sofia", &mut laptop, "/");
        assert_eq!(after.status, 401);
        let events = query_strings(
            &db.open(),
            "SELECT action || ' ' || outcome AS item FROM audit_events WHERE action LIKE 'passkey.%' \
             OR action IN ('user.revoke_passkeys', 'auth.passkey') ORDER BY id",
        )
        .unwrap();
        for event in [
            "passkey.register allowed",
            "passkey.rename allowed",
            "passkey.remove allowed",
            "auth.passkey allowed",
            "auth.passkey denied",
            "user.revoke_passkeys allowed",
        ] {
            assert!(events.contains(&event.to_string()), "{event}: {events:?}");
        }
    }
);

both!(
    wrong_passkey_answers_lock_the_account_like_wrong_passwords,
    |db: TestDb| {
        add_user(&db, "sofia", "supervisor");
        let server = server(&db);
        let (token, _) = tokens(&login(&server, "sofia", PASSWORD));
        let mut laptop = SoftPasskey::new();
        assert_eq!(enrol(&server, &token, &laptop, "laptop").status, 201);
        // Ten answers from another site in a row (auth.lock_after_failures = 10)...
        for _ in 0..10 {
            let (ceremony, options) = sign_in_start(&server, "sofia");
            let answer = laptop.assert(&options, "https://hotline.example.com.evil.test");
            refused(&sign_in_finish(&server, &ceremony, &answer));
        }
        // ...lock the account: the right passkey is refused too, the lock audited and mailed.
        refused(&sign_in_with(&server, "sofia", &mut laptop));
        let rules = denials(&db);
        assert_eq!(
            rules
                .iter()
                .filter(|r| *r == "auth.passkey wrong_origin")
                .count(),
            10,
            "{rules:?}"
        );
        assert_eq!(
            rules.last().map(String::as_str),
            Some("auth.passkey locked")
        );
        let locks = query_strings(
            &db.open(),
            "SELECT action || ' ' || COALESCE(rule, '') AS item FROM audit_events WHERE action = 'auth.lock'",
        )
        .unwrap();
        assert_eq!(locks, ["auth.lock too_many_failures"]);
        let mails = query_strings(&db.open(), "SELECT kind AS item FROM mail_outbox").unwrap();
        assert_eq!(mails, ["account_locked"]);
    }
);
