-- Hotline calls (contacts). The statistical fields are clear; the caller's name and phone and
-- the summary are sealed by the vault (owner: the call) and only present when given: an
-- anonymous call needs no personal field and has no data key. The phone is also findable
-- through a blind index (repeat callers).
CREATE TABLE calls (
    id TEXT PRIMARY KEY NOT NULL,
    counselor_id TEXT NOT NULL REFERENCES users (id),
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    caller_role TEXT NOT NULL,
    topics TEXT NOT NULL,
    region TEXT NOT NULL,
    caller_gender TEXT NOT NULL,
    caller_age_group TEXT NOT NULL,
    language TEXT NOT NULL,
    outcome TEXT NOT NULL,
    case_id TEXT,
    summary BLOB,
    caller_name BLOB,
    caller_phone BLOB,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX calls_by_counselor ON calls (counselor_id, started_at);
CREATE INDEX calls_by_start ON calls (started_at);
