ALTER TABLE sessions DROP COLUMN passkey_id;
DROP TABLE passkey_ceremonies;
DROP TABLE passkeys;
