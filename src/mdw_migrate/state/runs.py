"""`migration.runs`: one row per `migrate` run, with its arguments and counts."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from ._conn import Conn


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
