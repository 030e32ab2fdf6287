"""Errors in the contract's shape: a code, a message, details, and what the operator should do.

Every code is a member of `Code`; every error is of one category of the contract, by class:
`CriticalError` stops the run, `RetryableError` is worth another try (and stops the run once
the retries are spent), `UsageError` is a command or setting the tool cannot act on. The exit
code follows from the category, here and nowhere else. Messages and details carry table
names, entity names, ids and counts only, never row content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, ClassVar

# Exit codes: 1 for the data (a failed check, rows beyond the error budget), 2 for a usage or
# configuration error, 3 for a critical error; a run stopped by a signal exits 128 + its
# number (130 for SIGINT, 143 for SIGTERM), as shells report it.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CRITICAL = 3
EXIT_SIGNAL_BASE = 128
EXIT_CODES_HELP = (
    "Exit codes: 0 done (a declined prompt included); 1 the data: a failed check, or rows"
    " rejected beyond the error budget; 2 usage or configuration; 3 critical: connection,"
    " pooler, dependency, schema; 130 stopped by Ctrl-C (SIGINT) and 143 by SIGTERM, after the"
    " batch in flight: the summary names the command that resumes."
)


class Code(StrEnum):
    # A command or setting the tool cannot act on.
    USAGE = "USAGE"
    CONFIG_INVALID = "CONFIG_INVALID"
    UNKNOWN_ENTITY = "UNKNOWN_ENTITY"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    SOURCE_NOT_EMPTY = "SOURCE_NOT_EMPTY"
    RUN_IN_PROGRESS = "RUN_IN_PROGRESS"
    # The databases are not what the tool needs.
    CONNECTION_FAILED = "CONNECTION_FAILED"
    POOLER_TRANSACTION_MODE = "POOLER_TRANSACTION_MODE"
    SCHEMA_INCOMPATIBLE = "SCHEMA_INCOMPATIBLE"
    SCHEMA_CONFLICT = "SCHEMA_CONFLICT"
    DEPENDENCY_NOT_MET = "DEPENDENCY_NOT_MET"
    DEPENDENTS_EXIST = "DEPENDENTS_EXIST"
    ID_SECRET_MISMATCH = "ID_SECRET_MISMATCH"
    ID_SECRET_MISSING = "ID_SECRET_MISSING"
    ARCHIVE_NO_ID = "ARCHIVE_NO_ID"
    AUDIT_LOG_DAMAGED = "AUDIT_LOG_DAMAGED"
    # A run that had to stop.
    SOURCE_UNAVAILABLE = "SOURCE_UNAVAILABLE"
    ERROR_BUDGET_EXCEEDED = "ERROR_BUDGET_EXCEEDED"
    TARGET_RESOURCES_EXHAUSTED = "TARGET_RESOURCES_EXHAUSTED"
    DATABASE_ERROR = "DATABASE_ERROR"
    # One row the target refused on its own values (its reject reason too).
    LOAD_ERROR = "LOAD_ERROR"
    # Transient by nature: retried, and reported once the retries are spent.
    CONNECTION_LOST = "CONNECTION_LOST"
    STATEMENT_TIMEOUT = "STATEMENT_TIMEOUT"
    LOCK_TIMEOUT = "LOCK_TIMEOUT"
    # How a command ended without an error being raised (audit trail, summary object).
    VALIDATION_FAILED = "VALIDATION_FAILED"
    SECURITY_CHECK_FAILED = "SECURITY_CHECK_FAILED"
    INTERRUPTED = "INTERRUPTED"
    ABORTED = "ABORTED"
    UNEXPECTED_ERROR = "UNEXPECTED_ERROR"
    LOCAL_IO_ERROR = "LOCAL_IO_ERROR"


# Codes that mean "the tool declined to start", not "something broke" (the audit's `refused`).
REFUSALS = frozenset(
    {
        Code.USAGE,
        Code.CONFIG_INVALID,
        Code.UNKNOWN_ENTITY,
        Code.CONFIRMATION_REQUIRED,
        Code.SOURCE_NOT_EMPTY,
        Code.POOLER_TRANSACTION_MODE,
        Code.SCHEMA_INCOMPATIBLE,
        Code.SCHEMA_CONFLICT,
        Code.DEPENDENCY_NOT_MET,
        Code.DEPENDENTS_EXIST,
        Code.RUN_IN_PROGRESS,
        Code.ABORTED,
    }
)


class Category(Enum):
    """The contract's error categories (Error Handling Contract), plus usage."""

    CRITICAL = "critical"  # stop execution
    RETRY = "retry"  # major: retry with caution
    MINOR = "minor"  # log and continue: one record's failure, within tolerance
    USAGE = "usage"


