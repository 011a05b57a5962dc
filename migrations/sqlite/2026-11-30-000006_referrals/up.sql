-- Staff e-mail (for notifications) and the language of their messages.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'uk';

-- The service provider directory: organisations (a short code is their id, the one partner
-- accounts name) and the services they offer. No personal data.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    notification_email TEXT,
    language TEXT NOT NULL,
    languages TEXT NOT NULL,
    regions TEXT NOT NULL,
    intake_criteria TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE services (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    service_type TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX services_by_type ON services (service_type, organisation_id);
CREATE INDEX services_by_organisation ON services (organisation_id);

-- Referrals: a case's request to a provider's service. The packet (only the fields its service
-- type allows) is sealed under the referral's own data key (owner: the referral), shredded when
-- the referral ends; what the case worker and the partner wrote about it is sealed under the
-- case's key.
CREATE TABLE referrals (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    service_id TEXT NOT NULL REFERENCES services (id),
    service_type TEXT NOT NULL,
    status TEXT NOT NULL,
    consent_id TEXT REFERENCES case_consents (id),
    override_by TEXT REFERENCES users (id),
    override_justification BLOB,
    packet BLOB,
    packet_fields TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    follow_up_on TEXT,
    follow_up_notified_on TEXT,
    sent_at BIGINT,
    answer_due_at BIGINT,
    answered_at BIGINT,
    partner_note BLOB,
    first_opened_at BIGINT,
    last_opened_at BIGINT,
    ended_at BIGINT,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (status IN ('draft', 'sent', 'accepted', 'declined', 'in_progress', 'completed',
                      'cancelled', 'revoked', 'expired')),
    CHECK (consent_id IS NOT NULL OR override_by IS NOT NULL)
);
CREATE INDEX referrals_by_case ON referrals (case_id, created_at);
CREATE INDEX referrals_by_organisation ON referrals (organisation_id, status, created_at);
CREATE INDEX referrals_by_consent ON referrals (consent_id);
CREATE INDEX referrals_by_follow_up ON referrals (created_by, follow_up_on);
CREATE INDEX referrals_by_status ON referrals (status, answer_due_at);

-- Which organisation received which fields of which case, kept after the packet is shredded,
-- for notices when consent is withdrawn or the case is erased.
CREATE TABLE referral_ledger (
    id TEXT PRIMARY KEY NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    case_id TEXT NOT NULL REFERENCES cases (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    fields TEXT NOT NULL,
    shared_at BIGINT NOT NULL,
    notice_sent_at BIGINT
);
CREATE INDEX referral_ledger_by_case ON referral_ledger (case_id);

-- Mail delivery state: when to try again, permanent failure, the language it was written in.
ALTER TABLE mail_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'other';
ALTER TABLE mail_outbox ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN failed_at BIGINT;
