"""The legacy archive: every legacy table no entity reads, row for row as jsonb."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from mdw_migrate.catalogue import CATALOGUE, LEGACY_ARCHIVE, LEGACY_TABLES
from mdw_migrate.engine import rollback
from mdw_migrate.engine.validate import validate
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import rows, run, scalar


def test_archive_copies_every_unread_table_row_for_row(
    create_database: Callable[[str], str],
) -> None:
    source = create_database("arch_src")
    generate(source, scale=0.002, seed=9)
    with psycopg.connect(source, autocommit=True) as conn:
        # A legacy table nobody listed: archived too, whatever its columns.
        conn.execute("CREATE TABLE dispatch_extra (id integer PRIMARY KEY, note text, n numeric)")
        conn.execute("INSERT INTO dispatch_extra VALUES (1, 'é 漢字 🦷', 1.50), (7, NULL, -2)")
    target = create_database("arch_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    listed = [t for t, fate in LEGACY_TABLES.items() if fate == "archive"]
    assert len(listed) == 17

    outcome = run(source, target, "legacy_archive", batch_size=40)
    result = outcome.results[0]
    expected_tables = [*listed, "dispatch_extra"]
    total = sum(scalar(source, f"SELECT count(*) FROM {t}") for t in expected_tables)
    assert result.source_rows == result.migrated == total
    for table in expected_tables:
        src = {
            r["id"]: r["row"] for r in rows(source, f"SELECT id, to_jsonb(t) AS row FROM {table} t")
        }
        dst = {
            r["legacy_id"]: r["row"]
            for r in rows(target, f"SELECT legacy_id, row FROM legacy_archive.{table}")
        }
        assert dst == src, table
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        check = validate(CATALOGUE, "legacy_archive", s, t)
        assert check.passed, check.checks

    # A second run changes nothing; a legacy change is picked up in place.
    before = rows(
        target, "SELECT legacy_id, row, archived_at FROM legacy_archive.dispatch_extra ORDER BY 1"
    )
    run(source, target, "legacy_archive")
    assert (
        rows(
            target,
            "SELECT legacy_id, row, archived_at FROM legacy_archive.dispatch_extra ORDER BY 1",
        )
        == before
    )
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute("UPDATE dispatch_extra SET note = 'changed' WHERE id = 7")
    run(source, target, "legacy_archive")
    assert (
        scalar(target, "SELECT row->>'note' FROM legacy_archive.dispatch_extra WHERE legacy_id = 7")
        == "changed"
    )

    with psycopg.connect(target, autocommit=True) as conn:
        (backup,) = rollback.rollback(CATALOGUE, [LEGACY_ARCHIVE.name], conn, "t1")
    assert backup.entity == "legacy_archive" and backup.rows == total
    # The archive tables moved to the backup schema, whole.
    assert len(backup.restorable_copy) == len(expected_tables)
    assert scalar(target, f"SELECT count(*) FROM {backup.restorable_copy[0]}") > 0
    assert (
        scalar(
            target,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'legacy_archive'",
        )
        == 0
    )
