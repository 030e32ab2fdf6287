"""What a run shares with every entity it runs: options, the run's identity, and how it
reports. No database work here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg

Conn = psycopg.Connection[tuple[Any, ...]]

# An entity this large has its key range split over the workers, and bigger batches: a
# batch's fixed cost (a dozen statements and a commit) spreads over more rows. Measured on the
# largest entity at scale 0.1 (medians of three): 61,800 rows/s with batches of 5,000, 71,500
# with 50,000; BENCHMARKS.md has the others.
LARGE_ENTITY_ROWS = 200_000
LARGE_BATCH_SIZE = 50_000


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
    # What the batch changed in the target: rows inserted, updated (the unchanged rest were
    # not written), taken out (queued for deletion), kept (--keep-deleted), and rows whose
    # outcome (migrated, excluded, rejected) is not what it was.
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    kept: int = 0
    outcome_changes: int = 0
    # How many more of the entity's rows are mapped after the batch than before it.
    mapped_delta: int = 0


# The target changes an entity's run made, summed over its batches (and its deletions).
CHANGE_COUNTS = ("inserted", "updated", "deleted", "kept", "outcome_changes")


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
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    kept: int = 0
    outcome_changes: int = 0
    # "full": every source row read; "changes": only the buckets that changed (a sync).
    pass_kind: str = "full"
    # The batch size the entity ran with (large entities get bigger batches by default).
    batch_size: int = 0

    def add_changes(self, stats: BatchStats) -> None:
        for name in CHANGE_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(stats, name))

    @property
    def unchanged(self) -> int:
        """Migrated rows the run did not have to write."""
        return max(self.migrated - self.inserted - self.updated, 0)

    @property
    def rows_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def accounted(self) -> bool:
        return self.source_rows == self.migrated + self.excluded + self.rejected


class Reporter(Protocol):
    # Before the first entity: the source rows each entity is expected to read (planner
    # estimates, for an overall ETA), in run order.
    def run_started(self, estimates: dict[str, int]) -> None: ...

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None: ...

    def batch_done(self, stats: BatchStats) -> None: ...

    def entity_done(self, result: EntityResult) -> None: ...


class SilentReporter:
    def run_started(self, estimates: dict[str, int]) -> None:
        return None

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        return None

    def batch_done(self, stats: BatchStats) -> None:
        return None

    def entity_done(self, result: EntityResult) -> None:
        return None


@dataclass
class RunContext:
    run_id: uuid.UUID
    secret: bytes = field(repr=False)
    # The deployment's legacy-id -> UUID layout (state/deployment.py).
    uuid_layout: int = 1
    batch_size: int = 5000
    max_retry_attempts: int = 3
    # True when the operator chose the batch size: it then applies to every entity.
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
    # sync: read only what changed since the last run (fingerprints), where it can.
    incremental: bool = False
    # --keep-deleted: rows whose legacy row is gone stay, marked, instead of being deleted.
    keep_deleted: bool = False
    # Names the migration_backup copies of rows the run deletes.
    backup_stamp: str = "run"
    # When the source snapshot the run reads was taken (the source server's clock).
    snapshot_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def batch_size_for(self, rows: int) -> int:
        """Rows per batch for an entity of `rows` source rows."""
        if self.batch_size_forced or rows < LARGE_ENTITY_ROWS:
            return self.batch_size
        return max(self.batch_size, LARGE_BATCH_SIZE)

    @property
    def parallel(self) -> bool:
        """Whether work can go to workers with connections of their own (a dry run lives in
        one target transaction, so it cannot)."""
        return (
            self.workers > 1
            and not self.dry_run
            and self.snapshot is not None
            and self.open_source is not None
            and self.open_target is not None
        )

    def can_split(self, rows: int) -> bool:
        return self.parallel and rows >= LARGE_ENTITY_ROWS
