"""Rollback: removes exactly the rows the tool created for some entities, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..errors import MigrationError
from . import control, sqlgen
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
            cur = target.execute(
                f"DELETE FROM public.{sqlgen.q(spec.target)} t USING migration.id_map m"
                " WHERE m.entity = %s AND m.id = t.id",
                [name],
            )
            removed[name] = max(cur.rowcount, 0)
            for table in ("id_map", "row_outcomes", "quality_issues", "entity_progress"):
                target.execute(f"DELETE FROM migration.{table} WHERE entity = %s", [name])
    return removed
