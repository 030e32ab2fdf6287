-- The tool's own state, next to the data: a batch, its id-map rows, its outcomes and its
-- checkpoint commit in one transaction.
CREATE SCHEMA IF NOT EXISTS migration;

-- One row: the key of the legacy-id -> UUID derivation, unless MDW_ID_SECRET supplies one.
-- Only its fingerprint is needed when the secret comes from the environment.
CREATE TABLE IF NOT EXISTS migration.deployment (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id_secret bytea,
    id_secret_fingerprint text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON migration.deployment FROM PUBLIC;

CREATE TABLE IF NOT EXISTS migration.runs (
    id uuid PRIMARY KEY,
    command text NOT NULL,
    arguments jsonb NOT NULL DEFAULT '{}',
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    status text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'dry_run')),
    tool_version text NOT NULL,
    source_identity jsonb NOT NULL DEFAULT '{}',
    target_identity jsonb NOT NULL DEFAULT '{}',
    counts jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS migration.entity_progress (
    entity text PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    last_legacy_id bigint,
    batches integer NOT NULL DEFAULT 0,
    source_rows bigint,
    migrated bigint NOT NULL DEFAULT 0,
    excluded bigint NOT NULL DEFAULT 0,
    rejected bigint NOT NULL DEFAULT 0,
    run_id uuid REFERENCES migration.runs (id),
    started_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);

-- (entity, legacy id) -> UUID, unique both ways.
CREATE TABLE IF NOT EXISTS migration.id_map (
    entity text NOT NULL,
    legacy_id bigint NOT NULL,
    id uuid NOT NULL UNIQUE,
    run_id uuid NOT NULL,
    batch_no integer NOT NULL,
    PRIMARY KEY (entity, legacy_id)
);

-- Rows that were not migrated, with the rule or reason: ids and codes only, never content.
CREATE TABLE IF NOT EXISTS migration.row_outcomes (
    entity text NOT NULL,
    legacy_id bigint NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('excluded', 'rejected')),
    reason_code text NOT NULL,
    detail text,
    run_id uuid NOT NULL,
    batch_no integer NOT NULL,
    PRIMARY KEY (entity, legacy_id)
);
CREATE INDEX IF NOT EXISTS row_outcomes_reason ON migration.row_outcomes (entity, outcome, reason_code);

-- Data-quality issues of migrated rows (rule 2 and rule 5), by kind and column.
CREATE TABLE IF NOT EXISTS migration.quality_issues (
    entity text NOT NULL,
    legacy_id bigint NOT NULL,
    kind text NOT NULL,
    column_name text NOT NULL,
    run_id uuid NOT NULL,
    PRIMARY KEY (entity, legacy_id, kind, column_name)
);
CREATE INDEX IF NOT EXISTS quality_issues_kind ON migration.quality_issues (entity, kind);

-- Free-text country spellings -> ISO 3166-1 alpha-2, filled from pycountry by `schema apply`.
CREATE TABLE IF NOT EXISTS migration.country_aliases (
    alias text PRIMARY KEY,
    iso2 char(2) NOT NULL
);
