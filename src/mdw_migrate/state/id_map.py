"""`migration.id_map`: (entity, legacy id) -> UUID, unique both ways, for every migrated row.

Besides writing a batch's rows, this module gives the SQL that reads the map: the join that
resolves a parent's UUID from its legacy id, and the checks that prove map and target agree.
Target tables are passed in as quoted, schema-qualified names.
"""

from __future__ import annotations

from ._conn import BatchKeys, Conn, in_batch


def parent_join(alias: str, entity: str, legacy_id_sql: str) -> str:
    """`LEFT JOIN` of the map as `alias`: `alias.id` is the parent's UUID, NULL if missing."""
    return (
        f"LEFT JOIN migration.id_map {alias} ON {alias}.entity = '{entity}'"
        f" AND {alias}.legacy_id = {legacy_id_sql}"
    )


def has_range(keys: BatchKeys) -> str:
    """SQL: the map holds a row of the batch's keys (parameters of BatchKeys)."""
    return (
        "EXISTS (SELECT 1 FROM migration.id_map WHERE entity = %(entity)s"
        f" AND {in_batch('legacy_id', keys)})"
    )


def record(
    conn: Conn, rows_sql: str, keys: BatchKeys, *, fresh: bool, changes: bool = True
) -> list[int]:
    """Maps the rows of `rows_sql` (legacy_id, uuid). A fresh key range holds no mapping
    yet, so it is a plain insert; otherwise rows already mapped are left as they are. With
    `changes`, returns the legacy ids that were not mapped before."""
    insert = (
        "INSERT INTO migration.id_map (entity, legacy_id, id, run_id, batch_no)"
        " SELECT %(entity)s, m.legacy_id, m.id, %(run_id)s, %(batch_no)s"
        f" FROM ({rows_sql}) AS m (legacy_id, id)"
    )
    if not fresh:
        insert += " ON CONFLICT (entity, legacy_id) DO NOTHING"
    if not changes:
        conn.execute(insert, keys.params())
        return []
    rows = conn.execute(insert + " RETURNING legacy_id", keys.params()).fetchall()
    return [int(r[0]) for r in rows]


def count(conn: Conn, entity: str) -> int:
    row = conn.execute("SELECT count(*) FROM migration.id_map WHERE entity = %s", [entity])
    found = row.fetchone()
    return int(found[0]) if found else 0


def sample_keys(conn: Conn, entity: str, size: int) -> list[int]:
    """Legacy ids of migrated rows to check again: all of them when there are at most `size`,
    else random probes into the legacy id range (index lookups, no scan of the map)."""
    rows = conn.execute(
        "SELECT legacy_id FROM migration.id_map WHERE entity = %(e)s"
        " AND (SELECT count(*) <= %(n)s FROM migration.id_map WHERE entity = %(e)s)",
        {"e": entity, "n": size},
    ).fetchall()
    if not rows:
        rows = conn.execute(
            "WITH b AS (SELECT min(legacy_id) AS lo, max(legacy_id) AS hi FROM migration.id_map"
            "  WHERE entity = %(e)s)"
            " SELECT DISTINCT s.legacy_id FROM b, generate_series(1, %(n)s) AS g"
            " CROSS JOIN LATERAL (SELECT legacy_id FROM migration.id_map WHERE entity = %(e)s"
            "  AND legacy_id >= b.lo + floor(random() * (b.hi - b.lo + 1) + g * 0)::bigint"
            "  ORDER BY legacy_id LIMIT 1) AS s",
            {"e": entity, "n": size},
        ).fetchall()
    return [int(r[0]) for r in rows]


def disagreements(conn: Conn, entity: str, table: str, legacy: str) -> tuple[int, int]:
    """(mappings without their target row, target rows without their mapping): both must be
    0, whatever the tolerance (a deleted row or a dropped mapping shows here)."""
    row = conn.execute(
        f"SELECT (SELECT count(*) FROM migration.id_map m WHERE m.entity = %(e)s AND NOT EXISTS"
        f"   (SELECT 1 FROM {table} t WHERE t.id = m.id AND t.{legacy} = m.legacy_id)),"
        f" (SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM migration.id_map m"
        f"   WHERE m.entity = %(e)s AND m.id = t.id AND m.legacy_id = t.{legacy}))",
        {"e": entity},
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def mapped_rows(conn: Conn, entity: str, table: str, legacy: str) -> int:
    """Target rows whose id and legacy id are the entity's mapping."""
    row = conn.execute(
        f"SELECT count(*) FROM {table} t WHERE t.{legacy} IS NOT NULL"
        f" AND EXISTS (SELECT 1 FROM migration.id_map m WHERE m.entity = %s"
        f" AND m.legacy_id = t.{legacy} AND m.id = t.id)",
        [entity],
    ).fetchone()
    return int(row[0]) if row else 0


def wrong_parents(conn: Conn, parent: str, table: str, column: str, legacy_column: str) -> int:
    """Rows whose reference `column` is not the parent its legacy id `legacy_column` names."""
    row = conn.execute(
        f"SELECT count(*) FROM {table} t JOIN migration.id_map m ON m.entity = %s"
        f" AND m.legacy_id = t.{legacy_column} WHERE t.{column} IS DISTINCT FROM m.id",
        [parent],
    ).fetchone()
    return int(row[0]) if row else 0


def resolve_self_reference(
    conn: Conn, entity: str, table: str, column: str, legacy_column: str
) -> None:
    """Sets `column` to the UUID of the row of the same entity that `legacy_column` names
    (NULL when that row never migrated); run after the last batch of a pass."""
    conn.execute(
        f"UPDATE {table} AS c SET {column} = p.id, updated_at = now()"
        f" FROM {table} AS c0 LEFT JOIN migration.id_map AS p"
        f"   ON p.entity = %(entity)s AND p.legacy_id = c0.{legacy_column}"
        f" WHERE c0.id = c.id AND c.{column} IS DISTINCT FROM p.id",
        {"entity": entity},
    )


def copy_rows(conn: Conn, entity: str, table: str, copy: str) -> None:
    """`CREATE TABLE copy AS` the target rows the tool created for the entity."""
    conn.execute(
        f"CREATE TABLE {copy} AS SELECT t.* FROM {table} t"
        " JOIN migration.id_map m ON m.id = t.id AND m.entity = %s",
        [entity],
    )


def delete_rows(conn: Conn, entity: str, table: str) -> None:
    """Deletes exactly the target rows the tool created for the entity."""
    conn.execute(
        f"DELETE FROM {table} t USING migration.id_map m WHERE m.entity = %s AND m.id = t.id",
        [entity],
    )


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.id_map WHERE entity = %s", [entity])
