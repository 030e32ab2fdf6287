"""`migration.mapping_changes`: legacy ids of an already migrated entity that gained or lost
their UUID. A dependant re-reads the rows that name them (rule 5 both ways: a child whose
parent appeared migrates, a child whose parent is gone is rejected or loses the reference),
and remembers the last sequence number it has read (`state.marks`)."""

from __future__ import annotations

from ._conn import BatchKeys, Conn


def record(conn: Conn, legacy_ids: list[int], keys: BatchKeys) -> None:
    """Appends the batch entity's legacy ids whose mapping changed."""
    if legacy_ids:
        conn.execute(
            "INSERT INTO migration.mapping_changes (entity, legacy_id, run_id)"
            " SELECT %(entity)s, k, %(run_id)s FROM unnest(%(keys)s::bigint[]) AS k",
            {**keys.params(), "keys": legacy_ids},
        )


def last_seq(conn: Conn) -> int:
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM migration.mapping_changes").fetchone()
    return int(row[0]) if row else 0


def changed_since(conn: Conn, entity: str, after: int, up_to: int) -> list[int]:
    """The distinct legacy ids of `entity` whose mapping changed in (after, up_to]."""
    rows = conn.execute(
        "SELECT DISTINCT legacy_id FROM migration.mapping_changes WHERE entity = %s"
        " AND seq > %s AND seq <= %s ORDER BY 1",
        [entity, after, up_to],
    ).fetchall()
    return [int(r[0]) for r in rows]


def prune(conn: Conn, oldest_needed: int) -> None:
    """Drops the changes every dependant has read."""
    conn.execute("DELETE FROM migration.mapping_changes WHERE seq <= %s", [oldest_needed])
