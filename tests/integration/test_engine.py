"""Engine behaviour that no single entity shows: staging types, fresh and re-run batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from mdw_migrate import state
from mdw_migrate.engine.migrate import migrate
from mdw_migrate.engine.planner import Catalogue
from mdw_migrate.engine.spec import Col, EntitySpec, Source
from mdw_migrate.target import schema

from ..helpers import QuietReporter, rows, run_options

SPEC = EntitySpec(
    name="things",
    source=Source.table("legacy_thing", ("code", "flags", "label")),
    target="things",
    legacy_column="legacy_thing_id",
    columns=(
        Col("code", "s.code::text"),
        Col("flags", "s.flags::text"),
        Col("label", "s.label"),
    ),
)


def _run(source: str, target: str, batch_size: int) -> None:
    options = run_options(
        batch_size,
        max_retry_attempts=0,
    )
    catalogue = Catalogue(entities={"things": SPEC}, phases={})
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        migrate(catalogue, ["things"], s, t, options, QuietReporter())


def test_fixed_width_types_are_staged_without_losing_characters(
    create_database: Callable[[str], str],
) -> None:
    source = create_database("eng_src")
    target = create_database("eng_dst")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE legacy_thing (id integer PRIMARY KEY, code char(16), flags bit(5),"
            " label varchar(3))"
        )
        conn.execute(
            "INSERT INTO legacy_thing VALUES (1, '0101010101010101', B'10101', 'abc'),"
            " (2, 'short', B'00000', NULL)"
        )
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
        conn.execute(
            "CREATE TABLE things (id uuid PRIMARY KEY, code text, flags text, label text,"
            " legacy_thing_id bigint NOT NULL UNIQUE, metadata jsonb NOT NULL DEFAULT '{}',"
            " created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now())"
        )
    _run(source, target, batch_size=1)
    got = rows(target, "SELECT legacy_thing_id, code, flags, label FROM things ORDER BY 1")
    assert got == [
        {"legacy_thing_id": 1, "code": "0101010101010101", "flags": "10101", "label": "abc"},
        {"legacy_thing_id": 2, "code": "short", "flags": "00000", "label": None},
    ]


def test_parallel_workers_give_the_same_outcomes_as_one(
    create_database: Callable[[str], str],
) -> None:
    from mdw_migrate.legacy.generator import generate

    from ..helpers import run

    source = create_database("par_src")
    generate(source, scale=0.005, seed=5)
    results = {}
    for workers in (1, 3):
        target = create_database(f"par_dst{workers}")
        with psycopg.connect(target, autocommit=True) as conn:
            schema.apply(conn)
        outcome = run(source, target, "orders-with-deps", batch_size=40, workers=workers)
        assert [r.status for r in outcome.results] == ["completed"] * len(outcome.results)
        results[workers] = (
            {r.entity: (r.migrated, r.excluded, r.rejected) for r in outcome.results},
            rows(target, "SELECT entity, legacy_id FROM migration.id_map ORDER BY 1, 2"),
            rows(
                target,
                "SELECT entity, legacy_id, reason_code FROM migration.row_outcomes ORDER BY 1, 2",
            ),
        )
    assert results[1] == results[3]


def _constraints(target: str) -> list[dict[str, object]]:
    return rows(
        target,
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def"
        " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        " AND contype IN ('f', 'p', 'u')"
        " UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = 'public' ORDER BY 1, 2, 3",
    )


def test_bulk_load_defers_and_restores_constraints_and_indexes(
    create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mdw_migrate.engine import batch, bulk, sqlgen
    from mdw_migrate.legacy.generator import generate

    from ..helpers import run

    source = create_database("bulk_src")
    generate(source, scale=0.005, seed=8)
    plain, bulked = create_database("bulk_a"), create_database("bulk_b")
    for target in (plain, bulked):
        with psycopg.connect(target, autocommit=True) as conn:
            schema.apply(conn)
    run(source, plain, "core-with-patients", batch_size=30)
    expected = _constraints(bulked)
    monkeypatch.setattr(bulk, "BULK_THRESHOLD", 1)
    monkeypatch.setattr(bulk, "ANALYZE_THRESHOLD", 1)
    deferred: list[str] = []
    real_defer = bulk.defer

    def spy(
        conn: psycopg.Connection[tuple[object, ...]], entity: str, table: str, legacy: str | None
    ) -> int:
        count = real_defer(conn, entity, table, legacy)
        deferred.append(entity)
        return count

    monkeypatch.setattr(bulk, "defer", spy)
    kinds: set[tuple[str, str]] = set()
    real_record = state.deferred.record

    def record(conn: psycopg.Connection[tuple[object, ...]], entity: str, *args: str) -> None:
        kinds.add((entity, args[1]))
        real_record(conn, entity, *args)

    monkeypatch.setattr(state.deferred, "record", record)
    work_mem: set[str] = set()
    queue_joined: list[bool] = []
    real_guarded = batch.guarded

    def guarded(target: Any, statement_of: Callable[[bool], str], values: Any) -> Any:
        statement = statement_of(False)
        if statement.startswith("WITH w AS MATERIALIZED"):  # sqlgen.load_fresh
            work_mem.add(str(target.execute("SHOW work_mem").fetchone()[0]))
        if "LEFT JOIN public." in statement:
            queue_joined.append("migration.pending_deletions" in statement)
        return real_guarded(target, statement_of, values)

    monkeypatch.setattr(batch, "guarded", guarded)
    with psycopg.connect(bulked, autocommit=True) as conn:
        # Counts an earlier run left, its rows since gone: a pass into an empty table counts
        # from 0, and its count is not taken again from the table (decision 118).
        conn.execute(
            "INSERT INTO migration.entity_progress (entity, status, migrated)"
            " VALUES ('patients', 'completed', 12345), ('doctors', 'completed', 12345)"
        )
    run(source, bulked, "core-with-patients", batch_size=30)
    assert "patients" in deferred  # the bulk path really ran
    # Its transform, materialized and read three times, stays in memory (decision 116).
    assert work_mem == {sqlgen.LOAD_WORK_MEM}
    # Nothing is queued for deletion: parents are looked up without the queue (decision 117;
    # test_sync's rule-5 test has a queued parent, which its dependants must see missing).
    assert queue_joined and not any(queue_joined)
    # The primary key of a table nothing references is deferred too; a referenced one keeps it.
    assert ("doctor_offices", "primary_key") in kinds
    assert ("patients", "index") in kinds and ("patients", "primary_key") not in kinds
    # A full pass into an empty table defers the legacy key as well (decision 110).
    assert ("patients", "unique_key") in kinds
    assert _constraints(bulked) == expected
    # A run that filled tables leaves them analysed (a sync may follow before autovacuum).
    analysed = "SELECT reltuples FROM pg_class WHERE oid = 'migration.range_fingerprints'::regclass"
    assert rows(plain, analysed)[0]["reltuples"] < 0  # small runs leave it to autovacuum
    assert rows(bulked, analysed)[0]["reltuples"] > 0
    # Each filled entity table was analysed when its entity finished.
    tables = "SELECT reltuples FROM pg_class WHERE oid = 'public.patients'::regclass"
    assert rows(plain, tables)[0]["reltuples"] < 0
    assert rows(bulked, tables)[0]["reltuples"] > 0
    assert rows(bulked, "SELECT * FROM migration.deferred_ddl") == []
    query = "SELECT entity, legacy_id, reason_code FROM migration.row_outcomes ORDER BY 1, 2"
    assert rows(bulked, query) == rows(plain, query)
    counts = "SELECT entity, count(*) FROM migration.id_map GROUP BY 1 ORDER BY 1"
    assert rows(bulked, counts) == rows(plain, counts)
    recorded = (
        "SELECT p.entity, p.migrated AS count FROM migration.entity_progress p"
        " WHERE p.entity IN (SELECT entity FROM migration.id_map) ORDER BY 1"
    )
    assert rows(bulked, recorded) == rows(bulked, counts)
    # A bulk load writes its rows from the transform itself (decision 112): the same rows,
    # values, metadata and issues as batches through `work` (UUIDs aside, which each
    # target's secret derives, and the times a row was written, which default to now()).
    issues = (
        "SELECT entity, legacy_id, kind, column_name FROM migration.quality_issues"
        " ORDER BY 1, 2, 3, 4"
    )
    assert rows(bulked, issues) == rows(plain, issues)
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    for table in [r["tablename"] for r in rows(plain, tables)]:
        contents = (
            "SELECT md5(string_agg(r::text, ',' ORDER BY r::text)) FROM (SELECT"
            " (SELECT jsonb_object_agg(key, value) FROM jsonb_each(to_jsonb(t)) WHERE key NOT IN"
            " ('updated_at', 'created_at') AND value::text !~ '^\"[0-9a-f]{8}-') AS r"
            f" FROM public.{table} t) AS rows_of_table"
        )
        assert rows(bulked, contents) == rows(plain, contents), table


def test_a_bulk_load_raises_work_mem_for_its_batch_only_and_never_lowers_it(
    create_database: Callable[[str], str],
) -> None:
    from mdw_migrate.engine import sqlgen

    target = create_database("wm_dst")
    with psycopg.connect(target) as conn:
        for session, in_batch in (("4MB", sqlgen.LOAD_WORK_MEM), ("64MB", "64MB")):
            conn.execute(f"SET work_mem = '{session}'")
            conn.commit()
            with conn.transaction():
                conn.execute(sqlgen.RAISE_WORK_MEM)
                assert conn.execute("SHOW work_mem").fetchone() == (in_batch,)
            assert conn.execute("SHOW work_mem").fetchone() == (session,)


def test_constraints_left_deferred_by_a_crash_come_back_on_the_next_run(
    create_database: Callable[[str], str],
) -> None:
    from mdw_migrate.engine import bulk
    from mdw_migrate.legacy.generator import generate

    from ..helpers import run

    source = create_database("crash_src")
    generate(source, scale=0.002, seed=8)
    target = create_database("crash_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    expected = _constraints(target)
    run(source, target, "core", batch_size=30)
    # As if a run had deferred the patients' constraints, their legacy key among them, and
    # died before restoring them: the next run upserts against that key, so it comes first.
    with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
        assert bulk.defer(conn, "patients", "patients", "legacy_patient_id") >= 4
        kinds = conn.execute("SELECT kind FROM migration.deferred_ddl").fetchall()
        assert ("unique_key",) in kinds
    assert _constraints(target) != expected
    run(source, target, "patients", batch_size=30)
    assert _constraints(target) == expected
    assert rows(target, "SELECT * FROM migration.deferred_ddl") == []


def test_a_large_entity_split_over_workers_gives_the_same_outcomes(
    create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mdw_migrate.catalogue import CATALOGUE
    from mdw_migrate.engine import context, passes
    from mdw_migrate.engine.validate import validate
    from mdw_migrate.legacy.generator import generate

    from ..helpers import run

    source = create_database("split_src")
    generate(source, scale=0.005, seed=6)
    whole, split = create_database("split_a"), create_database("split_b")
    for target in (whole, split):
        with psycopg.connect(target, autocommit=True) as conn:
            schema.apply(conn)
    run(source, whole, "orders-with-deps", batch_size=25)
    monkeypatch.setattr(context, "LARGE_ENTITY_ROWS", 1)
    planned: list[int] = []
    real_save = state.ranges.save

    def save(conn: Any, entity: str, ranges: list[tuple[int, int]]) -> None:
        planned.append(len(ranges))
        real_save(conn, entity, ranges)

    opened: list[int] = []
    from mdw_migrate.engine.session import worker_session as real_session

    def counted(ctx: context.RunContext) -> Any:
        opened.append(1)
        return real_session(ctx)

    monkeypatch.setattr(state.ranges, "save", save)
    monkeypatch.setattr(passes, "worker_session", counted)
    outcome = run(source, split, "orders-with-deps", batch_size=25, workers=3)
    assert all(r.status == "completed" for r in outcome.results)
    # The first range of a split entity runs on the entity's own session: one session fewer.
    assert any(n > 1 for n in planned)
    assert len(opened) == sum(n - 1 for n in planned if n > 1)
    for query in (
        "SELECT entity, legacy_id FROM migration.id_map ORDER BY 1, 2",
        "SELECT entity, legacy_id, reason_code FROM migration.row_outcomes ORDER BY 1, 2",
        "SELECT entity, legacy_id, kind, column_name FROM migration.quality_issues"
        " ORDER BY 1, 2, 3, 4",
        "SELECT legacy_patient_id, patient_number, status, schemes FROM patients ORDER BY 1",
    ):
        assert rows(split, query) == rows(whole, query), query
    with psycopg.connect(source) as s, psycopg.connect(split, autocommit=True) as t:
        for name in CATALOGUE.resolve("orders-with-deps"):
            assert validate(CATALOGUE, name, s, t).passed, name


def test_a_resumed_split_pass_also_reads_the_rows_added_since(
    create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split pass's key ranges are cut from the first run's snapshot; a resume reads a newer
    one, whose new rows lie above the last range."""
    from mdw_migrate.catalogue import CATALOGUE
    from mdw_migrate.engine import context
    from mdw_migrate.engine.validate import validate
    from mdw_migrate.legacy.generator import generate

    from ..helpers import fresh_target, run, scalar

    monkeypatch.setattr(context, "LARGE_ENTITY_ROWS", 1)
    # Range bounds end a bucket of fingerprints; with a handful of offices, buckets of one
    # key let the pass split three ways all the same.
    from mdw_migrate.state import fingerprints

    monkeypatch.setattr(fingerprints, "BUCKET_BITS", 0)
    monkeypatch.setattr(fingerprints, "BUCKET_WIDTH", 1)
    source = create_database("tail_src")
    generate(source, scale=0.005, seed=6)
    target = fresh_target(create_database, "tail_dst")
    reporter = QuietReporter()
    first = run(
        source,
        target,
        "offices",
        batch_size=3,
        workers=3,
        reporter=reporter,
        should_stop=lambda: len(reporter.batches) >= 2,
    )
    assert first.results[0].status == "interrupted"
    assert scalar(target, "SELECT count(*) FROM migration.range_progress") == 3
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO dispatch_office SELECT (SELECT max(id) FROM dispatch_office) + g, name,"
            " address, apt, city, state, zip, country, phone, tax_rate, valid, sq_customer_id,"
            " emails FROM dispatch_office, generate_series(1, 4) AS g"
            " WHERE id = (SELECT min(id) FROM dispatch_office)"
        )
    again = run(source, target, "offices", batch_size=3, workers=3, resume=True)
    assert again.results[0].status == "completed"
    legacy = scalar(source, "SELECT count(*) FROM dispatch_office")
    assert scalar(target, "SELECT count(*) FROM offices") == legacy
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        assert validate(CATALOGUE, "offices", s, t).passed


