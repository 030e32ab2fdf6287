"""Hostile legacy data: each case is migrated, excluded or rejected as mapping.md says
(rules 1, 2, 5, 9), nothing crashes, and nothing is lost without a record.

Each test generates a small legacy database, alters a few rows with SQL, migrates the entities
concerned into a fresh target and checks the row's fate and the validator's accounting.
Values that Python cannot hold (dates beyond year 9999, JSON 10,000 deep) are compared in SQL.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.embedded import EmbeddedServer
from mdw_migrate.engine.migrate import RunOptions, RunOutcome, migrate
from mdw_migrate.engine.validate import EntityValidation, validate
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import QuietReporter, rows, scalar

SCALE = 0.002
NAUGHTY = [
    "'; DROP TABLE offices; --",
    '" OR 1=1 --',
    "$$; SELECT pg_sleep(10); $$",
    "%s",
    "%(secret)s",
    "{} {0} {name}",
    "Robert'); DELETE FROM migration.id_map; --",
    "\\x00\\'",
]

CreateDb = Callable[[str], str]


# --- helpers ------------------------------------------------------------------------------------


def legacy(create_database: CreateDb, seed: int) -> str:
    src = create_database("hsrc")
    generate(src, scale=SCALE, seed=seed)
    return src


def target(create_database: CreateDb) -> str:
    dst = create_database("hdst")
    with psycopg.connect(dst, autocommit=True) as conn:
        schema.apply(conn)
    return dst


def execute(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def migrate_entities(src: str, dst: str, entities: list[str], batch_size: int = 50) -> RunOutcome:
    """Runs the entities and everything they depend on, in dependency order, in-process."""
    names = CATALOGUE.order(CATALOGUE.closure(entities))
    options = RunOptions(
        batch_size=batch_size,
        batch_size_forced=True,
        max_retry_attempts=2,
        dry_run=False,
        id_secret_env=None,
        command="migrate hostile",
        arguments={"selection": ",".join(entities)},
        source_identity={"database": "test-source"},
        target_identity={"database": "test-target"},
        workers=1,
        open_source=lambda: _open_source(src),
        open_target=lambda: psycopg.connect(dst, autocommit=True),
    )
    with _open_source(src) as source, psycopg.connect(dst, autocommit=True) as tgt:
        return migrate(CATALOGUE, names, source, tgt, options, QuietReporter())


def _open_source(conninfo: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo)
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return conn


def validation(src: str, dst: str, entity: str) -> EntityValidation:
    with psycopg.connect(src) as source, psycopg.connect(dst, autocommit=True) as tgt:
        return validate(CATALOGUE, entity, source, tgt)


def assert_accounted(src: str, dst: str, entity: str, *, money: bool = False) -> None:
    result = validation(src, dst, entity)
    kinds = {"accounting", "id_map"} | ({"money"} if money else set())
    failed = [c for c in result.checks if c.type in kinds and c.status != "passed"]
    assert not failed, (entity, failed)


def fate(dst: str, entity: str, legacy_id: int) -> tuple[bool, str | None]:
    """(migrated?, reason code of an excluded/rejected outcome) of one legacy id."""
    migrated = bool(
        scalar(
            dst,
            "SELECT count(*) FROM migration.id_map WHERE entity = %s AND legacy_id = %s",
            entity,
            legacy_id,
        )
    )
    found = rows(
        dst,
        "SELECT reason_code FROM migration.row_outcomes WHERE entity = %s AND legacy_id = %s",
        entity,
        legacy_id,
    )
    return migrated, (found[0]["reason_code"] if found else None)


def assert_migrated_or_rejected(dst: str, entity: str, legacy_id: int) -> bool:
    """Exactly one fate; returns True when migrated."""
    migrated, reason = fate(dst, entity, legacy_id)
    assert migrated != (reason is not None), (entity, legacy_id, migrated, reason)
    return migrated


def first_id(src: str, table: str, where: str = "TRUE") -> int:
    return int(scalar(src, f"SELECT min(id) FROM {table} WHERE {where}"))


def same_in_sql(src: str, dst: str, src_query: str, dst_query: str) -> bool:
    """Compares two texts computed server-side by md5, so that huge or deep values never
    reach Python."""
    return bool(
        scalar(src, f"SELECT md5(({src_query}))") == scalar(dst, f"SELECT md5(({dst_query}))")
    )


def kept_or_raw(
    src: str,
    dst: str,
    *,
    src_table: str,
    src_col: str,
    legacy_id: int,
    dst_table: str,
    legacy_col: str,
    dst_col: str,
) -> None:
    """Rule 2: the value is in its column (same text), or the column is NULL and the raw
    legacy text is in metadata->'legacy_raw'-><src_col>."""
    src_text = f"SELECT {src_col}::text FROM {src_table} WHERE id = {legacy_id}"
    where = f"FROM {dst_table} WHERE {legacy_col} = {legacy_id}"
    is_null = scalar(dst, f"SELECT {dst_col} IS NULL {where}")
    if not is_null:
        assert same_in_sql(src, dst, src_text, f"SELECT {dst_col}::text {where}"), (
            dst_table,
            dst_col,
            legacy_id,
        )
    else:
        assert same_in_sql(
            src, dst, src_text, f"SELECT metadata->'legacy_raw'->>'{src_col}' {where}"
        ), (
            dst_table,
            dst_col,
            legacy_id,
            "NULL without the raw value",
        )


# --- 1. invalid UTF-8 from a SQL_ASCII source ---------------------------------------------------

INVALID = "'\\xfffe6162c328'::bytea"  # 0xff 0xfe 'a' 'b' then a truncated 2-byte sequence


def sql_ascii_legacy(pg_server: EmbeddedServer, seed: int) -> str:
    name = f"hascii_{seed}"
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'"
                " TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    src = pg_server.admin_conninfo(name)
    # The generator's SQL has non-ASCII text: a SQL_ASCII server passes UTF-8 bytes through.
    generate(f"{src} client_encoding=UTF8", scale=SCALE, seed=seed)
    office = first_id(src, "dispatch_office")
    patient = first_id(src, "dispatch_patient")
    notification = first_id(src, "dispatch_notification")
    execute(
        f"{src} client_encoding=UTF8",
        f"UPDATE dispatch_office SET name = convert_from({INVALID}, 'SQL_ASCII')"
        f" WHERE id = {office}",
        f'UPDATE dispatch_patient SET schemes = \'{{"k": "\' || convert_from({INVALID},'
        f" 'SQL_ASCII') || '\"}}' WHERE id = {patient}",
        f'UPDATE dispatch_notification SET template_context = \'{{"k": "\' ||'
        f" convert_from({INVALID}, 'SQL_ASCII') || '\"}}' WHERE id = {notification}",
    )
    # What is stored is the raw bytes, not a conversion of them.
    stored = scalar(
        f"{src} client_encoding=UTF8",
        f"SELECT convert_to(name, 'SQL_ASCII') FROM dispatch_office WHERE id = {office}",
    )
    assert bytes(stored) == b"\xff\xfeab\xc3\x28"
    return src


def check_invalid_utf8_fates(src: str, dst: str) -> None:
    raw = f"{src} client_encoding=UTF8"
    cases = [
        ("offices", "dispatch_office", "offices", "legacy_office_id", "name"),
        ("patients", "dispatch_patient", "patients", "legacy_patient_id", "schemes"),
        (
            "system_messages",
            "dispatch_notification",
            "system_messages",
            "legacy_notification_id",
            "template_context",
        ),
    ]
    for entity, table, dst_table, legacy_col, column in cases:
        legacy_id = first_id(raw, table)
        if assert_migrated_or_rejected(dst, entity, legacy_id):
            # Migrated: the value cannot be stored as it is in a UTF-8 target, so the raw
            # legacy value must be kept (rule 2), not silently replaced.
            meta = scalar(
                dst,
                f"SELECT metadata->'legacy_raw' ? %s FROM {dst_table} WHERE {legacy_col} = %s",
                column,
                legacy_id,
            )
            assert meta, (entity, legacy_id, "invalid UTF-8 replaced without the raw value")
        assert_accounted(raw, dst, entity)


def test_invalid_utf8_from_sql_ascii_source(pg_server: Any, create_database: CreateDb) -> None:
    src = sql_ascii_legacy(pg_server, seed=101)
    dst = target(create_database)
    # The source as an operator names it: no client_encoding override.
    migrate_entities(src, dst, ["offices", "patients", "system_messages"])
    check_invalid_utf8_fates(src, dst)


def test_invalid_utf8_from_sql_ascii_source_with_utf8_client(
    pg_server: Any, create_database: CreateDb
) -> None:
    """The same data read with client_encoding=UTF8 (no server-side conversion on SQL_ASCII):
    the invalid bytes reach the engine as they are."""
    src = sql_ascii_legacy(pg_server, seed=102)
    dst = target(create_database)
    migrate_entities(f"{src} client_encoding=UTF8", dst, ["offices", "patients", "system_messages"])
    check_invalid_utf8_fates(src, dst)


# --- 2. 100 MB of text in one row ---------------------------------------------------------------

HUGE = 100 * 1024 * 1024


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def test_100_mb_of_text_in_one_row(create_database: CreateDb) -> None:
    import psutil

    src = legacy(create_database, seed=201)
    note = first_id(src, "dispatch_note")
    execute(src, f"UPDATE dispatch_note SET text = repeat('x', {HUGE}) WHERE id = {note}")
    dst = target(create_database)
    process = psutil.Process()
    before = process.memory_info().rss / 2**20
    peak_before = _peak_rss_mb()
    migrate_entities(src, dst, ["doctor_notes"])
    after = process.memory_info().rss / 2**20
    peak_growth = _peak_rss_mb() - max(peak_before, before)
    assert assert_migrated_or_rejected(dst, "doctor_notes", note)
    assert (
        scalar(dst, f"SELECT length(body) FROM doctor_notes WHERE legacy_note_id = {note}") == HUGE
    )
    assert same_in_sql(
        src,
        dst,
        f"SELECT text FROM dispatch_note WHERE id = {note}",
        f"SELECT body FROM doctor_notes WHERE legacy_note_id = {note}",
    )
    # Streaming: one copy of the row in flight at most (plus slack), nothing retained after.
    assert peak_growth < 350, f"peak RSS grew by {peak_growth:.0f} MB"
    assert after - before < 150, f"RSS grew by {after - before:.0f} MB and stayed"
    result = validation(src, dst, "doctor_notes")
    failed = [c for c in result.checks if c.status != "passed"]
    assert not failed, failed


# --- 3. numeric at the edge of precision --------------------------------------------------------

MAX_MONEY = "99999999.99"
PAYMENT_MONEY = (
    "tax_value",
    "paid_price",
    "used_credit",
    "custom_price",
    "subtotal_price",
    "additional_price",
    "total_price",
)


def test_numeric_at_the_edge_of_precision(create_database: CreateDb) -> None:
    src = legacy(create_database, seed=301)
    pay = [int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_payment ORDER BY id LIMIT 3")]
    top = ", ".join(f"{c} = {MAX_MONEY}" for c in PAYMENT_MONEY)
    bottom = ", ".join(f"{c} = -{MAX_MONEY}" for c in PAYMENT_MONEY)
    tiny = ", ".join(f"{c} = 0.01" for c in PAYMENT_MONEY)
    office = first_id(src, "dispatch_office")
    instruction = first_id(src, "dispatch_instruction")
    purchase = first_id(src, "dispatch_purchase")
    execute(
        src,
        f"UPDATE dispatch_payment SET {top}, tax_rate = 99.9999 WHERE id = {pay[0]}",
        f"UPDATE dispatch_payment SET {bottom}, tax_rate = -99.9999 WHERE id = {pay[1]}",
        f"UPDATE dispatch_payment SET {tiny}, tax_rate = 0.0001 WHERE id = {pay[2]}",
        f"UPDATE dispatch_office SET tax_rate = 99.9999 WHERE id = {office}",
        f"UPDATE dispatch_instruction SET price = {MAX_MONEY} WHERE id = {instruction}",
        # quantity x price overflows the target's numeric(10,2) total_amount.
        f"UPDATE dispatch_purchase SET price = {MAX_MONEY}, quantity = 3 WHERE id = {purchase}",
    )
    dst = target(create_database)
    migrate_entities(src, dst, ["payments", "purchases"])

    for legacy_id, sign in ((pay[0], ""), (pay[1], "-")):
        assert assert_migrated_or_rejected(dst, "payments", legacy_id)
        got = rows(dst, "SELECT * FROM payments WHERE legacy_payment_id = %s", legacy_id)[0]
        for column in PAYMENT_MONEY:
            assert str(got[column]) == f"{sign}{MAX_MONEY}", (legacy_id, column)
        assert str(got["tax_rate"]) == f"{sign}99.9999"
    assert (
        str(scalar(dst, "SELECT tax_rate FROM offices WHERE legacy_office_id = %s", office))
        == "99.9999"
    )
    assert (
        str(scalar(dst, "SELECT amount FROM orders WHERE legacy_instruction_id = %s", instruction))
        == MAX_MONEY
    )
    # The overflowing purchase: migrated with the value kept or NULL + raw, or rejected with
    # a code; never a crash, never silently truncated.
    if assert_migrated_or_rejected(dst, "purchases", purchase):
        got = rows(dst, "SELECT * FROM purchases WHERE legacy_purchase_id = %s", purchase)[0]
        assert str(got["unit_price"]) == MAX_MONEY
        if got["total_amount"] is not None:
            assert str(got["total_amount"]) == "299999999.97"
        else:
            assert got["metadata"]["legacy_raw"]["total_amount"] in ("299999999.97", 299999999.97)
    for entity in ("payments", "offices", "orders", "purchases"):
        assert_accounted(src, dst, entity, money=entity in ("payments", "orders", "purchases"))


# --- 4. JSON nested 10,000 deep -----------------------------------------------------------------

DEEP = 10_000
DEEP_JSON = f"repeat('[', {DEEP}) || repeat(']', {DEEP})"
DEEP_LITERAL = f"repeat('{{''a'': (', {DEEP}) || 'None' || repeat(',)}}', {DEEP})"


def test_json_nested_10000_deep(create_database: CreateDb) -> None:
    src = legacy(create_database, seed=401)
    patients = [
        int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_patient ORDER BY id LIMIT 2")
    ]
    notification = first_id(src, "dispatch_notification")
    course = first_id(src, "dispatch_course")
    product = first_id(src, "dispatch_product")
    execute(
        src,
        f"UPDATE dispatch_patient SET schemes = {DEEP_JSON} WHERE id = {patients[0]}",
        f"UPDATE dispatch_patient SET schemes = {DEEP_LITERAL} WHERE id = {patients[1]}",
        f"UPDATE dispatch_notification SET template_context = {DEEP_JSON}"
        f" WHERE id = {notification}",
        f"UPDATE dispatch_course SET customization = {DEEP_JSON} WHERE id = {course}",
        f"UPDATE dispatch_product SET customization = {DEEP_LITERAL} WHERE id = {product}",
    )
    dst = target(create_database)
    migrate_entities(src, dst, ["patients", "system_messages", "courses", "products"])

    checks = [
        (
            "patients",
            "dispatch_patient",
            "schemes",
            patients[0],
            "patients",
            "legacy_patient_id",
            "schemes",
        ),
        (
            "patients",
            "dispatch_patient",
            "schemes",
            patients[1],
            "patients",
            "legacy_patient_id",
            "schemes",
        ),
        (
            "system_messages",
            "dispatch_notification",
            "template_context",
            notification,
            "system_messages",
            "legacy_notification_id",
            "context",
        ),
        (
            "courses",
            "dispatch_course",
            "customization",
            course,
            "courses",
            "legacy_course_id",
            "customization",
        ),
        (
            "products",
            "dispatch_product",
            "customization",
            product,
            "products",
            "legacy_product_id",
            "customization",
        ),
    ]
    for entity, table, column, legacy_id, dst_table, legacy_col, dst_col in checks:
        if assert_migrated_or_rejected(dst, entity, legacy_id):
            is_null = scalar(
                dst, f"SELECT {dst_col} IS NULL FROM {dst_table} WHERE {legacy_col} = {legacy_id}"
            )
            if is_null:
                assert same_in_sql(
                    src,
                    dst,
                    f"SELECT {column} FROM {table} WHERE id = {legacy_id}",
                    f"SELECT metadata->'legacy_raw'->>'{column}' FROM {dst_table}"
                    f" WHERE {legacy_col} = {legacy_id}",
                ), (entity, legacy_id, "NULL without the raw value")
            elif table != "dispatch_product" and legacy_id != patients[1]:
                # Kept as JSON: the very same document.
                assert same_in_sql(
                    src,
                    dst,
                    f"SELECT {column}::jsonb::text FROM {table} WHERE id = {legacy_id}",
                    f"SELECT {dst_col}::text FROM {dst_table} WHERE {legacy_col} = {legacy_id}",
                ), (entity, legacy_id)
    for entity in ("patients", "system_messages", "courses", "products"):
        assert_accounted(src, dst, entity)


@pytest.mark.parametrize("bulk_load", [False, True])
def test_json_that_jsonb_refuses_is_kept_raw(
    create_database: CreateDb, monkeypatch: pytest.MonkeyPatch, bulk_load: bool
) -> None:
    """A text json accepts and jsonb refuses (a \\u0000 escape, a number beyond numeric)
    fails the batch's fast transform, which runs exact instead (decision 113): the row
    migrates with no context, its text kept raw and an invalid_json issue, as any other
    invalid JSON. In a bulk load the rows go straight into the table (decision 112)."""
    from mdw_migrate.engine import batch, bulk

    # Either path whatever the size of the generated table (over 10,000 notifications).
    monkeypatch.setattr(bulk, "BULK_THRESHOLD", 1 if bulk_load else 10**12)
    exact_runs: list[str] = []
    real_guarded = batch.guarded

    def spy(target: Any, statement_of: Callable[[bool], str], values: dict[str, Any]) -> Any:
        try:
            with target.transaction():
                target.execute(statement_of(True).encode(), values)
                raise _Undo
        except psycopg.errors.DataError:
            exact_runs.append(statement_of(False))
        except _Undo:
            pass
        return real_guarded(target, statement_of, values)

    monkeypatch.setattr(batch, "guarded", spy)
    src = legacy(create_database, seed=402)
    ids = [
        int(r["id"])
        for r in rows(src, "SELECT id FROM dispatch_notification ORDER BY id LIMIT 3 OFFSET 5")
    ]
    texts = ['{"a": "\\u0000"}', '{"n": 1e1000000}']
    execute(
        src,
        *(
            f"UPDATE dispatch_notification SET template_context = '{text}' WHERE id = {legacy_id}"
            for legacy_id, text in zip(ids, texts, strict=False)
        ),
        f"UPDATE dispatch_notification SET template_context = '{{\"ok\": 1}}' WHERE id = {ids[2]}",
    )
    dst = target(create_database)
    migrate_entities(src, dst, ["system_messages"], batch_size=500)
    if server_version(dst) >= 160000:  # before 16 the SQL function is the only form
        assert exact_runs, "no batch met a text that is JSON and not jsonb"
        assert all("pg_input_is_valid" in statement for statement in exact_runs)
    # A bulk load's batches write the table from the transform itself.
    assert all(("AS MATERIALIZED" in statement) == bulk_load for statement in exact_runs)
    for legacy_id, text in zip(ids, texts, strict=False):
        assert assert_migrated_or_rejected(dst, "system_messages", legacy_id)
        found = rows(
            dst,
            "SELECT context, metadata->'legacy_raw'->>'template_context' AS raw"
            " FROM system_messages WHERE legacy_notification_id = %s",
            legacy_id,
        )
        assert found == [{"context": None, "raw": text}], legacy_id
        issues = rows(
            dst,
            "SELECT kind, column_name FROM migration.quality_issues"
            " WHERE entity = 'system_messages' AND legacy_id = %s",
            legacy_id,
        )
        assert issues == [{"kind": "invalid_json", "column_name": "context"}]
    assert scalar(
        dst, "SELECT context FROM system_messages WHERE legacy_notification_id = %s", ids[2]
    ) == {"ok": 1}
    assert_accounted(src, dst, "system_messages")


class _Undo(Exception):
    """Rolls a probe's savepoint back."""


