"""Runs one entity: keyset batches from the source, set-based transform and load in the target.

A batch is one target transaction: stage (binary COPY), transform into `work`, then the target
rows, id-map rows, outcomes, quality issues and the checkpoint, committed together. Python holds
one COPY chunk at a time, so memory does not grow with the table.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import ClientCursor, errors, sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from ..errors import Code, CriticalError, MigrationError, UsageError
from . import bulk, control, sqlgen
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.runner")
Conn = psycopg.Connection[tuple[Any, ...]]

# Errors after which the same batch can simply be tried again: the transaction rolled back
# and the connection is still usable.
TRANSIENT = (
    errors.DeadlockDetected,
    errors.LockNotAvailable,
    errors.SerializationFailure,
    errors.QueryCanceled,
)
MIN_KEY = -(2**63)
# SQLSTATEs of classes 22 and 23 that say nothing about a row's values: a COPY whose rows do
# not fit the staging table (wrong field count or binary format: the session's tables are not
# what the runner made, as behind a transaction pooler) and a setting refused.
NOT_ROW_ERRORS = frozenset({"22P03", "22P04", "22023"})


def is_row_error(exc: BaseException) -> bool:
    """Only a data exception or an integrity violation (SQLSTATE classes 22 and 23) can be
    caused by a row's own values, and so reject that row. Anything else (a missing table or
    schema, a protocol or connection error, a bug) is retried and then stops the run."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    return (
        isinstance(exc, psycopg.Error)
        and sqlstate[:2] in ("22", "23")
        and sqlstate not in NOT_ROW_ERRORS
    )


def use_utf8(conn: Conn) -> None:
    """Both sessions speak UTF-8 whatever the servers' encodings: a SQL_ASCII legacy server
    would otherwise hand back even catalogue names as bytes."""
    if conn.info.encoding.lower().replace("-", "") != "utf8":
        conn.execute("SET client_encoding TO 'UTF8'")


def _source_lost(entity: str, exc: Exception) -> MigrationError:
    return CriticalError(
        code=Code.SOURCE_UNAVAILABLE,
        entity=entity,
        message=f"The connection to the source database was lost ({type(exc).__name__})",
        details={"error": type(exc).__name__},
        suggestion=(
            "Check that the legacy database is up and reachable, then run the same command"
            " with --resume: every committed batch is kept"
        ),
    )


def error_budget(source_rows: int) -> float:
    """The share of rows allowed to fail, from the contract's success rates by size."""
    if source_rows < 1_000:
        return 0.005
    if source_rows < 10_000:
        return 0.01
    if source_rows < 100_000:
        return 0.015
    return 0.02


# An entity this large has its key range split over the workers.
SPLIT_THRESHOLD = 200_000


@dataclass
class BatchStats:
    entity: str
    batch_no: int
    rows: int
    migrated: int
    excluded: int
    rejected: int
    last_key: int
    seconds: float


@dataclass
class EntityResult:
    entity: str
    source_rows: int
    migrated: int = 0
    excluded: int = 0
    rejected: int = 0
    batches: int = 0
    seconds: float = 0.0
    processed: int = 0
    status: str = "completed"
    reasons: dict[str, int] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def accounted(self) -> bool:
        return self.source_rows == self.migrated + self.excluded + self.rejected


class Reporter(Protocol):
    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None: ...

    def batch_done(self, stats: BatchStats) -> None: ...

    def entity_done(self, result: EntityResult) -> None: ...


@dataclass
class RunContext:
    run_id: uuid.UUID
    secret: bytes
    batch_size: int
    max_retry_attempts: int
    # True when the operator chose the batch size: it then beats an entity's own default.
    batch_size_forced: bool = False
    dry_run: bool = False
    # Set by a signal handler: the run stops after the batch in flight.
    should_stop: Callable[[], bool] = lambda: False
    # For splitting a large entity's key range over workers: how many, how they connect,
    # and the source snapshot they all read.
    workers: int = 1
    open_source: Callable[[], Conn] | None = None
    open_target: Callable[[], Conn] | None = None
    snapshot: str | None = None
    # --resume: continue unfinished entities from their checkpoints; --checkpoint: start
    # the named entity after this legacy id.
    resume: bool = False
    checkpoints: dict[str, int] = field(default_factory=dict)
    # --restart-from-batch: the named entity restarts at this batch number (1-based).
    restart_batches: dict[str, int] = field(default_factory=dict)
    # Operators' mirror of the checkpoints (the database holds the real ones).
    checkpoint_dir: Path | None = None
    checkpoint_frequency: int = 10_000

    def can_split(self, rows: int) -> bool:
        return (
            self.workers > 1
            and rows >= SPLIT_THRESHOLD
            and not self.dry_run
            and self.snapshot is not None
            and self.open_source is not None
            and self.open_target is not None
        )


