-- A bulk load of a table no foreign key references also defers its primary key (decision
-- 103): the UUID index cost more per row than the heap insert. The legacy id's unique key,
-- which upserts, resumes and parents' lookups use, always stays.
ALTER TABLE migration.deferred_ddl DROP CONSTRAINT IF EXISTS deferred_ddl_kind_check;
ALTER TABLE migration.deferred_ddl ADD CONSTRAINT deferred_ddl_kind_check
    CHECK (kind IN ('foreign_key', 'index', 'primary_key'));
