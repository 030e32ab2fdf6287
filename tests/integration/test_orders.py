"""The orders group (courses, products, teams, orders, jaws, cases, order_cases, order_states,
projects, treatment_plans, brackets): unit tests of the specs and their SQL rules, then the
group migrated from a generated legacy database and checked field by field.

The expected values are recomputed here in Python from the source rows, independently of the
SQL the engine generates.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.catalogue.core import PATIENT_STATUS
from mdw_migrate.engine.validate import validate_entity
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import (
    Legacy,
    by_key,
    fresh_target,
    issues_by_column,
    outcomes,
    rows,
    run,
    scalar,
    uuids,
)
from ..unit.test_orders_spec import (
    COURSE_TYPE,
    GROUP,
    JAW_REASON,
    ORDER_STATUS,
    PROJECT_STATUS,
    PROJECT_TYPE,
    STATE_STATUS,
)

SCALE = 0.01

CLINICAL = ("model", "order", "scanner", "scanner_notes", "cbct", "conditions",
            "accept_extraction", "objective", "comprehensive")  # fmt: skip


# --- unit tests: the specs -----------------------------------------------------------------


# --- unit tests: the SQL rules, on the real server -------------------------------------------


@pytest.fixture(scope="module")
def rules_db(create_database: Callable[[str], str]) -> Any:
    conninfo = create_database("orules")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema.apply(conn)
        yield conn


def column_value(conn: psycopg.Connection[Any], entity: str, column: str, **values: Any) -> Any:
    """One column's expression of a spec, over a staged row `s` made of `values`
    (each a (value, SQL type) pair)."""
    col = next(c for c in CATALOGUE.rows_entity(entity).columns if c.name == column)
    staged = ", ".join(f"%s::{sqltype} AS {name}" for name, (_, sqltype) in values.items())
    query = f"SELECT ({col.expr})::text FROM (SELECT {staged}) AS s"
    row = conn.execute(query, [value for value, _ in values.values()]).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [("00BB", "00BB-42"), (" 07AB ", "07AB-42"), ("", "42"), ("   ", "42"), (None, "42")],
)
def test_order_number_is_the_patient_suffix_and_the_id(
    rules_db: psycopg.Connection[Any], suffix: str | None, expected: str
) -> None:
    value = column_value(
        rules_db, "orders", "order_number", patient_suffix=(suffix, "text"), id=(42, "integer")
    )
    assert value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{}", None),
        ("{ }", None),
        ('{"netsuite": {"id": 7}}', {"netsuite": {"id": 7}}),
        ("[1]", [1]),
        ('{"netsuite": ', None),
        ("", None),
    ],
)
def test_exports_are_jsonb_with_the_empty_object_as_null(
    rules_db: psycopg.Connection[Any], raw: str, expected: object
) -> None:
    value = column_value(rules_db, "orders", "exports", exports=(raw, "text"))
    assert (None if value is None else json.loads(value)) == expected


@pytest.mark.parametrize(
    ("status", "approved", "shipped"),
    [(0, False, False), (1, False, False), (2, True, False), (3, True, False),
     (4, True, True), (5, True, False), (6, True, False), (99, False, False),
     (-1, False, False)],
)  # fmt: skip
def test_approval_and_shipping_dates_follow_the_known_codes(
    rules_db: psycopg.Connection[Any], status: int, approved: bool, shipped: bool
) -> None:
    staged = {
        "status": (status, "integer"),
        "updated_at": ("2020-01-02 03:04:05+00", "timestamptz"),
    }
    assert (column_value(rules_db, "orders", "approved_at", **staged) is not None) is approved
    assert (column_value(rules_db, "orders", "shipped_at", **staged) is not None) is shipped


@pytest.mark.parametrize(
    ("reason", "expected"),
    [(1, "breakage"), (2, "other"), (3, "complete"), (None, "none"), (7, "unknown")],
)
def test_replacement_reasons(
    rules_db: psycopg.Connection[Any], reason: int | None, expected: str
) -> None:
    assert column_value(rules_db, "jaws", "replacement_reason", reason=(reason, "integer")) == (
        expected
    )


@pytest.mark.parametrize(
    ("instruction", "first_upper", "expected"),
    [(None, None, "unassigned"), (5, 5, "upper"), (5, None, "lower"), (5, 9, "lower")],
)
def test_jaw_type_from_the_lowest_instruction(
    rules_db: psycopg.Connection[Any],
    instruction: int | None,
    first_upper: int | None,
    expected: str,
) -> None:
    value = column_value(
        rules_db,
        "jaws",
        "jaw_type",
        instruction_id=(instruction, "integer"),
        first_upper=(first_upper, "integer"),
    )
    assert value == expected


def test_course_type_is_read_from_the_id(rules_db: psycopg.Connection[Any]) -> None:
    for course_id, expected in [*COURSE_TYPE.items(), (5, "unknown"), (6, "unknown")]:
        assert column_value(rules_db, "courses", "course_type", id=(course_id, "integer")) == (
            expected
        )


# --- integration: a generated legacy database, the group migrated ---------------------------


def migrate_group(source: str, target: str, batch_size: int) -> None:
    run(source, target, "core-with-patients", batch_size=batch_size)
    for name in GROUP:
        run(source, target, name, batch_size=batch_size)


@pytest.fixture(scope="module")
def legacy(create_database: Callable[[str], str]) -> Legacy:
    conninfo = create_database("osrc")
    return Legacy(conninfo, generate(conninfo, scale=SCALE, seed=7))


@pytest.fixture(scope="module")
def migrated(legacy: Legacy, create_database: Callable[[str], str]) -> str:
    target = fresh_target(create_database, "odst")
    migrate_group(legacy.conninfo, target, batch_size=37)
    return target


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"[ \t\r\n\f\v]+", " ", value.strip(" \t\r\n\f\v"))


def expected_json(raw: str | None) -> tuple[Any, bool]:
    """(value, is an issue): blank is no JSON and no issue; text that does not parse is."""
    if raw is None or raw.strip(" ") == "":
        return None, False
    try:
        return json.loads(raw), False
    except ValueError:
        return None, True


def legacy_raw(row: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = row["metadata"].get("legacy_raw", {})
    return raw


def test_every_row_is_accounted_for_and_validation_passes(legacy: Legacy, migrated: str) -> None:
    with (
        psycopg.connect(legacy.conninfo) as source,
        psycopg.connect(migrated, autocommit=True) as target,
    ):
        for name in GROUP:
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), source, target)
            failed = [c for c in result.checks if c.status != "passed"]
            assert not failed, (name, failed)
            accounting = next(c for c in result.checks if c.type == "accounting")
            assert accounting.details["expected"] == accounting.details["actual"] > 0, name


def test_courses_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_course")
    target = by_key(rows(migrated, "SELECT * FROM courses"), "legacy_course_id")
    assert set(target) == {s["id"] for s in source}
    flagged = issues_by_column(migrated, "courses")
    unknown = 0
    for s in source:
        t = target[s["id"]]
        assert t["name"] == s["name"] and t["legacy_type"] == s["type"]
        assert t["course_type"] == COURSE_TYPE.get(s["id"], "unknown")
        if s["id"] not in COURSE_TYPE:
            unknown += 1
            assert legacy_raw(t)["id"] == s["id"]
            assert s["id"] in flagged[("unknown_code", "course_type")]
        assert t["customization"] == expected_json(s["customization"])[0]
    assert unknown == legacy.report.quirks["course_type_unknown"] >= 1


def test_products_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_product")
    target = by_key(rows(migrated, "SELECT * FROM products"), "legacy_product_id")
    courses = uuids(migrated, "courses", "legacy_course_id")
    flagged = issues_by_column(migrated, "products")
    assert set(target) == {s["id"] for s in source}
    bad_json = deleted = 0
    for s in source:
        t = target[s["id"]]
        assert (t["name"], t["description"]) == (s["name"], s["description"])
        assert t["is_free"] is s["free"] and t["is_substitute"] is s["substitute"]
        assert t["deleted"] is s["deleted"] and t["legacy_type"] == s["type"]
        assert t["course_id"] == courses.get(s["course_id"])
        assert t["legacy_course_id"] == s["course_id"]
        value, bad = expected_json(s["customization"])
        assert t["customization"] == value
        if bad:
            bad_json += 1
            assert legacy_raw(t)["customization"] == s["customization"]
            assert s["id"] in flagged[("invalid_json", "customization")]
        deleted += s["deleted"]
    quirks = legacy.report.quirks
    assert bad_json == quirks["product_customization_invalid_json"] >= 1
    assert deleted == quirks["products_deleted"] >= 1


def test_teams_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM auth_group")
    target = by_key(rows(migrated, "SELECT * FROM teams"), "legacy_group_id")
    assert {k: t["name"] for k, t in target.items()} == {s["id"]: s["name"] for s in source}


@dataclass
class OrderStats:
    migrated: int = 0
    patient_missing: int = 0
    patient_rejected: int = 0
    deleted: int = 0
    unknown_status: int = 0
    exports: Counter[str] = field(default_factory=Counter)


def check_orders(src: str, dst: str) -> OrderStats:
    """Every instruction against its order, field by field."""
    source = rows(src, "SELECT * FROM dispatch_instruction")
    patients = by_key(rows(src, "SELECT * FROM dispatch_patient"), "id")
    target = by_key(rows(dst, "SELECT * FROM orders"), "legacy_instruction_id")
    reasons = outcomes(dst, "orders")
    flagged = issues_by_column(dst, "orders")
    patient_uuid = uuids(dst, "patients", "legacy_patient_id")
    doctor_uuid = uuids(dst, "doctors", "legacy_user_id")
    office_uuid = uuids(dst, "offices", "legacy_office_id")
    course_uuid = uuids(dst, "courses", "legacy_course_id")
    stats = OrderStats()
    for s in source:
        if s["patient_id"] not in patient_uuid:
            assert reasons[s["id"]] == "ORPHAN_PATIENT" and s["id"] not in target
            if s["patient_id"] in patients:
                stats.patient_rejected += 1
            else:
                stats.patient_missing += 1
            continue
        stats.migrated += 1
        t = target[s["id"]]
        p = patients[s["patient_id"]]
        assert t["patient_id"] == patient_uuid[s["patient_id"]]
        assert t["legacy_doctor_user_id"] == p["doctor_id"]
        assert t["doctor_id"] == doctor_uuid.get(p["doctor_id"])
        assert t["legacy_office_id"] == p["office_id"]
        assert t["office_id"] == office_uuid.get(p["office_id"])
        assert t["legacy_course_id"] == s["course_id"]
        assert t["course_id"] == course_uuid.get(s["course_id"])
        suffix = clean(p["suffix"])
        assert t["order_number"] == (f"{suffix}-{s['id']}" if suffix else str(s["id"]))
        assert t["status"] == ORDER_STATUS.get(s["status"], "unknown")
        assert t["legacy_status"] == s["status"]
        if s["status"] not in ORDER_STATUS:
            stats.unknown_status += 1
            assert legacy_raw(t)["status"] == s["status"]
            assert s["id"] in flagged[("unknown_code", "status")]
        approved = s["status"] in {2, 3, 4, 5, 6}
        assert t["approved_at"] == (s["updated_at"] if approved else None)
        assert t["shipped_at"] == (s["updated_at"] if s["status"] == 4 else None)
        assert t["amount"] == s["price"]
        assert (t["notes"], t["complaint"], t["suffix"]) == (
            s["notes"],
            s["complaint"],
            s["suffix"],
        )
        value, bad = expected_json(s["exports"])
        assert t["exports"] == (None if value == {} else value)
        if bad:
            stats.exports["invalid"] += 1
            assert legacy_raw(t)["exports"] == s["exports"]
            assert s["id"] in flagged[("invalid_json", "exports")]
        else:
            assert "exports" not in legacy_raw(t)
            stats.exports["null" if t["exports"] is None else "kept"] += 1
        assert t["clinical"] == {c: s[c] for c in CLINICAL}
        assert t["submitted_at"] == s["submitted_at"] == t["created_at"]
        assert t["updated_at"] == s["updated_at"]
        assert t["deleted"] is s["deleted"]
        assert t["deleted_at"] == (s["updated_at"] if s["deleted"] else None)
        stats.deleted += s["deleted"]
        assert t["legacy_upper_jaw_id"] == s["upper_jaw_id"]
        assert t["legacy_lower_jaw_id"] == s["lower_jaw_id"]
    assert len(target) == stats.migrated
    return stats


def test_orders_field_by_field(legacy: Legacy, migrated: str) -> None:
    stats = check_orders(legacy.conninfo, migrated)
    quirks = legacy.report.quirks
    assert stats.patient_missing == quirks["instruction_patient_missing"] >= 1
    # Orders of a patient that exists but was itself rejected (its user is missing) are
    # rejected the same way.
    assert sum(1 for r in outcomes(migrated, "orders").values() if r == "ORPHAN_PATIENT") == (
        stats.patient_missing + stats.patient_rejected
    )
    assert stats.unknown_status >= 1
    assert stats.exports["kept"] >= 1 and stats.exports["null"] >= 1


def test_soft_deleted_orders_are_migrated_with_deleted_at(legacy: Legacy, migrated: str) -> None:
    deleted_source = rows(
        legacy.conninfo, "SELECT id, updated_at FROM dispatch_instruction WHERE deleted"
    )
    assert len(deleted_source) == legacy.report.quirks["instructions_deleted"] >= 1
    target = by_key(
        rows(migrated, "SELECT legacy_instruction_id, deleted_at FROM orders WHERE deleted"),
        "legacy_instruction_id",
    )
    reasons = outcomes(migrated, "orders")
    for s in deleted_source:
        if s["id"] in reasons:
            assert reasons[s["id"]] == "ORPHAN_PATIENT"
        else:
            assert target[s["id"]]["deleted_at"] == s["updated_at"]
    assert len(target) >= 1
    assert len(target) + sum(1 for s in deleted_source if s["id"] in reasons) == len(deleted_source)


def test_order_amounts_sum_to_the_cent(legacy: Legacy, migrated: str) -> None:
    rejected = list(outcomes(migrated, "orders"))
    expected = scalar(
        legacy.conninfo,
        "SELECT coalesce(sum(price), 0) FROM dispatch_instruction WHERE NOT (id = ANY(%s))",
        rejected,
    )
    actual = scalar(migrated, "SELECT coalesce(sum(amount), 0) FROM orders")
    assert isinstance(actual, Decimal) and actual == expected
    assert actual.as_tuple().exponent == -2
    nulls = scalar(migrated, "SELECT count(*) FROM orders WHERE amount IS NULL")
    assert 1 <= nulls <= legacy.report.quirks["instruction_price_null"]


@dataclass
class JawStats:
    unreferenced: int = 0
    shared: int = 0
    both_sides: int = 0
    order_missing: int = 0
    sides: Counter[str] = field(default_factory=Counter)
    shared_sides: Counter[str] = field(default_factory=Counter)


def check_jaws(src: str, dst: str) -> JawStats:
    """Every jaw against the instructions that name it, field by field."""
    named: dict[int, list[tuple[int, str]]] = {}
    for i in rows(src, "SELECT id, upper_jaw_id, lower_jaw_id FROM dispatch_instruction"):
        for column, side in (("upper_jaw_id", "upper"), ("lower_jaw_id", "lower")):
            if i[column] is not None:
                named.setdefault(i[column], []).append((i["id"], side))
    source = rows(src, "SELECT * FROM dispatch_jaw")
    target = by_key(rows(dst, "SELECT * FROM jaws"), "legacy_jaw_id")
    assert set(target) == {s["id"] for s in source}
    order_uuid = uuids(dst, "orders", "legacy_instruction_id")
    product_uuid = uuids(dst, "products", "legacy_product_id")
    flagged = issues_by_column(dst, "jaws")
    stats = JawStats()
    for s in source:
        t = target[s["id"]]
        refs = named.get(s["id"], [])
        if not refs:
            stats.unreferenced += 1
            assert t["jaw_type"] == "unassigned"
            assert t["order_id"] is None and t["legacy_instruction_id"] is None
            assert s["id"] in flagged[("unreferenced_jaw", "order_id")]
        else:
            first = min(i for i, _ in refs)
            sides = [side for i, side in refs if i == first]
            # Named on both sides by its lowest instruction: upper, and an issue.
            side = "upper" if "upper" in sides else "lower"
            stats.sides[side] += 1
            assert t["jaw_type"] == side
            assert t["legacy_instruction_id"] == first
            assert t["order_id"] == order_uuid.get(first)
            if first not in order_uuid:
                stats.order_missing += 1
                assert s["id"] in flagged[("missing_parent", "order_id")]
            if len(sides) == 2:
                stats.both_sides += 1
                assert s["id"] in flagged[("jaw_on_both_sides", "jaw_type")]
            if len({i for i, _ in refs}) > 1:
                stats.shared += 1
                stats.shared_sides[side] += 1
                assert s["id"] in flagged[("shared_jaw", "order_id")]
        assert t["legacy_product_id"] == s["product_id"]
        assert t["product_id"] == product_uuid.get(s["product_id"])
        assert (t["bond_teeth"], t["extract_teeth"]) == (s["bond_teeth"], s["extract_teeth"])
        assert len(t["bond_teeth"]) == 16 and t["labial"] is s["labial"]
        reason = s["reason"]
        assert t["replacement_reason"] == (
            "none" if reason is None else JAW_REASON.get(reason, "unknown")
        )
        assert t["legacy_reason"] == reason
        if reason is not None and reason not in JAW_REASON:
            assert legacy_raw(t)["reason"] == reason
    assert len(flagged.get(("unreferenced_jaw", "order_id"), ())) == stats.unreferenced
    assert len(flagged.get(("shared_jaw", "order_id"), ())) == stats.shared
    assert len(flagged.get(("jaw_on_both_sides", "jaw_type"), ())) == stats.both_sides
    return stats


def test_jaws_take_side_and_order_from_the_instructions(legacy: Legacy, migrated: str) -> None:
    stats = check_jaws(legacy.conninfo, migrated)
    quirks = legacy.report.quirks
    assert stats.unreferenced == quirks["jaw_unreferenced"] >= 1
    assert stats.shared == quirks["jaw_shared"] >= 1
    assert stats.sides["upper"] >= 1 and stats.sides["lower"] >= 1
    # Jaws of a rejected order keep the legacy instruction id, order NULL (rule 5).
    assert stats.order_missing >= 1
    unknown = scalar(migrated, "SELECT count(*) FROM jaws WHERE replacement_reason = 'unknown'")
    assert unknown == quirks["jaw_reason_unknown"] >= 1
    assert scalar(migrated, "SELECT count(*) FROM jaws WHERE replacement_reason = 'none'") >= 1


def test_cases_one_per_migrated_patient(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_patient")
    target = by_key(rows(migrated, "SELECT * FROM cases"), "legacy_patient_id")
    reasons = outcomes(migrated, "cases")
    patient_uuid = uuids(migrated, "patients", "legacy_patient_id")
    doctor_uuid = uuids(migrated, "doctors", "legacy_user_id")
    office_uuid = uuids(migrated, "offices", "legacy_office_id")
    for s in source:
        if s["id"] not in patient_uuid:
            assert reasons[s["id"]] == "ORPHAN_PATIENT" and s["id"] not in target
            continue
        t = target[s["id"]]
        assert t["case_number"] == f"CASE-{s['id']}"
        assert t["patient_id"] == patient_uuid[s["id"]]
        assert t["legacy_doctor_user_id"] == s["doctor_id"]
        assert t["doctor_id"] == doctor_uuid.get(s["doctor_id"])
        assert t["legacy_office_id"] == s["office_id"]
        assert t["office_id"] == office_uuid.get(s["office_id"])
        assert t["status"] == PATIENT_STATUS.get(s["status"], "unknown")
        assert t["legacy_status"] == s["status"]
        if s["status"] not in PATIENT_STATUS:
            assert legacy_raw(t)["status"] == s["status"]
        assert (t["created_at"], t["updated_at"]) == (s["submitted_at"], s["updated_at"])
    assert len(target) == len(patient_uuid)
    assert len(reasons) == legacy.report.quirks["patient_user_missing"] >= 1


def test_the_case_chain_links_every_order_to_its_patients_case(
    legacy: Legacy, migrated: str
) -> None:
    source = by_key(rows(legacy.conninfo, "SELECT id, patient_id FROM dispatch_instruction"), "id")
    order_rows = by_key(rows(migrated, "SELECT * FROM orders"), "legacy_instruction_id")
    links = by_key(rows(migrated, "SELECT * FROM order_cases"), "legacy_instruction_id")
    cases = by_key(rows(migrated, "SELECT * FROM cases"), "id")
    patients = by_key(rows(migrated, "SELECT id, legacy_patient_id FROM patients"), "id")
    reasons = outcomes(migrated, "order_cases")
    assert set(links) == set(order_rows)
    for legacy_id, s in source.items():
        if legacy_id not in order_rows:
            assert reasons[legacy_id] == "ORPHAN_ORDER"
            continue
        order, link = order_rows[legacy_id], links[legacy_id]
        case = cases[link["case_id"]]
        assert link["order_id"] == order["id"]
        # patient -> case and order -> order_case -> the same patient's case
        assert case["patient_id"] == order["patient_id"]
        assert case["legacy_patient_id"] == s["patient_id"]
        assert patients[case["patient_id"]]["legacy_patient_id"] == s["patient_id"]
    assert len(reasons) == len(outcomes(migrated, "orders"))


def check_order_states(src: str, dst: str) -> Counter[str]:
    source = rows(src, "SELECT * FROM dispatch_state")
    instructions = {r["id"] for r in rows(src, "SELECT id FROM dispatch_instruction")}
    target = by_key(rows(dst, "SELECT * FROM order_states"), "legacy_state_id")
    reasons = outcomes(dst, "order_states")
    flagged = issues_by_column(dst, "order_states")
    order_uuid = uuids(dst, "orders", "legacy_instruction_id")
    profile_uuid = uuids(dst, "profiles", "legacy_user_id")
    stats: Counter[str] = Counter()
    for s in source:
        if s["instruction_id"] not in order_uuid:
            assert reasons[s["id"]] == "ORPHAN_ORDER" and s["id"] not in target
            stats["dangling"] += s["instruction_id"] not in instructions
            continue
        t = target[s["id"]]
        assert t["order_id"] == order_uuid[s["instruction_id"]]
        assert t["status_code"] == s["status"]
        assert t["status_name"] == STATE_STATUS.get(s["status"], "unknown")
        if s["status"] not in STATE_STATUS:
            stats["unknown"] += 1
            assert legacy_raw(t)["status"] == s["status"]
            assert s["id"] in flagged[("unknown_code", "status_name")]
        assert t["is_active"] is s["on"]
        assert t["legacy_changed_by_user_id"] == s["actor_id"]
        assert t["changed_by"] == profile_uuid.get(s["actor_id"])
        if s["actor_id"] is None:
            stats["no_actor"] += 1
        elif s["actor_id"] not in profile_uuid:
            stats["actor_missing"] += 1
            assert s["id"] in flagged[("missing_parent", "changed_by")]
        assert t["changed_at"] == s["changed_at"] == t["created_at"]
    return stats


def test_order_states_field_by_field(legacy: Legacy, migrated: str) -> None:
    stats = check_order_states(legacy.conninfo, migrated)
    assert stats["dangling"] == legacy.report.quirks["state_instruction_missing"] >= 1
    assert stats["unknown"] >= 1 and stats["no_actor"] >= 1


def check_projects(src: str, dst: str) -> Counter[str]:
    source = rows(src, "SELECT * FROM dispatch_project")
    target = by_key(rows(dst, "SELECT * FROM projects"), "legacy_project_id")
    profile_uuid = uuids(dst, "profiles", "legacy_user_id")
    flagged = issues_by_column(dst, "projects")
    assert set(target) == {s["id"] for s in source}
    stats: Counter[str] = Counter()
    for s in source:
        t = target[s["id"]]
        assert t["legacy_creator_user_id"] == s["creator_id"]
        assert t["creator_id"] == profile_uuid.get(s["creator_id"])
        if s["creator_id"] is not None and s["creator_id"] not in profile_uuid:
            stats["creator_missing"] += 1
            assert s["id"] in flagged[("missing_parent", "creator_id")]
        assert t["project_type"] == PROJECT_TYPE.get(s["type"], "unknown")
        assert t["status"] == PROJECT_STATUS.get(s["status"], "unknown")
        assert (t["legacy_type"], t["legacy_status"]) == (s["type"], s["status"])
        if s["type"] not in PROJECT_TYPE:
            stats["unknown_type"] += 1
            assert legacy_raw(t)["type"] == s["type"]
            assert s["id"] in flagged[("unknown_code", "project_type")]
        if s["status"] not in PROJECT_STATUS:
            stats["unknown_status"] += 1
            assert legacy_raw(t)["status"] == s["status"]
            assert s["id"] in flagged[("unknown_code", "status")]
        assert (t["file_uid"], t["file_size_bytes"]) == (s["uid"], s["size"])
        assert t["is_public"] is s["public"] and t["name"] == s["name"]
        assert t["created_at"] == s["created_at"]
    return stats


def test_projects_field_by_field(legacy: Legacy, migrated: str) -> None:
    stats = check_projects(legacy.conninfo, migrated)
    quirks = legacy.report.quirks
    assert stats["unknown_type"] == quirks["project_type_unknown"] >= 1
    assert stats["unknown_status"] == quirks["project_status_unknown"] >= 1


def check_treatment_plans(src: str, dst: str) -> Counter[str]:
    source = rows(src, "SELECT * FROM dispatch_plan")
    target = by_key(rows(dst, "SELECT * FROM treatment_plans"), "legacy_plan_id")
    reasons = outcomes(dst, "treatment_plans")
    flagged = issues_by_column(dst, "treatment_plans")
    project_uuid = uuids(dst, "projects", "legacy_project_id")
    order_uuid = uuids(dst, "orders", "legacy_instruction_id")
    stats: Counter[str] = Counter()
    for s in source:
        if s["project_id"] not in project_uuid:
            assert reasons[s["id"]] == "ORPHAN_PROJECT" and s["id"] not in target
            stats["rejected"] += 1
            continue
        t = target[s["id"]]
        assert t["project_id"] == project_uuid[s["project_id"]]
        assert t["legacy_instruction_id"] == s["instruction_id"]
        assert t["order_id"] == order_uuid.get(s["instruction_id"])
        if s["instruction_id"] is None:
            stats["no_order"] += 1
        elif t["order_id"] is None:
            stats["order_missing"] += 1
            assert s["id"] in flagged[("missing_parent", "order_id")]
        assert (t["plan_number"], t["plan_name"], t["plan_notes"]) == (
            s["number"],
            s["name"],
            s["notes"],
        )
        assert t["is_original"] is s["original"]
    assert len(target) + stats["rejected"] == len(source)
    return stats


def test_treatment_plans_field_by_field(legacy: Legacy, migrated: str) -> None:
    stats = check_treatment_plans(legacy.conninfo, migrated)
    assert stats["no_order"] >= 1 and stats["order_missing"] >= 1


def check_brackets(src: str, dst: str) -> Counter[str]:
    source = rows(src, "SELECT * FROM dispatch_bracket")
    target = by_key(rows(dst, "SELECT * FROM brackets"), "legacy_bracket_id")
    reasons = outcomes(dst, "brackets")
    project_uuid = uuids(dst, "projects", "legacy_project_id")
    stats: Counter[str] = Counter()
    for s in source:
        if s["project_id"] not in project_uuid:
            assert reasons[s["id"]] == "ORPHAN_PROJECT" and s["id"] not in target
            stats["rejected"] += 1
            continue
        t = target[s["id"]]
        assert t["project_id"] == project_uuid[s["project_id"]]
        assert (t["name"], t["legacy_type"]) == (s["name"], s["type"])
    assert len(target) + stats["rejected"] == len(source) and len(target) >= 1
    return stats


def test_brackets_field_by_field(legacy: Legacy, migrated: str) -> None:
    check_brackets(legacy.conninfo, migrated)


def test_rerun_changes_nothing(legacy: Legacy, create_database: Callable[[str], str]) -> None:
    target = fresh_target(create_database, "odst")
    migrate_group(legacy.conninfo, target, batch_size=500)
    snapshot = {t: rows(target, f"SELECT * FROM {t} ORDER BY id") for t in GROUP}
    id_map = rows(target, "SELECT entity, legacy_id, id FROM migration.id_map ORDER BY 1, 2")
    for name in GROUP:
        run(legacy.conninfo, target, name, batch_size=64)
    for table, before in snapshot.items():
        assert rows(target, f"SELECT * FROM {table} ORDER BY id") == before, table
    assert rows(target, "SELECT entity, legacy_id, id FROM migration.id_map ORDER BY 1, 2") == (
        id_map
    )


# --- edge cases the generator does not produce, written into a small legacy database --------


@pytest.fixture(scope="module")
def edited(create_database: Callable[[str], str]) -> tuple[str, str, dict[str, int]]:
    """A small generated database with hand-made cases, and its migrated target."""
    source = create_database("osrc_edit")
    generate(source, scale=0.002, seed=3)
    picked: dict[str, int] = {}
    with psycopg.connect(source, autocommit=True) as conn:
        # Instructions whose patient migrates (its user exists), with both jaws set.
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT i.id FROM dispatch_instruction i"
                " JOIN dispatch_patient p ON p.id = i.patient_id"
                " JOIN auth_user u ON u.id = p.user_id"
                " WHERE i.upper_jaw_id IS NOT NULL AND i.lower_jaw_id IS NOT NULL"
                " AND i.upper_jaw_id <> i.lower_jaw_id ORDER BY i.id"
            ).fetchall()
        ]
        a, b, c, d, e, f, g, h = ids[:8]

        def one(query: str, *params: object) -> int:
            row = conn.execute(query, list(params)).fetchone()
            assert row is not None
            return int(row[0])

        # a names its upper jaw on both sides (its lower jaw loses its only reference).
        picked["both_sides_jaw"] = one(
            "UPDATE dispatch_instruction SET lower_jaw_id = upper_jaw_id WHERE id = %s"
            " RETURNING upper_jaw_id",
            a,
        )
        # c also names b's lower jaw, as its upper one: b (lower) is the lowest and wins.
        picked["shared_lower_jaw"] = one(
            "UPDATE dispatch_instruction SET upper_jaw_id ="
            " (SELECT lower_jaw_id FROM dispatch_instruction WHERE id = %s) WHERE id = %s"
            " RETURNING upper_jaw_id",
            b,
            c,
        )
        picked["shared_lower_first"] = b
        for instruction, exports in ((d, '{"netsuite": '), (e, ""), (f, "{ }"), (g, "[1, 2]")):
            conn.execute(
                "UPDATE dispatch_instruction SET exports = %s WHERE id = %s", [exports, instruction]
            )
        picked["bad_exports"] = d
        for instruction, suffix in ((d, " 07AB "), (e, "   ")):
            conn.execute(
                "UPDATE dispatch_patient SET suffix = %s"
                " WHERE id = (SELECT patient_id FROM dispatch_instruction WHERE id = %s)",
                [suffix, instruction],
            )
        for instruction, status in ((d, 5), (e, 99), (f, 4), (g, 6), (h, 0)):
            conn.execute(
                "UPDATE dispatch_instruction SET status = %s WHERE id = %s", [status, instruction]
            )
        # Parents that do not exist: a course, a product, a creator, an actor, two projects.
        conn.execute("UPDATE dispatch_instruction SET course_id = 99 WHERE id = %s", [h])
        picked["course_missing"] = h
        picked["product_missing"] = one(
            "UPDATE dispatch_jaw SET product_id = 999 WHERE id = (SELECT min(id) FROM dispatch_jaw)"
            " RETURNING id"
        )
        conn.execute("UPDATE dispatch_project SET creator_id = 999999 WHERE id = 1")
        picked["actor_missing"] = one(
            "UPDATE dispatch_state SET actor_id = 999999 WHERE id = (SELECT min(s.id)"
            " FROM dispatch_state s WHERE s.instruction_id = ANY(%s)) RETURNING id",
            ids,
        )
        conn.execute("UPDATE dispatch_plan SET project_id = 999999 WHERE id IN (1, 2)")
        conn.execute("UPDATE dispatch_bracket SET project_id = 999999 WHERE id = 1")
        conn.execute("UPDATE dispatch_course SET customization = 'not json' WHERE id = 2")
        conn.execute("UPDATE dispatch_course SET customization = '' WHERE id = 4")
    target = fresh_target(create_database, "odst")
    migrate_group(source, target, batch_size=25)
    return source, target, picked


def test_edge_cases_orders(edited: tuple[str, str, dict[str, int]]) -> None:
    source, target, picked = edited
    stats = check_orders(source, target)
    assert stats.exports["invalid"] == 1
    order = rows(
        target, "SELECT * FROM orders WHERE legacy_instruction_id = %s", picked["bad_exports"]
    )
    assert order[0]["exports"] is None
    assert order[0]["order_number"] == f"07AB-{picked['bad_exports']}"
    assert order[0]["status"] == "cancelled" and order[0]["approved_at"] is not None
    # Unknown status 99: no approval is claimed.
    assert (
        scalar(
            target,
            "SELECT count(*) FROM orders WHERE legacy_status = 99 AND approved_at IS NOT NULL",
        )
        == 0
    )


def test_edge_cases_jaws(edited: tuple[str, str, dict[str, int]]) -> None:
    source, target, picked = edited
    stats = check_jaws(source, target)
    assert stats.both_sides == 1 and stats.shared_sides["lower"] >= 1
    jaws = by_key(rows(target, "SELECT * FROM jaws"), "legacy_jaw_id")
    assert jaws[picked["both_sides_jaw"]]["jaw_type"] == "upper"
    shared = jaws[picked["shared_lower_jaw"]]
    assert shared["jaw_type"] == "lower"
    assert shared["legacy_instruction_id"] == picked["shared_lower_first"]


def test_edge_cases_missing_parents(edited: tuple[str, str, dict[str, int]]) -> None:
    source, target, picked = edited
    order = rows(
        target, "SELECT * FROM orders WHERE legacy_instruction_id = %s", picked["course_missing"]
    )[0]
    assert order["course_id"] is None and order["legacy_course_id"] == 99
    assert (
        picked["course_missing"]
        in issues_by_column(target, "orders")[("missing_parent", "course_id")]
    )
    jaw = rows(target, "SELECT * FROM jaws WHERE legacy_jaw_id = %s", picked["product_missing"])
    assert jaw[0]["product_id"] is None and jaw[0]["legacy_product_id"] == 999
    assert (
        picked["product_missing"]
        in issues_by_column(target, "jaws")[("missing_parent", "product_id")]
    )
    assert check_projects(source, target)["creator_missing"] == 1
    assert check_order_states(source, target)["actor_missing"] == 1
    assert check_treatment_plans(source, target)["rejected"] == 2
    assert check_brackets(source, target)["rejected"] == 1
    assert outcomes(target, "treatment_plans") == {1: "ORPHAN_PROJECT", 2: "ORPHAN_PROJECT"}


def test_edge_cases_courses_and_validation(edited: tuple[str, str, dict[str, int]]) -> None:
    source, target, _ = edited
    courses = by_key(rows(target, "SELECT * FROM courses"), "legacy_course_id")
    assert courses[2]["customization"] is None
    assert legacy_raw(courses[2])["customization"] == "not json"
    assert courses[4]["customization"] is None and "customization" not in legacy_raw(courses[4])
    assert issues_by_column(target, "courses")[("invalid_json", "customization")] == {2}
    with (
        psycopg.connect(source) as src,
        psycopg.connect(target, autocommit=True) as dst,
    ):
        for name in GROUP:
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), src, dst)
            assert result.passed, (name, [c for c in result.checks if c.status != "passed"])
