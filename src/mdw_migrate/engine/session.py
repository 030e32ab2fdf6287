"""A pair of connections one entity (or one key range of it) works on, and how workers open
theirs: on the run's exported source snapshot, both speaking UTF-8."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg import sql

from .context import Conn, RunContext


def use_utf8(conn: Conn) -> None:
    """Both sessions speak UTF-8 whatever the servers' encodings: a SQL_ASCII legacy server
    would otherwise hand back even catalogue names as bytes."""
    if conn.info.encoding.lower().replace("-", "") != "utf8":
        conn.execute("SET client_encoding TO 'UTF8'")


@dataclass
class Session:
    """The source and target connections of one worker. The target may be replaced when it
    is lost (see failures.py); the source never is: its snapshot is the run's."""

    source: Conn
    target: Conn
    ctx: RunContext

    @property
    def source_ok(self) -> bool:
        from psycopg.pq import TransactionStatus

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
        self.target = self.ctx.open_target()


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
