"""Unit tests of the transformation rules, run on the real server where the rule is SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from mdw_migrate.target import schema


@pytest.fixture(scope="module")
def target(create_database: Callable[[str], str]) -> Any:
    conninfo = create_database("rules")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema.apply(conn)
        yield conn


def one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, list(params)).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("spelling", "iso2"),
    [
        ("USA", "US"),
        ("us", "US"),
        ("United States", "US"),
        ("U.S.A.", "US"),
        ("usa ", "US"),
        (" united  states of america", "US"),
        ("America", "US"),
        ("India", "IN"),
        ("IN", "IN"),
        ("Japan", "JP"),
        ("jp", "JP"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("Mexico", "MX"),
        ("canada", "CA"),
        ("Atlantis", None),
        ("", None),
        ("  ", None),
        (None, None),
        ("12345", None),
    ],
)
def test_country_spellings_become_iso_alpha2(
    target: psycopg.Connection[Any], spelling: str | None, iso2: str | None
) -> None:
    assert one(target, "SELECT migration.country_iso2(%s)", spelling) == iso2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  bob@example.org  ", "bob@example.org"),
        # "Trimmed" is every kind of surrounding whitespace, not only spaces.
        ("\tcarol@example.org\n", "carol@example.org"),
        ("\r\ndave@example.org\r\n", "dave@example.org"),
        ("\u00a0eve@example.org\u00a0", "eve@example.org"),
        ("\ufefffrank@example.org\u2003", "frank@example.org"),
        (" \t\n\u00a0", None),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("no-at-sign", None),
        ("two@@example.com", None),
        ("spaced name@example.com", None),
        ("user@localhost", None),
        ("user@example.c", None),
        ("", None),
        (None, None),
    ],
)
def test_emails_are_trimmed_lowercased_and_checked(
    target: psycopg.Connection[Any], raw: str | None, expected: str | None
) -> None:
    assert one(target, "SELECT migration.normalize_email(%s)", raw) == expected


def test_text_is_trimmed_with_inner_whitespace_collapsed_and_case_kept(
    target: psycopg.Connection[Any],
) -> None:
    assert one(target, "SELECT migration.clean_text(%s)", "  12  Main\t St.\n ") == "12 Main St."
    nbsp = "\u00a0Dr.\u00a0\u00a0Ann\u2009Lee\u3000\r\n"
    assert one(target, "SELECT migration.clean_text(%s)", nbsp) == "Dr. Ann Lee"
    assert one(target, "SELECT migration.clean_text(%s)", "\u00a0\t\n") == ""
    assert one(target, "SELECT migration.clean_text(%s)", "") == ""
    assert one(target, "SELECT migration.clean_text(%s)", None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ('"text"', "text"),
        ("{'a': 1}", None),
        ("garbage {", None),
        ("", None),
        (None, None),
    ],
)
def test_try_jsonb_gives_null_instead_of_failing(
    target: psycopg.Connection[Any], raw: str | None, expected: object
) -> None:
    assert one(target, "SELECT migration.try_jsonb(%s)", raw) == expected


def test_numbers_are_padded_and_never_truncated(target: psycopg.Connection[Any]) -> None:
    assert one(target, "SELECT migration.padded_number('DOC-', 42)") == "DOC-000042"
    assert one(target, "SELECT migration.padded_number('PAT-', 1234567)") == "PAT-1234567"


def test_legacy_uuid_is_stable_keyed_and_entity_specific(target: psycopg.Connection[Any]) -> None:
    query = "SELECT migration.legacy_uuid(%s, %s, %s)::text"
    a = one(target, query, b"secret-a", "patients", 7)
    assert a == one(target, query, b"secret-a", "patients", 7)
    assert a != one(target, query, b"secret-b", "patients", 7)
    assert a != one(target, query, b"secret-a", "cases", 7)
    assert a[14] == "8" and a[19] in "89ab"  # version 8, RFC 4122 variant


def test_cleaning_keeps_letters_that_look_like_escapes(target: psycopg.Connection[Any]) -> None:
    assert one(target, "SELECT migration.clean_text(%s)", " vivid\u000b view ") == "vivid view"


def test_inlined_try_jsonb_of_the_engine_equals_the_sql_function(
    target: psycopg.Connection[Any],
) -> None:
    """PostgreSQL 16+ batches write migration.try_jsonb out (decision 102); on any input the
    value must be the function's, including what json accepts and jsonb does not."""
    from mdw_migrate.engine.sqlgen import inline_try_jsonb

    raws = [
        '{"a": 1}', "[1, 2]", '"text"', "{'a': 1}", "garbage {", "", None, " null ",
        '{"a": "\\u0000"}', '{"n": 1e1000000}', '{"a": 1, "a": 2}', '"\\ud800"', "1" * 2000,
    ]  # fmt: skip
    select = (
        "SELECT migration.try_jsonb(s.raw) FROM unnest(%s::text[]) WITH ORDINALITY AS s (raw, n)"
    )
    version = target.info.server_version
    inlined = inline_try_jsonb(select, version)
    assert ("try_jsonb" in inlined) == (version < 160000)
    function = target.execute(select + " ORDER BY n", [raws]).fetchall()
    assert target.execute(inlined + " ORDER BY n", [raws]).fetchall() == function
    assert function[0] == ({"a": 1},) and function[3] == (None,) and function[8] == (None,)
    if version < 160000:
        return
    # The fast form (decision 113) gives the same value, or fails where json and jsonb
    # disagree, which makes the batch run the exact form.
    fast = inline_try_jsonb(select, version, fast=True)
    assert "IS JSON" in fast and "pg_input_is_valid" not in fast
    refused = []
    for raw, expected in zip(raws, function, strict=True):
        try:
            assert target.execute(fast, [[raw]]).fetchall() == [expected], raw
        except psycopg.errors.DataError:
            refused.append(raw)
    assert refused == ['{"a": "\\u0000"}', '{"n": 1e1000000}', '"\\ud800"']


