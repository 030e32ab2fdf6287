"""Every --json output of migrate, validate, rollback, schema apply, security check and status
matches the JSON Schema kept in src/mdw_migrate/schemas/, and ends with one summary object."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from mdw_migrate import embedded
from mdw_migrate.cli.main import cli, normalize_argv
from mdw_migrate.legacy.generator import generate

from ..helpers import point_at


def schema(name: str) -> dict[str, Any]:
    text = (resources.files("mdw_migrate") / "schemas" / f"{name}.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def kind(obj: dict[str, Any]) -> str:
    if "summary" in obj:
        return "summary"
    if obj.get("status") == "in_progress":
        return "progress"
    if obj.get("status") == "error":
        return "error"
    if "execution" in obj:
        return "success"
    if "validation" in obj and "overallStatus" in obj["validation"]:
        return "validation"
    if "entities" in obj:
        return "status"
    if "removed" in obj:
        return "rollback"
    if "applied" in obj and "versions" in obj:
        return "schema_apply"
    return "other"


def test_json_outputs_match_their_schemas(
    pg_server: embedded.EmbeddedServer,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, target = create_database("schema_src"), create_database("schema_dst")
    point_at(monkeypatch, source=source, target=target)
    monkeypatch.chdir(tmp_path)
    generate(source, scale=0.002, seed=17)
    runner = CliRunner()
    seen: dict[str, int] = {}
    endings: dict[str, str] = {}
    for args in (
        ["schema", "apply", "--json"],
        ["migrate", "patients", "--json"],  # an error: dependencies
        ["migrate", "core-with-patients", "--json", "--batch-size", "40"],
        ["diff", "core", "--json"],
        ["sync", "core-with-patients", "--json", "--batch-size", "40"],
        ["migrate:doctors", "validate", "--json"],
        ["validate", "core", "--json"],
        ["status", "--json"],
        ["security", "check", "--json"],
        ["rollback", "patients", "--yes", "--json"],
        ["validate", "core-with-patients", "--json"],  # fails: patients were rolled back
    ):
        result = runner.invoke(cli, normalize_argv(args), catch_exceptions=False)
        objects = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        for obj in objects:
            name = kind(obj)
            if name == "other":
                continue
            jsonschema.validate(obj, schema(name))
            seen[name] = seen.get(name, 0) + 1
        # Exactly one summary, and it is the last line: what an automation reads.
        assert [kind(o) for o in objects].count("summary") == 1, args
        assert kind(objects[-1]) == "summary", args
        endings[" ".join(args)] = objects[-1]["status"]
        assert (objects[-1]["status"] == "success") == (result.exit_code == 0), args
    assert set(seen) == {
        "progress",
        "error",
        "success",
        "validation",
        "status",
        "rollback",
        "schema_apply",
        "summary",
    }
    assert endings["migrate patients --json"] == "error"
    assert endings["validate core-with-patients --json"] == "failed"
    assert endings["security check --json"] == "success"
