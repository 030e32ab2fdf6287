"""`schema apply`: creates or upgrades the target schema, idempotently, and locks it down.

Each `sql/NNN_*.sql` step runs once and is recorded in `migration.schema_versions`;
`functions.sql` and the country aliases are refreshed on every apply. Before anything changes,
the steps still to apply are rehearsed in scratch schemas (rolled back) and every table and
type they would create is compared with what the target already has under that name: a
project that already holds, say, Supabase's quickstart `public.profiles` stops with
`SCHEMA_CONFLICT` naming it, instead of `CREATE TABLE IF NOT EXISTS` silently keeping a table
of another shape. Then every table of the tool gets row-level security and loses every
privilege of the Data API's roles (engine/lockdown.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from .. import state
from ..catalogue import CATALOGUE
from ..engine import lockdown, sqlgen
from ..engine.planner import Catalogue
from ..engine.spec import EntitySpec
from ..errors import Code, CriticalError, MigrationError
from .countries import aliases

Conn = psycopg.Connection[tuple[Any, ...]]
_SQL = resources.files("mdw_migrate.target") / "sql"
# The schemas the steps write to, and the scratch schema each is rehearsed in.
_REHEARSAL = {"public": "mdw_rehearsal_public", "migration": "mdw_rehearsal_migration"}
_QUALIFIED = re.compile(r"\b(public|migration)\.")
_CREATES_SCHEMA = re.compile(r"\bSCHEMA IF NOT EXISTS migration\b")
_PUBLIC_TABLE = re.compile(
    r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?public\.(\w+)", re.IGNORECASE
)


def steps() -> list[tuple[str, str]]:
    files = sorted(
        (f.name, f.read_text("utf-8"))
        for f in _SQL.iterdir()
        if f.name[:3].isdigit() and f.name.endswith(".sql")
    )
    return [(name.removesuffix(".sql"), text) for name, text in files]


def public_tables() -> list[str]:
    """The tables of `public` that the steps create: the data the Data API could serve."""
    return sorted({m for _, text in steps() for m in _PUBLIC_TABLE.findall(text)})


@dataclass(frozen=True)
class Applied:
    steps: list[str]
    # Objects row-level security or a revoke had to be applied to in this run.
    locked: int
    tables: int


def apply(conn: Conn, catalogue: Catalogue = CATALOGUE) -> Applied:
    """Applies what is missing; all or nothing, in one transaction."""
    applied: list[str] = []
    with conn.transaction():
        # One schema change at a time, even if two operators run `schema apply` together.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('mdw-migrate schema apply'))")
        done = set(versions(conn))
        pending = [(v, text) for v, text in steps() if v not in done]
        conflicts = find_conflicts(conn, pending)
        if conflicts:
            raise schema_conflict(conflicts)
        state.versions.ensure(conn)
        for version, text in pending:
            conn.execute(text.encode())
            state.versions.record(conn, version)
            applied.append(version)
        conn.execute((_SQL / "functions.sql").read_text("utf-8").encode())
        state.id_map.create_view(conn, mapped_tables(catalogue))
        _retire_id_map_table(conn)
        state.versions.replace_country_aliases(conn, aliases())
        tables = public_tables()
        locked = lockdown.lock_down(conn, tables)
    return Applied(applied, locked, len(tables))


def mapped_tables(catalogue: Catalogue) -> list[state.id_map.MappedTable]:
    return [sqlgen.mapped(s) for s in catalogue.entities.values() if isinstance(s, EntitySpec)]


def _retire_id_map_table(conn: Conn) -> None:
    """The upgrade of a deployment made before step 012: its id-map table goes only if it
    holds exactly the mappings the target tables hold now (the view); otherwise nothing
    changes, and the operator is told how to find the rows that differ."""
    if conn.execute("SELECT to_regclass('migration.id_map_before_012')").fetchone() == (None,):
        return
    old = "SELECT entity, legacy_id, id FROM migration.id_map_before_012"
    new = "SELECT entity, legacy_id, id FROM migration.id_map"
    row = conn.execute(
        f"SELECT (SELECT count(*) FROM ({old} EXCEPT ALL {new}) AS a),"
        f" (SELECT count(*) FROM ({new} EXCEPT ALL {old}) AS b)"
    ).fetchone()
    missing, extra = (int(row[0]), int(row[1])) if row else (0, 0)
    if missing or extra:
        raise CriticalError(
            code=Code.SCHEMA_INCOMPATIBLE,
            message=(
                "This target's id map does not match its tables:"
                f" {missing} mapping(s) without their target row, {extra} target row(s)"
                " without their mapping. The upgrade to step 012 (the target tables become"
                " the id map) was not applied; nothing was changed"
            ),
            details={"mappedWithoutRow": missing, "rowsWithoutMapping": extra},
            suggestion=(
                "Run 'mdw-migrate validate all' with the version that migrated this target"
                " to find the entities whose id_map check fails, repair or roll them back,"
                " then run 'mdw-migrate schema apply' again"
            ),
        )
    conn.execute("DROP TABLE migration.id_map_before_012")


def versions(conn: Conn) -> list[str]:
    return state.versions.applied(conn)


# ------------------------------------------------------------------ conflicts

_TABLES = """
SELECT n.nspname, c.relname, c.relkind FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""
_ENUMS = """
SELECT n.nspname, t.typname, t.typtype,
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
        WHERE e.enumtypid = t.oid)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = ANY(%s)
  AND (t.typtype IN ('e', 'd', 'r', 'm')
       OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c
                                       WHERE c.oid = t.typrelid AND c.relkind = 'c')))
"""
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""
_UNIQUE = """
SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s::regclass AND i.indisunique GROUP BY i.indexrelid
"""
_FOREIGN = """
SELECT (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey)
          WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
       rn.nspname, r.relname
FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE c.conrelid = %s::regclass AND c.contype = 'f'
"""


