"""Rollback: removes exactly the rows the tool created for some entities, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import MigrationError
from . import bulk, control, sqlgen
from .archive import ArchiveSpec
from .planner import Catalogue

Conn = psycopg.Connection[tuple[Any, ...]]


def check_rollback(catalogue: Catalogue, names: Sequence[str], target: Conn) -> None:
    states = control.entity_states(target)
    blocking = sorted(d for d in catalogue.dependents(names) if d not in names and d in states)
    if blocking:
        raise MigrationError(
            code="DEPENDENTS_EXIST",
            message=f"{', '.join(blocking)} still depend on {', '.join(names)}",
            details={"dependents": blocking},
            suggestion=f"Roll back {', '.join(blocking)} first, or include them in the command",
        )


def rollback(catalogue: Catalogue, names: Sequence[str], target: Conn) -> dict[str, int]:
    """Deletes, in reverse dependency order, each entity's target rows that the id map says the
    tool created, then its id-map rows, outcomes, issues and progress. One transaction."""
    check_rollback(catalogue, names, target)
    removed: dict[str, int] = {}
    with target.transaction():
        for name in reversed(catalogue.order(names)):
            spec = catalogue.entities[name]
            if isinstance(spec, ArchiveSpec):
                removed[name] = _drop_archive(target)
                target.execute("DELETE FROM migration.entity_progress WHERE entity = %s", [name])
                continue
            bulk.restore(target, name)
            cur = target.execute(
                f"DELETE FROM public.{sqlgen.q(spec.target)} t USING migration.id_map m"
                " WHERE m.entity = %s AND m.id = t.id",
                [name],
            )
            removed[name] = max(cur.rowcount, 0)
            for table in ("id_map", "row_outcomes", "quality_issues", "entity_progress"):
                target.execute(f"DELETE FROM migration.{table} WHERE entity = %s", [name])
    return removed


def _drop_archive(target: Conn) -> int:
    """The legacy_archive schema is the tool's own: its tables go with their rows."""
    tables = [
        r[0]
        for r in target.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'legacy_archive'"
        ).fetchall()
    ]
    removed = 0
    for table in tables:
        cur = target.execute(f"DELETE FROM legacy_archive.{sqlgen.q(table)}".encode())
        removed += max(cur.rowcount, 0)
        target.execute(f"DROP TABLE legacy_archive.{sqlgen.q(table)}".encode())
    return removed
