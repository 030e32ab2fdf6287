-- Foreign keys and secondary indexes dropped for the bulk load of an empty table, with the
-- statement that re-creates each; emptied when they are back (see engine/bulk.py).
CREATE TABLE IF NOT EXISTS migration.deferred_ddl (
    entity text NOT NULL,
    object_name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('foreign_key', 'index')),
    create_sql text NOT NULL,
    deferred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, object_name)
);
