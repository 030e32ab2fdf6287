"""One batch: one target transaction that stages the source rows of a key range, transforms
them into `work`, writes the target rows (which map them: the target tables are the id map),
and records the batch's outcomes, issues and checkpoint with them, so a batch and its state
commit together or not at all."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .. import state
from ..state import BatchKeys
from . import sqlgen, staging
from .context import BatchStats, Conn
from .hints import FreshPages
from .session import Session
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.batch")

# A batch this large has its staged rows analysed before the transform: a wrong join plan
# costs more than the ANALYZE there. A small one (a sync's spans) is looked up by index
# whatever the estimates, and an ANALYZE per batch, with its catalog writes, cost the 1 %
# sync a quarter of its time.
ANALYZE_STAGE_ROWS = 10_000


@dataclass(frozen=True)
class Window:
    """Which rows a batch reads: up to `size` source rows after `last_key` (from the start
    when None), within `upper` (a split entity's key range), of range `range_no`; or, for a
    sync, exactly the keys of `spans` ((lo, hi] each: buckets whose fingerprint changed).

    A batch owns the keys it covers, not only the rows it reads: a target row in them whose
    legacy row is gone is taken out. The last batch of a pass (fewer rows than `size`) covers
    everything up to `upper`, or to the end. `tracked`: the entity was migrated before, so
    the legacy ids whose mapping changes are recorded for its dependants. `into_empty`: the
    pass began with the table empty and reads each key once, so every batch's keys are fresh
    (the table's legacy key is deferred, decision 110); its batches read the pages the
    batch before wrote, through `fresh_pages` (decision 115).
    """

    last_key: int | None
    size: int
    upper: int | None = None
    range_no: int | None = None
    spans: tuple[tuple[int, int], ...] = ()
    tracked: bool = False
    # False: the batch is counted, and commits no checkpoint (a sync's).
    checkpoint: bool = True
    into_empty: bool = False
    fresh_pages: FreshPages | None = field(default=None, compare=False, repr=False)

    @property
    def lo(self) -> int:
        if self.spans:
            return min(lo for lo, _ in self.spans)
        return state.MIN_KEY if self.last_key is None else self.last_key


def params(session: Session, keys: BatchKeys) -> dict[str, Any]:
    """The batch statements' parameters: the batch's keys and the UUID secret and layout
    (with no block prefixes passed: the transform then hashes each row's, `uuid_blocks`)."""
    return {
        **keys.params(),
        "secret": session.ctx.secret,
        "uuid_layout": session.ctx.uuid_layout,
        "first_block": 0,
        "block_prefixes": [],
    }


def uuid_blocks(session: Session, spec: EntitySpec) -> dict[str, Any]:
    """The layout-2 prefixes of the staged rows' blocks, for the transform to look up
    (`sqlgen.passed_block_prefix`); none when the batch spans too many blocks."""
    if session.ctx.uuid_layout != 2:
        return {}
    row = session.target.execute(sqlgen.stage_blocks(spec).encode()).fetchone()
    if row is None or row[0] is None or row[1] - row[0] >= sqlgen.MAX_PASSED_BLOCKS:
        return {}
    first, last = int(row[0]), int(row[1])
    prefixes = sqlgen.block_prefixes(session.ctx.secret, spec.name, first, last)
    return {"first_block": first, "block_prefixes": prefixes}


def run(session: Session, spec: EntitySpec, batch_no: int, window: Window) -> BatchStats | None:
    """The batch after `window.last_key` (or of `window.spans`); None when there is nothing
    left there, in the source or in the target."""
    started = time.perf_counter()
    target = session.target
    keys = BatchKeys(spec.name, session.ctx.run_id, batch_no, lo=window.lo)
    with target.transaction():
        target.execute(f"TRUNCATE {sqlgen.STAGE}, {sqlgen.WORK}")
        first_block = window.fresh_pages.blocks(target) if window.fresh_pages else 0
        if window.spans:
            query = sqlgen.source_spans_query(spec, window.spans)
        else:
            query = sqlgen.source_batch_query(spec, window.last_key, window.size, window.upper)
        rows = staging.into_stage(session.source, target, query)
        full = not window.spans and rows >= window.size
        if full:
            rows += _complete_last_key(session, spec)
        # A stage still keyed unique cannot hold a key twice (`staging.into_stage`).
        duplicates = [] if staging.stage_is_keyed(target) else _split_duplicates(target, spec)
        if spec.refs and rows >= ANALYZE_STAGE_ROWS:
            # A small sample is enough for join estimates (0.3 to 0.7 µs a row).
            target.execute("SET LOCAL default_statistics_target = 10")
            target.execute(sqlgen.analyze_stage(spec).encode())
        version = target.info.server_version
        values = {**params(session, keys), **uuid_blocks(session, spec)}
        # A parent with nothing queued for deletion is looked up without the queue (decision
        # 117). Its rows are queued only by its own batches, which end before this entity
        # starts; the entity's own rows (a self-reference) keep the join, since a worker on
        # another of its ranges may queue one meanwhile.
        parents = sorted({ref.entity for ref in spec.refs if ref.entity != spec.name})
        unqueued = state.deletions.unqueued(target, parents)
        # A bulk load's rows go straight into the table; `work` keeps only what the batch's
        # state records (decision 112). A tracked entity records every key's transition, and
        # a Python fallback must see its rows before they are written.
        direct = window.into_empty and not window.tracked and not sqlgen.has_fallbacks(spec)
        if direct:
            target.execute(sqlgen.RAISE_WORK_MEM)
            counts = guarded(
                target,
                lambda fast: sqlgen.load_fresh(spec, version, fast=fast, unqueued=unqueued),
                values,
            ).fetchone()
        else:
            guarded(
                target,
                lambda fast: sqlgen.fill_work(spec, version, fast=fast, unqueued=unqueued),
                values,
            )
            apply_fallbacks(target, spec)
            counts = target.execute(sqlgen.BATCH_COUNTS).fetchone()
        assert counts is not None
        migrated, excluded, rejected = (int(v) for v in counts[:3])
        last_read = None if counts[3] is None else int(counts[3])
        if window.spans:
            keys = BatchKeys(
                spec.name,
                session.ctx.run_id,
                batch_no,
                lo=keys.lo,
                hi=max(hi for _, hi in window.spans),
                spans=window.spans,
            )
        else:
            # A full batch ends at its last key; the last one covers the rest of the range.
            end = window.upper if window.upper is not None else state.MAX_KEY
            keys = keys.up_to(last_read if full and last_read is not None else end)
        fresh = window.into_empty or _is_fresh(session, spec, keys)
        if rows == 0 and fresh and not window.spans:
            return None
        stats = BatchStats(
            entity=spec.name,
            batch_no=batch_no,
            rows=rows,
            migrated=migrated,
            excluded=excluded,
            rejected=rejected,
            last_key=last_read if last_read is not None else keys.lo,
            seconds=0.0,
        )
        unmapped: list[int] = []
        if not fresh:
            unmapped = _take_out(session, spec, keys, stats)
        elif window.tracked and (excluded or rejected or migrated):
            # Nothing of these keys is in the table (so it is not joined: a pass into an
            # empty one has no legacy key to look them up by), but rows of them may have
            # been rejected before.
            target.execute(sqlgen.ANALYZE_WORK)
            stats.outcome_changes = state.outcomes.transitions(
                target, None, sqlgen.WORK_OUTCOMES, keys
            )
        state.outcomes.clear(target, keys)
        state.issues.clear(target, keys)
        # The target table is the id map: writing its rows maps them (decision 96).
        newly_mapped: list[int] = []
        if direct:
            # A plain insert writes every migrated row or fails the batch.
            stats.inserted = migrated
        elif fresh:
            stats.inserted = max(
                target.execute(sqlgen.insert_target(spec).encode(), params(session, keys)).rowcount,
                0,
            )
            if window.tracked and stats.inserted:
                newly_mapped = [int(r[0]) for r in target.execute(sqlgen.MIGRATED_KEYS)]
        else:
            written = target.execute(
                sqlgen.upsert_counted(spec, keys).encode(), params(session, keys)
            ).fetchone()
            assert written is not None
            stats.inserted, stats.updated = int(written[0]), int(written[1])
            # New rows, and rows queued for deletion before that migrate again.
            newly_mapped = [int(k) for k in written[2]]
            remapped = state.deletions.settle(target, sqlgen.MIGRATED_KEYS, keys)
            newly_mapped += remapped
            stats.mapped_delta += len(remapped)
        if window.fresh_pages:
            window.fresh_pages.wrote(target, first_block)
        stats.mapped_delta += stats.inserted - len(unmapped)
        if window.tracked:
            state.changes.record(target, unmapped + newly_mapped, keys)
        if excluded or rejected:
            state.outcomes.record(target, sqlgen.OUTCOMES, keys)
        if duplicates:
            state.outcomes.reject_duplicates(target, keys, duplicates)
            stats.rejected += len(duplicates)
        issues = sqlgen.flagged_issues(spec)
        if issues:
            state.issues.record(target, issues, keys)
        state.fingerprints.store(target, keys)
        if window.spans or not window.checkpoint:
            state.progress.touch(target, keys, stats.mapped_delta)
        else:
            commit_checkpoint(
                target, keys.up_to(stats.last_key), window.range_no, stats.mapped_delta
            )
    stats.seconds = time.perf_counter() - started
    return stats


def guarded(
    target: Conn, statement_of: Callable[[bool], str], values: dict[str, Any]
) -> psycopg.Cursor[tuple[Any, ...]]:
    """Runs the batch's transform in its fast form (`sqlgen.inline_try_jsonb`), under a
    savepoint, and in its exact form when the fast one met a text that is JSON and not jsonb
    (a data exception). A row's own error fails the exact form too, as it did before."""
    fast, exact = statement_of(True), statement_of(False)
    if fast == exact:
        return target.execute(exact.encode(), values)
    try:
        with target.transaction():
            return target.execute(fast.encode(), values)
    except psycopg.errors.DataError:
        # Most likely a text that is JSON and not jsonb; a row's own error fails again below.
        log.info("fast transform refused, running it exact", extra={"action": "transform_exact"})
        return target.execute(exact.encode(), values)


def _is_fresh(session: Session, spec: EntitySpec, keys: BatchKeys) -> bool:
    row = session.target.execute(
        sqlgen.range_is_fresh(spec, keys).encode(), params(session, keys)
    ).fetchone()
    return bool(row and row[0])


def take_out_rejected(
    session: Session, spec: EntitySpec, window: Window, keys: BatchKeys, stats: BatchStats
) -> int:
    """Before a row the target refused (`keys.hi`, alone in its batch) is rejected: the batch's
    `work` holds that row alone, rejected, and the batch's keys are reconciled with it.
    Returns how many more rows of the entity are mapped (0 or fewer)."""
    target = session.target
    target.execute(f"TRUNCATE {sqlgen.WORK}")
    target.execute(
        f"INSERT INTO {sqlgen.WORK} (_legacy_id, _outcome) VALUES (%s, 'rejected')", [keys.hi]
    )
    if window.into_empty:
        # None of the keys is in the table, whose legacy key is deferred: nothing to take out.
        stats.outcome_changes = state.outcomes.transitions(target, None, sqlgen.WORK_OUTCOMES, keys)
        return 0
    unmapped = _take_out(session, spec, keys, stats)
    if unmapped and window.tracked:
        state.changes.record(target, unmapped, keys)
    return -len(unmapped)


def _take_out(session: Session, spec: EntitySpec, keys: BatchKeys, stats: BatchStats) -> list[int]:
    """The batch's mapped rows that no longer migrate leave the id map (queued for
    deletion); with --keep-deleted those whose legacy row is gone stay, marked. Returns the
    legacy ids unmapped."""
    target, ctx = session.target, session.ctx
    # The joins below go from the batch's keys to `work`: with no statistics the planner
    # loops over `work` for each key (seconds for a batch of 16 k rows); analysed, it hashes.
    target.execute(sqlgen.ANALYZE_WORK)
    mapped = sqlgen.mapped(spec)
    made = sqlgen.made_by_tool("m", "m.legacy_id")
    stats.outcome_changes = state.outcomes.transitions(target, mapped, sqlgen.WORK_OUTCOMES, keys)
    if ctx.keep_deleted:
        kept = sqlgen.mark_kept(spec, state.deletions.keep(mapped, sqlgen.WORK_KEYS, keys, made))
        stats.kept = max(target.execute(kept.encode(), params(session, keys)).rowcount, 0)
    unmapped = state.deletions.queue(
        target,
        mapped,
        sqlgen.WORK_KEYS,
        keys,
        (made, params(session, keys)),
        keep_absent=ctx.keep_deleted,
    )
    stats.deleted = len(unmapped)
    return unmapped


def commit_checkpoint(
    target: Conn, keys: BatchKeys, range_no: int | None, mapped_delta: int = 0
) -> None:
    state.progress.checkpoint(target, keys, mapped_delta)
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
