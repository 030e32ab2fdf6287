"""What happens when a batch fails: the failure's type decides.

* `RowFailure` (minor): a data exception or integrity violation (SQLSTATE classes 22 and 23),
  which only a row's own values can cause. The pass halves the batch until the row is
  alone, and `reject_row` records it `LOAD_ERROR`; the error budget bounds how many.
* `TransientFailure` (retry): any other database error while the run's source snapshot is
  intact and the target can be reached again: retried with backoff on repaired staging
  tables or a reopened target connection, then, once the retries are spent, reported with
  its error class and SQLSTATE. It never rejects a row.
* Anything else is final: a lost source (its snapshot is gone with it), a target that cannot
  be reopened (a dry run lives in one transaction), a source whose transaction failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from .. import state
from ..errors import (
    Code,
    CriticalError,
    MigrationError,
    MinorError,
    RetryableError,
    pooler_transaction_mode,
)
from ..errors import from_database_error as contract_error
from ..state import BatchKeys
from . import batch, sqlgen
from .batch import Window
from .context import BatchStats
from .session import Session
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.runner")

# SQLSTATEs of classes 22 and 23 that say nothing about a row's values: a COPY whose rows do
# not fit the staging table (wrong field count or binary format: the session's tables are not
# what the runner made, as behind a transaction pooler) and a setting refused.
NOT_ROW_ERRORS = frozenset({"22P03", "22P04", "22023"})
# Errors after which nothing about the session needs repair before the retry.
_LOCKS_AND_TIMEOUTS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.LockNotAvailable,
    psycopg.errors.SerializationFailure,
    psycopg.errors.QueryCanceled,
)


def is_row_error(exc: BaseException) -> bool:
    """Only a data exception or an integrity violation (SQLSTATE classes 22 and 23) of the
    target's data can come from a row's own values; one raised by the tool's own state tables
    (migration.*) cannot."""
    if not isinstance(exc, psycopg.Error):
        return False
    sqlstate = exc.sqlstate or ""
    return (
        sqlstate[:2] in ("22", "23")
        and sqlstate not in NOT_ROW_ERRORS
        and exc.diag.schema_name != state.SCHEMA
    )


class RowFailure(MinorError):
    """The target refused a row of the batch on the row's own values."""

    def __init__(self, cause: psycopg.Error, entity: str) -> None:
        super().__init__(
            code=Code.LOAD_ERROR,
            message="The target refused a row on its own values",
            suggestion="See migration.row_outcomes (reason LOAD_ERROR)",
            details={"error": type(cause).__name__, "sqlstate": cause.sqlstate},
            entity=entity,
        )
        self.cause = cause


class TransientFailure(RetryableError):
    """A failure worth another try; `final` is how it is reported once the retries are
    spent."""

    def __init__(self, final: MigrationError, cause: psycopg.Error) -> None:
        super().__init__(
            code=final.code,
            message=final.message,
            suggestion=final.suggestion,
            details=final.details,
            entity=final.entity,
        )
        self.final = final
        self.cause = cause


def source_lost(entity: str, exc: BaseException) -> CriticalError:
    return CriticalError(
        code=Code.SOURCE_UNAVAILABLE,
        entity=entity,
        message=f"The connection to the source database was lost ({type(exc).__name__})",
        details={"error": type(exc).__name__},
        suggestion=(
            "Check that the legacy database is up and reachable, then run the same command"
            " with --resume: every committed batch is kept"
        ),
    )


def classify(session: Session, entity: str, exc: psycopg.Error) -> MigrationError:
    if session.source.broken or session.source.closed:
        return source_lost(entity, exc)
    final = contract_error(exc, entity, "migrate")
    if session.target_moved():
        # The target's session changed server under the batch: a transaction pooler that
        # the check before the run could not see (it handed the same server back then).
        return pooler_transaction_mode(
            session.target.info.host, session.target.info.port, "transaction"
        )
    if not session.source_ok:
        # The source's transaction, the run's snapshot, is gone: whatever the class, the
        # error came from the source side, not from a row the target refused.
        return final
    if is_row_error(exc):
        return RowFailure(exc, entity)
    if session.target_lost and (session.ctx.open_target is None or session.ctx.dry_run):
        return final
    return TransientFailure(final, exc)


