"""The audit trail file, without a database: masking, the hash chain and what `verify`
catches, concurrent appends. (The copy in `migration.audit_log` is an integration test.)"""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mdw_migrate import __version__, audit

SOURCE = {"host": "legacy.example.internal", "port": 5432, "database": "mdw_db"}


TARGET = {"host": "embedded", "port": 5433, "database": "mdw_target"}


def _append(directory: Path, n: int, **arguments: object) -> audit.AuditRecord:
    return audit.append(
        directory,
        "migrate",
        {"entity": "doctors", "n": n, **arguments},
        SOURCE,
        TARGET,
        {"migrated": n, "rejected": 0},
        "success",
    )


def _log(directory: Path, records: int) -> list[str]:
    for n in range(1, records + 1):
        _append(directory, n)
    return (directory / audit.LOG_NAME).read_text("utf-8").splitlines(keepends=True)


def _rewrite(directory: Path, lines: list[str]) -> None:
    (directory / audit.LOG_NAME).write_text("".join(lines), "utf-8")


def _worker(directory: str, worker: int, start: Any) -> None:
    start.wait(30)  # all four begin together, so their appends really interleave
    for n in range(25):
        audit.append(
            Path(directory), "validate", {"worker": worker, "n": n}, None, None, {"n": n}, "success"
        )


def test_secret_keys_of_any_spelling_are_masked_at_any_depth() -> None:
    masked = audit.mask_arguments(
        {
            "password": "p1",
            "SOURCE_DB_PASSWORD": "p2",
            "targetDbPassword": "p3",
            "api-key": "k1",
            "apiKey": "k2",
            "MDW_ID_SECRET": "s1",
            "access_token": "t1",
            "db_pass": "p4",
            "nested": {"deeper": [{"Secret": "s2"}, {"batch_size": 500}]},
            "pw_object": SecretStr("p5"),
            "options": {"any": SecretStr("p6")},
        }
    )
    assert masked["password"] == masked["SOURCE_DB_PASSWORD"] == masked["targetDbPassword"] == "***"
    assert masked["api-key"] == masked["apiKey"] == masked["MDW_ID_SECRET"] == "***"
    assert masked["access_token"] == masked["db_pass"] == masked["pw_object"] == "***"
    assert masked["nested"] == {"deeper": [{"Secret": "***"}, {"batch_size": 500}]}
    assert masked["options"] == {"any": "***"}


def test_secret_values_in_dsns_urls_and_argv_are_masked() -> None:
    masked = audit.mask_arguments(
        {
            "dsn": "host=db.example.internal port=5432 user=u password='a b\\'c' dbname=x",
            "conninfo": "host=db PASSWORD = hunter2 dbname=x",
            "url": "postgresql://reader:hunter2@db.example.internal:5432/mdw_db",
            "urls": ["https://:tok@example.internal/x", "https://example.internal/x"],
            "argv": ["migrate", "--password", "hunter2", "--token=abc", "--batch-size", "500"],
            "env": ["PGPASSWORD=hunter2", "LOG_LEVEL=info"],
            "plain_dsn": "host=db.example.internal dbname=mdw_db user=reader",
        }
    )
    assert masked["dsn"] == masked["conninfo"] == masked["url"] == "***"
    assert masked["urls"] == ["***", "https://example.internal/x"]
    assert masked["argv"] == ["migrate", "--password", "***", "***", "--batch-size", "500"]
    assert masked["env"] == ["***", "LOG_LEVEL=info"]
    assert masked["plain_dsn"] == "host=db.example.internal dbname=mdw_db user=reader"


def test_non_secret_arguments_are_left_alone() -> None:
    args: dict[str, object] = {
        "entity": "patients",
        "batch_size": 500,
        "dry_run": True,
        "resume": False,
        "checkpoint": 15000,
        "phase": None,
        "entities": ["offices", "doctors"],
        "user": "reader",
        "host": "db.example.internal",
        "url": "https://db.example.internal/x",
        "keys": [1, 2],
        "bypass": "x",
        "author": "x",
    }
    assert audit.mask_arguments(args) == args


