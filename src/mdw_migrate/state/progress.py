"""`migration.entity_progress`: per entity, its state, checkpoint, batches and counts."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row

from ._conn import MIN_KEY, BatchKeys, Conn
from .id_map import MappedTable


def states(conn: Conn) -> dict[str, str]:
    """Entity -> pending / running / completed / failed; empty before `schema apply`."""
    exists = conn.execute("SELECT to_regclass('migration.entity_progress')").fetchone()
    if not exists or exists[0] is None:
        return {}
    rows = conn.execute("SELECT entity, status FROM migration.entity_progress").fetchall()
    return {entity: status for entity, status in rows}


def resume_point(conn: Conn, entity: str) -> tuple[bool, int | None]:
    """(unfinished, last committed key) of an entity's previous pass."""
    row = conn.execute(
        "SELECT status, last_legacy_id FROM migration.entity_progress WHERE entity = %s", [entity]
    ).fetchone()
    if row is None or row[0] == "completed":
        return False, None
    return True, row[1]


def source_rows(conn: Conn, entity: str) -> int:
    row = conn.execute(
        "SELECT source_rows FROM migration.entity_progress WHERE entity = %s", [entity]
    ).fetchone()
    return int(row[0] or 0) if row else 0


def begin(conn: Conn, entity: str, run_id: uuid.UUID, source_rows: int) -> None:
    """A fresh pass: running, no checkpoint yet."""
    conn.execute(
        "INSERT INTO migration.entity_progress (entity, status, last_legacy_id, batches,"
        " source_rows, run_id, started_at, updated_at, completed_at)"
        " VALUES (%(entity)s, 'running', NULL, 0, %(rows)s, %(run)s, now(), now(), NULL)"
        " ON CONFLICT (entity) DO UPDATE SET status = 'running', last_legacy_id = NULL,"
        " batches = 0, source_rows = EXCLUDED.source_rows, run_id = EXCLUDED.run_id,"
        " started_at = now(), updated_at = now(), completed_at = NULL",
        {"entity": entity, "rows": source_rows, "run": run_id},
    )


def none_mapped(conn: Conn, entity: str) -> None:
    """The entity's table is empty (checked in this transaction): none of its rows is mapped,
    whatever an earlier run counted, so the count its batches keep from here is exact."""
    conn.execute("UPDATE migration.entity_progress SET migrated = 0 WHERE entity = %s", [entity])


def resume(conn: Conn, entity: str, run_id: uuid.UUID, source_rows: int) -> None:
    """Marks a resumed entity running again, keeping its checkpoint and batch count."""
    conn.execute(
        "UPDATE migration.entity_progress SET status = 'running', run_id = %s, source_rows = %s,"
        " updated_at = now(), completed_at = NULL WHERE entity = %s",
        [run_id, source_rows, entity],
    )


def checkpoint(conn: Conn, keys: BatchKeys, mapped_delta: int = 0) -> None:
    """The batch's last key, committed with the batch, and how many more rows it mapped
    (the count a sync keeps up to date; see `finish`)."""
    conn.execute(
        "UPDATE migration.entity_progress SET last_legacy_id = %(hi)s, batches = batches + 1,"
        " migrated = migrated + %(delta)s, updated_at = now() WHERE entity = %(entity)s",
        {**keys.params(), "delta": mapped_delta},
    )


def touch(conn: Conn, keys: BatchKeys, mapped_delta: int = 0) -> None:
    """A sync's batch of changed buckets: counted, the checkpoint left alone (a sync
    resumes from the fingerprints, not from a key)."""
    conn.execute(
        "UPDATE migration.entity_progress SET batches = batches + 1,"
        " migrated = migrated + %(delta)s, updated_at = now() WHERE entity = %(entity)s",
        {**keys.params(), "delta": mapped_delta},
    )