def server_version(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        return conn.info.server_version


# --- 5. dates out of range for Python -----------------------------------------------------------


def test_dates_out_of_range_for_python(create_database: CreateDb) -> None:
    src = legacy(create_database, seed=501)
    p = [int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_patient ORDER BY id LIMIT 4")]
    pay = [int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_payment ORDER BY id LIMIT 3")]
    execute(
        src,
        f"UPDATE dispatch_patient SET birthdate = '4713-01-01 BC' WHERE id = {p[0]}",
        f"UPDATE dispatch_patient SET birthdate = '5874897-12-31' WHERE id = {p[1]}",
        f"UPDATE dispatch_patient SET birthdate = 'infinity', submitted_at = 'infinity'"
        f" WHERE id = {p[2]}",
        f"UPDATE dispatch_patient SET birthdate = '-infinity',"
        f" submitted_at = '294276-12-31 23:59:59+00' WHERE id = {p[3]}",
        f"UPDATE dispatch_payment SET made_at = '4713-01-01 00:00:00+00 BC' WHERE id = {pay[0]}",
        f"UPDATE dispatch_payment SET made_at = 'infinity' WHERE id = {pay[1]}",
        f"UPDATE dispatch_payment SET made_at = '-infinity' WHERE id = {pay[2]}",
    )
    dst = target(create_database)
    migrate_entities(src, dst, ["patients", "payments"])

    for legacy_id in p:
        if assert_migrated_or_rejected(dst, "patients", legacy_id):
            for src_col, dst_col in (
                ("birthdate", "date_of_birth"),
                ("submitted_at", "enrolled_at"),
            ):
                kept_or_raw(
                    src,
                    dst,
                    src_table="dispatch_patient",
                    src_col=src_col,
                    legacy_id=legacy_id,
                    dst_table="patients",
                    legacy_col="legacy_patient_id",
                    dst_col=dst_col,
                )
    for legacy_id in pay:
        if assert_migrated_or_rejected(dst, "payments", legacy_id):
            kept_or_raw(
                src,
                dst,
                src_table="dispatch_payment",
                src_col="made_at",
                legacy_id=legacy_id,
                dst_table="payments",
                legacy_col="legacy_payment_id",
                dst_col="paid_at",
            )
    for entity in ("patients", "payments"):
        assert_accounted(src, dst, entity, money=entity == "payments")
    # The validator reads these rows back too: it must not crash on them.
    for entity in ("patients", "payments"):
        validation(src, dst, entity)


# --- 6. strings that look like SQL injection ----------------------------------------------------


def test_sql_injection_looking_strings_are_stored_verbatim(create_database: CreateDb) -> None:
    src = legacy(create_database, seed=601)
    offices = [int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_office ORDER BY id")]
    users = [int(r["id"]) for r in rows(src, "SELECT id FROM auth_user ORDER BY id")]
    note = first_id(src, "dispatch_note")
    with psycopg.connect(src, autocommit=True) as conn:
        for i, text in enumerate(NAUGHTY):
            conn.execute(
                "UPDATE dispatch_office SET name = %s, city = %s WHERE id = %s",
                [text, text, offices[i]],
            )
            conn.execute(
                "UPDATE auth_user SET first_name = %s, last_name = %s WHERE id = %s",
                [text, text, users[i]],
            )
        conn.execute("UPDATE dispatch_note SET text = %s WHERE id = %s", ["\n".join(NAUGHTY), note])
    dst = target(create_database)
    tables_before = scalar(dst, "SELECT count(*) FROM pg_tables")
    migrate_entities(src, dst, ["offices", "profiles", "doctor_notes"])

    for i, text in enumerate(NAUGHTY):
        got = rows(dst, "SELECT name, city FROM offices WHERE legacy_office_id = %s", offices[i])
        assert got == [{"name": text, "city": text}], (i, got)
        got = rows(
            dst,
            "SELECT first_name, last_name FROM profiles WHERE legacy_user_id = %s",
            users[i],
        )
        assert got == [{"first_name": text, "last_name": text}], (i, got)
    body = scalar(dst, "SELECT body FROM doctor_notes WHERE legacy_note_id = %s", note)
    assert body == "\n".join(NAUGHTY)
    # Nothing executed: every table still there, every office and id-map row too.
    assert scalar(dst, "SELECT count(*) FROM pg_tables") == tables_before
    assert scalar(src, "SELECT count(*) FROM dispatch_office") == len(offices)
    for entity in ("offices", "profiles", "doctor_notes"):
        assert_accounted(src, dst, entity)
        result = validation(src, dst, entity)
        failed = [c for c in result.checks if c.status != "passed"]
        assert not failed, (entity, failed)


# --- 7. duplicate legacy ids in a source without a primary key ----------------------------------


@pytest.mark.parametrize("where", ["inside a batch", "at a batch boundary", "one batch"])
def test_duplicate_legacy_ids_without_primary_key(
    create_database: CreateDb, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    src = legacy(create_database, seed=701)
    offices = [int(r["id"]) for r in rows(src, "SELECT id FROM dispatch_office ORDER BY id")]
    dup = offices[len(offices) // 2]
    execute(
        src,
        "ALTER TABLE dispatch_office DROP CONSTRAINT dispatch_office_pkey",
        f"INSERT INTO dispatch_office (id, name, address, apt, city, state, zip, country, phone,"
        f" tax_rate, valid, sq_customer_id, emails)"
        f" SELECT id, name || ' (copy)', address, apt, city, state, zip, country, phone,"
        f" tax_rate, valid, sq_customer_id, emails FROM dispatch_office WHERE id = {dup}",
    )
    assert scalar(src, f"SELECT count(*) FROM dispatch_office WHERE id = {dup}") == 2
    # At the boundary, the first copy is the last row LIMIT takes into a batch.
    batch_size = {"inside a batch": 5, "one batch": 1000}.get(where, offices.index(dup) + 1)
    dst = target(create_database)
    with caplog.at_level(logging.INFO, logger="mdw_migrate.staging"):
        migrate_entities(src, dst, ["offices"], batch_size=batch_size)
    # The stage keyed unique refused the second copy, and the batch staged it without the key.
    assert [r for r in caplog.records if getattr(r, "action", None) == "stage_unkeyed"]

    # Every other office is migrated once.
    for legacy_id in offices:
        if legacy_id != dup:
            assert fate(dst, "offices", legacy_id) == (True, None), legacy_id
    # The duplicated id: one of the two rows is migrated, the other is rejected or excluded
    # with a named reason, so both legacy rows are accounted for.
    migrated, reason = fate(dst, "offices", dup)
    assert migrated, "neither copy of the duplicated id was migrated"
    assert reason is not None, "the second row with the same legacy id left no record"
    assert scalar(dst, "SELECT count(*) FROM offices WHERE legacy_office_id = %s", dup) == 1
    assert scalar(dst, "SELECT count(*) FROM offices") == len(offices)
    assert_accounted(src, dst, "offices")


# --- 8. a content type table without the models we expect ---------------------------------------


def test_content_types_without_patient_and_user_models(create_database: CreateDb) -> None:
    src = legacy(create_database, seed=801)
    gone = [
        int(r["id"])
        for r in rows(
            src,
            "SELECT id FROM django_content_type WHERE (app_label, model)"
            " IN (('dispatch', 'patient'), ('auth', 'user'))",
        )
    ]
    assert len(gone) == 2
    aimed = int(
        scalar(src, "SELECT count(*) FROM dispatch_record WHERE target_type_id = ANY(%s)", gone)
    )
    assert aimed > 0
    execute(
        src,
        "DELETE FROM django_content_type WHERE (app_label, model)"
        " IN (('dispatch', 'patient'), ('auth', 'user'))",
    )
    dst = target(create_database)
    migrate_entities(src, dst, ["messages", "team_communications", "system_messages"])

    records = int(scalar(src, "SELECT count(*) FROM dispatch_record"))
    accounted = 0
    for entity in ("messages", "team_communications"):
        assert_accounted(src, dst, entity)
        accounted += int(
            scalar(dst, "SELECT count(*) FROM migration.id_map WHERE entity = %s", entity)
        ) + int(
            scalar(dst, "SELECT count(*) FROM migration.row_outcomes WHERE entity = %s", entity)
        )
    assert accounted == records
    # The records once aimed at a patient or a user: team_communications, their target kept.
    kept = rows(
        dst,
        "SELECT legacy_record_id, legacy_target_type, legacy_target_id, recipient_profile_id,"
        " metadata FROM team_communications WHERE (metadata->'legacy_raw'->>'target_type_id')"
        "::int = ANY(%s)",
        gone,
    )
    assert len(kept) == aimed
    source = {
        int(r["id"]): r
        for r in rows(
            src, "SELECT id, target_id FROM dispatch_record WHERE target_type_id = ANY(%s)", gone
        )
    }
    for r in kept:
        assert r["legacy_target_type"] is None
        assert r["recipient_profile_id"] is None
        assert r["legacy_target_id"] == source[r["legacy_record_id"]]["target_id"]
    assert_accounted(src, dst, "system_messages")
