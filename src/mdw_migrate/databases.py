"""Opens the two sides: configured servers, or the embedded one for a side left unconfigured.

Every connection this module opens is a `CleanConnection`: whatever it changed in its session
(settings, temporary tables) is discarded before it is closed, so a session pooler that hands
the server connection to its next client hands it back as it found it. (The generator and the
demo's database reset connect on their own: they only ever touch the embedded server or a
source that `generate --force` empties.)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from . import embedded
from .config import Endpoint, Settings, endpoint, needs_embedded
from .errors import connection_failed, from_database_error, pooler_transaction_mode

Conn = psycopg.Connection[tuple[Any, ...]]
log = logging.getLogger("mdw_migrate.databases")


class CleanConnection(psycopg.Connection[tuple[Any, ...]]):
    def close(self) -> None:
        # Straight through libpq: DISCARD ALL cannot run in a transaction, and psycopg would
        # open one on a connection that is not in autocommit.
        idle = self.pgconn.transaction_status == TransactionStatus.IDLE
        if not self.closed and not self.broken and idle:
            with contextlib.suppress(psycopg.Error):  # closing must not fail on a dying link
                self.pgconn.exec_(b"DISCARD ALL")
        super().close()


@dataclass(frozen=True)
class Endpoints:
    source: Endpoint
    target: Endpoint
    server: embedded.EmbeddedServer | None


def resolve(settings: Settings) -> Endpoints:
    server = embedded.start(settings.mdw_home) if needs_embedded(settings) else None
    socket = server.socket_dir if server else None
    port = server.port if server else 0
    return Endpoints(
        source=endpoint(settings, "source", socket, port),
        target=endpoint(settings, "target", socket, port),
        server=server,
    )


def connect(ep: Endpoint, **kwargs: Any) -> Conn:
    try:
        return CleanConnection.connect(
            psycopg.conninfo.make_conninfo(**ep.conninfo_kwargs()), **kwargs
        )
    except psycopg.OperationalError as exc:
        # libpq's message names host and user at most; it never echoes the password.
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise connection_failed(ep.side, str(ep.identity()["host"]), ep.dbname, reason) from exc


def _backend_pid(conn: Conn) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def check_session_state(ep: Endpoint) -> None:
    """Stops with POOLER_TRANSACTION_MODE when `ep` is reached through a pooler that hands
    each transaction to any server connection (Supavisor on 6543, PgBouncer in transaction
    or statement mode). The tool's temporary staging tables, session settings and exported
    snapshot need one server session per connection.

    The test: a first connection reads its backend pid, a second one holds a transaction
    open, the first reads its pid again. A real session keeps its pid and never shares it;
    under transaction pooling the first connection's server is either handed to the second
    (a pooler reuses the most recent idle server) or replaced by another one.
    """
    if ep.embedded:
        return
    try:
        with connect(ep, autocommit=True) as first:
            before = _backend_pid(first)
            with connect(ep) as second:
                held = _backend_pid(second)
                # Decided already when the second connection got the first one's server;
                # asking the first one again could then wait on a pool of one server.
                after = before if held == before else _backend_pid(first)
                second.rollback()
    except psycopg.Error as exc:
        # PgBouncer in statement mode: "transaction blocks not allowed in statement pooling
        # mode" (SQLSTATE 08P01).
        if "pooling mode" in str(exc) or "pool mode" in str(exc):
            raise pooler_transaction_mode(ep.host, ep.port, "statement") from exc
        raise from_database_error(exc) from exc
    if after != before or held == before:
        log.error(
            "transaction pooler",
            extra={"action": "pooler_detected", "details": {"host": ep.host, "port": ep.port}},
        )
        raise pooler_transaction_mode(ep.host, ep.port, "transaction")


def open_source(ep: Endpoint) -> Conn:
    """A read-only session; its first statement opens a REPEATABLE READ snapshot that lasts
    until the connection is closed (parallel workers import it). Every transaction is
    `BEGIN READ ONLY`; no session setting is changed (a pooled legacy server keeps none)."""
    conn = connect(ep)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def open_target(ep: Endpoint, statement_timeout_ms: int) -> Conn:
    conn = connect(ep, autocommit=True)
    try:
        _configure_target(conn, statement_timeout_ms)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure_target(conn: Conn, statement_timeout_ms: int) -> None:
    # Batches commit asynchronously (a crash of the target server may lose the last few,
    # together with their checkpoints, so a resume redoes them); the run's final commit
    # is synchronous and flushes all of them.
    conn.execute("SET synchronous_commit = off")
    try:
        # Before any temporary table exists: the staging and work tables of a large batch
        # then stay in memory instead of spilling to temporary files. A pooled server
        # session that already used temporary tables refuses it; it is only a speed-up.
        conn.execute("SET temp_buffers = '128MB'")
    except psycopg.errors.InvalidParameterValue:
        log.info("temp_buffers kept", extra={"action": "temp_buffers_kept"})
    conn.execute("SELECT set_config('statement_timeout', %s, false)", [str(statement_timeout_ms)])
    # Waiting on another session's lock ends well before the statement timeout, so the batch
    # is retried (with backoff) instead of hanging.
    lock_ms = min(30_000, statement_timeout_ms) if statement_timeout_ms else 30_000
    conn.execute("SELECT set_config('lock_timeout', %s, false)", [str(lock_ms)])


@contextmanager
def source_session(ep: Endpoint) -> Iterator[Conn]:
    conn = open_source(ep)
    try:
        yield conn
    finally:
        try:
            if not conn.broken:
                conn.rollback()
        finally:
            conn.close()


@contextmanager
def target_session(ep: Endpoint, statement_timeout_ms: int) -> Iterator[Conn]:
    conn = open_target(ep, statement_timeout_ms)
    try:
        yield conn
    finally:
        conn.close()
