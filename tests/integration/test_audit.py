"""The audit trail: masking, the hash chain and what `verify` catches, concurrent appends, and
the copy in `migration.audit_log`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mdw_migrate import __version__, audit, state
from mdw_migrate.target import schema

from ..unit.test_audit_trail import TARGET, _append

# --- masking -------------------------------------------------------------------------------


# --- append and verify ---------------------------------------------------------------------


# --- the database copy ---------------------------------------------------------------------


def test_records_are_copied_to_the_target_once(
    tmp_path: Path, create_database: Callable[[str], str]
) -> None:
    with psycopg.connect(create_database("audit")) as conn:
        assert "008_audit" in schema.apply(conn).steps
        first = _append(tmp_path, 1, password="hunter2")
        failed = audit.append(
            tmp_path, "schema apply", {}, None, TARGET, {}, "failed", "SCHEMA_INCOMPATIBLE"
        )
        for record in (first, failed, first):  # the duplicate is ignored
            state.audit_log.insert(conn, record)
        rows: list[tuple[Any, ...]] = conn.execute(
            "SELECT seq, os_user, os_host, command, arguments, tool_version, source_identity,"
            " target_identity, counts, outcome, error_code, previous_hash, hash,"
            " to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            " FROM migration.audit_log ORDER BY seq"
        ).fetchall()
        assert rows == [
            (
                r["seq"],
                r["user"],
                r["host"],
                r["command"],
                r["arguments"],
                __version__,
                r["source"],
                r["target"],
                r["counts"],
                r["outcome"],
                r["errorCode"],
                r["previousHash"],
                r["hash"],
                r["timestamp"],
            )
            for r in (first, failed)
        ]
        assert rows[0][4]["password"] == "***"
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("DELETE FROM migration.audit_log")
