"""The end of a run: the target rows that no longer migrate (their legacy row is gone, or it
is now excluded or rejected) are deleted, dependants first, in reverse dependency order.

A batch has already taken them out of the id map, so every dependant run after it saw the
parent missing and was rejected, or lost the reference (rule 5). Each entity's rows are
copied to `migration_backup.<entity>__<stamp>` in the transaction that deletes them, as a
rollback does, so nothing is lost and a crash leaves them queued for the next run.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from .. import state
from . import lockdown, sqlgen
from .backup import Backup, describe
from .planner import Catalogue
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.prune")
Conn = psycopg.Connection[tuple[Any, ...]]


def prune(catalogue: Catalogue, target: Conn, stamp: str) -> tuple[list[Backup], list[str]]:
    """(backups of what was deleted, entities whose rows wait because a dependant that this
    run did not bring up to date still names them)."""
    pending = state.deletions.entities(target)
    backups: list[Backup] = []
    waiting: list[str] = []
    for name in reversed(catalogue.order([n for n in catalogue.entities if n in pending])):
        spec = catalogue.entities[name]
        if not isinstance(spec, EntitySpec):
            continue
        try:
            with target.transaction():
                backups.append(delete_pending(target, spec, stamp))
        except psycopg.errors.ForeignKeyViolation:
            waiting.append(name)
            log.warning(
                "deletions wait for dependants",
                extra={
                    "entity": name,
                    "action": "prune_waiting",
                    "details": {"rows": pending[name]},
                },
            )
    return backups, waiting


def delete_pending(target: Conn, spec: EntitySpec, stamp: str) -> Backup:
    """Copies the entity's queued rows to the backup schema, locks the copy (it holds
    patients' and payments' rows), then deletes them; in the caller's transaction."""
    copy = f"migration_backup.{sqlgen.q(f'{spec.name}__{stamp}')}"
    table = f"public.{sqlgen.q(spec.target)}"
    target.execute("CREATE SCHEMA IF NOT EXISTS migration_backup")
    state.deletions.copy_rows(target, spec.name, table, copy)
    lockdown.lock_down(target)
    backup = describe(target, spec.name, copy, sqlgen.q(spec.legacy_column))
    deleted = state.deletions.delete_rows(target, spec.name, table)
    log.info(
        "rows deleted",
        extra={
            "entity": spec.name,
            "action": "prune",
            "details": {"rows": deleted, "backup": copy},
        },
    )
    return backup
