"""`migration.audit_log`: the audit trail of ./audit/audit.jsonl, queryable next to the data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ._conn import Conn


def exists(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('migration.audit_log')").fetchone()
    return bool(row and row[0])


def insert(conn: Conn, record: Mapping[str, Any]) -> None:
    """Copies one record; a record already there (same hash) is left alone."""

    def jsonb(value: Any) -> Jsonb | None:
        return None if value is None else Jsonb(value)

    with conn.transaction():
        conn.execute(
            "INSERT INTO migration.audit_log (seq, recorded_at, os_user, os_host, command,"
            " arguments, tool_version, source_identity, target_identity, counts, outcome,"
            " error_code, previous_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            [
                record["seq"],
                datetime.fromisoformat(record["timestamp"]),
                record["user"],
                record.get("host"),
                record["command"],
                Jsonb(record["arguments"]),
                record["toolVersion"],
                jsonb(record.get("source")),
                jsonb(record.get("target")),
                Jsonb(record["counts"]),
                record["outcome"],
                record.get("errorCode"),
                record["previousHash"],
                record["hash"],
            ],
        )
