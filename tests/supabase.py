"""A Supabase-like target on the embedded server, as ../shared/spec/supabase-target.md says.

The API roles (`anon`, `authenticated`, `service_role`), the Data API's `authenticator`
(LOGIN NOINHERIT, granted the three), and an owner that is what a project's `postgres` is:
NOSUPERUSER with CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS, a member of the API roles,
owner of its database. `public` is usable by the API roles and the owner's default privileges
there grant them ALL on every new table, sequence and function. An `auth.users` table, and
`pgrst.db_schemas` set on the database. The tool runs as OWNER; `probe` asks the way the Data
API does: log in as `authenticator`, then `SET ROLE anon` (or `authenticated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import errors, sql

from mdw_migrate import embedded

OWNER = "supa_postgres"
API_ROLES = ("anon", "authenticated")
EXPOSED = "public, graphql_public, legacy_archive"
TOOL_SCHEMAS = ("migration", "legacy_archive", "migration_backup")

_ROLES = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
        CREATE ROLE authenticator LOGIN NOINHERIT;
        GRANT anon, authenticated, service_role TO authenticator;
        CREATE ROLE {OWNER} LOGIN NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
        GRANT anon, authenticated, service_role TO {OWNER};
        ALTER ROLE anon SET statement_timeout = '3s';
        ALTER ROLE authenticated SET statement_timeout = '8s';
    END IF;
END $$;
"""

_PROJECT = f"""
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text, created_at timestamptz);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULL::uuid $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA auth, extensions TO {OWNER};
GRANT ALL ON ALL TABLES IN SCHEMA auth TO {OWNER};
CREATE SCHEMA graphql_public;
GRANT USAGE ON SCHEMA graphql_public TO anon, authenticated, service_role;
"""

# Supabase's "User Management" quickstart, as a project may already have it.
QUICKSTART_PROFILES = """
CREATE TABLE public.profiles (
    id uuid REFERENCES auth.users NOT NULL PRIMARY KEY,
    updated_at timestamp with time zone,
    username text UNIQUE,
    full_name text,
    avatar_url text,
    website text,
    CONSTRAINT username_length CHECK (char_length(username) >= 3)
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Public profiles are viewable by everyone." ON public.profiles
    FOR SELECT USING (true);
CREATE POLICY "Users can insert their own profile." ON public.profiles
    FOR INSERT WITH CHECK ((select auth.uid()) = id);
"""


def create_project(server: embedded.EmbeddedServer, dbname: str) -> str:
    """A new Supabase-like database; returns the owner's conninfo (what the tool uses)."""
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as admin:
        admin.execute(_ROLES)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(OWNER)
            )
        )
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET pgrst.db_schemas = {}").format(
                sql.Identifier(dbname), sql.Literal(EXPOSED)
            )
        )
    with psycopg.connect(server.admin_conninfo(dbname), autocommit=True) as conn:
        conn.execute(_PROJECT)
    return psycopg.conninfo.make_conninfo(
        host=server.socket_dir, port=str(server.port), user=OWNER, dbname=dbname
    )


@dataclass
class Probe:
    """What one API role could do to the tool's tables."""

    role: str
    tables: list[str] = field(default_factory=list)
    # (table, action, how it ended): anything but refused or 0 rows is a leak.
    leaks: list[tuple[str, str, str]] = field(default_factory=list)


def tool_tables(
    server: embedded.EmbeddedServer, dbname: str, public: list[str]
) -> list[tuple[str, str]]:
    """Every table and view of the tool in this database with its first column, read as the
    superuser (the probing roles cannot even look them up)."""
    with psycopg.connect(server.admin_conninfo(dbname)) as conn:
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname, a.attname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm')"
            " AND (n.nspname = ANY(%s) OR (n.nspname = 'public' AND c.relname = ANY(%s)))"
            " ORDER BY 1",
            [list(TOOL_SCHEMAS), public],
        ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def probe(
    server: embedded.EmbeddedServer, dbname: str, role: str, tables: list[tuple[str, str]]
) -> Probe:
    """Logs in as `authenticator`, `SET ROLE role`, and tries SELECT, INSERT, UPDATE, DELETE
    and TRUNCATE on every table, each in a transaction that is rolled back."""
    result = Probe(role)
    conninfo = psycopg.conninfo.make_conninfo(
        host=server.socket_dir, port=str(server.port), user="authenticator", dbname=dbname
    )
    with psycopg.connect(conninfo) as conn:
        for qualified, first_column in tables:
            schema, name = qualified.split(".")
            table = sql.Identifier(schema, name)
            col = sql.Identifier(first_column)
            attempts = {
                "SELECT": sql.SQL("SELECT * FROM {}").format(table),
                "INSERT": sql.SQL("INSERT INTO {} DEFAULT VALUES").format(table),
                "UPDATE": sql.SQL("UPDATE {} SET {} = {}").format(table, col, col),
                "DELETE": sql.SQL("DELETE FROM {}").format(table),
                "TRUNCATE": sql.SQL("TRUNCATE {}").format(table),
            }
            for action, statement in attempts.items():
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
                try:
                    cur = conn.execute(statement)
                    affected = len(cur.fetchall()) if cur.description else cur.rowcount
                    if affected != 0 or action in ("INSERT", "TRUNCATE"):
                        result.leaks.append((qualified, action, f"{affected} row(s)"))
                except errors.InsufficientPrivilege:
                    pass  # refused: what we want
                except psycopg.Error as exc:
                    result.leaks.append((qualified, action, type(exc).__name__))
                finally:
                    conn.rollback()
            result.tables.append(qualified)
    return result
