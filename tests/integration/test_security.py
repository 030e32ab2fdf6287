"""The source is opened read-only; credentials never leave the environment."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from mdw_migrate import databases, embedded
from mdw_migrate.config import Endpoint


def test_a_write_through_the_tools_source_connection_fails(
    pg_server: embedded.EmbeddedServer, create_database: Callable[[str], str]
) -> None:
    conninfo = create_database("readonly")
    ep = Endpoint(
        side="source",
        host=pg_server.socket_dir,
        port=pg_server.port,
        user="postgres",
        dbname=str(str(psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"])),
        password=None,
        sslmode="disable",
        sslrootcert=None,
        embedded=False,
    )
    with (
        databases.source_session(ep) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute("CREATE TABLE must_not_exist (id integer)")
    with psycopg.connect(conninfo) as plain:
        assert plain.execute("SELECT to_regclass('must_not_exist')").fetchone() == (None,)