@pytest.mark.parametrize("layout", [1, 2])
def test_inline_uuid_of_the_engine_equals_the_sql_function(
    target: psycopg.Connection[Any], layout: int
) -> None:
    from mdw_migrate.engine.sqlgen import uuid_expr

    inline = target.execute(
        f"SELECT {uuid_expr('g')} FROM generate_series(4090, 4200) AS g ORDER BY g",
        {"secret": b"k", "entity": "patients", "uuid_layout": layout},
    ).fetchall()
    function = target.execute(
        "SELECT migration.legacy_uuid('k'::bytea, 'patients', g, %s::smallint)"
        " FROM generate_series(4090, 4200) g ORDER BY g",
        [layout],
    ).fetchall()
    assert inline == function
    if layout == 1:  # the original derivation, which deployments made before layouts use
        assert (
            function
            == target.execute(
                "SELECT migration.legacy_uuid('k'::bytea, 'patients', g)"
                " FROM generate_series(4090, 4200) g ORDER BY g"
            ).fetchall()
        )


@pytest.mark.parametrize("first, last", [(0, -1), (-1, 1), (2, 3)])
def test_block_prefixes_passed_by_a_batch_equal_the_hashed_ones(
    target: psycopg.Connection[Any], first: int, last: int
) -> None:
    """A batch hashes its blocks' prefixes in Python and the transform looks each row's up;
    a row of a block the array does not reach (none, when the batch spans too many blocks)
    hashes its own. Either way the prefix is the derivation's."""
    from mdw_migrate.engine.sqlgen import block_prefix, block_prefixes, passed_block_prefix

    prefixes = block_prefixes(b"k", "patients", first, last)
    assert len(prefixes) == last - first + 1
    rows = target.execute(
        f"SELECT {passed_block_prefix('g')}, {block_prefix('g >> 12')}"
        " FROM generate_series(-5000, 4096 * 4, 97) AS g ORDER BY g",
        {"secret": b"k", "entity": "patients", "first_block": first, "block_prefixes": prefixes},
    ).fetchall()
    assert len(rows) > 200 and all(passed == hashed for passed, hashed in rows)
    assert len({hashed for _, hashed in rows}) == 6  # blocks -2 to 4


def test_layout_2_shares_a_prefix_within_a_block_and_nothing_else(
    target: psycopg.Connection[Any],
) -> None:
    rows = target.execute(
        "SELECT g, migration.legacy_uuid('k'::bytea, 'patients', g, 2::smallint)::text,"
        " migration.legacy_uuid('k'::bytea, 'patients', g, 1::smallint)::text"
        " FROM generate_series(4096 * 5, 4096 * 7 - 1) g"
    ).fetchall()
    prefixes: dict[int, set[str]] = {g >> 12: set() for g, _, _ in rows}
    for g, v2, v1 in rows:
        prefixes[g >> 12].add(v2[:8])
        assert v2[8:] == v1[8:]  # the rest is the id's own keyed hash
        assert v2[14] == "8" and v2[19] in "89ab"
    assert all(len(p) == 1 for p in prefixes.values()) and len(set.union(*prefixes.values())) == 2
    assert len({v2 for _, v2, _ in rows}) == len(rows)
    other = one(
        target, "SELECT migration.legacy_uuid('j'::bytea, 'patients', 20480, 2::smallint)::text"
    )
    assert other[:8] not in set.union(*prefixes.values())  # keyed: no secret, no prefix