def test_workers_defer_and_restore_one_table_at_a_time(
    create_database: Callable[[str], str],
) -> None:
    """Adding a foreign key locks the table it references: two workers restoring tables that
    reference the same parents in another order deadlocked. The second waits instead."""
    import threading

    from mdw_migrate.engine import bulk
    from mdw_migrate.legacy.generator import generate

    from ..helpers import run

    source = create_database("order_src")
    generate(source, scale=0.002, seed=8)
    target = create_database("order_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    run(source, target, "core-with-patients", batch_size=500)
    run(source, target, "courses", batch_size=500)
    with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
        bulk.defer(conn, "patients", "patients")
    first = psycopg.connect(target)
    second_done = threading.Event()

    def second() -> None:
        with psycopg.connect(target) as conn, conn.transaction():
            # courses shares no table with patients: only the tool's own lock can hold it.
            bulk.defer(conn, "courses", "courses")
        second_done.set()

    try:
        assert bulk.restore(first, "patients") >= 3  # its transaction stays open
        worker = threading.Thread(target=second)
        worker.start()
        assert not second_done.wait(1.0)  # waits for the first to finish
        first.commit()
        assert second_done.wait(30)
        worker.join()
    finally:
        first.close()
    with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
        bulk.restore(conn, "courses")
    assert rows(target, "SELECT * FROM migration.deferred_ddl") == []
