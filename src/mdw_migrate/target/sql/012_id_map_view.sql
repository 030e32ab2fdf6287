-- The target tables are the id map (decision 96): each already has its UUID primary key and
-- its unique legacy id, so the separate copy of every key goes. `schema apply` creates the
-- view `migration.id_map` over the tables after the steps, compares it with the table this
-- step sets aside, and drops the table only when the two hold the same mappings.
DO $$
BEGIN
    IF to_regclass('migration.id_map') IS NOT NULL
       AND (SELECT relkind FROM pg_class WHERE oid = to_regclass('migration.id_map')) = 'r' THEN
        ALTER TABLE migration.id_map RENAME TO id_map_before_012;
    END IF;
END
$$;

-- Which run and batch last brought a bucket of keys up to date: the id map's provenance.
ALTER TABLE migration.range_fingerprints ADD COLUMN IF NOT EXISTS run_id uuid;
ALTER TABLE migration.range_fingerprints ADD COLUMN IF NOT EXISTS batch_no integer;
