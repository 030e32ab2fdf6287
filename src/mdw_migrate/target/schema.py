"""`schema apply`: creates or upgrades the target schema, idempotently.

Each `sql/NNN_*.sql` step runs once and is recorded in `migration.schema_versions`;
`functions.sql` and the country aliases are refreshed on every apply.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from .countries import aliases

_SQL = resources.files("mdw_migrate.target") / "sql"


def steps() -> list[tuple[str, str]]:
    files = sorted(
        (f.name, f.read_text("utf-8"))
        for f in _SQL.iterdir()
        if f.name[:3].isdigit() and f.name.endswith(".sql")
    )
    return [(name.removesuffix(".sql"), text) for name, text in files]


def apply(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Applies what is missing; returns the names of the steps it applied."""
    applied: list[str] = []
    with conn.transaction():
        # One schema change at a time, even if two operators run `schema apply` together.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('mdw-migrate schema apply'))")
        conn.execute("CREATE SCHEMA IF NOT EXISTS migration")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migration.schema_versions ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM migration.schema_versions")}
        for version, text in steps():
            if version in done:
                continue
            conn.execute(text.encode())
            conn.execute("INSERT INTO migration.schema_versions (version) VALUES (%s)", [version])
            applied.append(version)
        conn.execute((_SQL / "functions.sql").read_text("utf-8").encode())
        conn.execute("TRUNCATE migration.country_aliases")
        with conn.cursor().copy("COPY migration.country_aliases (alias, iso2) FROM STDIN") as cp:
            for alias, iso2 in sorted(aliases().items()):
                cp.write_row((alias, iso2))
    return applied


def versions(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    exists = conn.execute("SELECT to_regclass('migration.schema_versions')").fetchone()
    if not exists or exists[0] is None:
        return []
    rows = conn.execute("SELECT version FROM migration.schema_versions ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]
