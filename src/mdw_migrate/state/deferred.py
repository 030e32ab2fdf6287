"""`migration.deferred_ddl`: the foreign keys, indexes, primary and legacy keys a bulk load dropped,
with the statement that re-creates each, recorded in the transaction that drops them."""

from __future__ import annotations

from ._conn import Conn


def record(conn: Conn, entity: str, name: str, kind: str, create_sql: str) -> None:
    conn.execute(
        "INSERT INTO migration.deferred_ddl (entity, object_name, kind, create_sql)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        [entity, name, kind, create_sql],
    )


def pending(conn: Conn, entity: str, kinds: list[str] | None = None) -> list[tuple[str, str]]:
    """(object name, create statement) of `kinds` (all when None): the legacy key, the
    primary key, the indexes, then the foreign keys."""
    rows = conn.execute(
        "SELECT object_name, create_sql FROM migration.deferred_ddl WHERE entity = %s"
        " AND (%s::text[] IS NULL OR kind = ANY(%s::text[])) ORDER BY kind DESC, object_name",
        [entity, kinds, kinds],
    ).fetchall()
    return [(str(name), str(create_sql)) for name, create_sql in rows]


def done(conn: Conn, entity: str, name: str) -> None:
    conn.execute(
        "DELETE FROM migration.deferred_ddl WHERE entity = %s AND object_name = %s",
        [entity, name],
    )
