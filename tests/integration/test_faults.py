"""Faults: a bad row is isolated and rejected without stopping the batch's other rows; too many
bad rows stop the run with a report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from mdw_migrate import embedded
from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.context import BatchStats
from mdw_migrate.engine.migrate import migrate
from mdw_migrate.engine.validate import validate
from mdw_migrate.errors import MigrationError
from mdw_migrate.legacy.generator import generate

from .. import helpers
from ..helpers import QuietReporter, contract_error, point_at, rows, run, run_options, scalar


@pytest.fixture(scope="module")
def source(create_database: Callable[[str], str]) -> str:
    conninfo = create_database("fault_src")
    generate(conninfo, scale=0.05, seed=41)
    return conninfo


def fresh_target(create_database: Callable[[str], str], constraint: str) -> str:
    """A fresh target to which `constraint` (SQL) adds what the test needs."""
    target = helpers.fresh_target(create_database, "fault_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(constraint)
    return target


@pytest.mark.parametrize("bulk_load", [False, True])
def test_one_bad_row_is_rejected_load_error_and_the_rest_of_its_batch_loads(
    source: str,
    create_database: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    bulk_load: bool,
) -> None:
    """Also in a bulk load into the empty table, whose legacy key is then deferred: the
    rejected row's keys are known to be in no target row (decision 110)."""
    from mdw_migrate.engine import bulk

    if bulk_load:
        monkeypatch.setattr(bulk, "BULK_THRESHOLD", 1)
    deferred: list[str] = []
    real_defer = bulk.defer

    def spy(conn: psycopg.Connection[tuple[object, ...]], *args: str | None) -> int:
        count = real_defer(conn, *args)  # type: ignore[arg-type]
        deferred.append(str(args[2]))
        return count

    monkeypatch.setattr(bulk, "defer", spy)
    victim = rows(source, "SELECT id, username FROM auth_user ORDER BY id OFFSET 137 LIMIT 1")[0]
    target = fresh_target(
        create_database,
        # The target refuses one legacy value: a row the load cannot take.
        "ALTER TABLE profiles ADD CONSTRAINT no_such_username"
        f" CHECK (username <> '{victim['username']}')",
    )
    outcome = run(source, target, "profiles", batch_size=500)
    result = outcome.results[0]
    assert result.status == "completed"
    assert result.rejected == 1 and result.migrated == result.source_rows - 1
    (reject,) = rows(target, "SELECT * FROM migration.row_outcomes WHERE entity = 'profiles'")
    assert (reject["legacy_id"], reject["reason_code"]) == (victim["id"], "LOAD_ERROR")
    assert "CheckViolation" in reject["detail"] and "no_such_username" in reject["detail"]
    assert victim["username"] not in reject["detail"]
    assert deferred == (["legacy_user_id"] if bulk_load else [])
    legacy_key = "SELECT count(*) FROM pg_constraint WHERE conrelid = 'profiles'::regclass"
    assert scalar(target, legacy_key + " AND contype = 'u'") >= 1
    # Its neighbours in the same batch are there.
    assert (
        scalar(
            target,
            "SELECT count(*) FROM profiles WHERE legacy_user_id IN (%s, %s)",
            victim["id"] - 1,
            victim["id"] + 1,
        )
        == 2
    )
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        assert validate(CATALOGUE, "profiles", s, t).passed


def test_more_bad_rows_than_the_error_budget_stop_the_run(
    source: str, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(
        create_database,
        "ALTER TABLE profiles ADD CONSTRAINT only_low_ids CHECK (legacy_user_id < 100)",
    )
    with pytest.raises(MigrationError) as err:
        run(source, target, "profiles", batch_size=200)
    assert err.value.code == "ERROR_BUDGET_EXCEEDED"
    assert "--resume" in err.value.suggestion
    # Everything committed before the stop is consistent and resumable.
    assert (
        scalar(target, "SELECT status FROM migration.entity_progress WHERE entity = 'profiles'")
        == "running"
    )
    assert scalar(target, "SELECT count(*) FROM profiles") == scalar(
        target, "SELECT count(*) FROM migration.id_map WHERE entity = 'profiles'"
    )


class TerminateAfter(QuietReporter):
    """Kills the tool's target connections (pg_terminate_backend) after a given batch."""

    def __init__(self, target: str, entity: str, after_batch: int) -> None:
        super().__init__()
        self.target, self.entity, self.after_batch = target, entity, after_batch
        self.killed = 0

    def batch_done(self, stats: BatchStats) -> None:
        super().batch_done(stats)
        if stats.entity == self.entity and stats.batch_no == self.after_batch and not self.killed:
            dbname = psycopg.conninfo.conninfo_to_dict(self.target)["dbname"]
            with psycopg.connect(self.target, autocommit=True) as admin:
                self.killed = len(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'",
                        [dbname],
                    ).fetchall()
                )


