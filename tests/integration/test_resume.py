"""Crashes and stops: SIGKILL at random points, SIGTERM, then --resume. Every source row ends up
accounted for once, UUIDs of rows migrated before a crash do not change, validation passes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import jsonschema
import psycopg
import pytest

from mdw_migrate import embedded
from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.validate import validate
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import rows, run, scalar

ENTITY = "system_messages"


@pytest.fixture
def databases(
    pg_server: embedded.EmbeddedServer, create_database: Callable[[str], str], tmp_path: Path
) -> Iterator[tuple[str, str, dict[str, str]]]:
    source, target = create_database("crash_src"), create_database("crash_dst")
    # 255,000 notifications: several seconds of work, split over two workers.
    generate(source, scale=0.05, seed=31)
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    run(source, target, "orders-with-deps", batch_size=2000)
    env = dict(os.environ)
    for side, conninfo in (("SOURCE", source), ("TARGET", target)):
        env[f"{side}_DB_HOST"] = pg_server.socket_dir
        env[f"{side}_DB_PORT"] = str(pg_server.port)
        env[f"{side}_DB_USER"] = "postgres"
        env[f"{side}_DB_NAME"] = str(str(psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]))
    env["MAX_CONNECTIONS"] = "4"
    yield source, target, env


def start(env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "mdw_migrate", "migrate", ENTITY, "--json"]
    args += ["--batch-size", "4000", *extra]
    return subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_batches(proc: subprocess.Popen[str], count: int) -> int:
    """Reads progress lines until `count` batches are reported; returns how many were."""
    seen = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{") and json.loads(line).get("status") == "in_progress":
            seen += 1
            if seen >= count:
                break
    return seen


def assert_complete(source: str, target: str) -> None:
    legacy = scalar(source, "SELECT count(*) FROM dispatch_notification")
    assert scalar(target, "SELECT count(*) FROM system_messages") == legacy
    assert (
        scalar(target, "SELECT count(*) FROM migration.id_map WHERE entity = %s", ENTITY) == legacy
    )
    assert rows(target, "SELECT * FROM migration.deferred_ddl") == []
    assert (
        scalar(
            target,
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'system_messages'::regclass"
            " AND contype = 'f'",
        )
        == 2
    )
    primary = "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
    primary += " WHERE conrelid = 'system_messages'::regclass AND contype = 'p'"
    assert scalar(target, primary) == "PRIMARY KEY (id)"
    unique = "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
    unique += " WHERE conrelid = 'system_messages'::regclass AND contype = 'u'"
    assert scalar(target, unique) == "UNIQUE (legacy_notification_id)"
    # Every entity of the run validates, money sums included (orders' amounts, doctors' credit).
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        for name in CATALOGUE.order(CATALOGUE.closure([ENTITY])):
            result = validate(CATALOGUE, name, s, t)
            assert result.passed, (name, [c for c in result.checks if c.status != "passed"])


def test_sigkill_at_random_points_then_resume(
    databases: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    source, target, env = databases
    rng = random.Random(7)
    before: dict[int, object] = {}
    for attempt in range(3):
        proc = start(env, tmp_path, *(["--resume"] if attempt else []))
        wait_for_batches(proc, rng.randint(2, 12))
        proc.kill()  # SIGKILL: no handler runs, the batch in flight is lost
        proc.wait(timeout=30)
        if attempt == 0:
            before = {
                r["legacy_id"]: r["id"]
                for r in rows(
                    target, "SELECT legacy_id, id FROM migration.id_map WHERE entity = %s", ENTITY
                )
            }
            assert 0 < len(before) < scalar(source, "SELECT count(*) FROM dispatch_notification")
            # Killed during the bulk load: its foreign keys and indexes were still deferred.
            deferred = rows(target, "SELECT DISTINCT entity FROM migration.deferred_ddl")
            assert deferred == [{"entity": ENTITY}]
            kinds = rows(target, "SELECT DISTINCT kind FROM migration.deferred_ddl ORDER BY 1")
            assert [k["kind"] for k in kinds] == [
                "foreign_key",
                "index",
                "primary_key",
                "unique_key",
            ]
    proc = start(env, tmp_path, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert_complete(source, target)
    after = {
        r["legacy_id"]: r["id"]
        for r in rows(
            target, "SELECT legacy_id, id FROM migration.id_map WHERE entity = %s", ENTITY
        )
    }
    assert all(after[k] == v for k, v in before.items())


def test_sigterm_stops_cleanly_and_resume_finishes(
    databases: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    source, target, env = databases
    proc = start(env, tmp_path)
    wait_for_batches(proc, 3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    # 128 + SIGTERM, as a shell reports a process that SIGTERM stopped.
    assert proc.returncode == 143
    finals = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert finals[-1]["status"] == "interrupted"
    # The closing summary says how to resume, in the shape its schema gives.
    summary_schema = json.loads(
        (resources.files("mdw_migrate") / "schemas" / "summary.json").read_text()
    )
    jsonschema.validate(finals[-1], summary_schema)
    assert finals[-1]["summary"]["resume"] == f"mdw-migrate migrate {ENTITY} --resume"
    assert "Stopping after the batch in flight" in err
    state = scalar(target, "SELECT status FROM migration.entity_progress WHERE entity = %s", ENTITY)
    assert state == "running"
    # `status` says it was interrupted (no run holds the target now), and how to resume.
    shown = subprocess.run(
        [sys.executable, "-m", "mdw_migrate", "status", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    listed = {e["entity"]: e for e in json.loads(shown.stdout.splitlines()[0])["entities"]}
    assert listed[ENTITY]["state"] == "interrupted"
    assert listed[ENTITY]["resume"] == f"mdw-migrate migrate {ENTITY} --resume"
    if "ranges" in listed[ENTITY]:
        assert listed[ENTITY]["lastCheckpoint"] is None
        assert all(r["lastCheckpoint"] is None or r["lastCheckpoint"] <= r["upTo"]
                   for r in listed[ENTITY]["ranges"])  # fmt: skip
    # Constraints came back even though the pass stopped half way.
    assert rows(target, "SELECT * FROM migration.deferred_ddl") == []
    proc = start(env, tmp_path, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert_complete(source, target)


def test_ctrl_c_stops_a_sync_cleanly_and_running_it_again_finishes(
    databases: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    from mdw_migrate.legacy import churn

    source, target, env = databases
    run(source, target, ENTITY, batch_size=20_000)
    churn.churn(source, 0.05, seed=8)
    args = [sys.executable, "-m", "mdw_migrate", "sync", ENTITY, "--json", "--batch-size", "300"]
    proc = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert wait_for_batches(proc, 3) == 3
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]  # 128 + SIGINT
    finals = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert finals[-1]["status"] == "interrupted"
    assert finals[-1]["summary"]["resume"] == f"mdw-migrate sync {ENTITY}"
    finished = subprocess.run(
        args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert_complete(source, target)
