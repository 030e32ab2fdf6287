"""`migration.id_map`: (entity, legacy id) -> UUID, unique both ways, for every migrated row.

The target tables are the map: each has `id uuid PRIMARY KEY` and a `legacy_*_id NOT NULL
UNIQUE` column, so a second copy of every key (with two more unique indexes, one of them on
random UUIDs) would only repeat them (decision 96). An entity's mapped rows are its target
rows except those queued for deletion (`pending_deletions`, not kept): a batch takes a row
out of the map by queueing it, and the run deletes it at its end. `migration.id_map` is a
view over the tables, with the run and batch that last brought the row's bucket of keys up to
date (`range_fingerprints`), for operators; the tool's own SQL reads the tables directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import fingerprints
from ._conn import Conn

VIEW = "migration.id_map"
Params = Mapping[str, Any]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class MappedTable:
    """Where an entity's mappings are: its target table (quoted, schema-qualified) and its
    legacy-id column (quoted)."""

    entity: str
    table: str
    legacy: str

    def not_queued(self, alias: str) -> str:
        """SQL: the row `alias` of the table is not queued for deletion (so it is mapped)."""
        return (
            "NOT EXISTS (SELECT 1 FROM migration.pending_deletions q"
            f" WHERE q.entity = {_literal(self.entity)} AND q.legacy_id = {alias}.{self.legacy}"
            " AND NOT q.kept)"
        )

    def rows(self, alias: str) -> str:
        """FROM item `alias` (id, legacy_id): the entity's mapped rows."""
        inner = f"{alias}_t"
        return (
            f"(SELECT {inner}.id, {inner}.{self.legacy} AS legacy_id FROM {self.table} {inner}"
            f" WHERE {self.not_queued(inner)}) AS {alias}"
        )

    def lookup(
        self, alias: str, legacy_id_sql: str, *, queued: bool = True, within: str = ""
    ) -> str:
        """`LEFT JOIN`s that look up the mapped row of legacy id `legacy_id_sql` as `alias`
        (id, legacy_id), both NULL when it is not mapped (never migrated, or queued for
        deletion).

        The table and the queue are joined to the caller's rows each on its own, not as
        `rows()`: a `NOT EXISTS` inside the nullable side of an outer join is planned as
        the whole table anti-joined with the queue before the caller's rows meet it, so
        every batch read the parent's every row (953 k tasks at scale 1.0 scanned the
        328 k files once a batch). Joined this way the planner can hash a small table or
        look each key up in the legacy id's index, whichever costs less (decision 109).

        `queued=False`: the caller knows the queue holds no row of the entity (checked in its
        transaction, `deletions.unqueued`), so the queue is not joined (decision 117).

        `within`: a condition on the legacy id (`{0}` stands for the column) that every
        looked-up key meets, such as a batch's key range. The table's scan is then bounded by
        it: merge-joined without it, the scan of the legacy id's index started at the table's
        first key, so each batch of a pass read every key before its own (decision 122)."""
        t, pending = f"{alias}_t", f"{alias}_q"
        on = f"{t}.{self.legacy} = {legacy_id_sql}"
        if within:
            on += " AND " + within.format(f"{t}.{self.legacy}")
        if not queued:
            return (
                f"LEFT JOIN {self.table} {t} ON {on}"
                f" LEFT JOIN LATERAL (SELECT {t}.id AS id, {t}.{self.legacy} AS legacy_id)"
                f" AS {alias} ON true"
            )
        mapped = f"{pending}.legacy_id IS NULL"
        return (
            f"LEFT JOIN {self.table} {t} ON {on}"
            f" LEFT JOIN migration.pending_deletions {pending}"
            f" ON {pending}.entity = {_literal(self.entity)}"
            f" AND {pending}.legacy_id = {t}.{self.legacy} AND NOT {pending}.kept"
            f" LEFT JOIN LATERAL (SELECT CASE WHEN {mapped} THEN {t}.id END AS id,"
            f" CASE WHEN {mapped} THEN {t}.{self.legacy} END AS legacy_id) AS {alias} ON true"
        )


def count(conn: Conn, mapped: MappedTable) -> int:
    row = conn.execute(f"SELECT count(*) FROM {mapped.rows('m')}".encode()).fetchone()
    return int(row[0]) if row else 0


def target_rows(conn: Conn, mapped: MappedTable) -> int:
    """Every row of the table: each has a legacy id, mapped or queued for deletion."""
    row = conn.execute(f"SELECT count(*) FROM {mapped.table}".encode()).fetchone()
    return int(row[0]) if row else 0


