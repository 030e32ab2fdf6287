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
from ..errors import Code, MigrationError, from_database_error
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


@contextmanager
def audited(config: Config, command: str, arguments: dict[str, Any]) -> Iterator[Trail]:
    """Arguments are the parsed options only; secrets never get here."""
    trail = Trail()
    try:
        yield trail
    except MigrationError as exc:
        trail.ended("refused" if exc.refused else "failed", exc.code)
        raise
    except psycopg.Error as exc:
        trail.outcome, trail.error_code = "failed", from_database_error(exc).code
        raise
    except KeyboardInterrupt:
        trail.ended("interrupted", Code.INTERRUPTED)
        raise
    except Exception as exc:
        trail.ended("failed", Code.UNEXPECTED_ERROR)
        log.error(
            "unexpected error", extra={"action": "error", "details": {"type": type(exc).__name__}}
        )
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
