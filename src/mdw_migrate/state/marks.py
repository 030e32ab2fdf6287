"""`migration.entity_sync`: per entity, the mapping its fingerprints were computed with,
how far it has read its parents' mapping changes, and
the time of the source snapshot it is in step with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._conn import Conn


@dataclass(frozen=True)
class Mark:
    mapping_hash: str
    changes_seen: int
    synced_at: datetime


def get(conn: Conn, entity: str) -> Mark | None:
    row = conn.execute(
        "SELECT mapping_hash, changes_seen, synced_at FROM migration.entity_sync WHERE entity = %s",
        [entity],
    ).fetchone()
    return Mark(str(row[0]), int(row[1]), row[2]) if row else None


def put(
    conn: Conn,
    entity: str,
    *,
    mapping_hash: str,
    changes_seen: int,
    synced_at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO migration.entity_sync (entity, mapping_hash, changes_seen, synced_at)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (entity) DO UPDATE SET"
        " mapping_hash = EXCLUDED.mapping_hash, changes_seen = EXCLUDED.changes_seen,"
        " synced_at = EXCLUDED.synced_at",
        [entity, mapping_hash, changes_seen, synced_at],
    )


def oldest_changes_seen(conn: Conn) -> int:
    row = conn.execute("SELECT coalesce(min(changes_seen), 0) FROM migration.entity_sync")
    found = row.fetchone()
    return int(found[0]) if found else 0


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.entity_sync WHERE entity = %s", [entity])
