-- A full pass into an empty table also defers the legacy id's unique key (decision 110): it
-- reads each legacy key once, in key order, so nothing in that pass needs the index, and
-- checking it cost 1.3 µs a row of system_messages, more than building it afterwards. A run
-- killed in between gets it back before its next pass, which upserts against it.
ALTER TABLE migration.deferred_ddl DROP CONSTRAINT IF EXISTS deferred_ddl_kind_check;
ALTER TABLE migration.deferred_ddl ADD CONSTRAINT deferred_ddl_kind_check
    CHECK (kind IN ('foreign_key', 'index', 'primary_key', 'unique_key'));
