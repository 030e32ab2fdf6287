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
from .spec import EntitySpec

Conn = psycopg.Connection[tuple[Any, ...]]


def check_rollback(catalogue: Catalogue, names: Sequence[str], target: Conn) -> None:
    states = state.progress.states(target)
    blocking = sorted(d for d in catalogue.dependents(names) if d not in names and d in states)
    if blocking:
        shown = ", ".join(blocking[:5]) + (
            f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        )
        # The smallest phase that takes the dependants along, rather than a list of them.
        wider = next(
            (
                phase
                for phase, members in catalogue.phases.items()
                if set(names) | set(blocking) <= set(members)
            ),
            "all",
        )
        raise CriticalError(
            code=Code.DEPENDENTS_EXIST,
            message=f"{len(blocking)} migrated entities depend on the selection ({shown})",
            details={"dependents": blocking},
            suggestion=f"Roll them back together: mdw-migrate rollback {wider}",
        )


def made_by_tool(
    spec: EntitySpec, target: Conn, secret_env: str | None
) -> tuple[str, dict[str, Any]]:
    """(SQL condition on a row `t` of the entity's table, its parameters): the row's UUID is
    the one the deployment's secret derives from its legacy id, so the tool made it. A row
    written by hand or by an application into the table is never removed."""
    secret = state.deployment.existing_id_secret(target, secret_env)
    legacy = sqlgen.q(spec.legacy_column)
    params = {
        "secret": secret or b"",
        "entity": spec.name,
        "uuid_layout": state.deployment.uuid_layout(target),
    }
    # Without a deployment key nothing was migrated here: no row is the tool's.
    condition = sqlgen.made_by_tool("t", f"t.{legacy}") if secret else "false"
    return condition, params


def rows_to_remove(
    catalogue: Catalogue, names: Sequence[str], target: Conn, secret_env: str | None = None
) -> dict[str, int]:
    """Per entity, in the order rollback removes them, the rows it would remove: the mapped
    ones (rows kept by --keep-deleted stay mapped) and those a sync queued for deletion,
    which are all the rows the tool made in the entity's table."""
    counts = {}
    for name in reversed(catalogue.order(names)):
        spec = catalogue.entities[name]
        if isinstance(spec, ArchiveSpec):
            counts[name] = _archive_rows(target)
        else:
            made = made_by_tool(spec, target, secret_env)
            counts[name] = state.id_map.tool_rows(target, sqlgen.mapped(spec), *made)
    return counts


def rollback(
    catalogue: Catalogue,
    names: Sequence[str],
    target: Conn,
    stamp: str,
    secret_env: str | None = None,
) -> list[Backup]:
    """Deletes, in reverse dependency order, each entity's target rows (which are its id map),
    then its outcomes, issues and progress; all in one transaction.

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
                if _archive_rows(target):
                    backups.append(_move_archive(target, name, stamp))
                else:
                    for table in _archive_tables(target):  # empty: nothing to keep
                        target.execute(f"DROP TABLE legacy_archive.{sqlgen.q(table)}".encode())
                state.progress.forget(target, name)
                continue
            bulk.restore(target, name)
            if name in pending:
                # Rows a sync took out of the id map but has not deleted yet.
                backups.append(prune.delete_pending(target, spec, f"{stamp}_pending"))
            # An entity with nothing migrated leaves no empty copy behind; its state goes.
            # The copy is taken first, and the rows it holds are deleted: each row's UUID is
            # derived once, not once more to delete it.
            mapped = sqlgen.mapped(spec)
            copy = f"migration_backup.{sqlgen.q(f'{name}__{stamp}')}"
            state.id_map.copy_rows(target, mapped, copy, *made_by_tool(spec, target, secret_env))
            backup = describe(target, name, copy, sqlgen.q(spec.legacy_column))
            if backup.rows:
                backups.append(backup)
                state.id_map.delete_copied(target, mapped, copy)
            else:
                target.execute(f"DROP TABLE {copy}".encode())
            for part in (
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


def _archive_tables(target: Conn) -> list[str]:
    return [
        r[0]
        for r in target.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'legacy_archive'"
            " ORDER BY 1"
        ).fetchall()
    ]


def _archive_rows(target: Conn) -> int:
    return sum(
        int(r[0])
        if (
            r := target.execute(
                f"SELECT count(*) FROM legacy_archive.{sqlgen.q(t)}".encode()
            ).fetchone()
        )
        else 0
        for t in _archive_tables(target)
    )


def _move_archive(target: Conn, entity: str, stamp: str) -> Backup:
    """The legacy_archive schema is the tool's own: its tables move to the backup schema."""
    tables = _archive_tables(target)
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
