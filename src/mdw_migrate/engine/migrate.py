"""One migration run: pre-flight, dependency check, then each entity in dependency order."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from .. import __version__, state
from . import bulk, preflight, prune
from .archive import ArchiveRunner, ArchiveSpec
from .backup import Backup
from .context import EntityResult, Reporter, RunContext
from .planner import Catalogue
from .runner import EntityRunner
from .session import Session, use_utf8, worker_session
from .spec import EntitySpec

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class RunOutcome:
    run_id: uuid.UUID
    entities: list[str]
    started_at: datetime
    ended_at: datetime | None = None
    results: list[EntityResult] = field(default_factory=list)
    dry_run: bool = False
    # The source snapshot the target is now in step with (for the entities run).
    snapshot_at: datetime | None = None
    # What the run's deletions removed (copies in migration_backup), and the entities whose
    # queued deletions wait for a dependant this run did not bring up to date.
    backups: list[Backup] = field(default_factory=list)
    deletions_waiting: list[str] = field(default_factory=list)
    incremental: bool = False

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" for r in self.results)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per entity: source rows and where they went (ids and counts only)."""
        return {
            r.entity: {
                "source": r.source_rows,
                "migrated": r.migrated,
                "excluded": r.excluded,
                "rejected": r.rejected,
                "inserted": r.inserted,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "deleted": r.deleted,
                "kept": r.kept,
                "outcomeChanges": r.outcome_changes,
            }
            for r in self.results
        }


@dataclass(frozen=True)
class RunOptions:
    batch_size: int
    batch_size_forced: bool
    max_retry_attempts: int
    dry_run: bool
    id_secret_env: str | None = field(repr=False)
    command: str
    arguments: dict[str, Any]
    source_identity: dict[str, Any]
    target_identity: dict[str, Any]
    should_stop: Callable[[], bool] = lambda: False
    # Parallel workers: each opens its own source and target connection with these. One
    # worker (or a dry run, which lives in one target transaction) runs in the caller's.
    workers: int = 1
    open_source: Callable[[], Conn] | None = None
    open_target: Callable[[], Conn] | None = None
    resume: bool = False
    checkpoints: dict[str, int] = field(default_factory=dict)
    restart_batches: dict[str, int] = field(default_factory=dict)
    checkpoint_dir: Path | None = None
    checkpoint_frequency: int = 10_000
    # sync: read only the buckets whose fingerprint changed; --keep-deleted.
    incremental: bool = False
    keep_deleted: bool = False
    # Names the migration_backup copies of the rows the run deletes.
    backup_stamp: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S_%f")
    )


def migrate(
    catalogue: Catalogue,
    names: Sequence[str],
    source: Conn,
    target: Conn,
    options: RunOptions,
    reporter: Reporter,
) -> RunOutcome:
    for conn in (source, target):
        use_utf8(conn)
    specs = [s for n in names if isinstance(s := catalogue.entities[n], EntitySpec)]
    preflight.check_source(source, specs)
    preflight.check_target(target, specs)
    with state.runs.exclusive(target):
        catalogue.check_dependencies(names, state.progress.states(target))
        if options.dry_run:
            # Everything below happens in one transaction that is rolled back: the report is
            # exact (later entities see earlier ones) and nothing is written.
            with target.transaction(force_rollback=True):
                return _run(catalogue, names, source, target, options, reporter)
        return _run(catalogue, names, source, target, options, reporter)


