"""Through a real PgBouncer (the stand-in for Supabase's Supavisor): session mode migrates and
validates; transaction and statement modes are refused before anything is written; and the
tool hands every pooled server connection back as it found it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from mdw_migrate import embedded
from mdw_migrate.cli.main import cli
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import contract_error, json_objects, scalar
from ..pgbouncer import PGBOUNCER, SKIP_REASON, PgBouncer

pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason=SKIP_REASON)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def source(create_database: Callable[[str], str]) -> str:
    conninfo = create_database("pool_src")
    generate(conninfo, scale=0.002, seed=29)
    return conninfo


@pytest.fixture
def through(
    pg_server: embedded.EmbeddedServer,
    source: str,
    create_database: Callable[[str], str],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., tuple[str, PgBouncer]]]:
    """Makes a target database and a PgBouncer in front of it, and points the tool at them:
    the source directly, the target through the pooler, as a Supabase user would."""
    started: list[PgBouncer] = []

    def make(mode: str, *, apply_directly: bool = False, **kwargs: object) -> tuple[str, PgBouncer]:
        target = create_database(f"pool_{mode}")
        if apply_directly:
            with psycopg.connect(target, autocommit=True) as conn:
                schema.apply(conn)
        bouncer = PgBouncer(
            tmp_path_factory.mktemp(f"bouncer-{mode}"),
            pg_server.socket_dir,
            pg_server.port,
            mode,
            ["postgres"],
            **kwargs,  # type: ignore[arg-type]
        )
        started.append(bouncer.start())
        monkeypatch.setenv("SOURCE_DB_HOST", pg_server.socket_dir)
        monkeypatch.setenv("SOURCE_DB_PORT", str(pg_server.port))
        monkeypatch.setenv(
            "SOURCE_DB_NAME", str(psycopg.conninfo.conninfo_to_dict(source)["dbname"])
        )
        monkeypatch.setenv("TARGET_DB_HOST", "127.0.0.1")
        monkeypatch.setenv("TARGET_DB_PORT", str(bouncer.port))
        monkeypatch.setenv(
            "TARGET_DB_NAME", str(psycopg.conninfo.conninfo_to_dict(target)["dbname"])
        )
        monkeypatch.setenv("DB_SSLMODE", "disable")
        monkeypatch.chdir(tmp_path)
        return target, bouncer

    yield make
    for bouncer in started:
        bouncer.stop()


def test_session_mode_migrates_and_validates(
    through: Callable[..., tuple[str, PgBouncer]],
) -> None:
    target, bouncer = through("session")
    assert invoke("schema", "apply").exit_code == 0
    result = invoke("migrate", "all", "--validate", "--json", "--workers", "2")
    assert result.exit_code == 0, result.output[-3000:]
    summary = json_objects(result.output)[-1]
    assert summary["status"] == "success"
    assert summary["summary"]["totals"]["validationFailed"] == 0
    final = invoke("validate", "final", "--json")
    assert final.exit_code == 0, final.output[-3000:]
    assert scalar(target, "SELECT count(*) FROM patients") > 0
    assert f"-> target postgres@127.0.0.1:{bouncer.port}/" in result.output


@pytest.mark.parametrize("mode", ["transaction", "statement"])
def test_a_transaction_pooler_is_refused_before_anything_is_written(
    through: Callable[..., tuple[str, PgBouncer]], mode: str
) -> None:
    # The schema is applied directly: the tables exist, so a run could write.
    target, _ = through(mode, apply_directly=True)
    for args in (
        ["migrate", "all", "--json"],
        ["migrate", "core", "--json", "--workers", "1"],
        ["schema", "apply", "--json"],
        ["validate", "core", "--json"],
        ["rollback", "core", "--yes", "--json"],
    ):
        result = invoke(*args)
        assert result.exit_code == 3, (args, result.output[-2000:])
        error = contract_error(result.output)["error"]
        assert error["code"] == "POOLER_TRANSACTION_MODE", args
        assert error["details"]["poolMode"] == mode
    suggestion = contract_error(result.output)["recovery"]["suggestion"]
    assert "5432" in suggestion and "6543" in suggestion
    for table in ("migration.row_outcomes", "migration.id_map", "migration.runs", "profiles"):
        assert scalar(target, f"SELECT count(*) FROM {table}") == 0, table
    records = [json.loads(x) for x in Path("audit/audit.jsonl").read_text().splitlines()]
    assert {(r["outcome"], r["errorCode"]) for r in records} == {
        ("refused", "POOLER_TRANSACTION_MODE")
    }


def test_pooled_server_connections_are_handed_back_clean(
    through: Callable[..., tuple[str, PgBouncer]],
) -> None:
    """With PgBouncer's own reset switched off, whatever the tool changed in a session
    would reach the pooler's next client."""
    pool_size = 8
    target, bouncer = through("session", pool_size=pool_size, reset_query="")
    assert invoke("schema", "apply").exit_code == 0
    assert invoke("migrate", "core-with-patients", "--validate", "--workers", "2").exit_code == 0
    assert invoke("validate", "core").exit_code == 0
    dbname = str(str(psycopg.conninfo.conninfo_to_dict(target)["dbname"]))
    # As many clients at once as the pool has servers: between them they get every server
    # connection the tool used.
    clients = [psycopg.connect(bouncer.conninfo("postgres", dbname)) for _ in range(pool_size)]
    try:
        seen = []
        for conn in clients:
            row = conn.execute(
                "SELECT pg_backend_pid(), current_setting('synchronous_commit'),"
                " current_setting('temp_buffers'), current_setting('statement_timeout'),"
                " current_setting('lock_timeout'),"
                " (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())"
            ).fetchone()
            assert row is not None
            seen.append(row)
    finally:
        for conn in clients:
            conn.close()
    assert len({r[0] for r in seen}) == pool_size
    assert [r[1:] for r in seen] == [("on", "8MB", "0", "0", 0)] * pool_size
