"""`migration.pending_deletions`: target rows whose legacy row is gone, or no longer
migrates. Queueing a row takes it out of the id map at once (a queued row is not mapped),
so the entity's dependants, run after it, see the parent missing (rule 5); the run deletes
them from the target at its end, dependants first, after copying them to `migration_backup`.
Rows kept by `--keep-deleted` stay mapped and in the target, listed here as `kept`, until a
sync without that option."""

from __future__ import annotations

from collections.abc import Sequence

from ._conn import BatchKeys, Conn, hashed, in_batch
from .id_map import MappedTable, Params

# A condition on a mapped row `m` that says the tool made it, and its parameters.
Made = tuple[str, Params]


def _absent(work_keys_sql: str, *, migrated_only: bool) -> str:
    """SQL: mapped legacy id `m.legacy_id` of the batch has no row in `work_keys_sql`
    (legacy_id, migrated)."""
    condition = " AND w.migrated" if migrated_only else ""
    return (
        f"NOT EXISTS (SELECT 1 FROM ({work_keys_sql}) AS w (legacy_id, migrated)"
        f" WHERE w.legacy_id = m.legacy_id{condition})"
    )


def queue(
    conn: Conn,
    mapped: MappedTable,
    work_keys_sql: str,
    keys: BatchKeys,
    made: Made,
    *,
    keep_absent: bool,
) -> list[int]:
    """Takes out of the map the batch's mapped rows that no longer migrate (all of them, or
    with `keep_absent` only those whose legacy row still exists) by queueing them for
    deletion; returns their legacy ids. Only rows the tool made (`made`: a condition on `m`,
    with its parameters) are queued. One join of the batch's mapped keys with the batch's
    rows decides it (the caller has analysed `work`, so the join is hashed)."""
    kept = " AND w.legacy_id IS NOT NULL" if keep_absent else ""
    # `made` hashes a row's legacy id: it is asked of the rows that leave the map only, after
    # the join (the fence, OFFSET 0), not of each of the batch's mapped rows (150 of the
    # 190 ms of a 50,000-row batch of system_messages with nothing to take out, decision 122).
    with hashed(conn):
        rows = conn.execute(
            "INSERT INTO migration.pending_deletions (entity, legacy_id, id, cause, kept, run_id)"
            " SELECT %(entity)s, m.legacy_id, m.id,"
            " CASE WHEN m.found THEN 'outcome_changed' ELSE 'source_deleted' END,"
            " false, %(run_id)s FROM (SELECT m.legacy_id, m.id, w.legacy_id IS NOT NULL AS found"
            f" FROM {mapped.rows('m')} LEFT JOIN ({work_keys_sql})"
            " AS w (legacy_id, migrated) ON w.legacy_id = m.legacy_id"
            f" WHERE {in_batch('m.legacy_id', keys)} AND (w.legacy_id IS NULL OR NOT w.migrated)"
            f"{kept} OFFSET 0) AS m WHERE {made[0]}"
            " ON CONFLICT (entity, legacy_id) DO UPDATE SET id = EXCLUDED.id,"
            " cause = EXCLUDED.cause, kept = false, run_id = EXCLUDED.run_id, queued_at = now()"
            " RETURNING legacy_id",
            {**keys.params(), **made[1]},
        ).fetchall()
    return [int(r[0]) for r in rows]


def keep(mapped: MappedTable, work_keys_sql: str, keys: BatchKeys, made: str) -> str:
    """SQL of a data-modifying CTE body: lists the batch's mapped rows (those the tool made:
    `made`, a condition on `m`) whose legacy row is gone as kept (they stay mapped) and
    returns (id) of those newly kept; the caller marks those target rows."""
    return (
        "INSERT INTO migration.pending_deletions (entity, legacy_id, id, cause, kept, run_id)"
        f" SELECT %(entity)s, m.legacy_id, m.id, 'source_deleted', true, %(run_id)s"
        f" FROM {mapped.rows('m')}"
        f" WHERE {in_batch('m.legacy_id', keys)} AND {_absent(work_keys_sql, migrated_only=False)}"
        f" AND {made} ON CONFLICT (entity, legacy_id) DO NOTHING RETURNING id"
    )


def settle(conn: Conn, migrated_sql: str, keys: BatchKeys) -> list[int]:
    """Keys the batch migrates (`migrated_sql` selects their legacy ids) are no longer
    pending or kept: the row came back, or migrates again. Returns those that were queued
    (not kept): they are mapped again."""
    with hashed(conn):
        rows = conn.execute(
            "DELETE FROM migration.pending_deletions AS p WHERE p.entity = %(entity)s"
            f" AND {in_batch('p.legacy_id', keys)} AND EXISTS (SELECT 1 FROM ({migrated_sql})"
            " AS w (legacy_id) WHERE w.legacy_id = p.legacy_id) RETURNING p.legacy_id, p.kept",
            keys.params(),
        ).fetchall()
    return [int(legacy_id) for legacy_id, kept in rows if not kept]


def unqueued(conn: Conn, entities: Sequence[str]) -> frozenset[str]:
    """Those of `entities` with no row queued for deletion (kept rows stay mapped): all of
    their rows in the table are mapped. One index probe each."""
    if not entities:
        return frozenset()
    rows = conn.execute(
        "SELECT e FROM unnest(%s::text[]) AS e WHERE NOT EXISTS (SELECT 1 FROM"
        " migration.pending_deletions p WHERE p.entity = e AND NOT p.kept)",
        [list(entities)],
    ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def entities(conn: Conn) -> dict[str, int]:
    """Entity -> rows waiting to be deleted (not kept)."""
    rows = conn.execute(
        "SELECT entity, count(*) FROM migration.pending_deletions WHERE NOT kept GROUP BY 1"
    ).fetchall()
    return {str(e): int(n) for e, n in rows}


def copy_rows(conn: Conn, entity: str, table: str, copy: str) -> None:
    """`CREATE TABLE copy AS` the target rows waiting to be deleted for the entity."""
    conn.execute(
        f"CREATE TABLE {copy} AS SELECT t.* FROM {table} t JOIN migration.pending_deletions p"
        " ON p.id = t.id AND p.entity = %s AND NOT p.kept".encode(),
        [entity],
    )


def delete_rows(conn: Conn, entity: str, table: str) -> int:
    """Deletes the entity's pending target rows (a row mapped again is no longer queued)
    and their queue entries; returns how many target rows went."""
    deleted = conn.execute(
        f"DELETE FROM {table} t USING migration.pending_deletions p WHERE p.entity = %(e)s"
        " AND NOT p.kept AND p.id = t.id".encode(),
        {"e": entity},
    ).rowcount
    conn.execute("DELETE FROM migration.pending_deletions WHERE entity = %s AND NOT kept", [entity])
    return max(deleted, 0)


def kept_count(conn: Conn, entity: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM migration.pending_deletions WHERE entity = %s AND kept", [entity]
    ).fetchone()
    return int(row[0]) if row else 0


def kept_ids(conn: Conn, entity: str) -> list[int]:
    rows = conn.execute(
        "SELECT legacy_id FROM migration.pending_deletions WHERE entity = %s AND kept ORDER BY 1",
        [entity],
    ).fetchall()
    return [int(r[0]) for r in rows]


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.pending_deletions WHERE entity = %s", [entity])
