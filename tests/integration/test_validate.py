"""Validation catches what it claims: each kind of damage makes a named check fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.validate import EntityValidation, validate_entity
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import run, scalar


@pytest.fixture
def migrated(create_database: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    source = create_database("val_src")
    generate(source, scale=0.005, seed=13)
    target = create_database("val_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    for selection in ("orders-with-deps", "sales_orders", "payments"):
        run(source, target, selection, batch_size=100)
    yield source, target


def check(source: str, target: str, entity: str) -> EntityValidation:
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        return validate_entity(CATALOGUE, CATALOGUE.rows_entity(entity), s, t, sample_size=2000)


def failed(result: EntityValidation) -> dict[str, dict[str, Any]]:
    return {c.type: c.details for c in result.checks if c.status != "passed"}


def damage(target: str, statement: str) -> None:
    with psycopg.connect(target, autocommit=True) as conn:
        assert conn.execute(statement).rowcount == 1


def test_an_untouched_migration_passes_every_check(migrated: tuple[str, str]) -> None:
    source, target = migrated
    for entity in (
        "offices",
        "profiles",
        "doctors",
        "doctor_offices",
        "patients",
        "orders",
        "payments",
    ):
        result = check(source, target, entity)
        assert result.passed, failed(result)
        quality = next(c for c in result.checks if c.type == "data_quality").details
        assert quality["accuracy"] == 100.0 and quality["sampled"] > 0


def test_a_deleted_row_fails_the_accounting(migrated: tuple[str, str]) -> None:
    """The target table is the id map: a deleted row is a source row no longer accounted for."""
    source, target = migrated
    damage(
        target,
        "DELETE FROM doctor_offices WHERE id = (SELECT id FROM doctor_offices ORDER BY id LIMIT 1)",
    )
    problems = failed(check(source, target, "doctor_offices"))
    assert problems["accounting"]["expected"] - problems["accounting"]["actual"] == 1


def test_an_amount_altered_by_one_cent_fails_the_money_check(migrated: tuple[str, str]) -> None:
    source, target = migrated
    damage(
        target,
        "UPDATE payments SET total_price = total_price + 0.01"
        " WHERE id = (SELECT id FROM payments ORDER BY id LIMIT 1)",
    )
    problems = failed(check(source, target, "payments"))
    assert problems["money"]["column"] == "total_price"
    assert "data_quality" in problems  # the sample re-reads that row too


def test_a_reference_to_the_wrong_parent_fails_referential_integrity(
    migrated: tuple[str, str],
) -> None:
    source, target = migrated
    damage(
        target,
        "UPDATE patients SET doctor_id = (SELECT id FROM doctors"
        "   WHERE doctors.id IS DISTINCT FROM patients.doctor_id LIMIT 1)"
        " WHERE id = (SELECT id FROM patients WHERE doctor_id IS NOT NULL ORDER BY id LIMIT 1)",
    )
    problems = failed(check(source, target, "patients"))
    assert problems["referential_integrity"]["referencesNotMatchingTheirLegacyId"] == 1


def test_a_changed_uuid_fails_the_id_map_check(migrated: tuple[str, str]) -> None:
    """Every row's UUID is derived again from its legacy id, not only the sample's."""
    source, target = migrated
    damage(
        target,
        "UPDATE doctor_offices SET id = gen_random_uuid()"
        " WHERE id = (SELECT id FROM doctor_offices ORDER BY id DESC LIMIT 1)",
    )
    problems = failed(check(source, target, "doctor_offices"))
    assert problems["id_map"]["uuidsNotDerived"] == 1
    assert problems["id_map"]["checked"] == scalar(target, "SELECT count(*) FROM doctor_offices")


def test_a_row_queued_for_deletion_is_not_mapped(migrated: tuple[str, str]) -> None:
    """A queued row stays in its table until the run's end, but is out of the map: its
    dependants see it missing, and a validation before its deletion fails the count."""
    source, target = migrated
    damage(
        target,
        "INSERT INTO migration.pending_deletions (entity, legacy_id, id, cause, run_id)"
        " SELECT 'doctor_offices', legacy_office_doctors_id, id, 'source_deleted',"
        " gen_random_uuid() FROM doctor_offices ORDER BY id LIMIT 1",
    )
    mapped = scalar(target, "SELECT count(*) FROM migration.id_map WHERE entity = 'doctor_offices'")
    assert mapped == scalar(target, "SELECT count(*) FROM doctor_offices") - 1
    problems = failed(check(source, target, "doctor_offices"))
    assert problems["accounting"]["migrated"] == mapped


def test_a_changed_value_fails_the_accuracy_sample(migrated: tuple[str, str]) -> None:
    source, target = migrated
    damage(
        target,
        "UPDATE offices SET city = city || ' (edited)'"
        " WHERE id = (SELECT id FROM offices ORDER BY id LIMIT 1)",
    )
    quality = failed(check(source, target, "offices"))["data_quality"]
    assert quality["accuracy"] < 100.0 and len(quality["differingLegacyIds"]) == 1
