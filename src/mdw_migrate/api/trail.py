"""The audit record every migrate, validate, rollback and schema apply leaves, however it
ends: ./audit/audit.jsonl, and a copy in the target's migration.audit_log when it can."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .. import audit, databases, state
from ..errors import Code, CriticalError, MigrationError, from_database_error
from .config import Config

log = logging.getLogger("mdw_migrate.api")


@dataclass
class Trail:
    """What a command reports to the audit trail: set as the command learns it."""

    endpoints: databases.Endpoints | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    outcome: audit.Outcome = "success"
    error_code: str | None = None

    def ended(self, outcome: audit.Outcome, code: Code) -> None:
        self.outcome, self.error_code = outcome, code

    def resolved(self, endpoints: databases.Endpoints) -> None:
        self.endpoints = endpoints


@contextmanager
def contract_errors(command: str) -> Iterator[None]:
    """Whatever goes wrong leaves as a contract error: a database error with its class and
    SQLSTATE, a local file that cannot be written, or anything else by its type alone
    (messages of unknown errors may quote data, so they are never shown or logged)."""
    try:
        yield
    except MigrationError:
        raise
    except psycopg.Error as exc:
        log.error(
            "database error",
            extra={
                "action": "error",
                "details": {"error": type(exc).__name__, "sqlstate": exc.sqlstate},
            },
        )
        raise from_database_error(exc, command=command) from exc
    except OSError as exc:
        raise CriticalError(
            code=Code.LOCAL_IO_ERROR,
            message=f"Cannot use the local file {exc.filename!s} ({type(exc).__name__}:"
            f" {exc.strerror})",
            details={"error": type(exc).__name__, "errno": exc.errno},
            suggestion="Make ./logs, ./audit, ./checkpoints and ./backups writable (and the"
            " disk not full), then run the command again",
        ) from exc
    except Exception as exc:
        log.error(
            "unexpected error", extra={"action": "error", "details": {"type": type(exc).__name__}}
        )
        raise CriticalError(
            code=Code.UNEXPECTED_ERROR,
            message=f"The command stopped on an unexpected error ({type(exc).__name__})",
            details={"error": type(exc).__name__},
            suggestion="Run it again with LOG_LEVEL=debug and report the error type and"
            " ./logs/ to the maintainers; committed batches are kept",
        ) from exc


@contextmanager
def audited(config: Config, command: str, arguments: dict[str, Any]) -> Iterator[Trail]:
    """Arguments are the parsed options only; secrets never get here."""
    trail = Trail()
    try:
        with contract_errors(command.split()[0]):
            yield trail
    except MigrationError as exc:
        trail.ended("refused" if exc.refused else "failed", exc.code)
        raise
    except KeyboardInterrupt:
        trail.ended("interrupted", Code.INTERRUPTED)
        raise
    finally:
        source = dict(trail.endpoints.source.identity()) if trail.endpoints else None
        target = dict(trail.endpoints.target.identity()) if trail.endpoints else None
        record = audit.append(
            config.audit_dir,
            command,
            {**arguments, "user": getpass.getuser()},
            source,
            target,
            trail.counts,
            trail.outcome,
            trail.error_code,
        )
        if trail.endpoints is not None:
            _copy_to_target(trail.endpoints, record)


def _copy_to_target(endpoints: databases.Endpoints, record: audit.AuditRecord) -> None:
    # Best effort: the file is the record of truth; a target that is down or has no
    # migration.audit_log yet (before `schema apply`) must not turn a result into an error.
    try:
        with databases.connect(endpoints.target, autocommit=True) as conn:
            if state.audit_log.exists(conn):
                state.audit_log.insert(conn, record)
    except (MigrationError, psycopg.Error) as exc:
        log.warning(
            "audit copy to target skipped",
            extra={"action": "audit_db_skipped", "details": {"error": type(exc).__name__}},
        )
