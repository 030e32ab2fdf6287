"""`migration.range_progress`: the key ranges of an entity split over workers, each with its
own checkpoint, so that a resumed run continues every range from its last committed batch."""

from __future__ import annotations

from ._conn import BatchKeys, Conn

# (lo, hi, last committed key, done)
Saved = tuple[int, int, int | None, bool]


def saved(conn: Conn, entity: str) -> list[Saved]:
    return [
        (int(lo), int(hi), None if last is None else int(last), bool(done))
        for lo, hi, last, done in conn.execute(
            "SELECT lo, hi, last_legacy_id, done FROM migration.range_progress"
            " WHERE entity = %s ORDER BY range_no",
            [entity],
        ).fetchall()
    ]


def save(conn: Conn, entity: str, ranges: list[tuple[int, int]]) -> None:
    forget(conn, entity)
    for number, (lo, hi) in enumerate(ranges):
        conn.execute(
            "INSERT INTO migration.range_progress (entity, range_no, lo, hi)"
            " VALUES (%s, %s, %s, %s)",
            [entity, number, lo, hi],
        )


def checkpoint(conn: Conn, keys: BatchKeys, range_no: int) -> None:
    conn.execute(
        "UPDATE migration.range_progress SET last_legacy_id = %(hi)s, updated_at = now()"
        " WHERE entity = %(entity)s AND range_no = %(range_no)s",
        {**keys.params(), "range_no": range_no},
    )


def done(conn: Conn, entity: str, range_no: int) -> None:
    conn.execute(
        "UPDATE migration.range_progress SET done = true, updated_at = now()"
        " WHERE entity = %s AND range_no = %s",
        [entity, range_no],
    )


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.range_progress WHERE entity = %s", [entity])
