"""Pre-flight: both databases have what the planned entities read and write."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from .. import state
from ..errors import schema_incompatible
from .spec import EntitySpec

Conn = psycopg.Connection[tuple[Any, ...]]

# Every target table carries these (mapping.md, rule 10).
CONVENTION_COLUMNS = ("id", "metadata", "created_at", "updated_at")


def _columns(conn: Conn, schema: str, tables: Iterable[str]) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = ANY(%s)",
        [schema, sorted(set(tables))],
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def _missing(needed: dict[str, set[str]], found: dict[str, set[str]]) -> list[str]:
    missing: list[str] = []
    for table in sorted(needed):
        if table not in found:
            missing.append(f"table {table}")
            continue
        missing += [f"column {table}.{c}" for c in sorted(needed[table] - found[table])]
    return missing


def source_needs(specs: Iterable[EntitySpec]) -> dict[str, set[str]]:
    needed: dict[str, set[str]] = {}
    for spec in specs:
        for table, columns in spec.source.reads.items():
            needed.setdefault(table, set()).update(columns)
    return needed


def target_needs(specs: Iterable[EntitySpec]) -> dict[str, set[str]]:
    needed: dict[str, set[str]] = {}
    for spec in specs:
        cols = {*CONVENTION_COLUMNS, spec.legacy_column, *spec.target_columns()}
        needed.setdefault(spec.target, set()).update(cols)
    return needed


def check_source(conn: Conn, specs: Iterable[EntitySpec]) -> None:
    needed = source_needs(specs)
    missing = _missing(needed, _columns(conn, "public", needed))
    if missing:
        raise schema_incompatible("source", missing)


def check_target(conn: Conn, specs: Iterable[EntitySpec]) -> None:
    needed = target_needs(specs)
    missing = _missing(needed, _columns(conn, "public", needed))
    found = _columns(conn, state.SCHEMA, state.RUN_TABLES)
    missing += [f"table {state.SCHEMA}.{t}" for t in state.RUN_TABLES if t not in found]
    if missing:
        raise schema_incompatible("target", missing)