_EXIT_CODES = {Category.CRITICAL: EXIT_CRITICAL, Category.RETRY: EXIT_CRITICAL,
               Category.MINOR: EXIT_FAILED, Category.USAGE: EXIT_USAGE}  # fmt: skip


@dataclass
class MigrationError(Exception):
    code: Code
    message: str
    suggestion: str
    details: dict[str, Any] = field(default_factory=dict)
    entity: str | None = None
    rollback_required: bool = False

    category: ClassVar[Category] = Category.CRITICAL

    @property
    def exit_code(self) -> int:
        # Too many rows rejected stops the run, but what is wrong is the data.
        if self.code == Code.ERROR_BUDGET_EXCEEDED:
            return EXIT_FAILED
        return _EXIT_CODES[self.category]

    @property
    def refused(self) -> bool:
        return self.code in REFUSALS

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_contract(self) -> dict[str, Any]:
        return {
            "status": "error",
            "entity": self.entity,
            "error": {"code": str(self.code), "message": self.message, "details": self.details},
            "recovery": {
                "suggestion": self.suggestion,
                "rollbackRequired": self.rollback_required,
            },
        }


class CriticalError(MigrationError):
    """Stops the command: the databases, the schema or the data are not what it needs."""

    category = Category.CRITICAL


class RetryableError(MigrationError):
    """Transient (a lock, a timeout, a lost connection): tried again; once the retries are
    spent it stops the run as a critical error would."""

    category = Category.RETRY


class MinorError(MigrationError):
    """One record's failure (a row the target refused on its own values): recorded as a
    reject and the run goes on, within the error budget."""

    category = Category.MINOR


class UsageError(MigrationError):
    """A command, option or setting the tool cannot act on (exit code 2)."""

    category = Category.USAGE


def dependency_not_met(entity: str, missing: list[str], state: dict[str, str]) -> MigrationError:
    first = missing[0]
    return CriticalError(
        code=Code.DEPENDENCY_NOT_MET,
        entity=entity,
        message=f"{', '.join(missing)} must be migrated before {entity}",
        details={
            "missingDependencies": missing,
            "currentState": ", ".join(f"{name}: {state.get(name, 'pending')}" for name in missing),
        },
        suggestion=f"Run 'mdw-migrate migrate {first}' first (or migrate a phase that includes it)",
    )


def config_invalid(problems: list[dict[str, Any]]) -> MigrationError:
    """Settings that cannot be used, each named with the form it expects and the value found
    (None for a secret, whose value is never echoed)."""
    names = ", ".join(p["variable"] for p in problems)
    first = problems[0]
    shown = "" if first["value"] is None else f", got {first['value']!r}"
    return UsageError(
        code=Code.CONFIG_INVALID,
        message=f"{first['variable']} is not usable: expected {first['expected']}{shown}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
        details={"variables": problems},
        suggestion=f"Correct {names} in the environment or in .env, then run the command again",
    )


def schema_incompatible(side: str, missing: list[str]) -> MigrationError:
    command = "mdw-migrate schema apply" if side == "target" else None
    suggestion = (
        f"Run '{command}' to create or upgrade the target schema"
        if command
        else "Point SOURCE_DB_* at the legacy mdw_db database, or add the missing columns"
    )
    return CriticalError(
        code=Code.SCHEMA_INCOMPATIBLE,
        message=f"The {side} database lacks {len(missing)} table(s) or column(s) the tool needs",
        details={"side": side, "missing": missing},
        suggestion=suggestion,
    )


