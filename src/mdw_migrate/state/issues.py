"""`migration.quality_issues`: data-quality issues of migrated rows, by kind and column."""

from __future__ import annotations

import uuid

from ._conn import BatchKeys, Conn, in_batch


def clear(conn: Conn, keys: BatchKeys) -> None:
    """The issues of the batch's key range are replaced with the batch's own."""
    conn.execute(
        "DELETE FROM migration.quality_issues WHERE entity = %(entity)s"
        " AND " + in_batch("legacy_id", keys),
        keys.params(),
    )


def record(conn: Conn, rows_sql: str, keys: BatchKeys) -> None:
    """Records the rows of `rows_sql` (legacy_id, kind, column_name)."""
    conn.execute(
        "INSERT INTO migration.quality_issues (entity, legacy_id, kind, column_name, run_id)"
        " SELECT %(entity)s, i.legacy_id, i.kind, i.column_name, %(run_id)s"
        f" FROM ({rows_sql}) AS i (legacy_id, kind, column_name) ON CONFLICT DO NOTHING",
        keys.params(),
    )


def replace_kind(
    conn: Conn, entity: str, kind: str, column: str, legacy_ids_sql: str, run_id: uuid.UUID
) -> None:
    """All issues of one kind and column, replaced by the legacy ids of `legacy_ids_sql`
    (for a check made once per pass, after the last batch)."""
    params = {"entity": entity, "kind": kind, "column": column, "run_id": run_id}
    conn.execute(
        "DELETE FROM migration.quality_issues WHERE entity = %(entity)s AND kind = %(kind)s"
        " AND column_name = %(column)s",
        params,
    )
    conn.execute(
        "INSERT INTO migration.quality_issues (entity, legacy_id, kind, column_name, run_id)"
        f" SELECT %(entity)s, i.legacy_id, %(kind)s, %(column)s, %(run_id)s"
        f" FROM ({legacy_ids_sql}) AS i (legacy_id) ON CONFLICT DO NOTHING",
        params,
    )


def by_kind(conn: Conn, entity: str) -> list[tuple[str, str, int]]:
    """(kind, column, rows) of the entity's issues."""
    rows = conn.execute(
        "SELECT kind, column_name, count(*) FROM migration.quality_issues WHERE entity = %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [entity],
    ).fetchall()
    return [(str(k), str(c), int(n)) for k, c, n in rows]


def rows_affected(conn: Conn, entity: str) -> int:
    row = conn.execute(
        "SELECT count(DISTINCT legacy_id) FROM migration.quality_issues WHERE entity = %s",
        [entity],
    ).fetchone()
    return int(row[0]) if row else 0


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.quality_issues WHERE entity = %s", [entity])
