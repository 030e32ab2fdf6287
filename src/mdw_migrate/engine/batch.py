"""One batch: one target transaction that stages the source rows of a key range, transforms
them into `work`, writes the target rows, and records the batch's id map, outcomes, issues
and checkpoint with them, so a batch and its state commit together or not at all."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from .. import state
from ..state import BatchKeys
from . import sqlgen, staging
from .context import BatchStats, Conn
from .session import Session
from .spec import EntitySpec


@dataclass(frozen=True)
class Window:
    """Which rows a batch reads: up to `size` source rows after `last_key` (from the start
    when None), within `upper` (a split entity's key range), of range `range_no`."""

    last_key: int | None
    size: int
    upper: int | None = None
    range_no: int | None = None

    @property
    def lo(self) -> int:
        return state.MIN_KEY if self.last_key is None else self.last_key


def params(session: Session, keys: BatchKeys) -> dict[str, Any]:
    """The batch statements' parameters: the batch's keys and the UUID secret."""
    return {**keys.params(), "secret": session.ctx.secret}


def run(session: Session, spec: EntitySpec, batch_no: int, window: Window) -> BatchStats | None:
    """The batch after `window.last_key`; None when the source has no row left there."""
    started = time.perf_counter()
    target = session.target
    keys = BatchKeys(spec.name, session.ctx.run_id, batch_no, lo=window.lo)
    with target.transaction():
        target.execute(f"TRUNCATE {sqlgen.STAGE}, {sqlgen.WORK}")
        rows = staging.into_stage(
            session.source,
            target,
            sqlgen.source_batch_query(spec, window.last_key, window.size, window.upper),
        )
        if rows == 0:
            return None
        if rows >= window.size:
            rows += _complete_last_key(session, spec)
        duplicates = _split_duplicates(target, spec)
        target.execute(sqlgen.fill_work(spec).encode(), params(session, keys))
        apply_fallbacks(target, spec)
        counts = target.execute(sqlgen.BATCH_COUNTS).fetchone()
        assert counts is not None
        migrated, excluded, rejected, hi = (int(v) for v in counts)
        keys = keys.up_to(hi)
        state.outcomes.clear(target, keys)
        state.issues.clear(target, keys)
        fresh_row = target.execute(
            sqlgen.range_is_fresh(spec).encode(), params(session, keys)
        ).fetchone()
        fresh = bool(fresh_row and fresh_row[0])
        write = sqlgen.insert_target(spec) if fresh else sqlgen.upsert_target(spec)
        target.execute(write.encode(), params(session, keys))
        state.id_map.record(target, sqlgen.MIGRATED_IDS, keys, fresh=fresh)
        if excluded or rejected:
            state.outcomes.record(target, sqlgen.OUTCOMES, keys)
        if duplicates:
            state.outcomes.reject_duplicates(target, keys, duplicates)
            rejected += len(duplicates)
        issues = sqlgen.flagged_issues(spec)
        if issues:
            state.issues.record(target, issues, keys)
        commit_checkpoint(target, keys, window.range_no)
    return BatchStats(
        entity=spec.name,
        batch_no=batch_no,
        rows=rows,
        migrated=migrated,
        excluded=excluded,
        rejected=rejected,
        last_key=hi,
        seconds=time.perf_counter() - started,
    )


def commit_checkpoint(target: Conn, keys: BatchKeys, range_no: int | None) -> None:
    state.progress.checkpoint(target, keys)
    if range_no is not None:
        state.ranges.checkpoint(target, keys, range_no)


def _complete_last_key(session: Session, spec: EntitySpec) -> int:
    """Re-reads every source row of the batch's last key; returns the rows it added."""
    row = session.target.execute(sqlgen.stage_max_key(spec).encode()).fetchone()
    if row is None or row[0] is None:
        return 0
    delete, select = sqlgen.complete_key_group(spec)
    removed = session.target.execute(delete.encode(), {"key": row[0]}).rowcount
    query = f"COPY ({select.replace('%(key)s', str(int(row[0])))}) TO STDOUT (FORMAT BINARY)"
    return staging.into_stage(session.source, session.target, query) - max(removed, 0)


def _split_duplicates(target: Conn, spec: EntitySpec) -> list[int]:
    """Keeps the first source row of a legacy id that appears twice (a source without a
    primary key); the others are rejected DUPLICATE_LEGACY_ID rather than lost."""
    check, remove = sqlgen.split_duplicates(spec)
    found = target.execute(check.encode()).fetchone()
    if not found or not found[0]:
        return []
    return [int(r[0]) for r in target.execute(remove.encode()).fetchall()]


def apply_fallbacks(target: Conn, spec: EntitySpec) -> None:
    """Converts in Python the few raw values the SQL expressions gave up on."""
    for col in spec.columns:
        if col.fallback is None:
            continue
        rows = target.execute(sqlgen.fallback_rows(spec, col).encode()).fetchall()
        updates = []
        for legacy_id, raw in rows:
            value = col.fallback(raw)
            if value is not None:
                updates.append({"legacy_id": legacy_id, "value": Jsonb(value)})
        if updates:
            with target.cursor() as cur:
                cur.executemany(sqlgen.fallback_update(spec, col).encode(), updates)