def _run(
    catalogue: Catalogue,
    names: Sequence[str],
    source: Conn,
    target: Conn,
    options: RunOptions,
    reporter: Reporter,
) -> RunOutcome:
    with target.transaction():
        secret = state.deployment.id_secret(target, options.id_secret_env)
        layout = state.deployment.record_layout(target)
        run_id = state.runs.start(
            target,
            options.command,
            options.arguments,
            __version__,
            options.source_identity,
            options.target_identity,
        )
    outcome = RunOutcome(
        run_id=run_id,
        entities=list(names),
        started_at=datetime.now(UTC),
        dry_run=options.dry_run,
        snapshot_at=_snapshot_time(source),
        incremental=options.incremental,
    )
    ctx = RunContext(
        run_id=run_id,
        secret=secret,
        uuid_layout=layout,
        batch_size=options.batch_size,
        batch_size_forced=options.batch_size_forced,
        max_retry_attempts=options.max_retry_attempts,
        dry_run=options.dry_run,
        should_stop=options.should_stop,
        workers=options.workers,
        open_source=options.open_source,
        open_target=options.open_target,
        snapshot=_export_snapshot(source) if _can_fan_out(options) else None,
        resume=options.resume,
        checkpoints=dict(options.checkpoints),
        restart_batches=dict(options.restart_batches),
        checkpoint_dir=options.checkpoint_dir,
        checkpoint_frequency=options.checkpoint_frequency,
        incremental=options.incremental,
        keep_deleted=options.keep_deleted,
        backup_stamp=options.backup_stamp,
        snapshot_at=outcome.snapshot_at or datetime.now(UTC),
    )
    if options.resume and not options.incremental:
        # A resumed run leaves completed entities alone and continues the others.
        states = state.progress.states(target)
        forced = set(options.checkpoints) | set(options.restart_batches)
        names = [n for n in names if states.get(n) != "completed" or n in forced]
        outcome.entities = list(names)
    status = "failed"
    # A retry may replace a lost target connection; the run's record goes through the one
    # that is alive at the end, and a replacement is closed here (the caller owns `target`).
    session = Session(source, target, ctx)
    try:
        # A sync reads only what changed: table sizes would promise a far longer run.
        estimates = {} if options.incremental else _estimates(catalogue, names, source)
        reporter.run_started(estimates)
        if ctx.parallel and len(names) > 1:
            _run_parallel(catalogue, names, ctx, reporter, outcome, estimates)
        else:
            for name in names:
                outcome.results.append(_run_one(catalogue, name, session, reporter))
                if outcome.interrupted:
                    break
        if not outcome.interrupted and not ctx.should_stop():
            _delete_queued(catalogue, session, options, outcome)
            if not options.dry_run:
                _analyze_grown(catalogue, session, outcome)
        status = "interrupted" if outcome.interrupted else "completed"
    finally:
        outcome.ended_at = datetime.now(UTC)
        live = session.target
        if not live.broken and live.info.transaction_status != TransactionStatus.INERROR:
            with live.transaction():
                live.execute("SET LOCAL synchronous_commit = on")
                final = "dry_run" if options.dry_run else status
                state.runs.end(live, run_id, final, outcome.counts())
        if live is not target:
            live.close()
    return outcome


def _analyze_grown(catalogue: Catalogue, session: Session, outcome: RunOutcome) -> None:
    """Statistics for the state tables a run filled: autovacuum would analyse them minutes
    later, and the first sync of a cut-over may start before that. (Each entity's own
    table was analysed when the entity finished.)"""
    if any(
        r.inserted >= bulk.ANALYZE_THRESHOLD
        and isinstance(catalogue.entities[r.entity], EntitySpec)
        for r in outcome.results
    ):
        with session.target.transaction():
            state.analyze(session.target, [])


def _estimates(catalogue: Catalogue, names: Sequence[str], source: Conn) -> dict[str, int]:
    """Rows each entity will read, from the planner's statistics (no scan): its main table's
    reltuples, or the archived tables' sum."""
    tables: dict[str, list[str]] = {}
    for name in names:
        spec = catalogue.entities[name]
        if isinstance(spec, EntitySpec):
            tables[name] = [spec.source.rows_of or next(iter(spec.source.reads))]
        else:
            tables[name] = spec.tables_in(source)
    wanted = sorted({t for ts in tables.values() for t in ts})
    rows = source.execute(
        "SELECT c.relname, greatest(c.reltuples, 0)::bigint FROM pg_catalog.pg_class c"
        " WHERE c.oid = ANY(SELECT to_regclass(quote_ident(t)) FROM unnest(%s::text[]) t)",
        [wanted],
    ).fetchall()
    sizes: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
    return {name: sum(sizes.get(t, 0) for t in ts) for name, ts in tables.items()}


