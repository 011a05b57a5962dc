DROP TABLE erasure_requests;
DROP TABLE legal_holds;
ALTER TABLE calls DROP COLUMN erased_at;
ALTER TABLE cases DROP COLUMN erased_at;