def connection_failed(side: str, host: str, database: str, reason: str) -> MigrationError:
    return CriticalError(
        code=Code.CONNECTION_FAILED,
        message=f"Cannot connect to the {side} database {database!r} on {host}: {reason}",
        details={"side": side, "host": host, "database": database},
        suggestion=(
            f"Check {side.upper()}_DB_HOST/PORT/USER/NAME/PASSWORD (environment or .env), "
            "DB_SSLMODE, and that the server accepts connections from this machine"
        ),
    )


def pooler_transaction_mode(host: str, port: int, mode: str) -> MigrationError:
    return CriticalError(
        code=Code.POOLER_TRANSACTION_MODE,
        message=(
            f"The target {host}:{port} is reached through a connection pooler in {mode} mode:"
            " a session does not keep its server connection from one transaction to the next,"
            " and the tool's staging tables, settings and snapshot need it. Nothing was written"
        ),
        details={"host": host, "port": port, "poolMode": mode},
        suggestion=(
            "Use the direct connection (db.<project-ref>.supabase.co, port 5432) or the session"
            " pooler (<region>.pooler.supabase.com, port 5432), not the transaction pooler"
            " (port 6543); set TARGET_DB_HOST/TARGET_DB_PORT and run the command again"
        ),
    )


def from_database_error(
    exc: Exception, entity: str | None = None, command: str | None = None
) -> MigrationError:
    """A database error that retries did not cure, in the contract's shape. Only the error
    class and SQLSTATE are kept: the server's message may quote row values. `--resume` is
    advised only after `migrate`, the one command that has it."""
    import psycopg
    from psycopg import errors

    kind = type(exc).__name__
    sqlstate = getattr(exc, "sqlstate", None)
    again = (
        "run the same command with --resume" if command == "migrate" else "run the command again"
    )
    details: dict[str, Any] = {"error": kind, "sqlstate": sqlstate}
    if isinstance(exc, errors.QueryCanceled):
        return RetryableError(
            code=Code.STATEMENT_TIMEOUT,
            entity=entity,
            message="A statement ran longer than MIGRATION_TIMEOUT, after every retry",
            details=details,
            suggestion=(
                f"Raise MIGRATION_TIMEOUT (milliseconds) or lower --batch-size, then {again}"
            ),
        )
    if str(sqlstate or "").startswith("40"):
        # A deadlock is an OperationalError too: it must not read as a lost connection.
        return RetryableError(
            code=Code.LOCK_TIMEOUT,
            entity=entity,
            message="Sessions on the target deadlocked or conflicted (SQLSTATE class 40)",
            details=details,
            suggestion=(
                "Look for another session writing the same tables (pg_stat_activity,"
                f" pg_locks), then {again}"
            ),
        )
    if isinstance(exc, errors.LockNotAvailable):
        return RetryableError(
            code=Code.LOCK_TIMEOUT,
            entity=entity,
            message="Another session kept a lock on a target table, after every retry",
            details=details,
            suggestion=(
                "Find the blocking session (pg_stat_activity, pg_locks), let it finish, then"
                f" {again}"
            ),
        )
    if isinstance(exc, errors.DiskFull | errors.OutOfMemory | errors.InsufficientResources):
        return CriticalError(
            code=Code.TARGET_RESOURCES_EXHAUSTED,
            entity=entity,
            message="The target database ran out of disk or memory; the batch was rolled back",
            details=details,
            suggestion=f"Free space on the target, then {again}",
        )
    if isinstance(exc, psycopg.OperationalError):
        return RetryableError(
            code=Code.CONNECTION_LOST,
            entity=entity,
            message="A database connection was lost and could not be restored",
            details=details,
            suggestion=f"Check both databases are reachable, then {again}",
        )
    return CriticalError(
        code=Code.DATABASE_ERROR,
        entity=entity,
        message=f"The database refused a statement ({kind}, SQLSTATE {sqlstate})",
        details=details,
        suggestion=(
            "See ./logs/ for the entity and batch; nothing of the failed batch was written."
            f" Fix the cause, then {again}"
        ),
    )
