"""The orders group's specs, without a database: targets, legacy columns, dependencies,
reason codes, the enum maps and the phases. The maps here are the spec's, written again from
mapping.md; the integration tests check the migrated rows against them."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from mdw_migrate.catalogue import CATALOGUE, orders

GROUP = (
    "courses",
    "products",
    "teams",
    "orders",
    "jaws",
    "cases",
    "order_cases",
    "order_states",
    "projects",
    "treatment_plans",
    "brackets",
)


COURSE_TYPE = {1: "main", 2: "refinement", 3: "replacement", 4: "any", 7: "invoice",
               8: "merchandise"}  # fmt: skip


ORDER_STATUS = {0: "no_product", 1: "submitted", 2: "approved", 3: "in_production",
                4: "shipped", 5: "cancelled", 6: "on_hold"}  # fmt: skip


JAW_REASON = {1: "breakage", 2: "other", 3: "complete"}


STATE_STATUS = {11: "review_approval", 12: "processing", 13: "manufacturing", 14: "shipped",
                15: "delivered", 16: "completed", 17: "cancelled", 18: "on_hold"}  # fmt: skip


PROJECT_TYPE = {0: "stl_upper", 1: "stl_lower", 2: "clinical_photo", 3: "treatment_plan",
                4: "xray", 5: "cbct_scan", 10: "simulation", 11: "aligner_design"}  # fmt: skip


PROJECT_STATUS = {0: "draft", 1: "in_progress", 2: "completed", 3: "archived"}


def _enum_types() -> dict[str, list[str]]:
    ddl = (resources.files("mdw_migrate.target") / "sql" / "003_orders.sql").read_text("utf-8")
    found = re.findall(r"CREATE TYPE public\.(\w+) AS ENUM \(([^)]*)\)", ddl)
    return {name: re.findall(r"'(\w+)'", values) for name, values in found}


def test_the_group_lists_its_entities_in_order() -> None:
    assert tuple(spec.name for spec in orders.ENTITIES) == GROUP
    assert all(
        CATALOGUE.entities[name] == CATALOGUE.bind(spec)
        for name, spec in zip(GROUP, orders.ENTITIES, strict=True)
    )


@pytest.mark.parametrize(
    ("entity", "target", "legacy_column", "deps"),
    [
        ("courses", "courses", "legacy_course_id", ()),
        ("products", "products", "legacy_product_id", ("courses",)),
        ("teams", "teams", "legacy_group_id", ()),
        (
            "orders",
            "orders",
            "legacy_instruction_id",
            ("patients", "doctors", "offices", "courses"),
        ),
        ("jaws", "jaws", "legacy_jaw_id", ("orders", "products")),
        ("cases", "cases", "legacy_patient_id", ("patients", "doctors", "offices")),
        ("order_cases", "order_cases", "legacy_instruction_id", ("orders", "cases")),
        ("order_states", "order_states", "legacy_state_id", ("orders", "profiles")),
        ("projects", "projects", "legacy_project_id", ("profiles",)),
        ("treatment_plans", "treatment_plans", "legacy_plan_id", ("projects", "orders")),
        ("brackets", "brackets", "legacy_bracket_id", ("projects",)),
    ],
)
def test_targets_legacy_columns_and_dependencies_follow_the_mapping(
    entity: str, target: str, legacy_column: str, deps: tuple[str, ...]
) -> None:
    spec = CATALOGUE.rows_entity(entity)
    assert (spec.target, spec.legacy_column) == (target, legacy_column)
    assert sorted(spec.deps) == sorted(deps)


@pytest.mark.parametrize(
    ("entity", "required"),
    [
        ("products", set()),
        ("orders", {"ORPHAN_PATIENT"}),
        ("jaws", set()),
        ("cases", {"ORPHAN_PATIENT"}),
        ("order_cases", {"ORPHAN_ORDER", "ORPHAN_CASE"}),
        ("order_states", {"ORPHAN_ORDER"}),
        ("projects", set()),
        ("treatment_plans", {"ORPHAN_PROJECT"}),
        ("brackets", {"ORPHAN_PROJECT"}),
    ],
)
def test_required_parents_and_their_reason_codes(entity: str, required: set[str]) -> None:
    spec = CATALOGUE.rows_entity(entity)
    assert {r.reject_reason for r in spec.refs if r.required} == required
    # Every optional parent keeps its legacy id next to the UUID (rule 5).
    assert all(r.legacy_column for r in spec.refs if not r.required)


def test_orders_declare_their_money_column() -> None:
    assert CATALOGUE.rows_entity("orders").money == (("price", "amount"),)


@pytest.mark.parametrize(
    ("enum_type", "mapping", "extra"),
    [
        ("course_type", COURSE_TYPE, {"unknown"}),
        ("order_status", ORDER_STATUS, {"unknown"}),
        ("jaw_replacement_reason", JAW_REASON, {"none", "unknown"}),
        ("order_state_status_name", STATE_STATUS, {"unknown"}),
        ("project_type", PROJECT_TYPE, {"unknown"}),
        ("project_status", PROJECT_STATUS, {"unknown"}),
    ],
)
def test_enum_types_hold_every_mapped_value_and_unknown(
    enum_type: str, mapping: dict[int, str], extra: set[str]
) -> None:
    assert set(_enum_types()[enum_type]) == set(mapping.values()) | extra
    # The catalogue's maps are the spec's (kept here independently).
    python_maps = {
        "course_type": orders.COURSE_TYPE,
        "order_status": orders.ORDER_STATUS,
        "jaw_replacement_reason": orders.JAW_REASON,
        "order_state_status_name": orders.ORDER_STATE_STATUS,
        "project_type": orders.PROJECT_TYPE,
        "project_status": orders.PROJECT_STATUS,
    }
    assert python_maps[enum_type] == mapping


def test_jaw_type_enum_and_approved_codes() -> None:
    assert _enum_types()["jaw_type"] == ["upper", "lower", "unassigned"]
    assert orders.APPROVED_CODES == (2, 3, 4, 5, 6)


def test_the_phases_and_script_names_reach_the_group() -> None:
    with_deps = CATALOGUE.resolve("orders-with-deps")
    assert {"courses", "orders"} <= set(with_deps)
    assert with_deps.index("courses") < with_deps.index("orders")
    assert CATALOGUE.resolve("migrate-cases") == ["cases", "order_cases"]
    everything = CATALOGUE.resolve("all")
    for name in GROUP:
        assert name in everything
        for dep in CATALOGUE.entities[name].deps:
            assert everything.index(dep) < everything.index(name)