@dataclass(frozen=True)
class Shape:
    columns: dict[str, tuple[str, bool]]
    unique: frozenset[tuple[str, ...]]
    foreign: frozenset[tuple[tuple[str, ...], str]]


def _live_name(name: str) -> str:
    """A rehearsal schema's name back to the schema it stands for."""
    for live, rehearsal in _REHEARSAL.items():
        name = name.replace(f"{rehearsal}.", f"{live}.").replace(rehearsal, live)
    return name


def _shape(conn: Conn, qualified: str) -> Shape:
    columns = {
        str(name): (_live_name(str(kind)).removeprefix("public."), bool(notnull))
        for name, kind, notnull in conn.execute(_COLUMNS, [qualified]).fetchall()
    }
    unique = frozenset(tuple(r[0]) for r in conn.execute(_UNIQUE, [qualified]).fetchall())
    foreign = frozenset(
        (tuple(cols), f"{_live_name(str(schema))}.{table}")
        for cols, schema, table in conn.execute(_FOREIGN, [qualified]).fetchall()
    )
    return Shape(columns, unique, foreign)


def _keys(foreign: frozenset[tuple[tuple[str, ...], str]]) -> list[str]:
    return sorted(f"({', '.join(columns)}) -> {table}" for columns, table in foreign)


def _differences(wanted: Shape, found: Shape) -> dict[str, list[str]]:
    """What differs, by kind; column and key names only."""
    both = wanted.columns.keys() & found.columns.keys()
    out = {
        "missingColumns": sorted(wanted.columns.keys() - found.columns.keys()),
        "extraColumns": sorted(found.columns.keys() - wanted.columns.keys()),
        "differentTypes": sorted(
            f"{c}: {found.columns[c][0]} instead of {wanted.columns[c][0]}"
            for c in both
            if wanted.columns[c][0] != found.columns[c][0]
        ),
        "differentNullability": sorted(
            f"{c}: {'NOT NULL' if found.columns[c][1] else 'nullable'}"
            for c in both
            if wanted.columns[c][1] != found.columns[c][1]
        ),
        "missingUniqueKeys": sorted(", ".join(k) for k in wanted.unique - found.unique),
        "extraUniqueKeys": sorted(", ".join(k) for k in found.unique - wanted.unique),
        "missingForeignKeys": _keys(wanted.foreign - found.foreign),
        "extraForeignKeys": _keys(found.foreign - wanted.foreign),
    }
    return {kind: items for kind, items in out.items() if items}


