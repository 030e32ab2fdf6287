"""The `migration` control schema in the target: runs, entity progress, the id secret."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..errors import Code, CriticalError

Conn = psycopg.Connection[tuple[Any, ...]]


def fingerprint(secret: bytes) -> str:
    return hashlib.sha256(b"mdw-migrate id secret fingerprint:" + secret).hexdigest()[:16]


def id_secret(conn: Conn, from_env: str | None) -> bytes:
    """The key of the legacy-id -> UUID derivation for this deployment, created on first use.

    With MDW_ID_SECRET set, it is the key and only its fingerprint is stored; otherwise a
    random key is created once and kept in `migration.deployment`. Either way the key never
    changes for a target, so the same legacy row always gets the same UUID, even after a
    rollback; a different MDW_ID_SECRET than the one first used is refused.
    """
    secret = existing_id_secret(conn, from_env)
    if secret is not None:
        return secret
    env_secret = from_env.encode() if from_env else None
    secret = env_secret or os.urandom(32)
    conn.execute(
        "INSERT INTO migration.deployment (id_secret, id_secret_fingerprint) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        [None if env_secret else secret, fingerprint(secret)],
    )
    return id_secret(conn, from_env)


def existing_id_secret(conn: Conn, from_env: str | None) -> bytes | None:
    """The deployment's key, checked against MDW_ID_SECRET when that is set; None when the
    target was never migrated (validation then has no UUID to recompute)."""
    env_secret = from_env.encode() if from_env else None
    row = conn.execute(
        "SELECT id_secret, id_secret_fingerprint FROM migration.deployment"
    ).fetchone()
    if row is None:
        return None
    stored, stored_fingerprint = row
    if env_secret is not None:
        if not hmac.compare_digest(fingerprint(env_secret), stored_fingerprint):
            raise CriticalError(
                code=Code.ID_SECRET_MISMATCH,
                message="MDW_ID_SECRET is not the secret this target was first migrated with",
                suggestion=(
                    "Set MDW_ID_SECRET to the original secret (UUIDs of migrated rows depend"
                    " on it), or unset it to use the one stored in migration.deployment"
                ),
            )
        return env_secret
    if stored is None:
        raise CriticalError(
            code=Code.ID_SECRET_MISSING,
            message="This target was migrated with MDW_ID_SECRET, which is not set now",
            suggestion="Set MDW_ID_SECRET to the secret used for the first migration",
        )
    return bytes(stored)


def start_run(
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


def end_run(conn: Conn, run_id: uuid.UUID, status: str, counts: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE migration.runs SET ended_at = now(), status = %s, counts = %s WHERE id = %s",
        [status, Jsonb(counts), run_id],
    )


def entity_states(conn: Conn) -> dict[str, str]:
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


def saved_ranges(conn: Conn, entity: str) -> list[tuple[int, int, int | None, bool]]:
    """The key ranges of a split pass: (lo, hi, last committed key, done)."""
    return [
        (int(lo), int(hi), None if last is None else int(last), bool(done))
        for lo, hi, last, done in conn.execute(
            "SELECT lo, hi, last_legacy_id, done FROM migration.range_progress"
            " WHERE entity = %s ORDER BY range_no",
            [entity],
        ).fetchall()
    ]


def save_ranges(conn: Conn, entity: str, ranges: list[tuple[int, int]]) -> None:
    conn.execute("DELETE FROM migration.range_progress WHERE entity = %s", [entity])
    for number, (lo, hi) in enumerate(ranges):
        conn.execute(
            "INSERT INTO migration.range_progress (entity, range_no, lo, hi)"
            " VALUES (%s, %s, %s, %s)",
            [entity, number, lo, hi],
        )


RANGE_CHECKPOINT = (
    "UPDATE migration.range_progress SET last_legacy_id = %(hi)s, updated_at = now()"
    " WHERE entity = %(entity)s AND range_no = %(range_no)s"
)
RANGE_DONE = (
    "UPDATE migration.range_progress SET done = true, updated_at = now()"
    " WHERE entity = %(entity)s AND range_no = %(range_no)s"
)


def continue_entity(conn: Conn, entity: str, run_id: uuid.UUID, source_rows: int) -> None:
    """Marks a resumed entity running again, keeping its checkpoint and batch count."""
    conn.execute(
        "UPDATE migration.entity_progress SET status = 'running', run_id = %s, source_rows = %s,"
        " updated_at = now(), completed_at = NULL WHERE entity = %s",
        [run_id, source_rows, entity],
    )


def begin_entity(conn: Conn, entity: str, run_id: uuid.UUID, source_rows: int) -> None:
    conn.execute("DELETE FROM migration.range_progress WHERE entity = %s", [entity])
    conn.execute(
        "INSERT INTO migration.entity_progress (entity, status, last_legacy_id, batches,"
        " source_rows, run_id, started_at, updated_at, completed_at)"
        " VALUES (%(entity)s, 'running', NULL, 0, %(rows)s, %(run)s, now(), now(), NULL)"
        " ON CONFLICT (entity) DO UPDATE SET status = 'running', last_legacy_id = NULL,"
        " batches = 0, source_rows = EXCLUDED.source_rows, run_id = EXCLUDED.run_id,"
        " started_at = now(), updated_at = now(), completed_at = NULL",
        {"entity": entity, "rows": source_rows, "run": run_id},
    )


CHECKPOINT = (
    "UPDATE migration.entity_progress SET last_legacy_id = %(hi)s, batches = batches + 1,"
    " updated_at = now() WHERE entity = %(entity)s"
)


def finish_entity(
    conn: Conn, entity: str, last_key: int | None, *, completed: bool
) -> dict[str, int]:
    """Records the entity's state with counts taken from the tables themselves.

    An interrupted entity stays `running` with its checkpoint, so it can be resumed.
    """
    params: dict[str, Any] = {"entity": entity, "last": last_key}
    if completed:
        # Rows beyond the source's last key no longer exist there: their old outcomes go.
        for table in ("row_outcomes", "quality_issues"):
            conn.execute(
                f"DELETE FROM migration.{table} WHERE entity = %(entity)s"
                " AND legacy_id > coalesce(%(last)s, -9223372036854775808)",
                params,
            )
    row = conn.execute(
        "SELECT (SELECT count(*) FROM migration.id_map WHERE entity = %(entity)s),"
        " (SELECT count(*) FROM migration.row_outcomes"
        "   WHERE entity = %(entity)s AND outcome = 'excluded'),"
        " (SELECT count(*) FROM migration.row_outcomes"
        "   WHERE entity = %(entity)s AND outcome = 'rejected')",
        params,
    ).fetchone()
    assert row is not None
    counts = {"migrated": int(row[0]), "excluded": int(row[1]), "rejected": int(row[2])}
    conn.execute(
        "UPDATE migration.entity_progress SET status = %(status)s, migrated = %(migrated)s,"
        " excluded = %(excluded)s, rejected = %(rejected)s, updated_at = now(),"
        " completed_at = CASE WHEN %(status)s = 'completed' THEN now() END"
        " WHERE entity = %(entity)s",
        {**params, **counts, "status": "completed" if completed else "running"},
    )
    return counts


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
