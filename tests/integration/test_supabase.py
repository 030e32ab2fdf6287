"""On a Supabase-like target (tests/supabase.py), as its non-superuser owner with Supabase's
default privileges: the whole flow works, and nothing the tool creates can be read or written
by `anon` or `authenticated`, the roles of anyone holding the project's public anon key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from mdw_migrate import embedded
from mdw_migrate.cli.main import cli, normalize_argv
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from .. import supabase
from ..helpers import contract_error, json_objects, point_at, scalar

SECRET = "a-production-id-secret-3b9e"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, normalize_argv(list(args)), catch_exceptions=False)


@pytest.fixture(scope="module")
def project(
    pg_server: embedded.EmbeddedServer,
    create_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """One project migrated end to end by the CLI, MDW_ID_SECRET set as production has it:
    schema apply, migrate all, validate final, rollback of a leaf entity, migrate it again."""
    source = create_database("supa_src")
    generate(source, scale=0.002, seed=23)
    dbname = "supa_project"
    target = supabase.create_project(pg_server, dbname)
    work = tmp_path_factory.mktemp("supa")
    with pytest.MonkeyPatch.context() as mp:
        point_at(mp, source=source, target=target)
        mp.setenv("MDW_ID_SECRET", SECRET)
        mp.chdir(work)
        results = {
            "apply": invoke("schema", "apply", "--json"),
            "migrate": invoke("migrate", "all", "--json", "--batch-size", "200"),
            "final": invoke("validate", "final", "--json"),
            "rollback": invoke("rollback", "doctor_notes", "--yes", "--json"),
            "again": invoke("migrate", "doctor_notes", "--validate", "--json"),
        }
        yield {"source": source, "target": target, "dbname": dbname, "results": results, "mp": mp}


def test_the_whole_flow_passes_as_a_non_superuser_owner_with_the_id_secret_set(
    project: dict[str, Any],
) -> None:
    results: dict[str, Result] = project["results"]
    for step, result in results.items():
        assert result.exit_code == 0, (step, result.output[-3000:])
        assert json_objects(result.output)[-1]["status"] == "success", step
    final = json_objects(results["final"].output)
    security = next(o for o in final if o.get("entity") == "security")
    check = security["validation"]["checks"][0]
    assert check["status"] == "passed"
    assert check["apiRoles"] == ["anon", "authenticated"]
    assert set(check["exposedSchemas"]) == {"public", "graphql_public", "legacy_archive"}
    assert check["tablesChecked"] >= 48 + 17
    # The tool really ran as the non-superuser owner, with the secret given.
    target = project["target"]
    assert not scalar(target, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert scalar(target, "SELECT id_secret IS NULL FROM migration.deployment")


@pytest.mark.parametrize("role", supabase.API_ROLES)
def test_the_api_roles_can_neither_read_nor_write_any_table_of_the_tool(
    pg_server: embedded.EmbeddedServer, project: dict[str, Any], role: str
) -> None:
    public = schema.public_tables()
    tables = supabase.tool_tables(pg_server, project["dbname"], public)
    result = supabase.probe(pg_server, project["dbname"], role, tables)
    # Every table was probed: 48 in public, 17 archived legacy tables, the tool's own state,
    # and the copy the rollback kept; a probe that skipped tables could not pass.
    by_schema = {
        s: sum(t.startswith(f"{s}.") for t in result.tables) for s in supabase.TOOL_SCHEMAS
    }
    assert len(public) == 48
    assert sum(t.startswith("public.") for t in result.tables) == 48
    assert by_schema["legacy_archive"] == 17
    # deployment, id_derivation, runs, progress, outcomes, ..., the four of sync, and the
    # id_map view over the target tables
    assert by_schema["migration"] == 16
    assert by_schema["migration_backup"] >= 1
    assert len(result.tables) == len(tables) == 48 + sum(by_schema.values())
    assert result.leaks == []


def test_the_owner_and_service_role_still_see_the_data(
    pg_server: embedded.EmbeddedServer, project: dict[str, Any]
) -> None:
    patients = scalar(project["source"], "SELECT count(*) FROM dispatch_patient")
    assert scalar(project["target"], "SELECT count(*) FROM patients") > 0
    conninfo = psycopg.conninfo.make_conninfo(
        host=pg_server.socket_dir,
        port=str(pg_server.port),
        user="authenticator",
        dbname=project["dbname"],
    )
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET ROLE service_role")
        row = conn.execute("SELECT count(*) FROM public.patients").fetchone()
    assert row is not None and 0 < row[0] <= patients


def test_the_linters_security_lints_find_nothing(
    pg_server: embedded.EmbeddedServer, project: dict[str, Any]
) -> None:
    """The conditions of Supabase's rls_disabled_in_public, sensitive_columns_exposed and
    function_search_path_mutable lints, asked of the whole database."""
    with psycopg.connect(pg_server.admin_conninfo(project["dbname"])) as conn:
        exposed = conn.execute(
            "SELECT array_agg(trim(s)) FROM unnest(string_to_array("
            "current_setting('pgrst.db_schemas', true), ',')) s"
        ).fetchone()
        assert exposed is not None and "public" in exposed[0]
        open_tables = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND NOT c.relrowsecurity AND n.nspname = ANY(%s)"
            " AND (has_table_privilege('anon', c.oid, 'SELECT')"
            "      OR has_table_privilege('authenticated', c.oid, 'SELECT'))",
            [exposed[0]],
        ).fetchall()
        assert open_tables == []
        mutable = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'auth')"
            " AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) s"
            "                 WHERE s LIKE 'search_path=%%')"
        ).fetchall()
        assert mutable == []
        # The tool writes no policy: access rules are the application's.
        assert conn.execute("SELECT count(*) FROM pg_policy").fetchone() == (0,)


def test_the_security_check_fails_on_an_opened_table_and_schema_apply_closes_it(
    pg_server: embedded.EmbeddedServer, project: dict[str, Any]
) -> None:
    with psycopg.connect(pg_server.admin_conninfo(project["dbname"]), autocommit=True) as conn:
        conn.execute("GRANT SELECT ON public.patients TO anon")
        conn.execute("ALTER TABLE public.payments DISABLE ROW LEVEL SECURITY")
        conn.execute("ALTER FUNCTION migration.clean_text(text) RESET search_path")
        conn.execute("GRANT USAGE ON SCHEMA migration TO authenticated")
    failed = invoke("security", "check", "--json")
    assert failed.exit_code == 1
    objects = json_objects(failed.output)
    check = objects[-2]["validation"]["checks"][0]
    assert check["status"] == "failed"
    assert check["rlsDisabled"] == ["public.payments"]
    assert set(check["privileges"]) == {"public.patients", "schema migration"}
    assert check["mutableSearchPath"] == ["migration.clean_text(text)"]
    assert objects[-1]["status"] == "failed"
    assert invoke("schema", "apply").exit_code == 0
    fixed = invoke("security", "check", "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json_objects(fixed.output)[-1]["summary"]["totals"]["problems"] == 0


def test_a_quickstart_profiles_table_is_a_schema_conflict_and_nothing_changes(
    pg_server: embedded.EmbeddedServer,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dbname = "supa_quickstart"
    target = supabase.create_project(pg_server, dbname)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(supabase.QUICKSTART_PROFILES)
    catalog = (
        "SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relacl::text"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        " UNION ALL SELECT nspname, '', 'n', false, nspacl::text FROM pg_namespace"
        " UNION ALL SELECT 'proc', p.oid::regprocedure::text, 'f', false, proacl::text"
        " FROM pg_proc p WHERE pronamespace <> 'pg_catalog'::regnamespace"
        " AND pronamespace <> 'information_schema'::regnamespace ORDER BY 1, 2"
    )
    with psycopg.connect(target) as conn:
        before = conn.execute(catalog).fetchall()
    point_at(monkeypatch, source=target, target=target)
    monkeypatch.chdir(tmp_path)
    result = invoke("schema", "apply", "--json")
    assert result.exit_code == 3
    error = contract_error(result.output)
    assert error["error"]["code"] == "SCHEMA_CONFLICT"
    assert "public.profiles" in error["error"]["message"]
    (conflict,) = error["error"]["details"]["conflicts"]
    assert conflict["table"] == "public.profiles"
    assert {"avatar_url", "full_name", "website"} == set(conflict["differs"]["extraColumns"])
    assert "password_hash" in conflict["differs"]["missingColumns"]
    assert "DROP TABLE public.profiles" in error["recovery"]["suggestion"]
    with psycopg.connect(target) as conn:
        assert conn.execute(catalog).fetchall() == before
    # And migrate says what to run, which names the conflict again.
    refused = invoke("migrate", "core", "--json")
    assert contract_error(refused.output)["error"]["code"] == "SCHEMA_INCOMPATIBLE"
    record = json.loads((tmp_path / "audit" / "audit.jsonl").read_text().splitlines()[0])
    assert (record["outcome"], record["errorCode"]) == ("refused", "SCHEMA_CONFLICT")


def test_an_existing_table_of_the_same_shape_is_adopted_and_locked(
    pg_server: embedded.EmbeddedServer,
) -> None:
    """A tool table that exists without the tool's record of it (a restored copy, say) is
    taken over as it is, and gets the same lock-down as a new one."""
    target = supabase.create_project(pg_server, "supa_adopt")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
        conn.execute("DROP SCHEMA migration CASCADE")
        conn.execute("ALTER TABLE public.offices DISABLE ROW LEVEL SECURITY")
        conn.execute("GRANT ALL ON public.offices TO anon, authenticated")
        applied = schema.apply(conn)
        assert len(applied.steps) == len(schema.steps())
        row = conn.execute(
            "SELECT relrowsecurity, has_table_privilege('anon', oid, 'SELECT')"
            " FROM pg_class WHERE oid = 'public.offices'::regclass"
        ).fetchone()
    assert row == (True, False)


def test_the_api_roles_can_call_no_function_and_use_no_sequence_of_the_tool(
    pg_server: embedded.EmbeddedServer, project: dict[str, Any]
) -> None:
    dbname = project["dbname"]
    with psycopg.connect(pg_server.admin_conninfo(dbname)) as conn:
        functions = [
            str(r[0])
            for r in conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%s)",
                [list(supabase.TOOL_SCHEMAS)],
            ).fetchall()
        ]
        assert len(functions) >= 9  # the transform helpers and the audit trigger
        for role in supabase.API_ROLES:
            callable_by_role = conn.execute(
                "SELECT f FROM unnest(%s::text[]) f"
                " WHERE has_function_privilege(%s, f::regprocedure, 'EXECUTE')",
                [functions, role],
            ).fetchall()
            assert callable_by_role == [], role
            sequences = conn.execute(
                "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE c.relkind = 'S'"
                " AND (n.nspname = ANY(%s) OR n.nspname = 'public')"
                " AND CASE WHEN c.relkind = 'S'"
                "     THEN has_sequence_privilege(%s, c.oid, 'USAGE, SELECT, UPDATE') END",
                [list(supabase.TOOL_SCHEMAS), role],
            ).fetchall()
            assert sequences == [], role
    # And as the Data API would try it: a call is refused.
    conninfo = psycopg.conninfo.make_conninfo(
        host=pg_server.socket_dir, port=str(pg_server.port), user="authenticator", dbname=dbname
    )
    with psycopg.connect(conninfo) as api, pytest.raises(psycopg.errors.InsufficientPrivilege):
        api.execute("SET ROLE anon")
        api.execute("SELECT migration.clean_text('x')")


def test_a_declined_rollback_changes_nothing_and_is_audited_as_refused(
    project: dict[str, Any], tmp_path: Path
) -> None:
    from mdw_migrate import api

    before = scalar(project["target"], "SELECT count(*) FROM doctor_notes")
    config = api.Config(workdir=tmp_path)
    asked: list[dict[str, int]] = []

    def decline(plan: api.RollbackPlan) -> bool:
        asked.append(plan.rows)
        assert (
            plan.backup.startswith("migration_backup.") and plan.metadata.parent.name == "backups"
        )
        return False

    result = api.rollback(config, "doctor_notes", confirm=decline)
    assert asked == [{"doctor_notes": before}]
    assert result.declined and result.ok and result.verdict.startswith("Rollback declined")
    assert scalar(project["target"], "SELECT count(*) FROM doctor_notes") == before > 0
    record = json.loads((tmp_path / "audit" / "audit.jsonl").read_text().splitlines()[-1])
    assert (record["outcome"], record["errorCode"]) == ("refused", "ABORTED")