def test_a_lost_target_connection_is_reopened_and_the_run_completes(
    source: str, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(create_database, "SELECT 1")
    reporter = TerminateAfter(target, "profiles", after_batch=2)
    names = CATALOGUE.resolve("core")
    options = run_options(
        50,
        max_retry_attempts=3,
        open_target=lambda: psycopg.connect(target, autocommit=True),
    )
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        s.read_only = True
        s.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        outcome = migrate(CATALOGUE, names, s, t, options, reporter)
    assert reporter.killed >= 1
    assert [r.status for r in outcome.results] == ["completed"] * 4
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        for name in names:
            assert validate(CATALOGUE, name, s, t).passed, name
    assert scalar(target, "SELECT status FROM migration.runs") == "completed"


def test_a_lost_source_is_a_critical_error_that_says_to_resume(
    source: str, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(create_database, "SELECT 1")

    class KillSource(QuietReporter):
        def batch_done(self, stats: BatchStats) -> None:
            super().batch_done(stats)
            if stats.batch_no == 2:
                dbname = psycopg.conninfo.conninfo_to_dict(source)["dbname"]
                with psycopg.connect(source, autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        [dbname],
                    )

    options = run_options(
        50,
        open_target=lambda: psycopg.connect(target, autocommit=True),
    )
    with (
        psycopg.connect(source) as s,
        psycopg.connect(target, autocommit=True) as t,
        pytest.raises(MigrationError) as err,
    ):
        s.read_only = True
        migrate(CATALOGUE, ["offices", "profiles"], s, t, options, KillSource())
    assert err.value.code == "SOURCE_UNAVAILABLE" and "--resume" in err.value.suggestion
    assert scalar(
        target, "SELECT status FROM migration.entity_progress WHERE entity = 'offices'"
    ) in {"running", "completed"}


def test_a_held_lock_is_waited_for_then_retried_and_reported(
    source: str, create_database: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import threading

    target = fresh_target(create_database, "SELECT 1")
    holder = psycopg.connect(target)
    holder.execute("LOCK TABLE offices IN ACCESS EXCLUSIVE MODE")  # another session's lock
    release = threading.Timer(1.2, holder.rollback)
    release.start()
    options = run_options(
        50,
        max_retry_attempts=4,
    )
    logging.getLogger("mdw_migrate").propagate = True
    try:
        with (
            caplog.at_level(logging.WARNING, logger="mdw_migrate.runner"),
            psycopg.connect(source) as s,
            psycopg.connect(target, autocommit=True) as t,
        ):
            s.read_only = True
            t.execute("SET lock_timeout = '300ms'")
            outcome = migrate(CATALOGUE, ["offices"], s, t, options, QuietReporter())
    finally:
        release.join()
        holder.close()
    assert outcome.results[0].status == "completed"
    retries = [r for r in caplog.records if getattr(r, "action", None) == "batch_retry"]
    assert retries and retries[0].details["error"] == "LockNotAvailable"  # type: ignore[attr-defined]


def test_a_statement_timeout_after_every_retry_is_a_contract_error(
    pg_server: embedded.EmbeddedServer,
    source: str,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from click.testing import CliRunner

    from mdw_migrate.cli.main import cli

    target = fresh_target(create_database, "SELECT 1")
    point_at(monkeypatch, source=source, target=target)
    monkeypatch.setenv("MIGRATION_TIMEOUT", "1")  # one millisecond
    monkeypatch.setenv("MAX_RETRY_ATTEMPTS", "1")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["migrate", "core", "--json"], catch_exceptions=False)
    assert result.exit_code == 3
    error = contract_error(result.output)
    assert error["error"]["code"] == "STATEMENT_TIMEOUT"
    assert "MIGRATION_TIMEOUT" in error["recovery"]["suggestion"]
    record = json.loads((tmp_path / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert (record["outcome"], record["errorCode"]) == ("failed", "STATEMENT_TIMEOUT")


# A trigger on the checkpoint update runs inside the runner's own batch transaction, in its
# own session: it can break that session's staging table the way a transaction pooler does
# (the next COPY lands on a table of another shape), on a real server, once.
SABOTAGE_STAGE_ONCE = """
CREATE TABLE sabotage_flag (armed boolean);
INSERT INTO sabotage_flag VALUES (true);
CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.entity = 'profiles' AND NEW.batches = 2 AND EXISTS (SELECT 1 FROM sabotage_flag) THEN
        DELETE FROM sabotage_flag;
        ALTER TABLE pg_temp.mdw_stage DROP COLUMN username;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sabotage AFTER UPDATE ON migration.entity_progress
    FOR EACH ROW EXECUTE FUNCTION sabotage();
"""


def test_a_staging_table_broken_under_the_runner_rejects_no_row(
    source: str, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(create_database, SABOTAGE_STAGE_ONCE)
    outcome = run(source, target, "profiles", batch_size=200)
    assert scalar(target, "SELECT count(*) FROM sabotage_flag") == 0  # it did fire
    result = outcome.results[0]
    # The COPY of batch 3 met a staging table one column short (BadCopyFileFormat, SQLSTATE
    # 22P04: class 22, but not a row's value): retried on fresh staging tables, not rejected.
    assert result.status == "completed"
    assert (result.migrated, result.rejected) == (result.source_rows, 0)
    assert rows(target, "SELECT * FROM migration.row_outcomes WHERE outcome = 'rejected'") == []
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        assert validate(CATALOGUE, "profiles", s, t).passed


@pytest.mark.parametrize(
    ("errcode", "sqlstate"),
    [
        ("bad_copy_file_format", "22P04"),
        ("undefined_table", "42P01"),
        ("protocol_violation", "08P01"),
    ],
)
def test_an_infrastructure_error_is_retried_then_stops_the_run_and_rejects_no_row(
    source: str,
    create_database: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    errcode: str,
    sqlstate: str,
) -> None:
    # Every insert into profiles fails with an error that says nothing about the row.
    target = fresh_target(
        create_database,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" RAISE EXCEPTION 'injected' USING ERRCODE = '{errcode}'; END $$;"
        " CREATE TRIGGER refuse BEFORE INSERT ON profiles"
        " FOR EACH STATEMENT EXECUTE FUNCTION refuse();",
    )
    runner_log = logging.getLogger("mdw_migrate.runner")
    runner_log.addHandler(caplog.handler)  # the CLI's log set-up may stop propagation
    try:
        with pytest.raises(MigrationError) as raised:
            run(source, target, "profiles", batch_size=100)
    finally:
        runner_log.removeHandler(caplog.handler)
    # The contract error keeps the server's error class and SQLSTATE, never its message.
    assert raised.value.details["sqlstate"] == sqlstate
    assert "injected" not in str(raised.value) and "injected" not in str(raised.value.details)
    assert isinstance(raised.value.__cause__, psycopg.Error)
    assert raised.value.details["error"] == type(raised.value.__cause__).__name__
    # Tried again (helpers.run allows 2 retries), then stopped.
    retried = {id(r) for r in caplog.records if r.getMessage() == "batch retried"}
    assert len(retried) == 2
    assert scalar(target, "SELECT count(*) FROM migration.row_outcomes") == 0
    assert scalar(target, "SELECT count(*) FROM profiles") == 0


def test_a_second_run_on_the_same_target_is_refused_before_it_writes(
    source: str, create_database: Callable[[str], str]
) -> None:
    """Two runs on the same rows would each take the other's inserts for rows that fail."""
    target = fresh_target(create_database, "SELECT 1")
    with psycopg.connect(target, autocommit=True) as other_run:
        other_run.execute("SELECT pg_advisory_lock(hashtext('mdw-migrate run'))")
        with pytest.raises(MigrationError) as err:
            run(source, target, "offices")
        assert err.value.code == "RUN_IN_PROGRESS" and err.value.refused
    assert scalar(target, "SELECT count(*) FROM migration.runs") == 0
    assert scalar(target, "SELECT count(*) FROM offices") == 0
    # Once the other run is over, the same command goes through.
    assert run(source, target, "offices").results[0].status == "completed"


def test_a_violation_in_the_tools_own_tables_is_not_a_rows_fault(
    create_database: Callable[[str], str],
) -> None:
    from mdw_migrate.engine.failures import is_row_error

    target = fresh_target(create_database, "SELECT 1")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO migration.row_outcomes VALUES (%s, 1, 'rejected', 'X', NULL, %s, 1)",
            ["offices", "00000000-0000-0000-0000-000000000000"],
        )
        with pytest.raises(psycopg.errors.UniqueViolation) as own:
            conn.execute(
                "INSERT INTO migration.row_outcomes VALUES (%s, 1, 'rejected', 'X', NULL, %s, 1)",
                ["offices", "00000000-0000-0000-0000-000000000000"],
            )
        with pytest.raises(psycopg.errors.NotNullViolation) as data:
            conn.execute("INSERT INTO public.offices (legacy_office_id) VALUES (NULL)")
    assert not is_row_error(own.value)
    assert is_row_error(data.value)
