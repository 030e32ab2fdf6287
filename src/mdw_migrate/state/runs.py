"""`migration.runs`: one row per `migrate` run, with its arguments and counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.types.json import Jsonb

from ..errors import Code, CriticalError
from ._conn import Conn

# One run that writes (migrate, rollback) at a time per target: two runs on the same rows
# would take each other's inserts for rows that fail.
_RUN_LOCK = "SELECT pg_try_advisory_lock(hashtext('mdw-migrate run'))"
_RUN_UNLOCK = "SELECT pg_advisory_unlock(hashtext('mdw-migrate run'))"


def active(conn: Conn) -> bool:
    """Whether a run holds the target's run lock now (a run that was killed holds none,
    whatever migration.runs still says of it)."""
    row = conn.execute(_RUN_LOCK).fetchone()
    if row and row[0]:
        conn.execute(_RUN_UNLOCK)
        return False
    return True


@contextmanager
def exclusive(conn: Conn) -> Iterator[None]:
    """Holds the target's run lock (a session advisory lock) for the block, or refuses with
    RUN_IN_PROGRESS when another run holds it."""
    row = conn.execute(_RUN_LOCK).fetchone()
    if not row or not row[0]:
        raise CriticalError(
            code=Code.RUN_IN_PROGRESS,
            message="Another mdw-migrate run (migrate or rollback) is writing to this target",
            suggestion=(
                "Wait for it to end (migration.runs shows it as running; pg_stat_activity"
                " shows its sessions as application_name mdw-migrate-target), then run the"
                " command again"
            ),
        )
    try:
        yield
    finally:
        if not conn.broken:
            conn.execute(_RUN_UNLOCK)


def start(
    conn: Conn,
    command: str,
    arguments: dict[str, Any],
    version: str,
    source_identity: dict[str, Any],
    target_identity: dict[str, Any],
) -> uuid.UUID:
    run_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO migration.runs (id, command, arguments, tool_version, source_identity,"
        " target_identity) VALUES (%s, %s, %s, %s, %s, %s)",
        [
            run_id,
            command,
            Jsonb(arguments),
            version,
            Jsonb(source_identity),
            Jsonb(target_identity),
        ],
    )
    return run_id


def end(conn: Conn, run_id: uuid.UUID, status: str, counts: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE migration.runs SET ended_at = now(), status = %s, counts = %s WHERE id = %s",
        [status, Jsonb(counts), run_id],
    )


def last(conn: Conn) -> dict[str, Any] | None:
    """The latest run that wrote the target (a dry run writes no run record): what a report
    says the data came from. Arguments are parsed options only, never a secret."""
    row = conn.execute(
        "SELECT id, command, arguments, tool_version, started_at, ended_at, status"
        " FROM migration.runs ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "command", "arguments", "toolVersion", "startedAt", "endedAt", "status")
    return dict(zip(keys, row, strict=True))
