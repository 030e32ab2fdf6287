"""Keeps everything the tool creates away from the Data API's roles, and proves it.

On Supabase, `public` is served to anyone holding the project's public anon key, and default
privileges grant `anon` and `authenticated` ALL on every table created there. So every table
the tool owns gets row-level security (with no policy: the API roles see no row; the owner and
`service_role` bypass it), and every privilege of `PUBLIC`, `anon` and `authenticated` on the
tool's tables, sequences, functions and schemas is revoked. Functions get a fixed
`search_path`. The tool never writes a policy: access rules are the application's to write.

`lock_down` is idempotent and changes only what is not locked yet; `check` reports what is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[tuple[Any, ...]]

# The tool's own schemas: its state, the legacy archive, rollback backups.
TOOL_SCHEMAS = ("migration", "legacy_archive", "migration_backup")
# The Data API's request roles (Supabase); PUBLIC reaches them too.
API_ROLES = ("anon", "authenticated")

# Every relation of the tool: tables in its schemas, and the given tables of `public`.
_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(c.relacl, acldefault(
                   CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))) a
               WHERE a.grantee = ANY(%(grantees)s))
       OR EXISTS (SELECT 1 FROM pg_attribute att, aclexplode(att.attacl) a
                  WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
                    AND a.grantee = ANY(%(grantees)s))
       -- also what the API roles reach through a role they are members of
       OR EXISTS (SELECT 1 FROM unnest(%(roles)s::text[]) r WHERE CASE WHEN c.relkind = 'S'
                  THEN has_sequence_privilege(r, c.oid, 'USAGE, SELECT, UPDATE')
                  ELSE has_table_privilege(r, c.oid,
                           'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                       OR has_any_column_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                  END) AS granted,
       coalesce(c.reloptions, '{}') AS options
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND (n.nspname = ANY(%(schemas)s)
       OR (n.nspname = 'public' AND c.relname = ANY(%(public)s))
       -- sequences that belong to one of those tables (serial and identity columns)
       OR c.oid IN (SELECT d.objid FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                    JOIN pg_namespace tn ON tn.oid = t.relnamespace
                    WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                      AND tn.nspname = 'public' AND t.relname = ANY(%(public)s)))
ORDER BY 2, 3
"""

_FUNCTIONS = """
SELECT p.oid::regprocedure::text,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
               WHERE a.grantee = ANY(%(grantees)s))
       OR EXISTS (SELECT 1 FROM unnest(%(roles)s::text[]) r
                  WHERE has_function_privilege(r, p.oid, 'EXECUTE')) AS granted,
       NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) s
                   WHERE s LIKE 'search_path=%%') AS mutable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""

_SCHEMAS = """
SELECT n.nspname,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
               WHERE a.grantee = ANY(%(grantees)s))
       OR EXISTS (SELECT 1 FROM unnest(%(roles)s::text[]) r
                  WHERE has_schema_privilege(r, n.oid, 'USAGE, CREATE')) AS granted
FROM pg_namespace n WHERE n.nspname = ANY(%(schemas)s) ORDER BY 1
"""


@dataclass
class Relation:
    schema: str
    name: str
    kind: str
    rls: bool
    granted: bool
    options: list[str]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def identifier(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))

    @property
    def is_table(self) -> bool:
        return self.kind in ("r", "p")

    @property
    def is_view(self) -> bool:
        return self.kind == "v"

    @property
    def security_invoker(self) -> bool:
        return any(o.lower() in ("security_invoker=true", "security_invoker=on",
                                 "security_invoker=1", "security_invoker=yes")
                   for o in self.options)  # fmt: skip


@dataclass
class Inventory:
    """The tool's objects in one target, and where each stands."""

    api_roles: list[str]
    exposed_schemas: list[str]
    relations: list[Relation]
    functions: list[tuple[str, bool, bool]]
    schemas: list[tuple[str, bool]]

    @property
    def tables(self) -> list[Relation]:
        return [r for r in self.relations if r.is_table]


def api_roles(conn: Conn) -> list[str]:
    rows = conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1", [list(API_ROLES)]
    ).fetchall()
    return [str(r[0]) for r in rows]


def exposed_schemas(conn: Conn) -> list[str]:
    """`public` and the schemas the Data API is told to serve: `pgrst.db_schemas` of this
    session (the linter's source) or of the `authenticator` role (where projects set it)."""
    row = conn.execute(
        "SELECT current_setting('pgrst.db_schemas', true),"
        " (SELECT string_agg(substr(s, length('pgrst.db_schemas=') + 1), ',')"
        "  FROM pg_db_role_setting r, unnest(r.setconfig) s"
        "  WHERE s LIKE 'pgrst.db\\_schemas=%%'"
        "    AND r.setrole IN (SELECT oid FROM pg_roles WHERE rolname = 'authenticator')"
        "    AND r.setdatabase IN (0, (SELECT oid FROM pg_database"
        "                              WHERE datname = current_database())))"
    ).fetchone()
    names = {"public"}
    for setting in row or ():
        if setting:
            names.update(s.strip().strip('"') for s in str(setting).split(",") if s.strip())
    return sorted(names)


