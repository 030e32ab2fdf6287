"""Opens the two sides: configured servers, or the embedded one for a side left unconfigured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from . import embedded
from .config import Endpoint, Settings, endpoint, needs_embedded
from .errors import connection_failed

Conn = psycopg.Connection[tuple[Any, ...]]


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
        return psycopg.connect(psycopg.conninfo.make_conninfo(**ep.conninfo_kwargs()), **kwargs)
    except psycopg.OperationalError as exc:
        # libpq's message names host and user at most; it never echoes the password.
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise connection_failed(ep.side, str(ep.identity()["host"]), ep.dbname, reason) from exc


def open_source(ep: Endpoint) -> Conn:
    """A read-only session; its first statement opens a REPEATABLE READ snapshot that lasts
    until the connection is closed (parallel workers import it)."""
    conn = connect(ep, options="-c default_transaction_read_only=on")
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def open_target(ep: Endpoint, statement_timeout_ms: int) -> Conn:
    conn = connect(ep, autocommit=True)
    # Batches commit asynchronously (a crash of the target server may lose the last few,
    # together with their checkpoints, so a resume redoes them); the run's final commit
    # is synchronous and flushes all of them.
    conn.execute("SET synchronous_commit = off")
    # Before any temporary table exists: the staging and work tables of a large batch
    # then stay in memory instead of spilling to temporary files.
    conn.execute("SET temp_buffers = '128MB'")
    conn.execute("SELECT set_config('statement_timeout', %s, false)", [str(statement_timeout_ms)])
    # Waiting on another session's lock ends well before the statement timeout, so the batch
    # is retried (with backoff) instead of hanging.
    lock_ms = min(30_000, statement_timeout_ms) if statement_timeout_ms else 30_000
    conn.execute("SELECT set_config('lock_timeout', %s, false)", [str(lock_ms)])
    return conn


@contextmanager
def source_session(ep: Endpoint) -> Iterator[Conn]:
    conn = open_source(ep)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


@contextmanager
def target_session(ep: Endpoint, statement_timeout_ms: int) -> Iterator[Conn]:
    conn = open_target(ep, statement_timeout_ms)
    try:
        yield conn
    finally:
        conn.close()