def attempt(
    session: Session,
    spec: EntitySpec,
    batch_no: int,
    window: Window,
    repair: Callable[[], None],
) -> BatchStats | None:
    """One batch, retried while its failure is transient; `repair` rebuilds the session's
    staging tables (after the target connection was reopened when it had been lost)."""

    def once() -> BatchStats | None:
        try:
            return batch.run(session, spec, batch_no, window)
        except psycopg.Error as exc:
            raise classify(session, spec.name, exc) from exc

    def before_sleep(retry: RetryCallState) -> None:
        error = retry.outcome.exception() if retry.outcome else None
        cause = getattr(error, "cause", error)
        log.warning(
            "batch retried",
            extra={
                "entity": spec.name,
                "action": "batch_retry",
                "details": {
                    "batchNumber": batch_no,
                    "attempt": retry.attempt_number,
                    "error": type(cause).__name__,
                },
            },
        )
        if session.target_lost:
            log.warning(
                "target reconnected", extra={"entity": spec.name, "action": "target_reconnect"}
            )
            session.reopen_target()
            repair()
        elif not isinstance(cause, _LOCKS_AND_TIMEOUTS):
            # The batch rolled back on a connection that still works, but the session's
            # staging tables may be what failed: the retry starts from fresh ones.
            repair()

    retrying = Retrying(
        retry=retry_if_exception_type(TransientFailure),
        stop=stop_after_attempt(session.ctx.max_retry_attempts + 1),
        wait=wait_exponential(multiplier=0.2, max=10),
        reraise=True,
        before_sleep=before_sleep,
    )
    try:
        return retrying(once)
    except TransientFailure as exc:
        raise exc.final from exc.cause


def reject_row(
    session: Session, spec: EntitySpec, batch_no: int, window: Window, failure: RowFailure
) -> BatchStats | None:
    """Records the single row after `window.last_key` as rejected LOAD_ERROR, with the
    database's error class, SQLSTATE and the constraint or column it names: never values."""
    started = time.perf_counter()
    exc = failure.cause
    diag = exc.diag
    where = diag.constraint_name or diag.column_name
    detail = f"{type(exc).__name__} (SQLSTATE {exc.sqlstate})" + (f" on {where}" if where else "")
    # The key of the failing row, read from the source: the row itself may be what the
    # target cannot even stage (text that is not valid UTF-8).
    row = session.source.execute(
        sqlgen.next_key_query(spec, window.last_key, window.upper).encode()
    ).fetchone()
    if row is None:
        return None
    key = int(row[0])
    keys = BatchKeys(spec.name, session.ctx.run_id, batch_no, lo=window.lo, hi=key)
    target = session.target
    stats = BatchStats(spec.name, batch_no, 1, 0, 0, 1, key, 0.0)
    with target.transaction():
        # The keys before it up to the last batch have no source row: taken out like any
        # batch's, and the row itself no longer migrates if it did.
        mapped_delta = batch.take_out_rejected(session, spec, window, keys, stats)
        state.outcomes.clear(target, keys)
        state.issues.clear(target, keys)
        state.outcomes.reject_load_error(target, keys, key, detail)
        if window.checkpoint:
            batch.commit_checkpoint(target, keys, window.range_no, mapped_delta)
        else:
            state.progress.touch(target, keys, mapped_delta)
    log.warning(
        "row rejected",
        extra={
            "entity": spec.name,
            "action": "load_error",
            "details": {"legacyId": key, "reason": "LOAD_ERROR", "error": detail},
        },
    )
    check_error_budget(session, spec)
    stats.seconds = time.perf_counter() - started
    return stats


def error_budget(source_rows: int) -> float:
    """The share of rows allowed to fail, from the contract's success rates by size."""
    if source_rows < 1_000:
        return 0.005
    if source_rows < 10_000:
        return 0.01
    if source_rows < 100_000:
        return 0.015
    return 0.02


def check_error_budget(session: Session, spec: EntitySpec) -> None:
    """The contract's success rates by entity size, applied to rows that failed to load
    (rule-based rejects such as orphans are expected and do not count)."""
    failed = state.outcomes.load_errors(session.target, spec.name)
    total = state.progress.source_rows(session.target, spec.name)
    allowed = error_budget(total)
    # One bad row is always reported rather than fatal: under 200 rows any single failure
    # would break a 99.5 % rate, and stopping then helps nobody.
    if total and failed > 1 and failed / total > allowed:
        raise CriticalError(
            code=Code.ERROR_BUDGET_EXCEEDED,
            entity=spec.name,
            message=f"{failed} of {total} {spec.name} rows failed to load, more than the"
            f" {allowed:.1%} the contract allows for an entity of this size",
            details={"failedRows": failed, "sourceRows": total, "budget": allowed},
            suggestion=(
                "See migration.row_outcomes (reason LOAD_ERROR) for the rows and the"
                " database's error; fix the cause, then run the same command with --resume"
            ),
        )