@dataclass
class PassResult:
    batches: int = 0
    processed: int = 0
    last_key: int | None = None


class EntityRunner:
    def __init__(self, source: Conn, target: Conn, ctx: RunContext, reporter: Reporter) -> None:
        self.source = source
        self.target = target
        self.ctx = ctx
        self.reporter = reporter

    def run(self, spec: EntitySpec) -> EntityResult:
        started = time.perf_counter()
        batch_size = self.ctx.batch_size
        if spec.batch_size and not self.ctx.batch_size_forced:
            batch_size = spec.batch_size
        row = self.source.execute(sqlgen.source_count_query(spec)).fetchone()
        total = int(row[0]) if row else 0
        result = EntityResult(entity=spec.name, source_rows=total)
        self._prepare_temp_tables(spec)
        # Where this pass starts: an operator's --checkpoint, or with --resume the previous
        # pass's last committed batch (per key range when it was split), or the beginning.
        unfinished, saved_key = (
            control.resume_point(self.target, spec.name) if self.ctx.resume else (False, None)
        )
        start = self.ctx.checkpoints.get(spec.name, saved_key if unfinished else None)
        if spec.name in self.ctx.restart_batches:
            start = self._key_before_batch(spec, self.ctx.restart_batches[spec.name], batch_size)
        saved = (
            control.saved_ranges(self.target, spec.name)
            if unfinished and spec.name not in self.ctx.checkpoints
            else []
        )
        with self.target.transaction():
            if (
                unfinished
                or spec.name in self.ctx.checkpoints
                or spec.name in self.ctx.restart_batches
            ):
                control.continue_entity(self.target, spec.name, self.ctx.run_id, total)
            else:
                control.begin_entity(self.target, spec.name, self.ctx.run_id, total)
        self.reporter.entity_started(spec.name, total, batch_size)
        log.info(
            "entity started",
            extra={"entity": spec.name, "action": "entity_started", "details": {"rows": total}},
        )

        if not self.ctx.dry_run and total >= bulk.BULK_THRESHOLD:
            with self.target.transaction():
                if bulk.table_is_empty(self.target, spec.target):
                    bulk.defer(self.target, spec.name, spec.target)

        try:
            if saved and spec.name not in self.ctx.restart_batches:
                done = self._run_ranges(spec, batch_size, saved)
            elif start is None and self.ctx.can_split(total):
                done = self._run_ranges(spec, batch_size, self._plan_ranges(spec, row))
            else:
                done = self._pass(spec, batch_size, start, None)
            result.batches, result.processed = done.batches, done.processed
            last_key = done.last_key
        finally:
            # Constraints come back whether the pass completed or stopped; if the connection
            # is gone, migration.deferred_ddl keeps them for the entity's next run.
            if not self.target.broken and (
                self.target.info.transaction_status == TransactionStatus.IDLE
            ):
                with self.target.transaction():
                    bulk.restore(self.target, spec.name)

        stopped = self.ctx.should_stop()
        with self.target.transaction():
            if not stopped:
                for statement in spec.post:
                    self.target.execute(statement.encode(), self._params(spec, 0, MIN_KEY))
            counts = control.finish_entity(self.target, spec.name, last_key, completed=not stopped)
        result.migrated = counts["migrated"]
        result.excluded = counts["excluded"]
        result.rejected = counts["rejected"]
        result.reasons = self._reasons(spec.name)
        result.issues = self._issues(spec.name)
        result.status = "interrupted" if stopped else "completed"
        result.seconds = time.perf_counter() - started
        self.reporter.entity_done(result)
        log.info(
            "entity finished",
            extra={
                "entity": spec.name,
                "action": "entity_finished",
                "details": {
                    "status": result.status,
                    "sourceRows": result.source_rows,
                    "migrated": result.migrated,
                    "excluded": result.excluded,
                    "rejected": result.rejected,
                    "reasons": result.reasons,
                    "seconds": round(result.seconds, 3),
                },
            },
        )
        return result

    def _pass(
        self,
        spec: EntitySpec,
        batch_size: int,
        lo: int | None,
        hi: int | None,
        range_no: int | None = None,
    ) -> PassResult:
        """Keyset batches over the key range (lo, hi] (open ends when None).

        A batch that fails on its data (not on the connection) is retried in halves from the
        same key until the one row that fails is alone; that row is rejected LOAD_ERROR and
        the pass goes on at full size.
        """
        done = PassResult(last_key=lo)
        size = batch_size
        mirrored = 0
        while not self.ctx.should_stop():
            try:
                stats = self._batch_with_retries(
                    spec, done.batches + 1, done.last_key, size, hi, range_no
                )
            except psycopg.Error as exc:
                if not is_row_error(exc):
                    raise
                if size > 1:
                    size = max(1, size // 2)
                    continue
                stats = self._reject_row(spec, done.batches + 1, done.last_key, hi, range_no, exc)
            if stats is None:
                break
            full = stats.rows >= size
            size = batch_size
            done.last_key = stats.last_key
            done.batches += 1
            done.processed += stats.rows
            self.reporter.batch_done(stats)
            if done.processed - mirrored >= self.ctx.checkpoint_frequency:
                self._mirror_checkpoint(spec, done, range_no)
                mirrored = done.processed
            log.info(
                "batch processed",
                extra={
                    "entity": spec.name,
                    "action": "batch_processed",
                    "details": {
                        "batchNumber": stats.batch_no,
                        "recordsInBatch": stats.rows,
                        "processingTime": f"{stats.seconds:.3f}s",
                        "successCount": stats.migrated,
                        "excludedCount": stats.excluded,
                        "errorCount": stats.rejected,
                        "lastLegacyId": stats.last_key,
                    },
                },
            )
            if not full:
                break
        if done.processed > mirrored:
            self._mirror_checkpoint(spec, done, range_no)
        return done

    def _mirror_checkpoint(self, spec: EntitySpec, done: PassResult, range_no: int | None) -> None:
        """./checkpoints/<entity>[.range-N].json: ids and counts only, written atomically."""
        if self.ctx.checkpoint_dir is None:
            return
        self.ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        name = spec.name if range_no is None else f"{spec.name}.range-{range_no}"
        path = self.ctx.checkpoint_dir / f"{name}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(
            json.dumps(
                {
                    "entity": spec.name,
                    "range": range_no,
                    "runId": str(self.ctx.run_id),
                    "lastLegacyId": done.last_key,
                    "batches": done.batches,
                    "rowsProcessed": done.processed,
                    "updatedAt": datetime.now(UTC).isoformat(),
                    "resume": f"mdw-migrate migrate {spec.name} --resume",
                },
                indent=2,
            )
        )
        temporary.replace(path)

    def _key_before_batch(self, spec: EntitySpec, batch: int, batch_size: int) -> int | None:
        """The last key before batch `batch` of a pass of `batch_size` rows, in key order."""
        if batch <= 1:
            return None
        key = sqlgen.q(spec.source.key)
        row = self.source.execute(
            f"SELECT src.{key} FROM ({spec.source.query}) AS src ORDER BY src.{key}"
            f" OFFSET {(batch - 1) * batch_size - 1} LIMIT 1".encode()
        ).fetchone()
        if row is None:
            raise UsageError(
                code=Code.USAGE,
                entity=spec.name,
                message=f"{spec.name} has fewer than {batch - 1} batches of {batch_size} rows",
                details={"batch": batch, "batchSize": batch_size},
                suggestion="Give a smaller --restart-from-batch, or use --resume",
            )
        return int(row[0])

    def _reject_row(
        self,
        spec: EntitySpec,
        batch_no: int,
        last_key: int | None,
        upper: int | None,
        range_no: int | None,
        exc: Exception,
    ) -> BatchStats | None:
        """Records the single row after `last_key` as rejected LOAD_ERROR, with the database's
        error class, SQLSTATE and the constraint or column it names: never the values."""
        started = time.perf_counter()
        diag = getattr(exc, "diag", None)
        where = getattr(diag, "constraint_name", None) or getattr(diag, "column_name", None)
        detail = f"{type(exc).__name__} (SQLSTATE {getattr(exc, 'sqlstate', None)})" + (
            f" on {where}" if where else ""
        )
        # The key of the failing row, read from the source: the row itself may be what the
        # target cannot even stage (text that is not valid UTF-8).
        row = self.source.execute(sqlgen.next_key_query(spec, last_key, upper).encode()).fetchone()
        if row is None:
            return None
        with self.target.transaction():
            params = self._params(spec, batch_no, MIN_KEY if last_key is None else last_key)
            params.update(hi=int(row[0]), detail=detail)
            self.target.execute(sqlgen.CLEAR_OUTCOMES, params)
            self.target.execute(sqlgen.CLEAR_ISSUES, params)
            self.target.execute(sqlgen.REJECT_LOAD_ERROR, params)
            self.target.execute(control.CHECKPOINT, params)
            if range_no is not None:
                self.target.execute(control.RANGE_CHECKPOINT, {**params, "range_no": range_no})
        log.warning(
            "row rejected",
            extra={
                "entity": spec.name,
                "action": "load_error",
                "details": {"legacyId": params["hi"], "reason": "LOAD_ERROR", "error": detail},
            },
        )
        self._check_error_budget(spec)
        return BatchStats(
            entity=spec.name,
            batch_no=batch_no,
            rows=1,
            migrated=0,
            excluded=0,
            rejected=1,
            last_key=int(params["hi"]),
            seconds=time.perf_counter() - started,
        )

    def _check_error_budget(self, spec: EntitySpec) -> None:
        """The contract's success rates by entity size, applied to rows that failed to load
        (rule-based rejects such as orphans are expected and do not count)."""
        row = self.target.execute(
            "SELECT (SELECT count(*) FROM migration.row_outcomes WHERE entity = %(e)s"
            "   AND reason_code = 'LOAD_ERROR'),"
            " (SELECT source_rows FROM migration.entity_progress WHERE entity = %(e)s)",
            {"e": spec.name},
        ).fetchone()
        failed, total = (int(row[0]), int(row[1] or 0)) if row else (0, 0)
        allowed = error_budget(total)
        # One bad row is always reported rather than fatal: under 200 rows any single
        # failure would break a 99.5 % rate, and stopping then helps nobody.
        if total and failed > 1 and failed / total > allowed:
            raise CriticalError(
                code=Code.ERROR_BUDGET_EXCEEDED,
                entity=spec.name,
                message=f"{failed} of {total} {spec.name} rows failed to load, more than the"
                f" {allowed:.1%} the contract allows for an entity of this size",
                details={"failedRows": failed, "sourceRows": total, "budget": allowed},
                suggestion=(
                    "See migration.row_outcomes (reason LOAD_ERROR) for the rows and the"
                    " database's error; fix the cause, then run the same command with --resume"
                ),
            )

    def _plan_ranges(
        self, spec: EntitySpec, counts: tuple[Any, ...] | None
    ) -> list[tuple[int, int, int | None, bool]]:
        """One contiguous key range per worker, recorded so a resumed run finds them again.
        Legacy ids are Django serials, so equal widths give about equal work."""
        assert counts is not None and counts[1] is not None and counts[2] is not None
        high, low = int(counts[1]), int(counts[2])
        parts = self.ctx.workers
        width = max(1, -(-(high - low + 1) // parts))
        bounds = [low - 1 + i * width for i in range(parts)] + [high]
        ranges = [(bounds[i], min(bounds[i + 1], high)) for i in range(parts)]
        ranges = [(lo, hi) for lo, hi in ranges if lo < hi]
        with self.target.transaction():
            control.save_ranges(self.target, spec.name, ranges)
        return [(lo, hi, None, False) for lo, hi in ranges]

    def _run_ranges(
        self, spec: EntitySpec, batch_size: int, ranges: list[tuple[int, int, int | None, bool]]
    ) -> PassResult:
        """Runs the unfinished key ranges, each from its own checkpoint: on parallel workers
        (own connections, the run's snapshot) when the run has them, else one after another."""
        todo = [(n, lo, hi, last) for n, (lo, hi, last, done) in enumerate(ranges) if not done]
        failed = threading.Event()
        ctx = replace(self.ctx, should_stop=lambda: self.ctx.should_stop() or failed.is_set())

        def finish(runner: EntityRunner, n: int, lo: int, hi: int, last: int | None) -> PassResult:
            done = runner._pass(spec, batch_size, lo if last is None else last, hi, range_no=n)
            if not ctx.should_stop():
                with runner.target.transaction():
                    runner.target.execute(control.RANGE_DONE, {"entity": spec.name, "range_no": n})
            return done

        def work(n: int, lo: int, hi: int, last: int | None) -> PassResult:
            assert ctx.open_source and ctx.open_target and ctx.snapshot
            with ctx.open_source() as src, ctx.open_target() as dst:
                src.execute(
                    sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(ctx.snapshot))
                )
                use_utf8(src)
                use_utf8(dst)
                try:
                    runner = EntityRunner(src, dst, ctx, self.reporter)
                    runner._prepare_temp_tables(spec)
                    return finish(runner, n, lo, hi, last)
                except BaseException:
                    failed.set()
                    raise
                finally:
                    src.rollback()

        if self.ctx.can_split(SPLIT_THRESHOLD) and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="mdw-range") as pool:
                futures = [pool.submit(work, *item) for item in todo]
                passes = [f.result() for f in futures]
        else:
            passes = [finish(self, *item) for item in todo]
        finished = control.saved_ranges(self.target, spec.name)
        return PassResult(
            batches=sum(p.batches for p in passes),
            processed=sum(p.processed for p in passes),
            # A complete split pass ends at its last range's upper bound.
            last_key=max(hi for _, hi, _, _ in finished) if finished else None,
        )

    def _prepare_temp_tables(self, spec: EntitySpec) -> None:
        columns = self._source_column_types(spec)
        with self.target.transaction():
            self.target.execute("DROP TABLE IF EXISTS pg_temp.mdw_stage, pg_temp.mdw_work")
            self.target.execute(sqlgen.create_stage(columns).encode())
            # CREATE TABLE AS cannot take server-side parameters: bind on the client once.
            with ClientCursor(self.target) as cur:
                cur.execute(sqlgen.create_work(spec), self._params(spec, 0, MIN_KEY))

    def _source_column_types(self, spec: EntitySpec) -> list[tuple[str, str]]:
        cur = self.source.execute(sqlgen.source_columns_query(spec))
        description = cur.description or []
        oids = [col.type_code for col in description]
        # Without a type modifier, `character` means char(1) and `bit` bit(1): stage them
        # under their unbounded names so no value is cut or refused.
        names: dict[int, str] = dict(
            self.source.execute(
                "SELECT oid, CASE typname WHEN 'bpchar' THEN 'bpchar' WHEN '_bpchar' THEN"
                " 'bpchar[]' WHEN 'bit' THEN 'varbit' WHEN '_bit' THEN 'varbit[]'"
                " ELSE format_type(oid, NULL) END FROM pg_type WHERE oid = ANY(%s)",
                [oids],
            ).fetchall()
        )
        return [(col.name, str(names[col.type_code])) for col in description]

    def _params(self, spec: EntitySpec, batch_no: int, lo: int) -> dict[str, Any]:
        return {
            "secret": self.ctx.secret,
            "entity": spec.name,
            "run_id": self.ctx.run_id,
            "batch_no": batch_no,
            "lo": lo,
            "hi": lo,
        }

    def _batch_with_retries(
        self,
        spec: EntitySpec,
        batch_no: int,
        last_key: int | None,
        batch_size: int,
        upper: int | None = None,
        range_no: int | None = None,
    ) -> BatchStats | None:
        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "batch retried",
                extra={
                    "entity": spec.name,
                    "action": "batch_retry",
                    "details": {
                        "batchNumber": batch_no,
                        "attempt": state.attempt_number,
                        "error": type(error).__name__,
                    },
                },
            )
            if self.target.broken or self.target.closed:
                self._reconnect_target(spec)
            elif not isinstance(error, TRANSIENT):
                # The batch rolled back on a connection that still works, but the session's
                # staging tables may be what failed: the retry starts from fresh ones.
                self._prepare_temp_tables(spec)

        retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            stop=stop_after_attempt(self.ctx.max_retry_attempts + 1),
            wait=wait_exponential(multiplier=0.2, max=10),
            reraise=True,
            before_sleep=before_sleep,
        )
        try:
            return retrying(self._batch, spec, batch_no, last_key, batch_size, upper, range_no)
        except psycopg.OperationalError as exc:
            if self.source.broken or self.source.closed:
                raise _source_lost(spec.name, exc) from exc
            raise

    def _retryable(self, exc: BaseException) -> bool:
        """Worth another try: any database error that a row's values did not cause (those
        are isolated by halving the batch instead) while the source snapshot is intact; a
        lost target only when it can be opened again. A lost source cannot: its snapshot is
        gone with it, as it is when the source's transaction failed."""
        if not isinstance(exc, psycopg.Error) or is_row_error(exc):
            return False
        if (
            self.source.broken
            or self.source.closed
            or self.source.info.transaction_status == TransactionStatus.INERROR
        ):
            return False
        if self.target.broken or self.target.closed:
            # A dry run lives in one target transaction: a new connection could not continue it.
            return self.ctx.open_target is not None and not self.ctx.dry_run
        return True

    def _reconnect_target(self, spec: EntitySpec) -> None:
        assert self.ctx.open_target is not None
        log.warning("target reconnected", extra={"entity": spec.name, "action": "target_reconnect"})
        self.target = self.ctx.open_target()
        self._prepare_temp_tables(spec)

    def _batch(
        self,
        spec: EntitySpec,
        batch_no: int,
        last_key: int | None,
        batch_size: int,
        upper: int | None = None,
        range_no: int | None = None,
    ) -> BatchStats | None:
        started = time.perf_counter()
        target = self.target
        with target.transaction():
            target.execute("TRUNCATE pg_temp.mdw_stage, pg_temp.mdw_work")
            rows = self._stage(spec, last_key, batch_size, upper)
            if rows == 0:
                return None
            if rows >= batch_size:
                rows += self._complete_last_key(spec)
            duplicates = self._split_duplicates(spec)
            params = self._params(spec, batch_no, MIN_KEY if last_key is None else last_key)
            target.execute(sqlgen.fill_work(spec).encode(), params)
            self._apply_fallbacks(spec)
            counts = target.execute(sqlgen.BATCH_COUNTS).fetchone()
            assert counts is not None
            migrated, excluded, rejected, hi = (int(v) for v in counts)
            params["hi"] = hi
            target.execute(sqlgen.CLEAR_OUTCOMES, params)
            target.execute(sqlgen.CLEAR_ISSUES, params)
            fresh_row = target.execute(sqlgen.range_is_fresh(spec).encode(), params).fetchone()
            if fresh_row and fresh_row[0]:
                target.execute(sqlgen.insert_target(spec).encode(), params)
                target.execute(sqlgen.INSERT_ID_MAP_FRESH, params)
            else:
                target.execute(sqlgen.upsert_target(spec).encode(), params)
                target.execute(sqlgen.INSERT_ID_MAP, params)
            if excluded or rejected:
                target.execute(sqlgen.INSERT_OUTCOMES, params)
            if duplicates:
                with target.cursor() as cur:
                    cur.executemany(
                        sqlgen.REJECT_DUPLICATE, [{**params, "key": k} for k in duplicates]
                    )
                rejected += len(duplicates)
            issues = sqlgen.insert_issues(spec)
            if issues:
                target.execute(issues.encode(), params)
            target.execute(control.CHECKPOINT, params)
            if range_no is not None:
                target.execute(control.RANGE_CHECKPOINT, {**params, "range_no": range_no})
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

    def _stage(
        self, spec: EntitySpec, last_key: int | None, batch_size: int, upper: int | None
    ) -> int:
        return self._pipe(sqlgen.source_batch_query(spec, last_key, batch_size, upper))

    def _complete_last_key(self, spec: EntitySpec) -> int:
        """Re-reads every source row of the batch's last key; returns the rows it added."""
        row = self.target.execute(sqlgen.stage_max_key(spec).encode()).fetchone()
        if row is None or row[0] is None:
            return 0
        delete, select = sqlgen.complete_key_group(spec)
        removed = self.target.execute(delete.encode(), {"key": row[0]}).rowcount
        query = f"COPY ({select.replace('%(key)s', str(int(row[0])))}) TO STDOUT (FORMAT BINARY)"
        return self._pipe(query) - max(removed, 0)

    def _split_duplicates(self, spec: EntitySpec) -> list[int]:
        """Keeps the first source row of a legacy id that appears twice (a source without a
        primary key); the others are rejected DUPLICATE_LEGACY_ID rather than lost."""
        check, remove = sqlgen.split_duplicates(spec)
        found = self.target.execute(check.encode()).fetchone()
        if not found or not found[0]:
            return []
        return [int(r[0]) for r in self.target.execute(remove.encode()).fetchall()]

    def _pipe(self, query: str) -> int:
        """Pipes a COPY ... TO STDOUT of the source into the staging table, chunk by chunk.

        A SQL_ASCII legacy server holds bytes that may not be UTF-8, and refuses to convert
        them for a UTF-8 client: for the COPY alone the source session takes them raw, and the
        target, which checks its input, refuses the row that is not valid (a LOAD_ERROR reject
        after the batch is halved) instead of the source stopping the run.
        """
        raw = self.source.info.parameter_status("server_encoding") in (b"SQL_ASCII", "SQL_ASCII")
        if not raw:
            return self._copy_into_stage(query)
        self.source.execute("SET client_encoding TO 'SQL_ASCII'")
        try:
            return self._copy_into_stage(query)
        finally:
            if not self.source.broken:
                self.source.execute("SET client_encoding TO 'UTF8'")

    def _copy_into_stage(self, query: str) -> int:
        into_stage = f"COPY {sqlgen.STAGE} FROM STDIN (FORMAT BINARY)".encode()
        with (
            self.source.cursor() as src_cur,
            self.target.cursor() as dst_cur,
            src_cur.copy(query.encode()) as out,
        ):
            try:
                with dst_cur.copy(into_stage) as into:
                    for chunk in out:
                        into.write(chunk)
            except psycopg.Error:
                # The target refused the data: let the source finish its COPY, so its
                # transaction (the run's snapshot) stays usable for the retry.
                for _ in out:
                    pass
                raise
            # Read before the cursor closes: a closed cursor forgets its row count.
            return max(dst_cur.rowcount, 0)

    def recompute(self, spec: EntitySpec, keys: list[int]) -> list[int]:
        """Runs the given legacy rows through the mapping again, without writing anything
        outside temporary tables, and returns the keys whose target row differs."""
        self._prepare_temp_tables(spec)
        with self.target.transaction(force_rollback=True):
            self._pipe(sqlgen.source_keys_query(spec, keys))
            self.target.execute(sqlgen.fill_work(spec).encode(), self._params(spec, 0, MIN_KEY))
            self._apply_fallbacks(spec)
            rows = self.target.execute(sqlgen.differing_rows(spec).encode()).fetchall()
        return [int(r[0]) for r in rows]

    def _apply_fallbacks(self, spec: EntitySpec) -> None:
        for col in spec.columns:
            if col.fallback is None:
                continue
            rows = self.target.execute(sqlgen.fallback_rows(spec, col).encode()).fetchall()
            updates = []
            for legacy_id, raw in rows:
                value = col.fallback(raw)
                if value is not None:
                    updates.append({"legacy_id": legacy_id, "value": Jsonb(value)})
            if updates:
                with self.target.cursor() as cur:
                    cur.executemany(sqlgen.fallback_update(spec, col).encode(), updates)

    def _reasons(self, entity: str) -> dict[str, int]:
        rows = self.target.execute(
            "SELECT reason_code, count(*) FROM migration.row_outcomes WHERE entity = %s"
            " GROUP BY 1 ORDER BY 1",
            [entity],
        ).fetchall()
        return {code: int(n) for code, n in rows}

    def _issues(self, entity: str) -> dict[str, int]:
        rows = self.target.execute(
            "SELECT kind || ':' || column_name, count(*) FROM migration.quality_issues"
            " WHERE entity = %s GROUP BY 1 ORDER BY 1",
            [entity],
        ).fetchall()
        return {kind: int(n) for kind, n in rows}
