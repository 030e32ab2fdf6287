"""How a database error that retries did not cure is reported: by what it is, not by its class
hierarchy (psycopg makes a deadlock an OperationalError, like a lost connection)."""

from __future__ import annotations

import psycopg

from mdw_migrate.errors import Code, from_database_error


def test_a_deadlock_is_not_a_lost_connection() -> None:
    error = from_database_error(psycopg.errors.DeadlockDetected(), "tasks", "migrate")
    assert error.code == Code.LOCK_TIMEOUT
    assert "deadlocked" in error.message
    assert error.details == {"error": "DeadlockDetected", "sqlstate": "40P01"}
    assert error.suggestion.endswith("run the same command with --resume")


def test_a_lost_connection_is_still_one() -> None:
    error = from_database_error(psycopg.OperationalError("gone"), "tasks", "sync")
    assert error.code == Code.CONNECTION_LOST
    assert error.suggestion.endswith("run the command again")
