"""The workflow group's specs, without a database: targets, dependencies, reason codes,
link rules, the category self-reference, and the role classifier's rules as data."""

from __future__ import annotations

import pytest

from mdw_migrate.catalogue import CATALOGUE, workflow
from mdw_migrate.engine.spec import EntitySpec

GROUP = (
    "team_members",
    "technicians",
    "roles",
    "role_permissions",
    "technician_roles",
    "categories",
    "templates",
    "template_roles",
    "template_view_groups",
    "template_products",
    "template_predecessors",
    "product_roles",
    "product_successors",
)


SPECS: dict[str, EntitySpec] = {spec.name: spec for spec in workflow.ENTITIES}


def test_the_group_lists_its_entities_in_order() -> None:
    assert tuple(SPECS) == GROUP
    assert all(CATALOGUE.entities[name] == CATALOGUE.bind(spec) for name, spec in SPECS.items())


@pytest.mark.parametrize(
    ("entity", "target", "legacy_column", "deps"),
    [
        ("team_members", "team_members", "legacy_user_groups_id", {"teams", "profiles"}),
        ("technicians", "technicians", "legacy_user_id", {"profiles"}),
        ("roles", "roles", "legacy_role_id", {"teams", "profiles"}),
        ("role_permissions", "role_permissions", "legacy_role_permissions_id", {"roles"}),
        ("technician_roles", "technician_roles", "legacy_role_id", {"roles", "technicians"}),
        ("categories", "categories", "legacy_category_id", set()),
        ("templates", "templates", "legacy_template_id", {"categories"}),
        ("template_roles", "template_roles", "legacy_template_roles_key", {"templates", "roles"}),
        (
            "template_view_groups",
            "template_view_groups",
            "legacy_template_view_groups_id",
            {"templates", "teams"},
        ),
        (
            "template_products",
            "template_products",
            "legacy_template_products_id",
            {"templates", "products"},
        ),
        (
            "template_predecessors",
            "template_predecessors",
            "legacy_template_predecessors_id",
            {"templates"},
        ),
        ("product_roles", "product_roles", "legacy_product_roles_id", {"products", "roles"}),
        (
            "product_successors",
            "product_successors",
            "legacy_product_successors_id",
            {"products"},
        ),
    ],
)
def test_targets_legacy_columns_and_dependencies_follow_the_mapping(
    entity: str, target: str, legacy_column: str, deps: set[str]
) -> None:
    spec = SPECS[entity]
    assert (spec.target, spec.legacy_column, set(spec.deps)) == (target, legacy_column, deps)


@pytest.mark.parametrize(
    ("entity", "rejects"),
    [
        ("team_members", {"ORPHAN_TEAM", "ORPHAN_PROFILE"}),
        ("technicians", {"ORPHAN_PROFILE"}),
        ("roles", set()),
        ("role_permissions", {"ORPHAN_ROLE", "ORPHAN_PERMISSION"}),
        ("technician_roles", {"ORPHAN_ROLE"}),
        ("categories", set()),
        ("templates", set()),
        ("template_roles", {"ORPHAN_TEMPLATE", "ORPHAN_ROLE"}),
        ("template_view_groups", {"ORPHAN_TEMPLATE", "ORPHAN_TEAM"}),
        ("template_products", {"ORPHAN_TEMPLATE", "ORPHAN_PRODUCT"}),
        ("template_predecessors", {"ORPHAN_FROM_TEMPLATE", "ORPHAN_TO_TEMPLATE"}),
        ("product_roles", {"ORPHAN_PRODUCT", "ORPHAN_ROLE"}),
        ("product_successors", {"ORPHAN_FROM_PRODUCT", "ORPHAN_TO_PRODUCT"}),
    ],
)
def test_reject_reason_codes(entity: str, rejects: set[str]) -> None:
    spec = SPECS[entity]
    codes = {r.reject_reason for r in spec.refs if r.required}
    codes |= {rule.code for rule in spec.rules if rule.outcome == "rejected"}
    assert codes == rejects


def test_links_exclude_later_duplicates() -> None:
    for name in ("team_members", "role_permissions", "template_roles", *GROUP[8:]):
        assert [(r.code, r.outcome) for r in SPECS[name].rules][-1] == (
            "DUPLICATE_LINK",
            "excluded",
        ), name


def test_the_category_parent_is_resolved_after_the_last_batch() -> None:
    spec = SPECS["categories"]
    assert not spec.refs  # a self-reference cannot be a ref: the parent may come later
    assert "legacy_parent_id" in spec.target_columns()
    assert [(r.column, r.legacy_column) for r in spec.self_refs] == [
        ("parent_id", "legacy_parent_id")
    ]


def test_role_rules_name_enum_members_and_every_member_is_reachable() -> None:
    assert workflow.ROLE_TYPES[-1] == "unknown"
    assert {r.role_type for r in workflow.ROLE_TYPE_RULES} == set(workflow.ROLE_TYPES[:-1])


@pytest.mark.parametrize("keyword", ["d.t", "a|b", "x'y", "qc%", "", " qc", "a  b", r"\m"])
def test_role_keywords_are_plain_words(keyword: str) -> None:
    with pytest.raises(ValueError, match="letters, digits and spaces"):
        workflow._whole_words((keyword,))


def test_the_classifier_is_one_case_safe_for_sql_parameters() -> None:
    sql = workflow.role_type_sql("a.abbrev", "a.name")
    assert sql.startswith("(CASE ") and sql.endswith(" ELSE 'unknown' END)")
    assert "%" not in sql  # a spec fragment must not hold psycopg placeholders
    # every abbreviation rule is tested before any name rule
    whens = sql.split(" WHEN ")[1:]
    sources = [w.split(")")[0].lstrip("(") for w in whens]
    assert sources == sorted(sources)  # 'a.abbrev' < 'a.name'
