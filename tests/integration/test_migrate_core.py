"""core-with-patients end to end on a generated legacy database, checked field by field.

The expected values are recomputed here in Python from the source rows, independently of
the SQL the engine generates.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.validate import validate_entity
from mdw_migrate.legacy.generator import generate

from ..helpers import (
    Legacy,
    by_key,
    fresh_target,
    is_json,
    outcomes,
    rows,
    run,
    scalar,
    schemes_kind,
)

SCALE = 0.01


@pytest.fixture(scope="module")
def legacy(create_database: Callable[[str], str]) -> Legacy:
    conninfo = create_database("src")
    report = generate(conninfo, scale=SCALE, seed=7)
    return Legacy(conninfo, report)


@pytest.fixture(scope="module")
def migrated(legacy: Legacy, create_database: Callable[[str], str]) -> str:
    target = fresh_target(create_database)
    run(legacy.conninfo, target, "core-with-patients", batch_size=37)
    return target


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    return re.sub(r"[ \t\r\n\f\v]+", " ", value.strip(" \t\r\n\f\v"))


def doctor_set(src: str) -> set[int]:
    users: set[int] = set()
    for query in (
        "SELECT ug.user_id FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id"
        " WHERE g.name = 'Doctor'",
        "SELECT user_id FROM dispatch_doctorsetting",
        "SELECT user_id FROM dispatch_office_doctors",
        "SELECT doctor_id FROM dispatch_patient",
        "SELECT doctor_id FROM dispatch_note",
        "SELECT doctor_id FROM dispatch_offer",
        "SELECT doctor_id FROM dispatch_payment",
    ):
        users |= {r["user_id"] if "user_id" in r else r["doctor_id"] for r in rows(src, query)}
    users.discard(None)
    return users


def test_every_row_is_accounted_for_and_validation_passes(legacy: Legacy, migrated: str) -> None:
    with (
        psycopg.connect(legacy.conninfo) as source,
        psycopg.connect(migrated, autocommit=True) as target,
    ):
        for name in CATALOGUE.resolve("core-with-patients"):
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), source, target)
            failed = [c for c in result.checks if c.status != "passed"]
            assert not failed, (name, failed)
    assert scalar(migrated, "SELECT count(*) FROM offices") == scalar(
        legacy.conninfo, "SELECT count(*) FROM dispatch_office"
    )


def test_offices_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_office")
    target = by_key(rows(migrated, "SELECT * FROM offices"), "legacy_office_id")
    iso = {"USA": "US", "US": "US", "UNITEDSTATES": "US", "INDIA": "IN", "JAPAN": "JP"}
    unknown = 0
    for s in source:
        t = target[s["id"]]
        for src_col, dst_col in [
            ("name", "name"),
            ("address", "address"),
            ("apt", "apartment"),
            ("city", "city"),
            ("state", "state"),
            ("zip", "zip_code"),
            ("phone", "phone"),
        ]:
            assert t[dst_col] == clean(s[src_col]), (s["id"], dst_col)
        assert t["tax_rate"] == s["tax_rate"]
        assert t["is_active"] is s["valid"] and t["email_notifications"] is s["emails"]
        assert t["square_customer_id"] == s["sq_customer_id"]
        key = re.sub("[^A-Za-z]", "", s["country"] or "").upper()
        if key in iso:
            assert t["country"] == iso[key]
        if t["country"] is None and key:
            unknown += 1
            assert t["metadata"]["legacy_raw"]["country"] == s["country"]
        elif t["country"] is not None:
            assert "legacy_raw" not in t["metadata"]
    assert unknown == legacy.report.quirks["office_country_unknown"]
    assert unknown >= 1


def expected_profile_type(
    user: dict[str, Any], groups: set[str], doctors: set[int], patients: set[int]
) -> str:
    for group, kind in [
        ("Master", "master"),
        ("Administrator", "admin"),
        ("Technician", "technician"),
        ("Doctor", "doctor"),
        ("Patient", "patient"),
    ]:
        if group in groups:
            return kind
    if user["is_superuser"]:
        return "master"
    if user["is_staff"]:
        return "admin"
    if user["id"] in doctors:
        return "doctor"
    if user["id"] in patients:
        return "patient"
    return "other"


def test_profiles_field_by_field(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    users = rows(src, "SELECT * FROM auth_user")
    memberships: dict[int, set[str]] = {}
    for r in rows(
        src,
        "SELECT ug.user_id, g.name FROM auth_user_groups ug"
        " JOIN auth_group g ON g.id = ug.group_id",
    ):
        memberships.setdefault(r["user_id"], set()).add(r["name"])
    doctors = doctor_set(src)
    patient_users = {r["user_id"] for r in rows(src, "SELECT user_id FROM dispatch_patient")}
    target = by_key(rows(migrated, "SELECT * FROM profiles"), "legacy_user_id")
    assert len(target) == len(users)
    kinds = set()
    invalid = 0
    for u in users:
        t = target[u["id"]]
        groups = memberships.get(u["id"], set())
        kinds.add(t["profile_type"])
        assert t["profile_type"] == expected_profile_type(u, groups, doctors, patient_users), u[
            "id"
        ]
        raw = u["email"]
        expected = raw.strip().lower() if raw is not None else None
        valid = expected is not None and re.fullmatch(
            r"[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}", expected
        )
        if valid:
            assert t["email"] == expected
        else:
            assert t["email"] is None
            if expected:
                invalid += 1
                assert t["metadata"]["legacy_raw"]["email"] == raw
        assert t["username"] == u["username"]
        assert (t["first_name"], t["last_name"]) == (u["first_name"], u["last_name"])
        assert t["password_hash"] == u["password"]
        assert t["last_login_at"] == u["last_login"] and t["created_at"] == u["date_joined"]
        assert t["is_active"] is u["is_active"]
    assert {"patient", "doctor", "technician"} <= kinds
    assert invalid >= 1
    # Duplicates are kept, not merged: both spellings are there, lower-cased alike.
    dup = scalar(
        migrated,
        "SELECT count(*) FROM (SELECT email FROM profiles WHERE email IS NOT NULL"
        " GROUP BY email HAVING count(*) > 1) d",
    )
    assert dup >= 1


def test_users_in_several_groups_get_the_highest(legacy: Legacy, migrated: str) -> None:
    several = rows(
        legacy.conninfo,
        "SELECT ug.user_id, array_agg(g.name) AS groups FROM auth_user_groups ug"
        " JOIN auth_group g ON g.id = ug.group_id GROUP BY 1 HAVING count(*) > 1",
    )
    assert several, "the generator promises users in several groups"


def test_doctors_are_the_doctor_set(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    existing = {r["id"] for r in rows(src, "SELECT id FROM auth_user")}
    expected = doctor_set(src) & existing
    target = by_key(rows(migrated, "SELECT * FROM doctors"), "legacy_user_id")
    assert set(target) == expected
    settings = by_key(rows(src, "SELECT * FROM dispatch_doctorsetting"), "user_id")
    links = rows(src, "SELECT * FROM dispatch_office_doctors ORDER BY id")
    first_office: dict[int, int] = {}
    for link in links:
        first_office.setdefault(link["user_id"], link["office_id"])
    office_uuid = {
        r["legacy_office_id"]: r["id"]
        for r in rows(migrated, "SELECT id, legacy_office_id FROM offices")
    }
    profile_uuid = {
        r["legacy_user_id"]: r["id"]
        for r in rows(migrated, "SELECT id, legacy_user_id FROM profiles")
    }
    active = {r["id"]: r["is_active"] for r in rows(src, "SELECT id, is_active FROM auth_user")}
    for user_id, t in target.items():
        assert t["doctor_number"] == f"DOC-{user_id:06d}"
        assert t["profile_id"] == profile_uuid[user_id]
        assert t["status"] == ("active" if active[user_id] else "inactive")
        assert t["legacy_primary_office_id"] == first_office.get(user_id)
        assert t["primary_office_id"] == office_uuid.get(first_office.get(user_id, -1))
        ds = settings.get(user_id)
        if ds:
            assert t["legacy_doctorsetting_id"] == ds["id"]
            assert t["credit"] == ds["credit"]
            assert t["clinical_preferences"] == ds["clinical_preferences"]
            assert t["tier_type"] == ds["tier_type"] and t["tier_finish"] == ds["tier_finish"]
            assert t["company_account"] is ds["company_account"]
        else:
            assert t["legacy_doctorsetting_id"] is None and t["credit"] is None


def test_doctor_offices_keep_one_link_per_pair(legacy: Legacy, migrated: str) -> None:
    links = rows(legacy.conninfo, "SELECT * FROM dispatch_office_doctors ORDER BY id")
    reasons = outcomes(migrated, "doctor_offices")
    target = by_key(rows(migrated, "SELECT * FROM doctor_offices"), "legacy_office_doctors_id")
    seen: set[tuple[int, int]] = set()
    first_of_user: set[int] = set()
    duplicates = 0
    for link in links:
        pair = (link["user_id"], link["office_id"])
        primary = link["user_id"] not in first_of_user
        first_of_user.add(link["user_id"])
        if link["id"] in reasons:
            if reasons[link["id"]] == "DUPLICATE_LINK":
                assert pair in seen
                duplicates += 1
            else:
                assert reasons[link["id"]] in {"ORPHAN_DOCTOR", "ORPHAN_OFFICE"}
        else:
            assert pair not in seen
            assert target[link["id"]]["is_primary"] is primary
        seen.add(pair)
    assert duplicates == legacy.report.quirks["office_doctors_duplicate_pairs"] >= 1


PATIENT_STATUS = {1: "active", 2: "on_hold", 3: "in_treatment", 4: "active", 5: "retention",
                  6: "completed", 7: "cancelled", 8: "transferred", 9: "consultation",
                  10: "archived"}  # fmt: skip


def test_patients_field_by_field(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    source = rows(src, "SELECT * FROM dispatch_patient")
    target = by_key(rows(migrated, "SELECT * FROM patients"), "legacy_patient_id")
    reasons = outcomes(migrated, "patients")
    users = {r["id"] for r in rows(src, "SELECT id FROM auth_user")}
    doctors = {r["legacy_user_id"]: r["id"] for r in rows(migrated, "SELECT * FROM doctors")}
    profiles = {r["legacy_user_id"]: r["id"] for r in rows(migrated, "SELECT * FROM profiles")}
    kinds: dict[str, int] = {}
    doctor_missing = 0
    for s in source:
        if s["user_id"] not in users:
            assert reasons[s["id"]] == "ORPHAN_PROFILE"
            assert s["id"] not in target
            continue
        t = target[s["id"]]
        assert t["profile_id"] == profiles[s["user_id"]]
        assert t["patient_number"] == f"PAT-{s['id']:06d}"
        assert t["legacy_doctor_user_id"] == s["doctor_id"]
        assert t["doctor_id"] == doctors.get(s["doctor_id"])
        doctor_missing += t["doctor_id"] is None
        assert t["legacy_office_id"] == s["office_id"]
        assert t["date_of_birth"] == s["birthdate"] and t["suffix"] == s["suffix"]
        assert t["sex"] == {1: "male", 2: "female"}.get(s["sex"], "unknown")
        assert t["legacy_sex"] == s["sex"] and t["legacy_status"] == s["status"]
        assert t["status"] == PATIENT_STATUS.get(s["status"], "unknown")
        if s["status"] not in PATIENT_STATUS:
            assert t["metadata"]["legacy_raw"]["status"] == s["status"]
        assert t["archived"] is s["archived"] and t["suspended"] is s["suspended"]
        assert t["enrolled_at"] == s["submitted_at"] and t["updated_at"] == s["updated_at"]
        raw = s["schemes"]
        kind = schemes_kind(raw)
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "json":
            assert t["schemes"] == json.loads(raw)
        elif kind == "literal":
            assert t["schemes"] == ast.literal_eval(raw)
            assert "schemes" not in t["metadata"].get("legacy_raw", {})
        elif kind == "garbage":
            assert t["schemes"] is None
            assert t["metadata"]["legacy_raw"]["schemes"] == raw
        else:
            assert t["schemes"] is None
    quirks = legacy.report.quirks
    assert len(reasons) == quirks["patient_user_missing"] >= 1
    assert doctor_missing == quirks["patient_doctor_missing"] >= 1
    # Every kind of schemes reaches the target at least once; the source-wide counts agree.
    assert kinds.get("garbage", 0) >= 1 and kinds.get("literal", 0) >= 1
    everywhere = [schemes_kind(r["schemes"]) for r in source]
    assert everywhere.count("garbage") == quirks["schemes_garbage"]
    assert everywhere.count("literal") == quirks["schemes_python_literal"]


def test_python_literal_schemes_become_the_same_json(legacy: Legacy, migrated: str) -> None:
    literal_rows = [
        r
        for r in rows(
            legacy.conninfo, "SELECT id, schemes FROM dispatch_patient WHERE schemes LIKE '%''%'"
        )
        if not is_json(r["schemes"])
    ]
    target = by_key(
        rows(migrated, "SELECT legacy_patient_id, schemes FROM patients"), "legacy_patient_id"
    )
    checked = 0
    for r in literal_rows:
        try:
            expected = ast.literal_eval(r["schemes"])
        except (ValueError, SyntaxError):
            continue
        if r["id"] in target:
            assert target[r["id"]]["schemes"] == expected
            checked += 1
    assert checked >= 1


def test_rerun_changes_nothing_and_duplicates_nothing(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(create_database)
    run(legacy.conninfo, target, "core-with-patients", batch_size=64)
    snapshot = {
        table: rows(target, f"SELECT * FROM {table} ORDER BY id")
        for table in ("offices", "profiles", "doctors", "doctor_offices", "patients")
    }
    id_map = rows(target, "SELECT entity, legacy_id, id FROM migration.id_map ORDER BY 1, 2")
    outcome_rows = rows(
        target, "SELECT entity, legacy_id, reason_code FROM migration.row_outcomes ORDER BY 1, 2"
    )
    # A second run of the phase, and of one entity, with another batch size.
    run(legacy.conninfo, target, "core-with-patients", batch_size=1000)
    run(legacy.conninfo, target, "patients", batch_size=7)
    for table, before in snapshot.items():
        assert rows(target, f"SELECT * FROM {table} ORDER BY id") == before, table
    assert (
        rows(target, "SELECT entity, legacy_id, id FROM migration.id_map ORDER BY 1, 2") == id_map
    )
    assert (
        rows(
            target,
            "SELECT entity, legacy_id, reason_code FROM migration.row_outcomes ORDER BY 1, 2",
        )
        == outcome_rows
    )


def test_a_source_change_updates_in_place_with_the_same_uuid(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    source = create_database("src_changed")
    generate(source, scale=0.002, seed=11)
    target = fresh_target(create_database)
    run(source, target, "core")
    office = rows(
        target, "SELECT id, legacy_office_id, city FROM offices ORDER BY legacy_office_id LIMIT 1"
    )[0]
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(
            "UPDATE dispatch_office SET city = 'Renamed City' WHERE id = %s",
            [office["legacy_office_id"]],
        )
        new_id = conn.execute(
            "INSERT INTO dispatch_office (name, address, apt, city, state, zip, country, phone,"
            " tax_rate, valid, sq_customer_id, emails) VALUES ('N', 'A', '', 'C', 'S', 'Z', 'USA',"
            " 'P', 7.2500, true, 'sq', false) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
    run(source, target, "core")
    after = by_key(
        rows(target, "SELECT id, legacy_office_id, city, tax_rate FROM offices"), "legacy_office_id"
    )
    assert after[office["legacy_office_id"]]["id"] == office["id"]
    assert after[office["legacy_office_id"]]["city"] == "Renamed City"
    assert after[new_id]["tax_rate"] == Decimal("7.2500")


def test_a_rerun_with_nothing_changed_writes_and_locks_no_target_row(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    """A row equal to its target row is left out before the upsert (decision 122): the
    `ON CONFLICT` filter alone locked every such row first, which sets its `xmax` and writes
    its page and a WAL record, on every re-run."""
    target = fresh_target(create_database)
    run(legacy.conninfo, target, "core-with-patients", batch_size=37)
    tables = ("offices", "profiles", "doctors", "doctor_offices", "patients")
    versions = "SELECT id, ctid::text AS ctid, xmin::text AS xmin, xmax::text AS xmax FROM {}"
    before = {t: by_key(rows(target, versions.format(t)), "id") for t in tables}
    outcome = run(legacy.conninfo, target, "core-with-patients", batch_size=37)
    assert all(r.updated == 0 and r.inserted == 0 for r in outcome.results)
    for table in tables:
        assert before[table], table
        assert by_key(rows(target, versions.format(table)), "id") == before[table], table


def test_dry_run_reports_and_writes_nothing(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    target = fresh_target(create_database)
    outcome = run(legacy.conninfo, target, "core-with-patients", dry_run=True)
    by_entity = {r.entity: r for r in outcome.results}
    assert by_entity["patients"].migrated + by_entity["patients"].rejected == scalar(
        legacy.conninfo, "SELECT count(*) FROM dispatch_patient"
    )
    for table in ("offices", "profiles", "doctors", "doctor_offices", "patients",
                  "migration.id_map", "migration.row_outcomes", "migration.runs",
                  "migration.entity_progress", "migration.quality_issues"):  # fmt: skip
        assert scalar(target, f"SELECT count(*) FROM {table}") == 0, table


def test_validation_lists_duplicate_emails_and_test_accounts(legacy: Legacy, migrated: str) -> None:
    from mdw_migrate.engine.validate import validate

    with psycopg.connect(legacy.conninfo) as s, psycopg.connect(migrated, autocommit=True) as t:
        result = validate(CATALOGUE, "profiles", s, t)
    issues = {i["kind"]: i for i in result.issues}
    assert issues["duplicate_email"]["count"] == legacy.report.quirks["duplicate_email_users"]
    assert issues["test_account"]["count"] == legacy.report.quirks["test_accounts"]


def test_a_new_deployment_uses_uuid_layout_2(legacy: Legacy, migrated: str) -> None:
    assert scalar(migrated, "SELECT uuid_layout FROM migration.id_derivation") == 2
    wrong = scalar(
        migrated,
        "SELECT count(*) FROM patients p, migration.deployment d"
        " WHERE p.id <> migration.legacy_uuid(d.id_secret, 'patients', p.legacy_patient_id,"
        " 2::smallint)",
    )
    assert wrong == 0


def test_a_deployment_made_before_layouts_keeps_its_uuids(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    """A target first migrated by an earlier version has a key and no recorded layout: it
    keeps layout 1 for good (recorded at the next run), through re-runs and validation."""
    from mdw_migrate.state.deployment import fingerprint

    target = fresh_target(create_database, "old_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO migration.deployment (id_secret, id_secret_fingerprint) VALUES (%s, %s)",
            [b"an-older-key", fingerprint(b"an-older-key")],
        )
    run(legacy.conninfo, target, "core", batch_size=500)
    assert scalar(target, "SELECT uuid_layout FROM migration.id_derivation") == 1
    original = (
        "SELECT count(*) FROM offices o"
        " WHERE o.id <> migration.legacy_uuid('an-older-key'::bytea, 'offices', o.legacy_office_id)"
    )
    assert scalar(target, original) == 0
    assert scalar(target, "SELECT count(*) FROM offices") > 0
    run(legacy.conninfo, target, "core", batch_size=500)
    assert scalar(target, original) == 0
    with psycopg.connect(legacy.conninfo) as s, psycopg.connect(target, autocommit=True) as t:
        result = validate_entity(CATALOGUE, CATALOGUE.rows_entity("offices"), s, t)
    assert result.passed, [c for c in result.checks if c.status != "passed"]


def _as_before_step_012(target: str) -> None:
    """The target as a version before step 012 left it: the id map a table of its own (its
    rows as that version wrote them), range_fingerprints without a run and batch."""
    with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "CREATE TABLE migration.id_map_table AS SELECT entity, legacy_id, id,"
            " coalesce(run_id, gen_random_uuid()) AS run_id, coalesce(batch_no, 1) AS batch_no"
            " FROM migration.id_map"
        )
        conn.execute("DROP VIEW migration.id_map")
        conn.execute("ALTER TABLE migration.id_map_table RENAME TO id_map")
        conn.execute("ALTER TABLE migration.id_map ADD PRIMARY KEY (entity, legacy_id)")
        conn.execute("ALTER TABLE migration.range_fingerprints DROP COLUMN run_id, DROP batch_no")
        conn.execute("DELETE FROM migration.schema_versions WHERE version = '012_id_map_view'")


def test_schema_apply_upgrades_an_id_map_table_to_the_view(
    legacy: Legacy, create_database: Callable[[str], str]
) -> None:
    """Step 012: the table goes only when it holds exactly what the target tables hold; the
    mappings, and so the UUIDs, are the same before and after, and the next run and
    validation use them."""
    from mdw_migrate.errors import Code, MigrationError
    from mdw_migrate.target import schema

    target = fresh_target(create_database, "upgrade_dst")
    run(legacy.conninfo, target, "core", batch_size=500)
    mapping = "SELECT entity, legacy_id, id FROM migration.id_map ORDER BY 1, 2"
    before = rows(target, mapping)
    assert len(before) == sum(
        scalar(target, f"SELECT count(*) FROM {t}")
        for t in ("offices", "profiles", "doctors", "doctor_offices")
    )
    _as_before_step_012(target)
    # A table that disagrees with the target is not dropped: nothing changes.
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("UPDATE migration.id_map SET id = gen_random_uuid() WHERE legacy_id ="
                     " (SELECT min(legacy_id) FROM migration.id_map WHERE entity = 'offices')"
                     " AND entity = 'offices'")  # fmt: skip
        with pytest.raises(MigrationError) as refused:
            schema.apply(conn)
        assert refused.value.code == Code.SCHEMA_INCOMPATIBLE
        assert refused.value.details == {"mappedWithoutRow": 1, "rowsWithoutMapping": 1}
        kind = "SELECT relkind::text FROM pg_class WHERE oid = 'migration.id_map'::regclass"
        assert conn.execute(kind).fetchone() == ("r",)
        conn.execute(
            "UPDATE migration.id_map m SET id = o.id FROM offices o"
            " WHERE m.entity = 'offices' AND o.legacy_office_id = m.legacy_id"
        )
        schema.apply(conn)
        assert conn.execute(kind).fetchone() == ("v",)
        assert conn.execute("SELECT to_regclass('migration.id_map_before_012')").fetchone() == (
            None,
        )
    assert rows(target, mapping) == before
    run(legacy.conninfo, target, "core", batch_size=500)
    assert rows(target, mapping) == before
    with psycopg.connect(legacy.conninfo) as s, psycopg.connect(target, autocommit=True) as t:
        for name in ("offices", "profiles", "doctors", "doctor_offices"):
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), s, t)
            assert result.passed, [c for c in result.checks if c.status != "passed"]
