"""What a rollback or a sync's deletions removed for one entity, and the restorable copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class Backup:
    """What a rollback removed for one entity, and where a restorable copy was kept. Ids,
    counts and a checksum only: the copy itself stays in the target database."""

    entity: str
    rows: int
    legacy_id_min: int | None
    legacy_id_max: int | None
    checksum: str
    restorable_copy: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "rows": self.rows,
            "legacyIdMin": self.legacy_id_min,
            "legacyIdMax": self.legacy_id_max,
            "checksum": self.checksum,
            "restorableCopy": self.restorable_copy,
        }


def describe(target: Conn, entity: str, copy: str, legacy: str) -> Backup:
    # The checksum is computed in the database: no row content leaves it.
    row = target.execute(
        f"SELECT count(*), min(b.{legacy}), max(b.{legacy}),"
        f" md5(coalesce(string_agg(md5(b::text), '' ORDER BY b.{legacy}), ''))"
        f" FROM {copy} b".encode()
    ).fetchone()
    assert row is not None
    return Backup(entity, int(row[0]), row[1], row[2], f"md5:{row[3]}", [copy])
