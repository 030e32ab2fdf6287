from __future__ import annotations

import pytest

from mdw_migrate.catalogue import CATALOGUE, LEGACY_TABLES
from mdw_migrate.cli.main import normalize_argv
from mdw_migrate.engine.planner import Catalogue
from mdw_migrate.engine.spec import Col, EntitySpec, Source
from mdw_migrate.errors import MigrationError


def test_phases_run_in_dependency_order() -> None:
    assert CATALOGUE.resolve("core") == ["offices", "profiles", "doctors", "doctor_offices"]
    order = CATALOGUE.resolve("core-with-patients")
    assert order.index("patients") > order.index("doctors") > order.index("profiles")


def test_an_entity_and_its_spellings_resolve() -> None:
    assert CATALOGUE.resolve("doctor-offices") == ["doctor_offices"]
    assert CATALOGUE.resolve("Doctors") == ["doctors"]
    with pytest.raises(MigrationError) as err:
        CATALOGUE.resolve("no-such-thing")
    assert err.value.code == "UNKNOWN_ENTITY"


def test_missing_dependency_is_refused_with_the_command_to_run_first() -> None:
    with pytest.raises(MigrationError) as err:
        CATALOGUE.check_dependencies(
            ["patients"], {"profiles": "completed", "offices": "completed"}
        )
    exc = err.value
    assert exc.code == "DEPENDENCY_NOT_MET"
    assert exc.details["missingDependencies"] == ["doctors"]
    assert "mdw-migrate migrate doctors" in exc.suggestion
    # Inside one selection the order itself satisfies the dependencies.
    CATALOGUE.check_dependencies(CATALOGUE.resolve("core-with-patients"), {})


def test_a_cycle_in_the_catalogue_is_refused() -> None:
    def spec(name: str, dep: str) -> EntitySpec:
        return EntitySpec(
            name=name,
            source=Source.table("t", ("a",)),
            target=name,
            legacy_column="legacy_id",
            columns=(Col("a", "s.a"),),
            deps=(dep,),
        )

    with pytest.raises(Exception, match="cycle"):
        Catalogue(entities={"a": spec("a", "b"), "b": spec("b", "a")}, phases={})


def test_every_legacy_table_has_a_fate() -> None:
    assert len(LEGACY_TABLES) == 58
    for spec in CATALOGUE.entities.values():
        if isinstance(spec, EntitySpec):
            assert set(spec.source.reads) <= set(LEGACY_TABLES), spec.name


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["migrate:doctors", "validate"], ["migrate", "doctors", "--validate"]),
        (["migrate:core-with-patients"], ["migrate", "core-with-patients"]),
        (["rollback:patients", "--yes"], ["rollback", "patients", "--yes"]),
        (["migrate:patients", "rollback"], ["rollback", "patients"]),
        (["validate:core", "--json"], ["validate", "core", "--json"]),
        (["migrate", "core"], ["migrate", "core"]),
    ],
)
def test_contract_spellings_are_aliases(argv: list[str], expected: list[str]) -> None:
    assert normalize_argv(argv) == expected


def test_script_names_are_normalized_to_migrate() -> None:
    assert normalize_argv(["migrate-tasks", "--batch-size=1000"]) == [
        "migrate",
        "migrate-tasks",
        "--batch-size=1000",
    ]


@pytest.mark.parametrize(
    ("script", "entities"),
    [
        ("migrate-tasks", ["tasks"]),
        ("migrate-cases", ["cases", "order_cases"]),
        ("migrate-dispatch-records", ["messages", "message_attachments"]),
        ("migrate-communications", ["team_communications"]),
        ("migrate-offers-and-discounts-fixed", ["offers", "discounts"]),
        ("migrate-purchases-fixed", ["sales_orders", "purchases", "payments", "operations"]),
        ("migrate-order-files", ["files", "order_files"]),
        ("migrate-case-files-optimized", ["case_files"]),
        ("migrate-doctor-notes", ["doctor_notes"]),
        (
            "migrate-technician-roles-complete",
            ["technicians", "roles", "role_permissions", "technician_roles"],
        ),
        ("migrate-customer-feedback", ["customer_feedback"]),
    ],
)
def test_contract_script_names_resolve_to_entity_groups(script: str, entities: list[str]) -> None:
    assert CATALOGUE.resolve(script) == entities


def test_all_runs_every_entity_and_the_archive_and_orders_with_deps_stops_at_orders() -> None:
    everything = CATALOGUE.resolve("all")
    assert len(everything) == len(CATALOGUE.entities) == 49
    assert "legacy_archive" in everything and "system_messages" in everything
    chain = CATALOGUE.resolve("orders-with-deps")
    assert chain[-1] == "orders" and "courses" in chain and "patients" in chain
    # Every dependency comes before its dependant.
    position = {name: i for i, name in enumerate(everything)}
    for name in everything:
        for dep in CATALOGUE.entities[name].deps:
            assert position[dep] < position[name], (dep, name)


def test_every_public_table_of_the_ddl_is_an_entitys_and_the_other_way_round() -> None:
    """The lock-down and the security check take the tool's tables in public from the DDL;
    a table the catalogue writes that the DDL list misses would be left open."""
    from mdw_migrate.catalogue import CATALOGUE
    from mdw_migrate.engine.spec import EntitySpec
    from mdw_migrate.target import schema

    written = {s.target for s in CATALOGUE.entities.values() if isinstance(s, EntitySpec)}
    assert set(schema.public_tables()) == written


def test_the_longest_chain_of_work_starts_first() -> None:
    """Critical path first: an entity's weight is its own rows plus the heaviest chain of
    dependants in the selection, so the parents of the largest entity come before a
    larger entity that nothing waits for."""
    names = CATALOGUE.resolve("all")
    rows = {name: 10 for name in names}
    rows["system_messages"] = 5_000_000
    rows["tasks"] = 900_000
    paths = CATALOGUE.critical_paths(names, rows)
    assert paths["system_messages"] == 5_000_000
    for parent in CATALOGUE.closure(["system_messages"]) - {"system_messages"}:
        assert paths[parent] > paths["tasks"], parent
    # Something the selection leaves out does not count as a dependant.
    alone = CATALOGUE.critical_paths(["profiles", "offices"], rows)
    assert alone == {"profiles": 10, "offices": 10}
    # With no estimates (a sync), every path is 0: the catalogue's order stays.
    assert set(CATALOGUE.critical_paths(names, {}).values()) == {0}