def _delete_queued(
    catalogue: Catalogue, session: Session, options: RunOptions, outcome: RunOutcome
) -> None:
    """After every entity's forward pass: the queued rows go, dependants first."""
    target = session.target
    backups, waiting = prune.prune(catalogue, target, options.backup_stamp)
    outcome.backups, outcome.deletions_waiting = backups, waiting
    deleted = {b.entity: b.rows for b in backups}
    for result in outcome.results:
        result.deleted = max(result.deleted, deleted.get(result.entity, 0))
    with target.transaction():
        state.changes.prune(target, state.marks.oldest_changes_seen(target))


def _snapshot_time(source: Conn) -> datetime:
    """The source server's time at the start of the run's snapshot."""
    row = source.execute("SELECT now()").fetchone()
    return row[0] if row and isinstance(row[0], datetime) else datetime.now(UTC)


def _can_fan_out(options: RunOptions) -> bool:
    return (
        options.workers > 1
        and not options.dry_run
        and options.open_source is not None
        and options.open_target is not None
    )


def _export_snapshot(source: Conn) -> str:
    """The source snapshot of the run, for workers to import (SET TRANSACTION SNAPSHOT)."""
    row = source.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    return str(row[0])


def _run_one(catalogue: Catalogue, name: str, session: Session, reporter: Reporter) -> EntityResult:
    """Runs one entity on the session (whose target a retry may replace)."""
    spec = catalogue.entities[name]
    if isinstance(spec, ArchiveSpec):
        return ArchiveRunner(session.source, session.target, session.ctx, reporter).run(spec)
    return EntityRunner(session, reporter).run(spec)


def _run_parallel(
    catalogue: Catalogue,
    names: Sequence[str],
    ctx: RunContext,
    reporter: Reporter,
    outcome: RunOutcome,
    estimates: Mapping[str, int],
) -> None:
    """Runs entities whose dependencies are done on up to `workers` threads, each with its
    own connections; every worker reads the coordinator's exported snapshot, so the whole
    run still sees one consistent source.

    Of the entities that can start, the one with the most rows still depending on it goes
    first (critical path first): in catalogue order, system_messages (three quarters of the
    rows) started after eight seconds of small entities and ran alone at the end. A sync has
    no estimates (its work is what changed) and keeps the catalogue's order."""
    failed = threading.Event()
    worker_ctx = replace(ctx, should_stop=lambda: ctx.should_stop() or failed.is_set())

    def work(name: str) -> EntityResult:
        with worker_session(worker_ctx) as session:
            return _run_one(catalogue, name, session, reporter)

    selected = set(names)
    paths = catalogue.critical_paths(names, estimates)
    position = {name: i for i, name in enumerate(names)}
    pending = sorted(names, key=lambda n: (-paths.get(n, 0), position[n]))
    done: set[str] = set()
    results: dict[str, EntityResult] = {}
    with ThreadPoolExecutor(max_workers=ctx.workers, thread_name_prefix="mdw") as pool:
        running: dict[Future[EntityResult], str] = {}
        error: BaseException | None = None
        while pending or running:
            if error is None and not worker_ctx.should_stop():
                for name in list(pending):
                    if len(running) >= ctx.workers:
                        break
                    deps = [d for d in catalogue.entities[name].deps if d in selected]
                    if all(d in done for d in deps):
                        pending.remove(name)
                        running[pool.submit(work, name)] = name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:  # the first failure stops the others
                    failed.set()
                    error = error or exc
                    continue
                results[name] = result
                if result.status == "completed":
                    done.add(name)
        outcome.results.extend(results[n] for n in names if n in results)
        if error is not None:
            raise error
