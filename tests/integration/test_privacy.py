"""No personal data and no secret in anything the tool writes or prints (mapping.md rule 9)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mdw_migrate import embedded
from mdw_migrate.cli.main import cli, normalize_argv
from mdw_migrate.legacy.generator import generate

from ..helpers import point_at, rows

PASSWORD = "Target-Pa55word-never-shown"


def personal_values(source: str) -> set[str]:
    """Names, emails, password hashes, phones and birth dates of the legacy database."""
    values: set[str] = set()
    for r in rows(source, "SELECT first_name, last_name, email, password FROM auth_user"):
        values.update(v.strip() for v in r.values() if v and len(v.strip()) >= 5)
    for r in rows(source, "SELECT phone, address FROM dispatch_office"):
        values.update(v.strip() for v in r.values() if v and len(v.strip()) >= 6)
    for r in rows(
        source, "SELECT birthdate::text AS b FROM dispatch_patient WHERE birthdate IS NOT NULL"
    ):
        values.add(r["b"])
    return values


def test_logs_audit_backups_and_output_hold_no_personal_data(
    pg_server: embedded.EmbeddedServer,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, target = create_database("priv_src"), create_database("priv_dst")
    point_at(monkeypatch, source=source, target=target)
    monkeypatch.setenv("TARGET_DB_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    generate(source, scale=0.003, seed=23)
    runner = CliRunner()
    printed = []
    # The demo, on its own embedded server under ./.mdw, with the same (deterministic) data.
    demo = runner.invoke(cli, ["demo", "--scale", "0.003", "--seed", "23"], catch_exceptions=False)
    assert demo.exit_code == 0, demo.output[-2000:]
    printed.append(demo.output)
    assert "Generating the synthetic legacy database (scale 0.003, seed 23)" in demo.output
    # A second demo says that it replaces the first one's source.
    again = runner.invoke(cli, ["demo", "--scale", "0.001"], catch_exceptions=False)
    assert again.exit_code == 0, again.output[-2000:]
    assert "Regenerating the synthetic legacy database" in " ".join(again.output.split())
    printed.append(again.output)
    for args in (
        ["schema", "apply"],
        ["migrate", "all", "--validate"],
        ["migrate", "all", "--json", "--workers", "2"],
        ["validate", "final", "--json"],
        ["status"],
        ["rollback", "all", "--yes"],
        ["audit", "verify"],
    ):
        result = runner.invoke(cli, normalize_argv(args), catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output[-2000:])
        printed.append(result.output)
    files = [
        p
        for d in ("logs", "audit", "backups", "checkpoints")
        for p in (tmp_path / d).rglob("*")
        if p.is_file()
    ]
    assert any(p.parent.name == "logs" for p in files) and any(
        p.parent.name == "audit" for p in files
    )
    texts = {str(p): p.read_text(errors="replace") for p in files}
    # The demos are audited like every other command.
    trail = [
        json.loads(line) for line in (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    assert [r["command"] for r in trail[:2]] == ["demo", "demo"]
    assert trail[0]["outcome"] == "success" and trail[0]["counts"]
    texts["stdout"] = "\n".join(printed)
    values = personal_values(source)
    assert len(values) > 100
    leaks = {
        where: sorted(v for v in values if re.search(r"(?<!\w)" + re.escape(v) + r"(?!\w)", text))[
            :5
        ]
        for where, text in texts.items()
    }
    assert {w: v for w, v in leaks.items() if v} == {}
    assert all(PASSWORD not in text for text in texts.values())
