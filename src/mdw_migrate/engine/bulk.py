"""Bulk load of a large, empty target table: its foreign keys and secondary indexes are
dropped first and re-created once the table is full (copy, then index, then constraints, as
pgcopydb does).

Checking a foreign key row by row costs more than the insert itself; re-adding the key
validates every row in one join. The values loaded are UUIDs resolved through the id map, so
the re-added keys hold by construction, and if one did not, re-adding it fails loudly. The
UUID primary key of a table that no foreign key references is deferred too (decision 103):
nothing reads a table by its UUIDs while it loads, and each UUID is derived from a distinct
legacy id. So is the legacy id's unique key when a full pass fills the empty table
(decision 110): it reads each key once, in key order, so its batches know their keys are
fresh without asking the index, and dependants, which look rows up by it, start after the
restore. A unique rule of the data (one order file a file) stays and rejects the row that
breaks it. What was dropped is recorded in the state's deferred DDL in the same transaction, so a
crash in between is repaired by the entity's next run.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from .. import state
from .sqlgen import q

log = logging.getLogger("mdw_migrate.bulk")
Conn = psycopg.Connection[tuple[Any, ...]]

# The kind of deferred object a legacy id's unique key is recorded as.
LEGACY_KEY = "unique_key"

# Below this many source rows the per-row checks cost less than rebuilding afterwards. At
# 10,000 rows orders (four foreign keys, seven indexes) loads in 0.68 s against 1.30 s checked
# row by row (decision 120); 50,000 had been a guess.
BULK_THRESHOLD = 10_000
# A run that inserted this many rows into an entity analyses its table when the entity ends,
# and the state tables at the run's end (decisions 95 and 101). A smaller table is left to
# autovacuum: analysing orders' 25,012 rows took 0.47 s, more than deferring saved.
ANALYZE_THRESHOLD = 50_000


def table_is_empty(conn: Conn, table: str) -> bool:
    row = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM public.{q(table)})".encode()).fetchone()
    return bool(row and row[0])


def _one_at_a_time(conn: Conn) -> None:
    """Workers defer and restore one table at a time. Dropping or adding a foreign key locks
    the table it references too, so two workers restoring tasks (-> profiles, then orders) and
    system_messages (-> orders, then profiles) at once deadlocked (seen in the benchmark)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('mdw-migrate bulk ddl'))")


def defer(conn: Conn, entity: str, table: str, legacy_column: str | None = None) -> int:
    """Drops the table's foreign keys, non-unique indexes, (when nothing references the
    table) primary key and (when given) the unique key of `legacy_column`, recording how to
    re-create them. Returns how many objects were deferred."""
    _one_at_a_time(conn)
    relation = f"public.{q(table)}"
    objects = conn.execute(
        "SELECT conname, CASE contype WHEN 'f' THEN 'foreign_key' ELSE 'primary_key' END,"
        " format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', %s::text, conname,"
        " pg_get_constraintdef(oid))"
        " FROM pg_constraint WHERE conrelid = %s::regclass AND (contype = 'f'"
        " OR (contype = 'p' AND NOT EXISTS (SELECT 1 FROM pg_constraint r"
        " WHERE r.contype = 'f' AND r.confrelid = %s::regclass)))"
        " UNION ALL"
        " SELECT c.conname, %s, format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s',"
        " %s::text, c.conname, pg_get_constraintdef(c.oid))"
        " FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid"
        " AND c.conkey = ARRAY[a.attnum]"
        " WHERE c.conrelid = %s::regclass AND c.contype = 'u' AND a.attname = %s"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.contype = 'f'"
        " AND r.conindid = c.conindid)"
        " UNION ALL"
        " SELECT c.relname, 'index', pg_get_indexdef(i.indexrelid)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT i.indisprimary",
        [relation, relation, relation, LEGACY_KEY, relation, relation, legacy_column, relation],
    ).fetchall()
    for name, kind, create_sql in objects:
        state.deferred.record(conn, entity, name, kind, create_sql)
        if kind == "index":
            conn.execute(f"DROP INDEX public.{q(name)}".encode())
        else:
            conn.execute(f"ALTER TABLE {relation} DROP CONSTRAINT {q(name)}".encode())
    if objects:
        log.info(
            "constraints deferred",
            extra={"entity": entity, "action": "bulk_defer", "details": {"objects": len(objects)}},
        )
    return len(objects)


def restore(conn: Conn, entity: str, kinds: list[str] | None = None) -> int:
    """Re-creates what `defer` dropped for the entity (of `kinds`, or all): the legacy key,
    the primary key, the indexes, then the foreign keys."""
    rows = state.deferred.pending(conn, entity, kinds)
    if rows:
        _one_at_a_time(conn)
    for name, create_sql in rows:
        conn.execute(create_sql.encode())
        state.deferred.done(conn, entity, name)
    if rows:
        log.info(
            "constraints restored",
            extra={"entity": entity, "action": "bulk_restore", "details": {"objects": len(rows)}},
        )
    return len(rows)
