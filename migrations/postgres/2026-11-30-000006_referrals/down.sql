ALTER TABLE mail_outbox DROP COLUMN failed_at;
ALTER TABLE mail_outbox DROP COLUMN next_attempt_at;
ALTER TABLE mail_outbox DROP COLUMN kind;
DROP TABLE referral_ledger;
DROP TABLE referrals;
DROP TABLE services;
DROP TABLE organisations;
ALTER TABLE users DROP COLUMN language;
ALTER TABLE users DROP COLUMN email;
