"""Passes over an entity's source rows: where a pass starts (a resume, an operator's
checkpoint or batch number), how a large entity's keys are split into ranges, and the keyset
loop of batches that a pass is, with its halving of failed batches and its checkpoints."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from .. import state
from ..errors import Code, UsageError
from . import failures, sqlgen
from .batch import Window
from .context import CHANGE_COUNTS, BatchStats, Conn, Reporter, RunContext
from .hints import FreshPages
from .session import Session, worker_session
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.runner")

# A key range: (lo, hi, last committed key, done), as state.ranges keeps it.
Range = state.ranges.Saved


@dataclass
class PassResult:
    batches: int = 0
    processed: int = 0
    last_key: int | None = None
    # The target changes of its batches (BatchStats' change counts, summed).
    changes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGE_COUNTS, 0))

    def add(self, stats: BatchStats) -> None:
        for name in CHANGE_COUNTS:
            self.changes[name] += getattr(stats, name)

    def absorb(self, other: PassResult) -> None:
        self.batches += other.batches
        self.processed += other.processed
        for name in CHANGE_COUNTS:
            self.changes[name] += other.changes[name]


MAX_LISTED_KEYS = 64 * 1024


def spans_of(
    buckets: list[tuple[int, int]], keys: list[int], batch_size: int
) -> list[tuple[tuple[int, int], ...]]:
    """Changed buckets (bucket, rows) and single keys, as batches of spans (lo, hi] in key
    order: adjacent ones form one span, and a batch holds about `batch_size` rows."""
    width = state.fingerprints.BUCKET_WIDTH
    pieces = sorted(
        [(b * width - 1, b * width + width - 1, max(n, 1)) for b, n in buckets]
        + [(k - 1, k, 1) for k in keys]
    )
    batches: list[tuple[tuple[int, int], ...]] = []
    spans: list[tuple[int, int]] = []
    rows = keys_listed = 0
    for lo, hi, n in pieces:
        if spans and spans[-1][1] >= lo:
            keys_listed += max(hi - spans[-1][1], 0)
            spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
        else:
            keys_listed += hi - lo
            spans.append((lo, hi))
        rows += n
        # A long OR of ranges is parsed for every batch, and the batch's statements list
        # its keys: a few hundred spans, some ten thousand keys at most.
        if rows >= batch_size or len(spans) >= 500 or keys_listed >= MAX_LISTED_KEYS:
            batches.append(tuple(spans))
            spans, rows, keys_listed = [], 0, 0
    if spans:
        batches.append(tuple(spans))
    return batches


@dataclass(frozen=True)
class Start:
    """Where an entity's pass begins: after `key` (None: the beginning), in `ranges` when a
    split pass is being resumed, and whether the entity continues an unfinished pass."""

    key: int | None
    ranges: list[Range]
    continues: bool


def start(ctx: RunContext, source: Conn, target: Conn, spec: EntitySpec, size: int) -> Start:
    """An operator's --checkpoint, --restart-from-batch, or with --resume the previous pass's
    last committed batch (per key range when it was split), or the beginning."""
    unfinished, saved_key = (
        state.progress.resume_point(target, spec.name) if ctx.resume else (False, None)
    )
    key = ctx.checkpoints.get(spec.name, saved_key if unfinished else None)
    restart = ctx.restart_batches.get(spec.name)
    if restart is not None:
        key = key_before_batch(source, spec, restart, size)
    ranges = (
        state.ranges.saved(target, spec.name)
        if unfinished and spec.name not in ctx.checkpoints and restart is None
        else []
    )
    continues = unfinished or spec.name in ctx.checkpoints or restart is not None
    return Start(key, ranges, continues)


def key_before_batch(source: Conn, spec: EntitySpec, batch: int, batch_size: int) -> int | None:
    """The last key before batch `batch` of a pass of `batch_size` rows, in key order."""
    if batch <= 1:
        return None
    key = sqlgen.q(spec.source.key)
    row = source.execute(
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


def plan_ranges(target: Conn, spec: EntitySpec, workers: int, low: int, high: int) -> list[Range]:
    """One contiguous key range per worker, recorded so a resumed run finds them again.
    Legacy ids are Django serials, so equal widths give about equal work."""
    width = max(1, -(-(high - low + 1) // workers))
    # Inner bounds end a bucket of fingerprints, so that no bucket is shared by two workers
    # (each stores the fingerprints of the buckets it finished). The first range starts at
    # the smallest key: a batch owns its keys, and keys below today's lowest may be mapped.
    inner = [state.fingerprints.bucket_end(low - 1 + i * width) for i in range(1, workers)]
    bounds = [state.MIN_KEY, *inner, high]
    ranges = [(bounds[i], min(bounds[i + 1], high)) for i in range(workers)]
    ranges = [(lo, hi) for lo, hi in ranges if lo < hi]
    with target.transaction():
        state.ranges.save(target, spec.name, ranges)
    return [(lo, hi, None, False) for lo, hi in ranges]


class Pass:
    """The keyset loop of one pass (or one key range of a split pass) over an entity."""

    def __init__(
        self,
        session: Session,
        spec: EntitySpec,
        reporter: Reporter,
        repair: Callable[[Session], None],
        *,
        tracked: bool = False,
        checkpoints: bool = True,
        into_empty: bool = False,
    ) -> None:
        self.session = session
        self.spec = spec
        self.reporter = reporter
        self.repair = repair
        self.tracked = tracked
        # False for a sync's fallback over spans: a sync resumes from its fingerprints, and
        # a checkpoint there would tell `migrate --resume` to skip the keys below it.
        self.checkpoints = checkpoints
        # The table was empty when this pass (of which this may be one range) began.
        self.into_empty = into_empty
        self.fresh_pages = FreshPages(spec.target) if into_empty else None

    @property
    def ctx(self) -> RunContext:
        return self.session.ctx

    def run(
        self, batch_size: int, lo: int | None, hi: int | None, range_no: int | None = None
    ) -> PassResult:
        """Batches over the key range (lo, hi] (open ends when None).

        A batch that fails on a row's values is retried in halves from the same key until
        the one row that fails is alone; that row is rejected LOAD_ERROR and the pass goes
        on at full size.
        """
        done = PassResult(last_key=lo)
        size = batch_size
        mirrored = 0
        while not self.ctx.should_stop():
            number = done.batches + 1
            window = Window(
                done.last_key,
                size,
                hi,
                range_no,
                tracked=self.tracked,
                checkpoint=self.checkpoints,
                into_empty=self.into_empty,
                fresh_pages=self.fresh_pages,
            )
            try:
                stats = failures.attempt(
                    self.session, self.spec, number, window, lambda: self.repair(self.session)
                )
            except failures.RowFailure as failure:
                if size > 1:
                    size = max(1, size // 2)
                    continue
                stats = failures.reject_row(self.session, self.spec, number, window, failure)
            if stats is None:
                break
            full = stats.rows >= size
            size = batch_size
            done.last_key = stats.last_key
            done.batches += 1
            done.processed += stats.rows
            done.add(stats)
            self.reporter.batch_done(stats)
            if done.processed - mirrored >= self.ctx.checkpoint_frequency:
                self._mirror(done, range_no)
                mirrored = done.processed
            log.info(
                "batch processed",
                extra={
                    "entity": self.spec.name,
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
            self._mirror(done, range_no)
        if self.fresh_pages and not self.ctx.should_stop():
            with self.session.target.transaction():
                self.fresh_pages.settle(self.session.target)
        return done

    def run_spans(self, batch_size: int, batches: list[tuple[tuple[int, int], ...]]) -> PassResult:
        """A sync's pass over the changed buckets only, a batch of spans at a time. A batch
        that fails on a row's values is run again as keyset passes over its spans, which
        halve down to the row and reject it."""
        done = PassResult()
        for spans in batches:
            if self.ctx.should_stop():
                break
            number = done.batches + 1
            window = Window(None, batch_size, spans=spans, tracked=self.tracked)
            try:
                stats = failures.attempt(
                    self.session, self.spec, number, window, lambda: self.repair(self.session)
                )
            except failures.RowFailure:
                keyset = Pass(
                    self.session,
                    self.spec,
                    self.reporter,
                    self.repair,
                    tracked=self.tracked,
                    checkpoints=False,
                )
                for lo, hi in spans:
                    done.absorb(keyset.run(batch_size, lo, hi))
                continue
            if stats is None:
                continue
            done.batches += 1
            done.processed += stats.rows
            done.add(stats)
            self.reporter.batch_done(stats)
        return done

    def _mirror(self, done: PassResult, range_no: int | None) -> None:
        """./checkpoints/<entity>[.range-N].json: ids and counts only, written atomically."""
        directory = self.ctx.checkpoint_dir
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        name = self.spec.name if range_no is None else f"{self.spec.name}.range-{range_no}"
        path = directory / f"{name}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(
            json.dumps(
                {
                    "entity": self.spec.name,
                    "range": range_no,
                    "runId": str(self.ctx.run_id),
                    "lastLegacyId": done.last_key,
                    "batches": done.batches,
                    "rowsProcessed": done.processed,
                    "updatedAt": datetime.now(UTC).isoformat(),
                    "resume": f"mdw-migrate migrate {self.spec.name} --resume",
                },
                indent=2,
            )
        )
        temporary.replace(path)


def run_ranges(
    session: Session,
    spec: EntitySpec,
    reporter: Reporter,
    repair: Callable[[Session], None],
    batch_size: int,
    ranges: list[Range],
    *,
    tracked: bool = False,
    into_empty: bool = False,
) -> PassResult:
    """Runs the unfinished key ranges, each from its own checkpoint: on parallel workers
    (own connections, the run's snapshot) when the run has them, else one after another.
    The first range runs on the entity's own session, which would otherwise sit idle: a
    split entity holds as many sessions as it has ranges, not one more."""
    todo = [(n, lo, hi, last) for n, (lo, hi, last, done) in enumerate(ranges) if not done]
    failed = threading.Event()
    outer = session.ctx
    ctx = replace(outer, should_stop=lambda: outer.should_stop() or failed.is_set())

    def finish(worker: Session, n: int, lo: int, hi: int, last: int | None) -> PassResult:
        done = Pass(worker, spec, reporter, repair, tracked=tracked, into_empty=into_empty).run(
            batch_size, lo if last is None else last, hi, range_no=n
        )
        if not ctx.should_stop():
            with worker.target.transaction():
                state.ranges.done(worker.target, spec.name, n)
        return done

    def work(n: int, lo: int, hi: int, last: int | None) -> PassResult:
        with worker_session(ctx) as worker:
            try:
                repair(worker)
                return finish(worker, n, lo, hi, last)
            except BaseException:
                failed.set()
                raise

    local = Session(session.source, session.target, ctx)

    def here(n: int, lo: int, hi: int, last: int | None) -> PassResult:
        try:
            return finish(local, n, lo, hi, last)
        except BaseException:
            failed.set()
            raise

    try:
        if ctx.parallel and len(todo) > 1:
            with ThreadPoolExecutor(len(todo), thread_name_prefix="mdw-range") as pool:
                futures = [pool.submit(here, *todo[0])]
                futures += [pool.submit(work, *item) for item in todo[1:]]
                passes = [f.result() for f in futures]
        else:
            passes = [finish(local, *item) for item in todo]
    finally:
        # A retry may have replaced the session's lost target connection.
        session.target = local.target
    finished = state.ranges.saved(session.target, spec.name)
    # A complete split pass ends at its last range's upper bound.
    total = PassResult(last_key=max(hi for _, hi, _, _ in finished) if finished else None)
    for part in passes:
        total.absorb(part)
    return total
