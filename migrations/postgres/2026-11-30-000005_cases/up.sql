-- Victim case files. The statistical facts are clear (codes of the vocabularies; lists are
-- comma-separated codes); the victim profile, the exploitation narrative and the needs
-- assessment are sealed by the vault under the case's data key (owner: the case), as are the
-- notes, plan items, consent scopes and break-glass justifications of the case, so shredding
-- the case's key erases all of them at once.

-- Public references YYYY-NNNNNN: one counter per year, taken in the transaction that opens
-- the case (an upsert, so concurrent openings queue on the counter row).
CREATE TABLE case_counters (
    year INTEGER PRIMARY KEY NOT NULL,
    last_number BIGINT NOT NULL
);

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    assigned_to TEXT REFERENCES users (id),
    opened_by TEXT NOT NULL REFERENCES users (id),
    risk_level TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    closed_at BIGINT,
    gender TEXT NOT NULL,
    age_band TEXT NOT NULL,
    nationality TEXT NOT NULL,
    exploitation_types TEXT NOT NULL,
    control_methods TEXT NOT NULL,
    recruitment TEXT NOT NULL,
    recruitment_countries TEXT NOT NULL,
    transit_countries TEXT NOT NULL,
    exploitation_countries TEXT NOT NULL,
    exploitation_from TEXT,
    exploitation_to TEXT,
    nrm_status TEXT NOT NULL,
    profile BYTEA,
    exploitation_details BYTEA,
    needs_assessment BYTEA,
    version INTEGER NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (status IN ('Active', 'FollowUp', 'Closed', 'ClosedReferred')),
    CHECK ((closed_at IS NULL) = (status IN ('Active', 'FollowUp')))
);
CREATE INDEX cases_by_assignee ON cases (assigned_to, opened_at, id);
CREATE INDEX cases_by_opening ON cases (opened_at, id);
CREATE INDEX calls_by_case ON calls (case_id);

-- Notes: the note and its current revision; every revision stays (an edit adds one).
CREATE TABLE case_notes (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    revision INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, created_at);

CREATE TABLE case_note_revisions (
    note_id TEXT NOT NULL REFERENCES case_notes (id),
    revision INTEGER NOT NULL,
    author_id TEXT NOT NULL REFERENCES users (id),
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (note_id, revision)
);

-- Reintegration plan items: domain, status and dates clear; the goal and the progress notes
-- sealed.
CREATE TABLE case_plan_items (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    domain TEXT NOT NULL,
    status TEXT NOT NULL,
    due_on TEXT,
    completed_at BIGINT,
    goal BYTEA NOT NULL,
    progress BYTEA,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX case_plan_items_by_case ON case_plan_items (case_id, created_at);

-- Consent records: purpose and coverage clear (other processes check them), the scope in the
-- person's words sealed. Withdrawn records stay, marked.
CREATE TABLE case_consents (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    purpose TEXT NOT NULL,
    service_types TEXT NOT NULL,
    organisations TEXT NOT NULL,
    scope BYTEA,
    given_at BIGINT NOT NULL,
    expires_at BIGINT,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    withdrawn_at BIGINT,
    withdrawn_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE INDEX case_consents_by_case ON case_consents (case_id, given_at);

-- Break-glass grants: read-only access to one case for a short time, flagged, reviewed by a
-- supervisor afterwards.
CREATE TABLE break_glass_grants (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    justification BYTEA NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    reviewed_by TEXT REFERENCES users (id),
    reviewed_at BIGINT,
    CHECK ((reviewed_at IS NULL) = (reviewed_by IS NULL))
);
CREATE INDEX break_glass_by_user ON break_glass_grants (user_id, case_id, expires_at);
CREATE INDEX break_glass_by_review ON break_glass_grants (reviewed_at, granted_at);

-- Outgoing mail, written in the transaction of what it reports and sent by the delivery
-- worker. Never personal data: opaque references and links only.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient_user_id TEXT REFERENCES users (id),
    recipient_address TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    CHECK (recipient_user_id IS NOT NULL OR recipient_address IS NOT NULL)
);
CREATE INDEX mail_outbox_by_state ON mail_outbox (sent_at, created_at);