def _rehearsal_text(text: str) -> str:
    text = _CREATES_SCHEMA.sub(f"SCHEMA IF NOT EXISTS {_REHEARSAL['migration']}", text)
    return _QUALIFIED.sub(lambda m: f"{_REHEARSAL[m.group(1)]}.", text)


def find_conflicts(conn: Conn, pending: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Rehearses every step (so later steps see earlier ones) in scratch schemas, rolled
    back, and compares each table and type that a pending step creates with the object of
    the same name that already exists in the target. Only pending steps count: the tables of
    steps applied earlier are the tool's own."""
    if not pending:
        return []
    pending_names = {v for v, _ in pending}
    schemas = list(_REHEARSAL.values())
    conflicts: list[dict[str, Any]] = []
    with conn.transaction(force_rollback=True):
        for schema in schemas:
            conn.execute(f"CREATE SCHEMA {schema}".encode())
        created: set[tuple[str, str]] = set()
        types_created: set[tuple[str, str]] = set()
        for version, text in steps():
            before_tables = {(s, t) for s, t, _ in conn.execute(_TABLES, [schemas]).fetchall()}
            before_types = {(s, t) for s, t, *_ in conn.execute(_ENUMS, [schemas]).fetchall()}
            conn.execute(_rehearsal_text(text).encode())
            if version in pending_names:
                after = {(s, t) for s, t, _ in conn.execute(_TABLES, [schemas]).fetchall()}
                created |= after - before_tables
                after_types = {(s, t) for s, t, *_ in conn.execute(_ENUMS, [schemas]).fetchall()}
                types_created |= after_types - before_types
        live_schemas = list(_REHEARSAL)
        live_tables = {
            (str(s), str(t)): str(k) for s, t, k in conn.execute(_TABLES, [live_schemas]).fetchall()
        }
        for rehearsal_schema, table in sorted(created):
            live = f"{_live_name(rehearsal_schema)}.{table}"
            kind = live_tables.get((_live_name(rehearsal_schema), table))
            if kind is None:
                continue
            if kind not in ("r", "p"):
                conflicts.append({"table": live, "differs": {"kind": [f"relkind {kind}"]}})
                continue
            wanted = _shape(conn, f"{rehearsal_schema}.{table}")
            differs = _differences(wanted, _shape(conn, live))
            if differs:
                conflicts.append({"table": live, "differs": differs})
        rehearsal_types = {
            (str(s), str(t)): (str(k), e) for s, t, k, e in conn.execute(_ENUMS, [schemas])
        }
        live_types = {
            (str(s), str(t)): (str(k), e) for s, t, k, e in conn.execute(_ENUMS, [live_schemas])
        }
        for rehearsal_schema, name in sorted(types_created):
            found = live_types.get((_live_name(rehearsal_schema), name))
            wanted_type = rehearsal_types[(rehearsal_schema, name)]
            if found is not None and found != wanted_type:
                conflicts.append(
                    {
                        "type": f"{_live_name(rehearsal_schema)}.{name}",
                        "differs": {"labels": [", ".join(found[1] or [])]},
                    }
                )
    return conflicts


def schema_conflict(conflicts: list[dict[str, Any]]) -> MigrationError:
    names = [c.get("table") or c.get("type") for c in conflicts]
    first = conflicts[0]
    summary = "; ".join(
        f"{kind}: {', '.join(items[:6])}{' ...' if len(items) > 6 else ''}"
        for kind, items in first["differs"].items()
    )
    return CriticalError(
        code=Code.SCHEMA_CONFLICT,
        message=(
            f"{len(conflicts)} object(s) the tool would create already exist with another"
            f" shape: {', '.join(str(n) for n in names)}. {names[0]} {summary}."
            " Nothing was changed"
        ),
        details={"conflicts": conflicts},
        suggestion=(
            "Migrate into a fresh Supabase project, or move the existing object out of the way"
            " (for Supabase's 'User Management' quickstart: keep a copy of public.profiles if"
            " it holds anything, then DROP TABLE public.profiles CASCADE), then run"
            " 'mdw-migrate schema apply' again"
        ),
    )
