"""The COPY pipe from the source into the target (`staging.pipe`), which reads the source's
messages from libpq itself while it holds them (decision 119). Small COPYs usually end inside
that loop, large ones inside psycopg's wait: each size is tried for each outcome."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from mdw_migrate.engine import staging

Conn = psycopg.Connection[tuple[Any, ...]]
SIZES = [1, 2_000, 200_000]


def rows_out(n: int, fail_at: int | None = None) -> str:
    # A failing row divides by zero on the source, after the rows before it were sent.
    value = "x" if fail_at is None else f"x / (x - {fail_at}) * 0 + x"
    return (
        f"COPY (SELECT {value} AS x, repeat('y', x % 50) AS y FROM generate_series(1, {n}) AS x)"
        " TO STDOUT (FORMAT BINARY)"
    )


def connections(db: str) -> tuple[Conn, Conn]:
    source, target = psycopg.connect(db), psycopg.connect(db)
    target.execute("CREATE TEMP TABLE t (x int CHECK (x <> 0), y text)")
    target.commit()  # the table outlives a failed transaction
    return source, target


@pytest.mark.parametrize("n", SIZES)
def test_the_pipe_carries_every_row_and_ends_the_source_copy(empty_db: str, n: int) -> None:
    source, target = connections(empty_db)
    with source, target:
        copied = staging.pipe(source, target, rows_out(n), "COPY t FROM STDIN (FORMAT BINARY)")
        assert copied == n
        row = target.execute("SELECT count(*), sum(x), sum(length(y)) FROM t").fetchone()
        expected = (n, n * (n + 1) // 2, sum(x % 50 for x in range(1, n + 1)))
        assert row == expected
        # The COPY's final result was read: the source's transaction goes on.
        assert source.info.transaction_status == TransactionStatus.INTRANS
        assert source.execute("SELECT 41 + 1").fetchone() == (42,)


@pytest.mark.parametrize("n", SIZES)
def test_a_source_error_during_the_copy_is_raised_as_the_source_s_own(
    empty_db: str, n: int
) -> None:
    source, target = connections(empty_db)
    with source, target:
        with pytest.raises(psycopg.errors.DivisionByZero):
            staging.pipe(
                source, target, rows_out(n + 5, fail_at=n), "COPY t FROM STDIN (FORMAT BINARY)"
            )
        # Not an OperationalError about a COPY no longer in progress: the source's own class
        # and SQLSTATE, which the run reports. Both transactions failed; the target kept no row.
        assert source.info.transaction_status == TransactionStatus.INERROR
        assert target.info.transaction_status == TransactionStatus.INERROR
        target.rollback()
        assert target.execute("SELECT count(*) FROM t").fetchone() == (0,)


@pytest.mark.parametrize("n", SIZES)
def test_a_copy_the_target_refuses_leaves_the_source_transaction_usable(
    empty_db: str, n: int
) -> None:
    source, target = connections(empty_db)
    with source, target:
        # The last row breaks the target's CHECK: the source has sent everything by then.
        refused = f"COPY (SELECT x - {n} AS x, 'y' AS y FROM generate_series(1, {n}) AS x)"
        with pytest.raises(psycopg.errors.CheckViolation):
            staging.pipe(
                source,
                target,
                f"{refused} TO STDOUT (FORMAT BINARY)",
                "COPY t FROM STDIN (FORMAT BINARY)",
            )
        assert source.info.transaction_status == TransactionStatus.INTRANS
        assert source.execute("SELECT 41 + 1").fetchone() == (42,)