def inventory(conn: Conn, public_tables: Sequence[str]) -> Inventory:
    roles = api_roles(conn)
    grantee_oids = [
        0,  # PUBLIC
        *[
            int(r[0])
            for r in conn.execute(
                "SELECT oid FROM pg_roles WHERE rolname = ANY(%s)", [roles]
            ).fetchall()
        ],
    ]
    params = {
        "grantees": grantee_oids,
        "roles": roles,
        "schemas": list(TOOL_SCHEMAS),
        "public": list(public_tables),
    }
    relations = [
        Relation(str(r[1]), str(r[2]), str(r[3]), bool(r[4]), bool(r[5]), list(r[6]))
        for r in conn.execute(_RELATIONS, params).fetchall()
    ]
    functions = [
        (str(r[0]), bool(r[1]), bool(r[2])) for r in conn.execute(_FUNCTIONS, params).fetchall()
    ]
    schemas = [(str(r[0]), bool(r[1])) for r in conn.execute(_SCHEMAS, params).fetchall()]
    return Inventory(roles, exposed_schemas(conn), relations, functions, schemas)


def _grantees(roles: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join([sql.SQL("PUBLIC"), *(sql.Identifier(r) for r in roles)])


def lock_down(conn: Conn, public_tables: Sequence[str] = ()) -> int:
    """Locks every object of the tool that is not locked yet; returns how many it changed.
    Run inside the transaction that created the objects, so none is ever visible unlocked."""
    found = inventory(conn, public_tables)
    who = _grantees(found.api_roles)
    changed = 0
    for rel in found.relations:
        statements: list[sql.Composed] = []
        if rel.is_table and not rel.rls:
            statements.append(
                sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(rel.identifier)
            )
        if rel.is_view and not rel.security_invoker:
            # A view runs with its owner's rights unless told otherwise (PostgreSQL 15+).
            statements.append(
                sql.SQL("ALTER VIEW {} SET (security_invoker = true)").format(rel.identifier)
            )
        if rel.granted:
            kind = sql.SQL("SEQUENCE" if rel.kind == "S" else "TABLE")
            statements.append(
                sql.SQL("REVOKE ALL ON {} {} FROM {}").format(kind, rel.identifier, who)
            )
        for statement in statements:
            conn.execute(statement)
        changed += bool(statements)
    for signature, granted, mutable in found.functions:
        # regprocedure's text is the function's quoted name with its argument types.
        function = sql.SQL(signature)
        if granted:
            conn.execute(sql.SQL("REVOKE ALL ON ROUTINE {} FROM {}").format(function, who))
        if mutable:
            conn.execute(
                sql.SQL("ALTER ROUTINE {} SET search_path = pg_catalog, pg_temp").format(function)
            )
        changed += granted or mutable
    for schema, granted in found.schemas:
        if granted:
            conn.execute(
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), who)
            )
            changed += 1
    return changed


@dataclass
class SecurityReport:
    """What `check` found: ids and names of database objects only."""

    api_roles: list[str]
    exposed_schemas: list[str]
    tables_checked: int
    functions_checked: int
    rls_disabled: list[str] = field(default_factory=list)
    privileges: list[str] = field(default_factory=list)
    mutable_search_path: list[str] = field(default_factory=list)
    definer_views: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not (
            self.rls_disabled or self.privileges or self.mutable_search_path or self.definer_views
        )


def check(conn: Conn, public_tables: Sequence[str]) -> SecurityReport:
    """Fails on a tool table in an exposed schema with RLS off, any privilege of PUBLIC,
    `anon` or `authenticated` on the tool's objects, a function whose `search_path` is not
    fixed, or a view in an exposed schema that runs with its owner's rights."""
    found = inventory(conn, public_tables)
    exposed = set(found.exposed_schemas)
    report = SecurityReport(
        api_roles=found.api_roles,
        exposed_schemas=found.exposed_schemas,
        tables_checked=len(found.tables),
        functions_checked=len(found.functions),
    )
    for rel in found.relations:
        if rel.is_table and not rel.rls and rel.schema in exposed:
            report.rls_disabled.append(rel.qualified)
        if rel.is_view and not rel.security_invoker and rel.schema in exposed:
            report.definer_views.append(rel.qualified)
        if rel.granted:
            report.privileges.append(rel.qualified)
    report.privileges += [f"function {sig}" for sig, granted, _ in found.functions if granted]
    report.privileges += [f"schema {name}" for name, granted in found.schemas if granted]
    report.mutable_search_path = [sig for sig, _, mutable in found.functions if mutable]
    return report
