"""A pair of connections one entity (or one key range of it) works on, and how workers open
theirs: on the run's exported source snapshot, both speaking UTF-8."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psycopg import sql
from psycopg.pq import TransactionStatus

from .context import Conn, RunContext


def use_utf8(conn: Conn) -> None:
    """Both sessions speak UTF-8 whatever the servers' encodings: a SQL_ASCII legacy server
    would otherwise hand back even catalogue names as bytes."""
    if conn.info.encoding.lower().replace("-", "") != "utf8":
        conn.execute("SET client_encoding TO 'UTF8'")


def backend_pid(conn: Conn) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Session:
    """The source and target connections of one worker. The target may be replaced when it
    is lost (see failures.py); the source never is: its snapshot is the run's."""

    source: Conn
    target: Conn
    ctx: RunContext
    # The target's server session, to notice a pooler that swaps it between transactions.
    target_pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.target_pid = backend_pid(self.target)

    def target_moved(self) -> bool:
        """True when the target connection now talks to another server session than it did
        (only a transaction pooler does that); asked after a failure, never per batch."""
        if self.target_lost or self.target.info.transaction_status != TransactionStatus.IDLE:
            return False
        return backend_pid(self.target) != self.target_pid

    @property
    def source_ok(self) -> bool:
        return not (
            self.source.broken
            or self.source.closed
            or self.source.info.transaction_status == TransactionStatus.INERROR
        )

    @property
    def target_lost(self) -> bool:
        return self.target.broken or self.target.closed

    def reopen_target(self) -> None:
        assert self.ctx.open_target is not None
        lost = self.target
        self.target = self.ctx.open_target()
        self.target_pid = backend_pid(self.target)
        with contextlib.suppress(Exception):  # it is broken already; closing frees the socket
            lost.close()


@contextmanager
def worker_session(ctx: RunContext) -> Iterator[Session]:
    """A worker's own connections, reading the coordinator's exported snapshot, so the whole
    run still sees one consistent source."""
    assert ctx.open_source is not None and ctx.open_target is not None
    assert ctx.snapshot is not None
    with ctx.open_source() as source, ctx.open_target() as target:
        source.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(ctx.snapshot)))
        use_utf8(source)
        use_utf8(target)
        session = Session(source, target, ctx)
        try:
            yield session
        finally:
            if not source.broken:
                source.rollback()
            if session.target is not target:
                session.target.close()
