-- The audit trail of ./audit/audit.jsonl, queryable next to the data (mdw_migrate/audit.py).
-- Ids, counts, codes and database identities only; arguments are masked before they get here.
-- seq is not unique: two machines with their own ./audit may record into one target.
CREATE TABLE IF NOT EXISTS migration.audit_log (
    seq bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    os_user text NOT NULL,
    os_host text,
    command text NOT NULL,
    arguments jsonb NOT NULL DEFAULT '{}',
    tool_version text NOT NULL,
    source_identity jsonb,
    target_identity jsonb,
    counts jsonb NOT NULL DEFAULT '{}',
    outcome text NOT NULL CHECK (outcome IN ('success', 'failed', 'refused', 'interrupted')),
    error_code text,
    previous_hash text NOT NULL,
    hash text PRIMARY KEY
);
CREATE INDEX IF NOT EXISTS audit_log_recorded_at ON migration.audit_log (recorded_at);

-- Append-only: an audit row is never changed or deleted through ordinary SQL.
CREATE OR REPLACE FUNCTION migration.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'migration.audit_log is append-only (% refused)', TG_OP;
END $$;

DROP TRIGGER IF EXISTS audit_log_append_only ON migration.audit_log;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON migration.audit_log
    FOR EACH ROW EXECUTE FUNCTION migration.audit_log_append_only();
DROP TRIGGER IF EXISTS audit_log_no_truncate ON migration.audit_log;
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON migration.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION migration.audit_log_append_only();
