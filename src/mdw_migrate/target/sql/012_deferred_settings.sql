-- A bulk load also pauses autovacuum on the table it fills (kind 'setting'), restored with
-- its indexes and foreign keys: vacuuming a table while it is loaded rewrites its pages and
-- logs them whole again. Recorded like them, so a crash in between is repaired by the
-- entity's next run.
ALTER TABLE migration.deferred_ddl DROP CONSTRAINT IF EXISTS deferred_ddl_kind_check;
ALTER TABLE migration.deferred_ddl ADD CONSTRAINT deferred_ddl_kind_check
    CHECK (kind IN ('foreign_key', 'index', 'setting'));
