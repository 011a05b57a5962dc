DROP INDEX blind_indexes_by_record;
CREATE INDEX blind_indexes_by_record ON blind_indexes (table_name, field, record_id);
