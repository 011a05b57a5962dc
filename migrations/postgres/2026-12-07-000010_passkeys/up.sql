-- Passkeys (WebAuthn credentials, issue 19). The credential is webauthn-rs's `Passkey` as JSON
-- (credential id, public key, counter, backup flags: nothing secret); the counter and backup
-- state are also columns so that a regression can be flagged and the list shown without it.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- base64url of the credential id: one credential belongs to one account only.
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    -- The counter went backwards (a cloned authenticator?): refused until it is removed.
    flagged_at BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A registration or sign-in ceremony started and not finished: its challenge state, server-side
-- only, used once (the row is deleted when it is finished) and good for five minutes. A sign-in
-- for an unknown login has no state (a decoy that always fails).
CREATE TABLE passkey_ceremonies (
    id TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'sign_in')),
    user_id TEXT REFERENCES users (id),
    state TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_by_expiry ON passkey_ceremonies (expires_at);

-- The passkey a session signed in with (or registered in it): roles that require passkeys may
-- work only in such a session.
ALTER TABLE sessions ADD COLUMN passkey_id TEXT;
