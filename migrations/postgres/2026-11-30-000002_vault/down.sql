DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
DROP TABLE audit_events;
DROP FUNCTION hotline_append_only();
DROP TABLE blind_indexes;
DROP TABLE data_keys;