def test_a_clean_log_verifies_and_each_record_has_its_fields(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["previousHash"] == "0" * 64
    for before, after in itertools.pairwise(records):
        assert after["previousHash"] == before["hash"]
    first = records[0]
    assert first["hash"] == audit.record_hash(first)
    assert first["toolVersion"] == __version__
    assert first["source"] == SOURCE and first["target"] == TARGET
    assert first["command"] == "migrate" and first["outcome"] == "success"
    assert first["errorCode"] is None and first["user"] and first["host"]
    assert first["timestamp"].endswith("Z")
    assert json.loads((tmp_path / audit.HEAD_NAME).read_text()) == {
        "seq": 5,
        "hash": records[-1]["hash"],
    }
    assert audit.verify(tmp_path) == audit.VerifyResult(ok=True, records=5, problems=[])
    assert audit.verify(tmp_path / "never-written") == audit.VerifyResult(True, 0, [])


def test_a_failed_outcome_keeps_its_code_and_free_text_is_refused(tmp_path: Path) -> None:
    record = audit.append(
        tmp_path, "rollback", {}, None, TARGET, {"rows": 0}, "refused", "DEPENDENCY_NOT_MET"
    )
    assert record["outcome"] == "refused" and record["errorCode"] == "DEPENDENCY_NOT_MET"
    with pytest.raises(ValueError):
        audit.append(tmp_path, "migrate", {}, None, None, {}, "failed", "patient Jane Doe failed")
    with pytest.raises(ValueError):
        audit.append(tmp_path, "migrate", {}, None, None, {"first": "Jane Doe"}, "success")
    with pytest.raises(ValueError):
        audit.append(tmp_path, "migrate", {}, None, None, {}, "ok")  # type: ignore[arg-type]
    assert audit.verify(tmp_path).ok and audit.verify(tmp_path).records == 1


def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    audit.append(
        tmp_path,
        "migrate",
        {
            "target_db_password": "hunter2-target",
            "dsn": "host=x password=hunter2-dsn",
            "options": {"source": "postgres://u:hunter2-url@h/db"},
        },
        SOURCE,
        {**TARGET, "password": "hunter2-identity"},
        {"migrated": 1},
        "success",
    )
    text = (tmp_path / audit.LOG_NAME).read_text("utf-8")
    assert "hunter2" not in text
    assert audit.verify(tmp_path).ok


def test_an_edited_field_is_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    edited = json.loads(lines[2])
    edited["counts"]["migrated"] = 999
    lines[2] = json.dumps(edited) + "\n"
    _rewrite(tmp_path, lines)
    result = audit.verify(tmp_path)
    assert not result.ok and result.records == 5
    assert result.problems == ["line 3: hash does not match its content (edited)"]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    edited = json.loads(lines[2])
    edited["outcome"] = "failed"
    edited["hash"] = audit.record_hash(edited)
    lines[2] = json.dumps(edited) + "\n"
    _rewrite(tmp_path, lines)
    assert audit.verify(tmp_path).problems == [
        "line 4: previousHash does not match line 3 (removed or reordered)"
    ]


def test_a_removed_middle_record_is_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    del lines[2]
    _rewrite(tmp_path, lines)
    result = audit.verify(tmp_path)
    assert result.records == 4
    assert result.problems == [
        "line 3: previousHash does not match line 2 (removed or reordered)",
        "line 3: seq 4 follows 2 (a record is missing)",
    ]


def test_a_removed_first_record_is_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 3)
    _rewrite(tmp_path, lines[1:])
    problems = audit.verify(tmp_path).problems
    assert [p.split(":")[0] for p in problems] == ["line 1", "line 1"]


def test_a_removed_last_record_is_caught_by_the_head(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    _rewrite(tmp_path, lines[:-1])
    assert audit.verify(tmp_path).problems == [
        "last record is seq 4 but audit.head records seq 5 (the last record was removed)"
    ]
    # The next append must not paper over the gap: it chains to the head, so the hole stays.
    _append(tmp_path, 6)
    assert audit.verify(tmp_path).problems == [
        "line 5: previousHash does not match line 4 (removed or reordered)",
        "line 5: seq 6 follows 4 (a record is missing)",
    ]


def test_a_missing_head_is_reported(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    (tmp_path / audit.HEAD_NAME).unlink()
    assert audit.verify(tmp_path).problems == [
        "audit.head is missing: the last record cannot be vouched for"
    ]


def test_two_swapped_records_are_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 5)
    lines[1], lines[2] = lines[2], lines[1]
    _rewrite(tmp_path, lines)
    problems = audit.verify(tmp_path).problems
    assert "line 2: previousHash does not match line 1 (removed or reordered)" in problems
    assert "line 3: seq 2 follows 3 (reordered or inserted)" in problems
    assert "line 4: previousHash does not match line 3 (removed or reordered)" in problems
    assert not any("edited" in p for p in problems)


def test_an_inserted_forged_record_is_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 4)
    second = json.loads(lines[1])
    forged = audit.build_record(
        3, second["hash"], "rollback", {"entity": "doctors"}, SOURCE, TARGET, {}, "success"
    )
    lines.insert(2, json.dumps(forged) + "\n")
    _rewrite(tmp_path, lines)
    assert audit.verify(tmp_path).problems == [
        "line 4: previousHash does not match line 3 (removed or reordered)",
        "line 4: seq 3 follows 3 (reordered or inserted)",
    ]


def test_a_forged_record_appended_at_the_end_is_caught_by_the_head(tmp_path: Path) -> None:
    lines = _log(tmp_path, 2)
    last = json.loads(lines[-1])
    forged = audit.build_record(3, last["hash"], "migrate", {}, SOURCE, TARGET, {}, "success")
    _rewrite(tmp_path, [*lines, json.dumps(forged) + "\n"])
    (problem,) = audit.verify(tmp_path).problems
    assert problem.startswith("last record seq 3 is newer than audit.head (seq 2)")


def test_a_truncated_line_is_caught(tmp_path: Path) -> None:
    lines = _log(tmp_path, 4)
    lines[1] = lines[1][:40] + "\n"
    lines[3] = lines[3][:25]  # the last write cut off, no newline
    _rewrite(tmp_path, lines)
    result = audit.verify(tmp_path)
    assert result.records == 4
    assert "line 2: not valid JSON" in result.problems
    assert "line 4: not valid JSON" in result.problems
    # A new append starts on its own line and still chains to the head.
    record = _append(tmp_path, 5)
    assert record["seq"] == 5
    assert json.loads((tmp_path / audit.LOG_NAME).read_text().splitlines()[-1]) == record


def test_the_tail_is_read_without_the_whole_file(tmp_path: Path) -> None:
    # A last line longer than one read block, after a long file.
    _log(tmp_path, 50)
    record = _append(tmp_path, 51, note="x" * 20_000)
    assert _append(tmp_path, 52)["previousHash"] == record["hash"]
    assert audit.verify(tmp_path).ok


def test_concurrent_appends_from_four_processes_keep_one_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that has threads
    start = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), w, start)) for w in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = [json.loads(line) for line in (tmp_path / audit.LOG_NAME).read_text().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 101))
    assert sorted((r["arguments"]["worker"], r["arguments"]["n"]) for r in records) == [
        (w, n) for w in range(4) for n in range(25)
    ]
    assert audit.verify(tmp_path) == audit.VerifyResult(True, 100, [])
