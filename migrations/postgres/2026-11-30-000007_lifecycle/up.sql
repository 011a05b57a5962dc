-- The privacy lifecycle: when a record's personal data was erased (by retention or by an
-- erasure request), legal holds, and erasure requests under the two-person rule.
ALTER TABLE cases ADD COLUMN erased_at BIGINT;
ALTER TABLE calls ADD COLUMN erased_at BIGINT;

-- A legal hold stops retention and erasure for a case until it is lifted. The reason is sealed
-- under the case's key.
CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    reason BYTEA NOT NULL,
    placed_by TEXT NOT NULL REFERENCES users (id),
    placed_at BIGINT NOT NULL,
    lifted_by TEXT REFERENCES users (id),
    lifted_at BIGINT,
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX legal_holds_by_case ON legal_holds (case_id, lifted_at);

-- Erasure: requested by one person, decided by a supervisor who is someone else.
CREATE TABLE erasure_requests (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL REFERENCES users (id),
    requested_at BIGINT NOT NULL,
    decided_by TEXT REFERENCES users (id),
    decided_at BIGINT,
    CHECK (status IN ('pending', 'approved', 'rejected')),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX erasure_requests_by_status ON erasure_requests (status, requested_at);
CREATE INDEX erasure_requests_by_case ON erasure_requests (case_id);