def finish(
    conn: Conn,
    mapped: MappedTable,
    last_key: int | None,
    *,
    completed: bool,
    prune_tail: bool = True,
    recount_mapped: bool = True,
) -> dict[str, int]:
    """Records the entity's state with counts taken from the tables themselves (the mapped
    rows from the count the batches kept, unless `recount_mapped`).

    A complete pass over every key first drops the outcomes and issues of keys beyond its
    last key (those rows no longer exist in the source); a sync's pass over changed buckets
    does not (`prune_tail`). An interrupted entity stays `running` with its
    checkpoint, so it can be resumed.
    """
    entity = mapped.entity
    params: dict[str, Any] = {"entity": entity, "last": last_key, "min": MIN_KEY}
    # Counting the mapped rows reads the whole table (1.1 s for 5.1 M notifications): a
    # sync's pass over changed buckets takes the count its batches kept up to date instead,
    # each adding what it mapped and unmapped in its own transaction.
    mapped_count = (
        f"(SELECT count(*) FROM {mapped.rows('m')})"
        if recount_mapped
        else "(SELECT migrated FROM migration.entity_progress WHERE entity = %(entity)s)"
    )
    if completed and prune_tail:
        for table in ("row_outcomes", "quality_issues"):
            conn.execute(
                f"DELETE FROM migration.{table} WHERE entity = %(entity)s"
                " AND legacy_id > coalesce(%(last)s, %(min)s)",
                params,
            )
    row = conn.execute(
        f"SELECT {mapped_count},"
        " (SELECT count(*) FROM migration.row_outcomes"
        "   WHERE entity = %(entity)s AND outcome = 'excluded'),"
        " (SELECT count(*) FROM migration.row_outcomes"
        "   WHERE entity = %(entity)s AND outcome = 'rejected')",
        params,
    ).fetchone()
    assert row is not None
    counts = {"migrated": int(row[0]), "excluded": int(row[1]), "rejected": int(row[2])}
    set_counts(conn, entity, counts, completed=completed)
    return counts


def keep_counts(conn: Conn, entity: str, *, completed: bool) -> dict[str, int]:
    """Records the entity's state with the counts it already has: a sync that found nothing
    changed wrote nothing, and a recount would read every row of its tables."""
    row = conn.execute(
        "UPDATE migration.entity_progress SET status = %(status)s, updated_at = now(),"
        " completed_at = CASE WHEN %(status)s = 'completed' THEN now() END"
        " WHERE entity = %(entity)s RETURNING migrated, excluded, rejected",
        {"entity": entity, "status": "completed" if completed else "running"},
    ).fetchone()
    assert row is not None
    return {"migrated": int(row[0]), "excluded": int(row[1]), "rejected": int(row[2])}


def set_counts(
    conn: Conn, entity: str, counts: dict[str, int], *, completed: bool, batches: int | None = None
) -> None:
    conn.execute(
        "UPDATE migration.entity_progress SET status = %(status)s, migrated = %(migrated)s,"
        " excluded = %(excluded)s, rejected = %(rejected)s,"
        " batches = coalesce(%(batches)s, batches), updated_at = now(),"
        " completed_at = CASE WHEN %(status)s = 'completed' THEN now() END"
        " WHERE entity = %(entity)s",
        {
            "entity": entity,
            "migrated": counts.get("migrated", 0),
            "excluded": counts.get("excluded", 0),
            "rejected": counts.get("rejected", 0),
            "batches": batches,
            "status": "completed" if completed else "running",
        },
    )


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.entity_progress WHERE entity = %s", [entity])


def status_rows(conn: Conn, entities: list[str]) -> list[dict[str, Any]]:
    """Per entity, in the order given: state, counts, checkpoint and its last run."""
    exists = conn.execute("SELECT to_regclass('migration.entity_progress')").fetchone()
    found: dict[str, dict[str, Any]] = {}
    if exists and exists[0]:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT p.entity, p.status, p.source_rows, p.migrated, p.excluded, p.rejected,"
                " p.last_legacy_id, p.batches, p.updated_at, r.id AS run_id, r.command,"
                " r.started_at, r.ended_at, r.status AS run_status"
                " FROM migration.entity_progress p LEFT JOIN migration.runs r ON r.id = p.run_id"
            )
            found = {row["entity"]: row for row in cur.fetchall()}
    items = []
    for name in entities:
        row = found.get(name)
        items.append(
            {
                "entity": name,
                "state": row["status"] if row else "pending",
                "sourceRows": row["source_rows"] if row else None,
                "migrated": row["migrated"] if row else 0,
                "excluded": row["excluded"] if row else 0,
                "rejected": row["rejected"] if row else 0,
                "lastCheckpoint": row["last_legacy_id"] if row else None,
                "batches": row["batches"] if row else 0,
                "updatedAt": row["updated_at"] if row else None,
                "lastRun": {
                    "id": str(row["run_id"]),
                    "command": row["command"],
                    "startedAt": row["started_at"].isoformat(),
                    "endedAt": row["ended_at"].isoformat() if row["ended_at"] else None,
                    "status": row["run_status"],
                }
                if row and row["run_id"]
                else None,
            }
        )
    return items
