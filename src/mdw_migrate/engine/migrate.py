"""One migration run: pre-flight, dependency check, then each entity in dependency order."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from .. import __version__
from . import control, preflight
from .archive import ArchiveRunner, ArchiveSpec
from .planner import Catalogue
from .runner import EntityResult, EntityRunner, Reporter, RunContext
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

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" for r in self.results)


@dataclass(frozen=True)
class RunOptions:
    batch_size: int
    batch_size_forced: bool
    max_retry_attempts: int
    dry_run: bool
    id_secret_env: str | None
    command: str
    arguments: dict[str, Any]
    source_identity: dict[str, Any]
    target_identity: dict[str, Any]
    should_stop: Callable[[], bool] = lambda: False


def migrate(
    catalogue: Catalogue,
    names: Sequence[str],
    source: Conn,
    target: Conn,
    options: RunOptions,
    reporter: Reporter,
) -> RunOutcome:
    specs = [s for n in names if isinstance(s := catalogue.entities[n], EntitySpec)]
    preflight.check_source(source, specs)
    preflight.check_target(target, specs)
    catalogue.check_dependencies(names, control.entity_states(target))
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
        secret = control.id_secret(target, options.id_secret_env)
        run_id = control.start_run(
            target,
            options.command,
            options.arguments,
            __version__,
            options.source_identity,
            options.target_identity,
        )
    outcome = RunOutcome(
        run_id=run_id, entities=list(names), started_at=datetime.now(UTC), dry_run=options.dry_run
    )
    ctx = RunContext(
        run_id=run_id,
        secret=secret,
        batch_size=options.batch_size,
        batch_size_forced=options.batch_size_forced,
        max_retry_attempts=options.max_retry_attempts,
        dry_run=options.dry_run,
        should_stop=options.should_stop,
    )
    runner = EntityRunner(source, target, ctx, reporter)
    archiver = ArchiveRunner(source, target, ctx, reporter)
    status = "failed"
    try:
        for name in names:
            spec = catalogue.entities[name]
            if isinstance(spec, ArchiveSpec):
                outcome.results.append(archiver.run(spec))
            else:
                outcome.results.append(runner.run(spec))
            if outcome.interrupted:
                break
        status = "interrupted" if outcome.interrupted else "completed"
    finally:
        outcome.ended_at = datetime.now(UTC)
        if not target.broken and target.info.transaction_status != TransactionStatus.INERROR:
            with target.transaction():
                target.execute("SET LOCAL synchronous_commit = on")
                final = "dry_run" if options.dry_run else status
                control.end_run(target, run_id, final, _counts(outcome))
    return outcome


def _counts(outcome: RunOutcome) -> dict[str, Any]:
    return {
        r.entity: {
            "source": r.source_rows,
            "migrated": r.migrated,
            "excluded": r.excluded,
            "rejected": r.rejected,
        }
        for r in outcome.results
    }
