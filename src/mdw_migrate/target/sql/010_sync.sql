-- What `sync` needs to bring a migrated target up to date with read access to the source only.

-- Per entity and bucket of legacy ids (legacy id >> 5): the source rows and the fingerprint
-- the source server computed for them, as the target holds them and as the current run sees
-- them. A sync re-reads only the buckets where the two differ. Bucket -1 holds the
-- fingerprint of an entity's lookup tables (a change there makes every bucket dirty).
CREATE TABLE IF NOT EXISTS migration.range_fingerprints (
    entity text NOT NULL,
    bucket bigint NOT NULL,
    source_rows bigint,
    fingerprint numeric,
    seen_rows bigint,
    seen_fingerprint numeric,
    PRIMARY KEY (entity, bucket)
);

-- Target rows whose legacy row is gone or no longer migrates. They leave the id map at once
-- (so dependants see the parent missing, rule 5) and are deleted from the target after the
-- run's forward pass, dependants first, after a copy to migration_backup. `kept` rows stay
-- (--keep-deleted), marked metadata.legacy_deleted_at, until a sync without that option.
CREATE TABLE IF NOT EXISTS migration.pending_deletions (
    entity text NOT NULL,
    legacy_id bigint NOT NULL,
    id uuid NOT NULL,
    cause text NOT NULL CHECK (cause IN ('source_deleted', 'outcome_changed')),
    kept boolean NOT NULL DEFAULT false,
    run_id uuid NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, legacy_id)
);

-- Legacy ids of an already migrated entity that gained or lost their UUID: its dependants
-- re-read the rows that name them (each keeps the last sequence number it has seen).
CREATE TABLE IF NOT EXISTS migration.mapping_changes (
    seq bigserial PRIMARY KEY,
    entity text NOT NULL,
    legacy_id bigint NOT NULL,
    run_id uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS mapping_changes_entity ON migration.mapping_changes (entity, seq);

-- Per entity: what its fingerprints were computed with, and how far it has read the mapping
-- changes of its parents; `synced_at` is the source snapshot it is in step with.
CREATE TABLE IF NOT EXISTS migration.entity_sync (
    entity text PRIMARY KEY,
    mapping_hash text NOT NULL,
    changes_seen bigint NOT NULL DEFAULT 0,
    synced_at timestamptz NOT NULL DEFAULT now()
);
