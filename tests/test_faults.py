"""Faults: a bad row is isolated and rejected without stopping the batch's other rows; too many
bad rows stop the run with a report."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.validate import validate
from mdw_migrate.errors import MigrationError
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from .helpers import rows, run, scalar


@pytest.fixture(scope="module")
def source(create_database: Callable[[str], str]) -> str:
    conninfo = create_database("fault_src")
    generate(conninfo, scale=0.05, seed=41)
    return conninfo


def fresh_target(create_database: Callable[[str], str], constraint: str) -> str:
    target = create_database("fault_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
        conn.execute(constraint)
    return target


def test_one_bad_row_is_rejected_load_error_and_the_rest_of_its_batch_loads(
    source: str, create_database: Callable[[str], str]
) -> None:
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
