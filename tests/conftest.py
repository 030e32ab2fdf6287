"""Shared fixtures: one embedded PostgreSQL for the whole test session, fresh databases per test.

Tests talk to this real server; nothing here mocks the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from mdw_migrate import embedded

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> embedded.EmbeddedServer:
    # A short path: the server's Unix socket lives in its data folder, and socket paths are short.
    home = Path(tmp_path_factory.mktemp("pg", numbered=True))
    return embedded.start(home)


@pytest.fixture(scope="session")
def create_database(pg_server: embedded.EmbeddedServer) -> Callable[[str], str]:
    """Returns a function that creates an empty database and gives its conninfo."""

    def _create(prefix: str) -> str:
        name = f"{prefix}_{next(_counter)}"
        with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return str(pg_server.admin_conninfo(name))

    return _create


@pytest.fixture
def empty_db(create_database: Callable[[str], str]) -> Iterator[str]:
    yield create_database("t")
