"""The legacy archive: legacy tables that no entity reads, copied row for row as jsonb.

`legacy_archive.<table>(legacy_id bigint primary key, row jsonb, archived_at)`, whatever the
table's columns are, so that no legacy table is lost. Same keyset batches and per-batch
transaction as the entity runner; no UUIDs, no id map (nothing references an archived row).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from .. import state
from ..errors import Code, CriticalError
from ..state import MAX_KEY, MIN_KEY, BatchKeys
from . import lockdown, staging
from .context import BatchStats, EntityResult, Reporter, RunContext
from .sqlgen import q

log = logging.getLogger("mdw_migrate.archive")
Conn = psycopg.Connection[tuple[Any, ...]]
LEGACY_PREFIXES = ("dispatch_", "auth_", "django_")


@dataclass(frozen=True)
class ArchiveSpec:
    name: str
    # The tables mapping.md lists for the archive; any other legacy table that no entity
    # reads is archived too (`known` names every table some entity or this list owns).
    tables: tuple[str, ...]
    known: frozenset[str]
    description: str = "legacy_archive.<table> <- every legacy table no entity reads"
    deps: tuple[str, ...] = ()

    def tables_in(self, source: Conn) -> list[str]:
        rows = source.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
        present = [r[0] for r in rows]
        unlisted = [t for t in present if t.startswith(LEGACY_PREFIXES) and t not in self.known]
        return [t for t in self.tables if t in present] + unlisted


def _has_integer_id(source: Conn, table: str) -> bool:
    row = source.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = %s AND column_name = 'id'",
        [table],
    ).fetchone()
    return bool(row) and row[0] in {"integer", "bigint", "smallint"}  # type: ignore[index]


class ArchiveRunner:
    def __init__(self, source: Conn, target: Conn, ctx: RunContext, reporter: Reporter) -> None:
        self.source = source
        self.target = target
        self.ctx = ctx
        self.reporter = reporter

    def run(self, spec: ArchiveSpec) -> EntityResult:
        started = time.perf_counter()
        tables = spec.tables_in(self.source)
        for table in tables:
            if not _has_integer_id(self.source, table):
                raise CriticalError(
                    code=Code.ARCHIVE_NO_ID,
                    entity=spec.name,
                    message=f"legacy table {table} has no integer id column to archive by",
                    details={"table": table},
                    suggestion="Archive it by hand (pg_dump -t) or add it to an entity",
                )
        counts = {t: self._count(t) for t in tables}
        total = sum(counts.values())
        result = EntityResult(entity=spec.name, source_rows=total, batch_size=self.ctx.batch_size)
        with self.target.transaction():
            self.target.execute("CREATE SCHEMA IF NOT EXISTS legacy_archive")
            for table in tables:
                self.target.execute(
                    f"CREATE TABLE IF NOT EXISTS legacy_archive.{q(table)} ("
                    " legacy_id bigint PRIMARY KEY, row jsonb NOT NULL,"
                    " archived_at timestamptz NOT NULL DEFAULT now())".encode()
                )
            # New archive tables are locked in the transaction that creates them.
            lockdown.lock_down(self.target)
            self.target.execute(
                "CREATE TEMP TABLE IF NOT EXISTS mdw_archive_stage (legacy_id bigint, row jsonb)"
            )
            state.progress.begin(self.target, spec.name, self.ctx.run_id, total)
        self.reporter.entity_started(spec.name, total, self.ctx.batch_size)
        batch_no = 0
        for table in tables:
            last: int | None = None
            while not self.ctx.should_stop():
                stats = self._batch(spec, table, batch_no + 1, last)
                if stats is None:
                    break
                batch_no += 1
                last = stats.last_key
                result.processed += stats.rows
                result.add_changes(stats)
                self.reporter.batch_done(stats)
                if stats.rows < self.ctx.batch_size:
                    break
        stopped = self.ctx.should_stop()
        with self.target.transaction():
            archived = sum(self._archived(t) for t in tables)
            state.progress.set_counts(
                self.target,
                spec.name,
                {"migrated": archived},
                completed=not stopped,
                batches=batch_no,
            )
        result.migrated = archived
        result.batches = batch_no
        result.status = "interrupted" if stopped else "completed"
        result.seconds = time.perf_counter() - started
        self.reporter.entity_done(result)
        log.info(
            "entity finished",
            extra={
                "entity": spec.name,
                "action": "entity_finished",
                "details": {"tables": len(tables), "sourceRows": total, "archived": archived},
            },
        )
        return result

    def _count(self, table: str) -> int:
        row = self.source.execute(f"SELECT count(*) FROM public.{q(table)}".encode()).fetchone()
        return int(row[0]) if row else 0

    def _archived(self, table: str) -> int:
        row = self.target.execute(
            f"SELECT count(*) FROM legacy_archive.{q(table)}".encode()
        ).fetchone()
        return int(row[0]) if row else 0

    def _batch(
        self, spec: ArchiveSpec, table: str, batch_no: int, last: int | None
    ) -> BatchStats | None:
        started = time.perf_counter()
        where = "" if last is None else f" WHERE t.id > {int(last)}"
        query = (
            f"COPY (SELECT t.id::bigint, to_jsonb(t) FROM public.{q(table)} AS t{where}"
            f" ORDER BY t.id LIMIT {int(self.ctx.batch_size)}) TO STDOUT (FORMAT BINARY)"
        )
        with self.target.transaction():
            self.target.execute("TRUNCATE pg_temp.mdw_archive_stage")
            rows = staging.pipe(
                self.source,
                self.target,
                query,
                "COPY pg_temp.mdw_archive_stage FROM STDIN (FORMAT BINARY)",
            )
            row = self.target.execute(
                "SELECT max(legacy_id) FROM pg_temp.mdw_archive_stage"
            ).fetchone()
            hi = int(row[0]) if row and row[0] is not None else 0
            # The batch owns the keys up to its last one; the last batch all the rest.
            owned_to = hi if rows >= self.ctx.batch_size else MAX_KEY
            deleted = self._delete_vanished(table, MIN_KEY if last is None else last, owned_to)
            if rows == 0:
                return (
                    None
                    if not deleted
                    else BatchStats(
                        spec.name, batch_no, 0, 0, 0, 0, last or 0, 0.0, deleted=deleted
                    )
                )
            written = self.target.execute(
                f"WITH w AS (INSERT INTO legacy_archive.{q(table)} AS a (legacy_id, row)"
                " SELECT legacy_id, row FROM pg_temp.mdw_archive_stage"
                " ON CONFLICT (legacy_id) DO UPDATE SET row = EXCLUDED.row,"
                " archived_at = now() WHERE a.row IS DISTINCT FROM EXCLUDED.row"
                " RETURNING (a.xmax = 0) AS inserted) SELECT count(*) FILTER (WHERE inserted),"
                " count(*) FILTER (WHERE NOT inserted) FROM w".encode()
            ).fetchone()
            inserted, updated = (int(written[0]), int(written[1])) if written else (0, 0)
            keys = BatchKeys(spec.name, self.ctx.run_id, batch_no, hi=hi)
            state.progress.checkpoint(self.target, keys)
        return BatchStats(
            entity=spec.name,
            batch_no=batch_no,
            rows=rows,
            migrated=rows,
            excluded=0,
            rejected=0,
            last_key=hi,
            seconds=time.perf_counter() - started,
            inserted=inserted,
            updated=updated,
            deleted=deleted,
        )

    def _delete_vanished(self, table: str, lo: int, hi: int) -> int:
        """Archived rows of (lo, hi] the legacy table no longer has: moved to
        migration_backup.legacy_archive__<table>__<stamp> (created when first needed)."""
        archived = f"legacy_archive.{q(table)}"
        vanished = (
            f"FROM {archived} a WHERE a.legacy_id > {int(lo)} AND a.legacy_id <= {int(hi)}"
            " AND NOT EXISTS (SELECT 1 FROM pg_temp.mdw_archive_stage s"
            " WHERE s.legacy_id = a.legacy_id)"
        )
        found = self.target.execute(f"SELECT EXISTS (SELECT 1 {vanished})".encode()).fetchone()
        if not found or not found[0]:
            return 0
        copy = f"migration_backup.{q(f'legacy_archive__{table}__{self.ctx.backup_stamp}')}"
        self.target.execute("CREATE SCHEMA IF NOT EXISTS migration_backup")
        self.target.execute(
            f"CREATE TABLE IF NOT EXISTS {copy} (LIKE {archived} INCLUDING DEFAULTS)".encode()
        )
        lockdown.lock_down(self.target)
        moved = self.target.execute(
            f"WITH d AS (DELETE FROM {archived} AS a USING (SELECT a.legacy_id {vanished}) AS v"
            f" WHERE a.legacy_id = v.legacy_id RETURNING a.*) INSERT INTO {copy}"
            " SELECT * FROM d".encode()
        ).rowcount
        return max(moved, 0)


def validate_archive(spec: ArchiveSpec, source: Conn, target: Conn) -> dict[str, tuple[int, int]]:
    """Per archived table: (legacy rows, archived rows)."""
    tables: Sequence[str] = spec.tables_in(source)
    out: dict[str, tuple[int, int]] = {}
    for table in tables:
        src = source.execute(f"SELECT count(*) FROM public.{q(table)}".encode()).fetchone()
        exists = target.execute("SELECT to_regclass(%s)", [f"legacy_archive.{q(table)}"]).fetchone()
        archived = 0
        if exists and exists[0]:
            row = target.execute(
                f"SELECT count(*) FROM legacy_archive.{q(table)}".encode()
            ).fetchone()
            archived = int(row[0]) if row else 0
        out[table] = (int(src[0]) if src else 0, archived)
    return out
