-- Helper functions of the transforms; re-created by every `schema apply`. Each has a fixed
-- search_path (Supabase's linter: function_search_path_mutable), so it resolves names the same
-- way whoever calls it; the cost is that the planner no longer inlines the SQL ones (0.4 µs a
-- call, measured), which matters only on the small core tables that use them.

-- A keyed hash of (entity, legacy id) shaped as a version-8 UUID: the same legacy row always
-- gets the same UUID in one deployment (re-runs, rollback then migrate), and without the
-- secret the UUID says nothing about the legacy id.
CREATE OR REPLACE FUNCTION migration.uuid_from_bytes(h bytea) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT encode(set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 128),
                           8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid
$$;

CREATE OR REPLACE FUNCTION migration.legacy_uuid(secret bytea, entity text, legacy_id bigint)
RETURNS uuid LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT migration.uuid_from_bytes(
        substring(sha256(secret || convert_to(entity || ':' || legacy_id::text, 'UTF8')) FROM 1 FOR 16))
$$;

-- Layout 2 (migration.id_derivation): the first 4 bytes come from the keyed hash of the id's
-- block of 4096 ids, the rest from the id's own, so neighbouring ids share a UUID prefix
-- (B-tree locality) and the UUID still says nothing about the id without the secret.
CREATE OR REPLACE FUNCTION migration.legacy_uuid(
    secret bytea, entity text, legacy_id bigint, layout smallint)
RETURNS uuid LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT migration.uuid_from_bytes(CASE WHEN layout = 2 THEN
        overlay(substring(sha256(secret || convert_to(entity || ':' || legacy_id::text, 'UTF8'))
                          FROM 1 FOR 16)
                PLACING substring(sha256(secret || convert_to(entity || '#' || (legacy_id >> 12)::text,
                                                              'UTF8')) FROM 1 FOR 4)
                FROM 1 FOR 4)
        ELSE substring(sha256(secret || convert_to(entity || ':' || legacy_id::text, 'UTF8'))
                       FROM 1 FOR 16) END)
$$;

-- 'DOC-000042': a prefix and the id padded to six digits; longer ids are never truncated.
CREATE OR REPLACE FUNCTION migration.padded_number(prefix text, id bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT prefix || CASE WHEN length(id::text) >= 6 THEN id::text ELSE lpad(id::text, 6, '0') END
$$;

-- The one rule for "trimmed" (mapping.md): every kind of surrounding whitespace goes (space,
-- tab, newline, carriage return, form feed, vertical tab, the no-break and other Unicode
-- spaces, zero-width spaces and the byte-order mark), and every run of them inside becomes
-- one space; case kept.
CREATE OR REPLACE FUNCTION migration.clean_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT regexp_replace(
        regexp_replace(value,
            E'^[ \t\r\n\f\x0B\u00A0\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF]+|[ \t\r\n\f\x0B\u00A0\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF]+$',
            '', 'g'),
        E'[ \t\r\n\f\x0B\u00A0\u1680\u2000-\u200B\u2028\u2029\u202F\u205F\u3000\uFEFF]+', ' ', 'g')
$$;

-- Trimmed as clean_text does, lower-cased; NULL when blank or not shaped like local@domain.tld.
CREATE OR REPLACE FUNCTION migration.normalize_email(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN e ~ '^[^@\s"(),:;<>\[\]\\]+@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$'
                THEN e END
    FROM (SELECT lower(migration.clean_text(value)) AS e) AS cleaned
$$;

CREATE OR REPLACE FUNCTION migration.country_key(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(upper(regexp_replace(value, '[^A-Za-z]', '', 'g')), '')
$$;

CREATE OR REPLACE FUNCTION migration.country_iso2(value text) RETURNS char(2)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT iso2 FROM migration.country_aliases WHERE alias = migration.country_key(value)
$$;

-- JSON text -> jsonb, NULL when it does not parse. PostgreSQL 16+ tests without an exception
-- (no subtransaction per row); 15 falls back to an exception block. plpgsql, not SQL: an
-- inlined SQL body would let the planner fold the cast of a constant and fail.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE $f$
            CREATE OR REPLACE FUNCTION migration.try_jsonb(value text) RETURNS jsonb
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
            'BEGIN IF pg_input_is_valid(value, ''jsonb'') THEN RETURN value::jsonb; END IF;
             RETURN NULL; END'
        $f$;
    ELSE
        EXECUTE $f$
            CREATE OR REPLACE FUNCTION migration.try_jsonb(value text) RETURNS jsonb
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS
            'BEGIN RETURN value::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END'
        $f$;
    END IF;
END $$;
