-- Data keys: one random key per protected record (its owner), stored only wrapped under a master
-- key version. Shredding deletes the wrapped key and keeps a tombstone, so reads can say
-- "erased" rather than "never existed".
CREATE TABLE data_keys (
    owner_id TEXT PRIMARY KEY NOT NULL,
    owner_kind TEXT NOT NULL,
    dek_version INTEGER NOT NULL,
    kek_version INTEGER,
    wrapped BLOB,
    created_at BIGINT NOT NULL,
    shredded_at BIGINT,
    CHECK ((wrapped IS NULL) = (shredded_at IS NOT NULL)),
    CHECK ((wrapped IS NULL) = (kek_version IS NULL))
);
CREATE INDEX data_keys_by_kek_version ON data_keys (kek_version);

-- Blind index values of every owner, in one place so that shredding an owner removes them all.
CREATE TABLE blind_indexes (
    table_name TEXT NOT NULL,
    field TEXT NOT NULL,
    value BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES data_keys (owner_id),
    PRIMARY KEY (table_name, field, value, record_id)
);
CREATE INDEX blind_indexes_by_owner ON blind_indexes (owner_id);
CREATE INDEX blind_indexes_by_record ON blind_indexes (table_name, field, record_id);

-- The access log: striped hash chains. Append-only: triggers refuse UPDATE and DELETE.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stripe INTEGER NOT NULL,
    stripe_seq BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor_id TEXT,
    actor_role TEXT,
    session_ref TEXT,
    mfa BOOLEAN NOT NULL DEFAULT FALSE,
    action TEXT NOT NULL,
    record_type TEXT,
    record_id TEXT,
    fields TEXT NOT NULL,
    purpose TEXT,
    outcome TEXT NOT NULL,
    rule TEXT,
    source TEXT,
    request_id TEXT,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (stripe, stripe_seq)
);
CREATE INDEX audit_events_by_record ON audit_events (record_type, record_id);
CREATE INDEX audit_events_by_actor ON audit_events (actor_id, occurred_at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

-- The head of each chain: its last sequence number and hash. Appends lock their stripe's row.
CREATE TABLE audit_heads (
    stripe INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL
);

-- Signed checkpoints of all chain heads (also appended to a file outside the database).
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at BIGINT NOT NULL,
    total_events BIGINT NOT NULL,
    body TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
