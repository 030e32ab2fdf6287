"""`migration.schema_versions` (the DDL steps applied) and `migration.country_aliases`."""

from __future__ import annotations

from collections.abc import Mapping

from ._conn import Conn


def ensure(conn: Conn) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS migration")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migration.schema_versions ("
        " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )


def applied(conn: Conn) -> list[str]:
    exists = conn.execute("SELECT to_regclass('migration.schema_versions')").fetchone()
    if not exists or exists[0] is None:
        return []
    rows = conn.execute("SELECT version FROM migration.schema_versions ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def record(conn: Conn, version: str) -> None:
    conn.execute("INSERT INTO migration.schema_versions (version) VALUES (%s)", [version])


def replace_country_aliases(conn: Conn, aliases: Mapping[str, str]) -> None:
    conn.execute("TRUNCATE migration.country_aliases")
    with conn.cursor().copy("COPY migration.country_aliases (alias, iso2) FROM STDIN") as cp:
        for alias, iso2 in sorted(aliases.items()):
            cp.write_row((alias, iso2))


def mapping_inputs(conn: Conn) -> str:
    """A digest of what the migration's SQL reads besides the source: the country aliases
    and the bodies of the tool's functions (both refreshed by `schema apply`)."""
    row = conn.execute(
        "SELECT md5(coalesce((SELECT string_agg(alias || '=' || iso2, ',' ORDER BY alias)"
        " FROM migration.country_aliases), '') || coalesce((SELECT string_agg(p.proname || ':'"
        " || p.prosrc, ',' ORDER BY p.proname, p.oid) FROM pg_proc p"
        " WHERE p.pronamespace = 'migration'::regnamespace), ''))"
    ).fetchone()
    return str(row[0]) if row else ""
