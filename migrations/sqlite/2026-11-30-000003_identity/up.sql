-- Staff accounts. A user has exactly one role; partners belong to a service provider
-- organisation. The TOTP secret is sealed by the vault (owner: the user).
CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    login TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    organisation_id TEXT,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until BIGINT,
    totp_secret BLOB,
    totp_last_step BIGINT,
    totp_confirmed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (role IN ('counselor', 'case_worker', 'supervisor', 'auditor', 'admin', 'partner')),
    CHECK (status IN ('active', 'disabled')),
    CHECK ((role = 'partner') = (organisation_id IS NOT NULL))
);

-- Server-side sessions: every request checks its session here, so logout, disabling a user,
-- a password or role change take effect on the next request.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT,
    mfa BOOLEAN NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Refresh tokens, stored only as an HMAC. Each is spent on use; presenting a spent one again
-- revokes its session (someone else has a copy).
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created_at BIGINT NOT NULL,
    spent_at BIGINT
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- Single-use recovery codes for a lost authenticator, stored only as an HMAC.
CREATE TABLE recovery_codes (
    code_hash BLOB PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

-- Failed sign-ins per source address and per login name (both as pseudonyms, so the login of
-- an unknown user is never stored): each failure lengthens the wait before the next attempt.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL
);
