"""`migration.row_outcomes`: every legacy row that was not migrated, excluded by a named rule
or rejected with a reason code, with an id-only detail."""

from __future__ import annotations

from ._conn import BatchKeys, Conn, in_batch
from .id_map import MappedTable

_COLUMNS = "(entity, legacy_id, outcome, reason_code, detail, run_id, batch_no)"
_REPLACE = (
    " ON CONFLICT (entity, legacy_id) DO UPDATE SET outcome = EXCLUDED.outcome,"
    " reason_code = EXCLUDED.reason_code, detail = EXCLUDED.detail,"
    " run_id = EXCLUDED.run_id, batch_no = EXCLUDED.batch_no"
)


def clear(conn: Conn, keys: BatchKeys) -> None:
    """The outcomes of the batch's key range are replaced, so a re-run reflects the source as
    it is now (a row rejected before may migrate now that its parent exists)."""
    conn.execute(
        "DELETE FROM migration.row_outcomes WHERE entity = %(entity)s AND "
        + in_batch("legacy_id", keys),
        keys.params(),
    )


def transitions(conn: Conn, mapped: MappedTable | None, rows_sql: str, keys: BatchKeys) -> int:
    """How many rows of `rows_sql` (legacy_id, outcome or 'migrated') existed before with
    another outcome (run before the batch writes its target rows and outcomes). `mapped`
    None: the batch's keys are fresh, none of them is in the entity's table."""
    # A batch of one key range bounds both lookups by it, so that a merge join reads the
    # range's keys, not every key before them (decision 122). A batch of spans lists its
    # keys instead, and a list as long as that is no bound worth adding to a join.
    within = "" if keys.spans else in_batch("{0}", keys)
    lookup = (
        mapped.lookup("m", "w.legacy_id", within=within)
        if mapped is not None
        else "LEFT JOIN LATERAL (SELECT NULL::bigint AS legacy_id) AS m ON true"
    )
    outcomes_within = " AND " + within.format("o.legacy_id") if within else ""
    row = conn.execute(
        "SELECT count(*) FROM (" + rows_sql + ") AS w (legacy_id, outcome)"
        " LEFT JOIN migration.row_outcomes o ON o.entity = %(entity)s"
        f"  AND o.legacy_id = w.legacy_id{outcomes_within}"
        f" {lookup}"
        " WHERE (o.legacy_id IS NOT NULL OR m.legacy_id IS NOT NULL)"
        " AND CASE WHEN m.legacy_id IS NOT NULL THEN 'migrated' ELSE o.outcome END"
        "  IS DISTINCT FROM w.outcome",
        keys.params(),
    ).fetchone()
    return int(row[0]) if row else 0


def record(conn: Conn, rows_sql: str, keys: BatchKeys) -> None:
    """Records the rows of `rows_sql` (legacy_id, outcome, reason_code, detail)."""
    conn.execute(
        f"INSERT INTO migration.row_outcomes {_COLUMNS}"
        " SELECT %(entity)s, o.legacy_id, o.outcome, o.reason, o.detail, %(run_id)s,"
        f" %(batch_no)s FROM ({rows_sql}) AS o (legacy_id, outcome, reason, detail)" + _REPLACE,
        keys.params(),
    )


def reject_duplicates(conn: Conn, keys: BatchKeys, legacy_ids: list[int]) -> None:
    """Further copies of a legacy id whose first copy was migrated (a source table without a
    primary key): rejected rather than lost."""
    conn.execute(
        f"INSERT INTO migration.row_outcomes {_COLUMNS}"
        " SELECT %(entity)s, k, 'rejected', 'DUPLICATE_LEGACY_ID',"
        " 'another source row has the same legacy id and was migrated', %(run_id)s,"
        " %(batch_no)s FROM unnest(%(keys)s::bigint[]) AS k"
        " ON CONFLICT (entity, legacy_id) DO NOTHING",
        {**keys.params(), "keys": legacy_ids},
    )


def reject_load_error(conn: Conn, keys: BatchKeys, legacy_id: int, detail: str) -> None:
    """A row the target refused on its own values: `detail` is the error class, SQLSTATE and
    the constraint or column, never the server's message."""
    conn.execute(
        f"INSERT INTO migration.row_outcomes {_COLUMNS}"
        " VALUES (%(entity)s, %(legacy_id)s, 'rejected', 'LOAD_ERROR', %(detail)s,"
        " %(run_id)s, %(batch_no)s)" + _REPLACE,
        {**keys.params(), "legacy_id": legacy_id, "detail": detail},
    )


def reasons(conn: Conn, entity: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT reason_code, count(*) FROM migration.row_outcomes WHERE entity = %s"
        " GROUP BY 1 ORDER BY 1",
        [entity],
    ).fetchall()
    return {str(code): int(n) for code, n in rows}


def reasons_by_outcome(conn: Conn, entity: str) -> dict[str, dict[str, int]]:
    """outcome (`excluded`, `rejected`) -> reason code -> rows."""
    found: dict[str, dict[str, int]] = {}
    for outcome, code, n in conn.execute(
        "SELECT outcome, reason_code, count(*) FROM migration.row_outcomes WHERE entity = %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [entity],
    ).fetchall():
        found.setdefault(str(outcome), {})[str(code)] = int(n)
    return found


def load_errors(conn: Conn, entity: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM migration.row_outcomes WHERE entity = %s"
        " AND reason_code = 'LOAD_ERROR'",
        [entity],
    ).fetchone()
    return int(row[0]) if row else 0


def not_migrated(conn: Conn, entity: str) -> tuple[list[int], list[str]]:
    """Every legacy id of the entity that was not migrated, and its outcome, as two lists."""
    rows = conn.execute(
        "SELECT legacy_id, outcome FROM migration.row_outcomes WHERE entity = %s", [entity]
    ).fetchall()
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows]


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.row_outcomes WHERE entity = %s", [entity])
