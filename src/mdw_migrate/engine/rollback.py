"""Rollback: removes exactly the rows the tool created for some entities, newest first."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg

from .. import state
from ..errors import Code, CriticalError
from . import bulk, lockdown, prune, sqlgen
from .archive import ArchiveSpec
from .backup import Backup, describe
from .planner import Catalogue

Conn = psycopg.Connection[tuple[Any, ...]]


def check_rollback(catalogue: Catalogue, names: Sequence[str], target: Conn) -> None:
    states = state.progress.states(target)
    blocking = sorted(d for d in catalogue.dependents(names) if d not in names and d in states)
    if blocking:
        raise CriticalError(
            code=Code.DEPENDENTS_EXIST,
            message=f"{', '.join(blocking)} still depend on {', '.join(names)}",
            details={"dependents": blocking},
            suggestion=f"Roll back {', '.join(blocking)} first, or include them in the command",
        )


def rollback(catalogue: Catalogue, names: Sequence[str], target: Conn, stamp: str) -> list[Backup]:
    """Deletes, in reverse dependency order, each entity's target rows that the id map says the
    tool created, then its id-map rows, outcomes, issues and progress; all in one transaction.

    Before deleting, the rows are copied to `migration_backup.<entity>__<stamp>` (archive
    tables are moved there), so an operator can see or restore what was there.
    """
    check_rollback(catalogue, names, target)
    backups: list[Backup] = []
    with state.runs.exclusive(target), target.transaction():
        target.execute("CREATE SCHEMA IF NOT EXISTS migration_backup")
        pending = state.deletions.entities(target)
        for name in reversed(catalogue.order(names)):
            spec = catalogue.entities[name]
            if isinstance(spec, ArchiveSpec):
                backups.append(_move_archive(target, name, stamp))
                state.progress.forget(target, name)
                continue
            bulk.restore(target, name)
            if name in pending:
                # Rows a sync took out of the id map but has not deleted yet.
                backups.append(prune.delete_pending(target, spec, f"{stamp}_pending"))
            copy = f"migration_backup.{sqlgen.q(f'{name}__{stamp}')}"
            table = f"public.{sqlgen.q(spec.target)}"
            state.id_map.copy_rows(target, name, table, copy)
            backups.append(describe(target, name, copy, sqlgen.q(spec.legacy_column)))
            state.id_map.delete_rows(target, name, table)
            for part in (
                state.id_map,
                state.outcomes,
                state.issues,
                state.progress,
                state.fingerprints,
                state.deletions,
                state.marks,
            ):
                part.forget(target, name)
        # The copies hold patients' and payments' rows: locked before they are visible.
        lockdown.lock_down(target)
    return backups


def _move_archive(target: Conn, entity: str, stamp: str) -> Backup:
    """The legacy_archive schema is the tool's own: its tables move to the backup schema."""
    tables = [
        r[0]
        for r in target.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'legacy_archive'"
            " ORDER BY 1"
        ).fetchall()
    ]
    rows, low, high, sums, copies = 0, None, None, [], []
    for table in tables:
        copy_name = f"legacy_archive__{table}__{stamp}"
        target.execute(
            f"ALTER TABLE legacy_archive.{sqlgen.q(table)} SET SCHEMA migration_backup".encode()
        )
        moved = f"migration_backup.{sqlgen.q(table)}"
        target.execute(f"ALTER TABLE {moved} RENAME TO {sqlgen.q(copy_name)}".encode())
        part = describe(target, entity, f"migration_backup.{sqlgen.q(copy_name)}", "legacy_id")
        rows += part.rows
        low = part.legacy_id_min if low is None else min(low, part.legacy_id_min or low)
        high = part.legacy_id_max if high is None else max(high, part.legacy_id_max or high)
        sums.append(part.checksum)
        copies.extend(part.restorable_copy)
    checksum = "md5:" + hashlib.md5("".join(sums).encode()).hexdigest()
    return Backup(entity, rows, low, high, checksum, copies)
