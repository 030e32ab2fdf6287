"""The command line against real databases: errors in the contract's shape, JSON outputs."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from mdw_migrate import embedded
from mdw_migrate.cli.main import cli, normalize_argv
from mdw_migrate.legacy.generator import generate

from ..helpers import contract_error, point_at, rows, scalar


@pytest.fixture
def env(
    pg_server: embedded.EmbeddedServer,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    source = create_database("cli_src")
    target = create_database("cli_dst")
    point_at(monkeypatch, source=source, target=target)
    monkeypatch.setenv("TARGET_DB_PASSWORD", "never-printed-password")
    monkeypatch.chdir(tmp_path)
    return {"source": source, "target": target}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, normalize_argv(list(args)), catch_exceptions=False)


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_dependency_not_met_is_a_contract_error(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=1)
    assert invoke("schema", "apply").exit_code == 0
    result = invoke("migrate:patients", "--json")
    assert result.exit_code == 3
    error = contract_error(result.output)
    assert error["status"] == "error" and error["error"]["code"] == "DEPENDENCY_NOT_MET"
    assert error["error"]["details"]["missingDependencies"] == ["offices", "profiles", "doctors"]
    assert "mdw-migrate migrate offices" in error["recovery"]["suggestion"]
    assert scalar(env["target"], "SELECT count(*) FROM migration.runs") == 0


def test_missing_target_schema_is_schema_incompatible(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=1)
    result = invoke("migrate", "core", "--json")
    assert result.exit_code == 3
    error = contract_error(result.output)["error"]
    assert error["code"] == "SCHEMA_INCOMPATIBLE"
    assert "table offices" in error["details"]["missing"]


def test_a_source_lacking_a_column_is_named(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=1)
    with psycopg.connect(env["source"], autocommit=True) as conn:
        conn.execute("ALTER TABLE dispatch_office DROP COLUMN country")
    invoke("schema", "apply")
    result = invoke("migrate", "core", "--json")
    error = contract_error(result.output)["error"]
    assert error["code"] == "SCHEMA_INCOMPATIBLE"
    assert error["details"] == {"side": "source", "missing": ["column dispatch_office.country"]}
    # validate runs the same pre-flight, with the same advice, and never suggests --resume.
    for command in (["validate", "core"], ["validate", "final"]):
        checked = invoke(*command, "--json")
        assert checked.exit_code == 3
        same = contract_error(checked.output)
        assert same["error"]["code"] == "SCHEMA_INCOMPATIBLE"
        assert same["error"]["details"] == error["details"]
        assert "--resume" not in same["recovery"]["suggestion"]


def test_commands_that_touch_the_databases_say_which_ones_first(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=1)
    source = psycopg.conninfo.conninfo_to_dict(env["source"])
    target = psycopg.conninfo.conninfo_to_dict(env["target"])
    line = (
        f"source postgres@{source['host']}:{source['port']}/{source['dbname']}"
        f" -> target postgres@{target['host']}:{target['port']}/{target['dbname']}"
    )
    for command in (
        ["schema", "apply"],
        ["migrate", "core"],
        ["validate", "core"],
        ["rollback", "doctor_offices", "--yes"],
    ):
        result = invoke(*command)
        assert result.exit_code == 0, result.output
        first = next(x for x in result.output.splitlines() if x.startswith("source "))
        assert first == line
        assert "never-printed-password" not in result.output


def test_migrate_json_progress_and_success_objects_then_validate(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.002, seed=3)
    invoke("schema", "apply")
    result = invoke("migrate", "core", "--json", "--batch-size", "50")
    assert result.exit_code == 0, result.output
    lines = json_lines(result)
    progress = [o for o in lines if o["status"] == "in_progress"]
    success = {o["entity"]: o for o in lines if o["status"] == "success" and "entity" in o}
    assert set(success) == {"offices", "profiles", "doctors", "doctor_offices"}
    assert progress and {"currentBatch", "totalBatches", "percentComplete"} <= set(
        progress[0]["progress"]
    )
    assert progress[0]["performance"]["memoryUsage"].endswith("MB")
    offices = success["offices"]["results"]
    assert offices["totalRecords"] == scalar(env["source"], "SELECT count(*) FROM dispatch_office")
    assert offices["successful"] == offices["totalRecords"]
    # The contract's spelling: migrate:<entity> validate.
    result = invoke("migrate:patients", "validate", "--json")
    assert result.exit_code == 0, result.output
    validation = [
        o for o in json_lines(result) if "validation" in o and "overallStatus" in o["validation"]
    ]
    assert validation and validation[0]["validation"]["overallStatus"] == "passed"
    assert list(Path("logs").glob("validation-patients-*.json"))
    assert "never-printed-password" not in result.output
    for path in Path("logs").iterdir():
        assert "never-printed-password" not in path.read_text()


def test_rollback_removes_only_the_tools_rows_and_remigrate_restores_uuids(
    env: dict[str, str],
) -> None:
    generate(env["source"], scale=0.002, seed=5)
    invoke("schema", "apply")
    assert invoke("migrate", "core").exit_code == 0
    uuids = scalar(env["target"], "SELECT string_agg(id::text, ',' ORDER BY id) FROM offices")
    with psycopg.connect(env["target"], autocommit=True) as conn:
        conn.execute("INSERT INTO offices (name, legacy_office_id) VALUES ('hand-made', -1)")
    refused = invoke("rollback:offices", "--yes", "--json")
    assert refused.exit_code == 3
    error = contract_error(refused.output)
    assert error["error"]["code"] == "DEPENDENTS_EXIST"
    # The dependants are named once (all of them in details); the advice is one command.
    assert error["recovery"]["suggestion"] == "Roll them back together: mdw-migrate rollback core"
    assert len(error["error"]["details"]["dependents"]) > 1
    assert invoke("rollback", "core", "--yes").exit_code == 0
    assert scalar(env["target"], "SELECT count(*) FROM offices") == 1
    # The target tables are the map: what is left in it is the hand-made row alone.
    assert rows(env["target"], "SELECT entity, legacy_id FROM migration.id_map") == [
        {"entity": "offices", "legacy_id": -1}
    ]
    # Re-migrating reconciles the range that holds it, and leaves it, not being the tool's.
    assert invoke("migrate", "core").exit_code == 0
    assert scalar(env["target"], "SELECT count(*) FROM offices WHERE legacy_office_id = -1") == 1
    with psycopg.connect(env["target"], autocommit=True) as conn:
        conn.execute("DELETE FROM offices WHERE legacy_office_id = -1")
    assert (
        scalar(env["target"], "SELECT string_agg(id::text, ',' ORDER BY id) FROM offices") == uuids
    )


def test_plan_accounts_for_every_legacy_table(env: dict[str, str]) -> None:
    result = invoke("plan", "--json")
    plan = json_lines(result)[0]
    assert len(plan["legacyTables"]) == 58
    order = [o["entity"] for o in plan["order"]]
    assert order.index("offices") < order.index("doctors") < order.index("patients")


def test_a_contract_script_name_runs_its_entities_after_their_dependencies(
    env: dict[str, str],
) -> None:
    generate(env["source"], scale=0.001, seed=2)
    invoke("schema", "apply")
    refused = invoke("migrate-tasks", "--batch-size=1000", "--json")
    assert refused.exit_code == 3
    error = contract_error(refused.output)
    assert error["entity"] == "tasks" and error["error"]["code"] == "DEPENDENCY_NOT_MET"
    assert "orders" in error["error"]["details"]["missingDependencies"]
    assert invoke("migrate", "all", "--json", "--workers", "2").exit_code == 0
    again = invoke("migrate-tasks", "--batch-size=1000", "--json")
    assert again.exit_code == 0, again.output
    done = [o for o in json_lines(again) if o["status"] == "success" and "entity" in o]
    assert [o["entity"] for o in done] == ["tasks"]
    final = invoke("validate", "final", "--json")
    assert final.exit_code == 0, final.output
    objects = json_lines(final)
    entities = {o["entity"] for o in objects if "validation" in o}
    assert {"legacy_archive", "system_messages", "payments", "security"} <= entities
    assert objects[-1]["status"] == "success"
    assert objects[-1]["summary"]["verdict"].startswith("Validation passed")
    html = Path(objects[-1]["summary"]["totals"]["report"]).read_text()
    assert "system_messages" in html and "http://" not in html and "https://" not in html
    assert done[0]["results"]["totalRecords"] == scalar(
        env["source"], "SELECT count(*) FROM dispatch_task"
    )


def test_rollback_keeps_a_restorable_copy_and_metadata_without_personal_data(
    env: dict[str, str],
) -> None:
    generate(env["source"], scale=0.002, seed=4)
    invoke("schema", "apply")
    assert invoke("migrate", "core-with-patients").exit_code == 0
    before = scalar(env["target"], "SELECT count(*) FROM patients")
    result = invoke("rollback", "patients", "--yes", "--json")
    assert result.exit_code == 0, result.output
    (metadata_path,) = Path("backups").glob("rollback-patients-*.json")
    metadata = json.loads(metadata_path.read_text())
    (entry,) = metadata["entities"]
    assert entry["entity"] == "patients" and entry["rows"] == before
    assert entry["legacyIdMin"] >= scalar(env["source"], "SELECT min(id) FROM dispatch_patient")
    assert entry["checksum"].startswith("md5:")
    (copy,) = entry["restorableCopy"]
    assert scalar(env["target"], f"SELECT count(*) FROM {copy}") == before
    assert scalar(env["target"], "SELECT count(*) FROM patients") == 0
    emails = [r["email"] for r in rows(env["source"], "SELECT email FROM auth_user") if r["email"]]
    text = metadata_path.read_text()
    assert not any(email in text for email in emails)
    # Restoring the copy and migrating again gives back the same rows under the same UUIDs.
    with psycopg.connect(env["target"], autocommit=True) as conn:
        conn.execute(f"INSERT INTO patients SELECT * FROM {copy}")
    assert invoke("migrate", "patients").exit_code == 0
    assert scalar(env["target"], "SELECT count(*) FROM patients") == before
    assert (
        scalar(env["target"], "SELECT count(*) FROM migration.id_map WHERE entity = 'patients'")
        == before
    )


def test_every_command_is_audited_and_tampering_is_detected(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=3)
    assert invoke("schema", "apply").exit_code == 0
    assert invoke("migrate", "patients").exit_code == 3  # refused: dependencies
    assert invoke("migrate", "core", "--batch-size", "20").exit_code == 0
    assert invoke("validate", "core").exit_code == 0
    assert invoke("rollback", "doctor_offices", "--yes").exit_code == 0
    assert invoke("diff", "core").exit_code == 0
    assert invoke("sync", "core").exit_code == 0
    lines = [json.loads(x) for x in Path("audit/audit.jsonl").read_text().splitlines()]
    assert [(r["command"], r["outcome"], r["errorCode"]) for r in lines] == [
        ("schema apply", "success", None),
        ("migrate", "refused", "DEPENDENCY_NOT_MET"),
        ("migrate", "success", None),
        ("validate", "success", None),
        ("rollback", "success", None),
        ("diff", "success", None),
        ("sync", "success", None),
    ]
    assert lines[6]["counts"]["doctor_offices"]["inserted"] > 0
    assert lines[2]["counts"]["offices"]["migrated"] == scalar(
        env["source"], "SELECT count(*) FROM dispatch_office"
    )
    assert lines[2]["arguments"]["batchSize"] == 20
    assert lines[2]["target"]["database"] and "password" not in json.dumps(lines[2]["target"])
    text = Path("audit/audit.jsonl").read_text()
    assert "never-printed-password" not in text
    # schema apply created migration.audit_log before its own record was written.
    assert scalar(env["target"], "SELECT count(*) FROM migration.audit_log") == 7
    verified = invoke("audit", "verify", "--json")
    assert verified.exit_code == 0 and json_lines(verified)[0]["records"] == 7
    # Someone edits a count: the chain breaks at that line.
    lines[2]["counts"]["offices"]["migrated"] += 1
    Path("audit/audit.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    )
    broken = invoke("audit", "verify", "--json")
    assert broken.exit_code == 1
    assert any("line 3" in p for p in json_lines(broken)[0]["problems"])


def test_restart_from_a_batch_or_a_legacy_id_and_the_checkpoint_mirror(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(env["source"], scale=0.002, seed=9)
    invoke("schema", "apply")
    monkeypatch.setenv("CHECKPOINT_FREQUENCY", "30")
    assert invoke("migrate", "core", "--batch-size", "20").exit_code == 0
    users = [r["id"] for r in rows(env["source"], "SELECT id FROM auth_user ORDER BY id")]

    def processed(result: Result) -> int:
        progress = [o for o in json_lines(result) if o["status"] == "in_progress"]
        return int(progress[-1]["progress"]["recordsProcessed"])

    again = invoke(
        "migrate", "profiles", "--restart-from-batch", "3", "--batch-size", "20", "--json"
    )
    assert again.exit_code == 0, again.output
    assert processed(again) == len(users) - 40
    later = invoke("migrate", "profiles", "--checkpoint", str(users[49]), "--json")
    assert later.exit_code == 0, later.output
    assert processed(later) == len(users) - 50
    mirror = json.loads(Path("checkpoints/profiles.json").read_text())
    assert mirror["lastLegacyId"] == users[-1] and mirror["entity"] == "profiles"
    assert set(mirror) == {
        "entity",
        "range",
        "runId",
        "lastLegacyId",
        "batches",
        "rowsProcessed",
        "updatedAt",
        "resume",
    }
    refused = invoke("migrate", "core", "--checkpoint", "5", "--json")
    assert refused.exit_code == 2
    assert contract_error(refused.output)["error"]["code"] == "USAGE"


def test_sync_and_diff_on_the_command_line(env: dict[str, str]) -> None:
    """`diff` writes nothing and says what `sync` then does; the sync's JSON gives per entity
    what changed and the summary the snapshot the target is in step with."""
    from mdw_migrate.legacy import churn

    generate(env["source"], scale=0.002, seed=3)
    invoke("schema", "apply")
    assert invoke("migrate", "all", "--batch-size", "100").exit_code == 0
    churn.django_changes(env["source"])
    runs = scalar(env["target"], "SELECT count(*) FROM migration.runs")
    planned = invoke("diff", "all", "--json")
    assert planned.exit_code == 0, planned.output
    assert scalar(env["target"], "SELECT count(*) FROM migration.runs") == runs
    synced = invoke("sync", "all", "--json")
    assert synced.exit_code == 0, synced.output

    def changes(result: Result) -> dict[str, dict[str, Any]]:
        return {
            o["entity"]: o["changes"]
            for o in json_lines(result)
            if o.get("status") == "success" and "entity" in o
        }

    assert changes(planned) == changes(synced)
    assert changes(synced)["system_messages"]["pass"] == "changes"
    assert sum(c["deleted"] for c in changes(synced).values()) > 0
    summary = json_lines(synced)[-1]
    assert summary["summary"]["totals"]["snapshotAt"]
    assert "in step with the source as of" in summary["summary"]["verdict"]
    human = invoke("sync", "all", "--resume")
    assert human.exit_code == 0
    assert "0 inserted, 0 updated, 0 deleted" in " ".join(human.output.split())
    assert list(Path("backups").glob("sync-all-*.json"))


def test_a_dry_run_says_would_and_points_at_nothing_it_did_not_write(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.002, seed=3)
    invoke("schema", "apply")
    result = invoke("migrate", "core-with-patients", "--dry-run")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Dry run (nothing written)" in text and "would have" in text
    # The table's headers say "would" too (wrapped at 80 columns, never cut).
    assert "…" not in result.output and text.count("would") >= 4
    assert "migration.row_outcomes" not in text
    assert scalar(env["target"], "SELECT count(*) FROM public.offices") == 0


def test_at_80_columns_no_number_is_cut_and_the_verdict_is_the_last_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    generate(env["source"], scale=0.002, seed=3)
    invoke("schema", "apply")
    for selection in ("core", "orders-with-deps", "products", "sales_orders", "purchases"):
        assert invoke("migrate", selection).exit_code == 0
    with psycopg.connect(env["target"], autocommit=True) as conn:
        conn.execute(
            "UPDATE purchases SET unit_price = unit_price + 0.01"
            " WHERE id = (SELECT id FROM purchases ORDER BY id LIMIT 1)"
        )
    result = invoke("validate", "purchases")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # (The endpoints line names this test's long socket path; it is not a table.)
    tables = [line for line in lines if not line.startswith("source ")]
    assert all(len(line) <= 80 for line in tables), max(tables, key=len)
    assert "…" not in result.output
    money = {
        c["column"]: c
        for c in json_lines(invoke("validate", "purchases", "--json"))[0]["validation"]["checks"]
        if c["type"] == "money"
    }
    text = " ".join(result.output.split())
    price = money["unit_price"]
    # The one-cent difference is readable: both sums in full, and the difference.
    for key in ("sourceSum", "targetSum"):
        assert f"{Decimal(price[key]):,}" in text
    assert "difference 0.01" in text
    # Rejected money is on the screen too, with the reconciliation's terms.
    assert "rejected" in text and "kept raw" in text
    assert lines[-1].startswith("Validation FAILED: purchases (")
    assert "money" in lines[-1]


def test_an_empty_target_is_not_ok(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    generate(env["source"], scale=0.001, seed=1)
    invoke("schema", "apply")
    result = invoke("validate", "offices")
    assert result.exit_code == 1
    row = next(line for line in result.output.splitlines() if line.strip().startswith("offices"))
    assert "FAILED" in row and "empty" in row and " ok" not in row
    with psycopg.connect(env["source"], autocommit=True) as conn:
        conn.execute("TRUNCATE dispatch_office CASCADE")
    nothing = invoke("validate", "offices")
    assert nothing.exit_code == 0
    assert nothing.output.splitlines()[-1].startswith("Validation passed, but nothing was migrated")


def test_a_rollback_with_nothing_to_remove_makes_no_backup(env: dict[str, str]) -> None:
    generate(env["source"], scale=0.001, seed=1)
    invoke("schema", "apply")
    result = invoke("rollback", "customer_feedback")  # no --yes: nothing to ask about
    assert result.exit_code == 0, result.output
    assert "Nothing to roll back" in " ".join(result.output.split())
    assert not list(Path("backups").glob("rollback-*.json"))
    assert (
        scalar(
            env["target"],
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'migration_backup'",
        )
        == 0
    )


def test_the_rollback_prompt_gives_the_row_count_and_where_the_copy_goes(
    env: dict[str, str], tmp_path: Path
) -> None:
    """On a real terminal (a pseudo-terminal): the question, the answer no, exit 0."""
    generate(env["source"], scale=0.001, seed=1)
    invoke("schema", "apply")
    assert invoke("migrate", "core").exit_code == 0
    rows_before = scalar(env["target"], "SELECT count(*) FROM migration.id_map")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdw_migrate", "rollback", "core"],
        stdin=secondary, stdout=secondary, stderr=secondary, cwd=tmp_path,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            seen += os.read(primary, 4096)
    os.write(primary, b"n\n")
    assert proc.wait(timeout=60) == 0
    with contextlib.suppress(OSError):
        while chunk := os.read(primary, 4096):
            seen += chunk
    os.close(primary)
    text = " ".join(seen.decode(errors="replace").split())
    assert f"Delete {rows_before:,} migrated row(s)" in text, text
    assert "migration_backup.<entity>__" in text and "backups/rollback-core-" in text
    # Styles may colour titles, never the digits of a number.
    assert not re.search(r"\d\x1b\[|\x1b\[[0-9;]*m[0-9]", text), text
    assert "Rollback declined: nothing was changed" in text
    assert scalar(env["target"], "SELECT count(*) FROM migration.id_map") == rows_before
