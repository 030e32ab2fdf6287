"""Test helpers: run the engine in-process against real databases, read rows as dicts."""

from __future__ import annotations

import ast
import json
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.context import BatchStats, EntityResult
from mdw_migrate.engine.migrate import RunOptions, RunOutcome, migrate


class QuietReporter:
    def __init__(self) -> None:
        self.batches: list[BatchStats] = []
        self.results: list[EntityResult] = []

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        return None

    def batch_done(self, stats: BatchStats) -> None:
        self.batches.append(stats)

    def entity_done(self, result: EntityResult) -> None:
        self.results.append(result)


def run(
    source_conninfo: str,
    target_conninfo: str,
    selection: str,
    *,
    batch_size: int = 50,
    dry_run: bool = False,
    workers: int = 1,
) -> RunOutcome:
    names = CATALOGUE.resolve(selection)
    options = RunOptions(
        batch_size=batch_size,
        batch_size_forced=True,
        max_retry_attempts=2,
        dry_run=dry_run,
        id_secret_env=None,
        command=f"migrate {selection}",
        arguments={"selection": selection},
        source_identity={"database": "test-source"},
        target_identity={"database": "test-target"},
        workers=workers,
        open_source=lambda: _open_source(source_conninfo),
        open_target=lambda: psycopg.connect(target_conninfo, autocommit=True),
    )
    with (
        psycopg.connect(source_conninfo) as source,
        psycopg.connect(target_conninfo, autocommit=True) as target,
    ):
        source.read_only = True
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        return migrate(CATALOGUE, names, source, target, options, QuietReporter())


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