def tool_rows(conn: Conn, mapped: MappedTable, made: str, params: Params) -> int:
    """Rows of the table the tool made (`made`: a condition on row `t`, with `params`)."""
    row = conn.execute(
        f"SELECT count(*) FROM {mapped.table} t WHERE {made}".encode(), params
    ).fetchone()
    return int(row[0]) if row else 0


def sample_keys(conn: Conn, mapped: MappedTable, size: int) -> list[int]:
    """Legacy ids of migrated rows to check again: all of them when there are at most `size`,
    else random probes into the legacy id range (index lookups, no scan of the table)."""
    legacy, table = mapped.legacy, mapped.table
    rows = conn.execute(
        f"SELECT m.legacy_id FROM {mapped.rows('m')}"
        f" WHERE (SELECT count(*) <= %(n)s FROM (SELECT 1 FROM {table} LIMIT %(n)s + 1) AS c)"
        " ORDER BY 1".encode(),
        {"n": size},
    ).fetchall()
    if not rows:
        rows = conn.execute(
            f"WITH b AS (SELECT min({legacy}) AS lo, max({legacy}) AS hi FROM {table})"
            " SELECT DISTINCT s.legacy_id FROM b, generate_series(1, %(n)s) AS g"
            f" CROSS JOIN LATERAL (SELECT t.{legacy} AS legacy_id FROM {table} t"
            f"  WHERE t.{legacy} >= b.lo + floor(random() * (b.hi - b.lo + 1) + g * 0)::bigint"
            f"  AND {mapped.not_queued('t')} ORDER BY t.{legacy} LIMIT 1) AS s".encode(),
            {"n": size},
        ).fetchall()
    return [int(r[0]) for r in rows]


def wrong_parents(
    conn: Conn, parent: MappedTable, table: str, column: str, legacy_column: str
) -> int:
    """Rows whose reference `column` is not the parent its legacy id `legacy_column` names."""
    row = conn.execute(
        f"SELECT count(*) FROM {table} t JOIN {parent.rows('m')}"
        f" ON m.legacy_id = t.{legacy_column} WHERE t.{column} IS DISTINCT FROM m.id".encode()
    ).fetchone()
    return int(row[0]) if row else 0


def resolve_self_reference(
    mapped: MappedTable, conn: Conn, column: str, legacy_column: str
) -> None:
    """Sets `column` to the UUID of the row of the same entity that `legacy_column` names
    (NULL when that row never migrated); run after the last batch of a pass."""
    conn.execute(
        f"UPDATE {mapped.table} AS c SET {column} = p.id, updated_at = now()"
        f" FROM {mapped.table} AS c0 LEFT JOIN {mapped.rows('p')}"
        f"   ON p.legacy_id = c0.{legacy_column}"
        f" WHERE c0.id = c.id AND c.{column} IS DISTINCT FROM p.id".encode()
    )


def copy_rows(conn: Conn, mapped: MappedTable, copy: str, made: str, params: Params) -> None:
    """`CREATE TABLE copy AS` the target rows the tool made for the entity: mapped, or
    queued for deletion."""
    conn.execute(
        f"CREATE TABLE {copy} AS SELECT t.* FROM {mapped.table} t WHERE {made}".encode(), params
    )


def delete_copied(conn: Conn, mapped: MappedTable, copy: str) -> None:
    """Deletes the target rows that `copy_rows` copied to `copy` (by id)."""
    conn.execute(f"DELETE FROM {mapped.table} t USING {copy} c WHERE c.id = t.id".encode())


def create_view(conn: Conn, tables: Sequence[MappedTable]) -> None:
    """(Re)creates `migration.id_map` over the entities' tables. `security_invoker`: the
    view reads with the privileges of whoever queries it, never with its owner's. The run
    and batch of a row are those its bucket's fingerprint was stored with."""
    branches = [
        f"SELECT {_literal(m.entity)}::text AS entity, t.{m.legacy}::bigint AS legacy_id,"
        " t.id, f.run_id, f.batch_no"
        f" FROM {m.table} t LEFT JOIN migration.range_fingerprints f"
        f" ON f.entity = {_literal(m.entity)}"
        f" AND f.bucket = t.{m.legacy}::bigint >> {fingerprints.BUCKET_BITS}"
        f" WHERE {m.not_queued('t')}"
        for m in tables
    ]
    body = " UNION ALL ".join(branches) or (
        "SELECT NULL::text AS entity, NULL::bigint AS legacy_id, NULL::uuid AS id,"
        " NULL::uuid AS run_id, NULL::integer AS batch_no WHERE false"
    )
    conn.execute(f"DROP VIEW IF EXISTS {VIEW}".encode())
    conn.execute(f"CREATE VIEW {VIEW} WITH (security_invoker = true) AS {body}".encode())
    conn.execute(f"REVOKE ALL ON {VIEW} FROM PUBLIC".encode())
