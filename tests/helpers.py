"""Test helpers: run the engine in-process against real databases, read rows as dicts."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from mdw_migrate import state
from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.context import BatchStats, EntityResult, Reporter
from mdw_migrate.engine.migrate import RunOptions, RunOutcome, migrate
from mdw_migrate.legacy.generator import GenerationReport
from mdw_migrate.target import schema


class QuietReporter:
    def __init__(self) -> None:
        self.batches: list[BatchStats] = []
        self.results: list[EntityResult] = []

    def run_started(self, estimates: dict[str, int]) -> None:
        return None

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        return None

    def batch_done(self, stats: BatchStats) -> None:
        self.batches.append(stats)

    def entity_done(self, result: EntityResult) -> None:
        self.results.append(result)


def run_options(batch_size: int = 50, **overrides: Any) -> RunOptions:
    """RunOptions with the tests' defaults: a forced batch size, no secret, no identities."""
    defaults: dict[str, Any] = {
        "batch_size": batch_size,
        "batch_size_forced": True,
        "max_retry_attempts": 2,
        "dry_run": False,
        "id_secret_env": None,
        "command": "test",
        "arguments": {},
        "source_identity": {},
        "target_identity": {},
    }
    return RunOptions(**{**defaults, **overrides})


def run(
    source_conninfo: str,
    target_conninfo: str,
    selection: str,
    *,
    batch_size: int = 50,
    dry_run: bool = False,
    workers: int = 1,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    reporter: Reporter | None = None,
    incremental: bool = False,
    keep_deleted: bool = False,
) -> RunOutcome:
    names = CATALOGUE.resolve(selection)
    if incremental:
        with psycopg.connect(target_conninfo, autocommit=True) as conn:
            names = CATALOGUE.with_dependents(names, state.progress.states(conn))
    options = run_options(
        batch_size,
        dry_run=dry_run,
        incremental=incremental,
        keep_deleted=keep_deleted,
        command=f"{'sync' if incremental else 'migrate'} {selection}",
        arguments={"selection": selection},
        source_identity={"database": "test-source"},
        target_identity={"database": "test-target"},
        workers=workers,
        resume=resume,
        should_stop=should_stop,
        open_source=lambda: _open_source(source_conninfo),
        open_target=lambda: psycopg.connect(target_conninfo, autocommit=True),
    )
    with (
        psycopg.connect(source_conninfo) as source,
        psycopg.connect(target_conninfo, autocommit=True) as target,
    ):
        source.read_only = True
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        return migrate(CATALOGUE, names, source, target, options, reporter or QuietReporter())


def sync(source_conninfo: str, target_conninfo: str, selection: str, **kw: Any) -> RunOutcome:
    """`mdw-migrate sync <selection>` through the engine (the selection's migrated
    dependants included, as the command does)."""
    return run(source_conninfo, target_conninfo, selection, incremental=True, **kw)


def _open_source(conninfo: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo)
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def rows(conninfo: str, query: str, *params: object) -> list[dict[str, Any]]:
    with psycopg.connect(conninfo) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, list(params) if params else None)
        return cur.fetchall()


def by_key(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {item[key]: item for item in items}


def scalar(conninfo: str, query: str, *params: object) -> Any:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query, list(params) if params else None).fetchone()
        assert row is not None
        return row[0]


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def schemes_kind(raw: str | None) -> str:
    """How a legacy `schemes` text reads: null, json, literal (a Python literal) or garbage."""
    if raw is None:
        return "null"
    if is_json(raw):
        return "json"
    try:
        ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return "garbage"
    return "literal"


def json_objects(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def contract_error(output: str) -> dict[str, Any]:
    """The one error object of a `--json` output, checked to be followed by the closing
    summary that reports the same error."""
    objects = json_objects(output)
    errors = [o for o in objects if o.get("status") == "error" and "error" in o]
    assert len(errors) == 1, objects
    summary = objects[-1]
    assert summary["status"] == "error" and "summary" in summary, summary
    assert summary["summary"]["error"] == errors[0]["error"]["code"]
    return errors[0]


# --- a generated legacy database, a fresh target, and what the tool recorded there ----------


@dataclass
class Legacy:
    """A generated legacy database and its generator's report (row counts, quirk counts)."""

    conninfo: str
    report: GenerationReport

    @property
    def quirks(self) -> dict[str, int]:
        return self.report.quirks


def fresh_target(create_database: Callable[[str], str], prefix: str = "dst") -> str:
    """A new database with the target schema applied."""
    conninfo = create_database(prefix)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema.apply(conn)
    return conninfo


def outcomes(target: str, entity: str) -> dict[int, str]:
    """Legacy id -> reason code of every excluded or rejected row of the entity."""
    found = rows(
        target,
        "SELECT legacy_id, reason_code FROM migration.row_outcomes WHERE entity = %s",
        entity,
    )
    return {r["legacy_id"]: r["reason_code"] for r in found}


def issues_by_column(target: str, entity: str) -> dict[tuple[str, str], set[int]]:
    """(kind, column) -> legacy ids of the entity's data-quality issues."""
    found: dict[tuple[str, str], set[int]] = {}
    for r in rows(
        target,
        "SELECT legacy_id, kind, column_name FROM migration.quality_issues WHERE entity = %s",
        entity,
    ):
        found.setdefault((r["kind"], r["column_name"]), set()).add(r["legacy_id"])
    return found


def issue_ids(target: str, entity: str, kind: str, column: str) -> set[int]:
    return issues_by_column(target, entity).get((kind, column), set())


def uuids(target: str, table: str, legacy_column: str) -> dict[int, Any]:
    """Legacy id -> UUID of the rows of a target table."""
    return {r["k"]: r["id"] for r in rows(target, f"SELECT {legacy_column} AS k, id FROM {table}")}


def point_at(monkeypatch: pytest.MonkeyPatch, **sides: str) -> None:
    """Points SOURCE_DB_* / TARGET_DB_* (keyword `source`, `target`) at these conninfos, as
    an operator's environment would: host, port, user and database name."""
    for side, conninfo in sides.items():
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
        for key, name in (("host", "HOST"), ("port", "PORT"), ("user", "USER"), ("dbname", "NAME")):
            if parts.get(key) is not None:
                monkeypatch.setenv(f"{side.upper()}_DB_{name}", str(parts[key]))
