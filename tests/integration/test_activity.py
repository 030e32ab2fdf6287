"""The activity group: files, order_files, case_files, tasks, messages, team_communications,
message_attachments, message_roles, treatment_discussions, customer_feedback, doctor_notes,
system_messages.

Unit tests of the rules (the keyword classifier and the file maps run as SQL on the real
server), then the group end to end on a generated legacy database, checked field by field
against the source rows with the rules recomputed here in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE, activity
from mdw_migrate.embedded import EmbeddedServer
from mdw_migrate.engine.validate import validate_entity
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import Legacy, by_key, is_json, issue_ids, outcomes, rows, run, scalar, uuids
from ..unit.test_activity_spec import TRICKY

SCALE = 0.01
MINE = [spec.name for spec in activity.ENTITIES]

# --- unit: the keyword classifier ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server_conn(pg_server: EmbeddedServer) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_server.admin_conninfo(), autocommit=True) as conn:
        yield conn


def test_classifier_sql_on_the_server(server_conn: psycopg.Connection[Any]) -> None:
    texts = [t for t, _, _ in TRICKY] + [t for t, _, _ in GENERATOR_PHRASES]
    query = (
        f"SELECT k.t, k.kind, {activity.severity_sql('k.t', 'k.kind')}"
        f" FROM (SELECT t, {activity.feedback_type_sql('t')} AS kind"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS u (t, n) ORDER BY n) k"
    )
    found = server_conn.execute(query, [texts]).fetchall()
    assert len(found) == len(texts)
    expected = {t: (k, s) for t, k, s in TRICKY + GENERATOR_PHRASES}
    for text, kind, severity in found:
        assert (kind, severity) == expected[text], text
        assert (kind, severity) == activity.classify_python(text), text


# The generator's phrases, classified by hand.
GENERATOR_PHRASES: list[tuple[str, str, str]] = [
    ("Please check the upper arch before printing.", "other", "low"),
    ("The patient is unhappy with the fit of the aligners.", "complaint", "high"),
    ("Aligner #7 cracked, please remake ASAP.", "complaint", "critical"),
    ("Can you move 13 distally by 0.5 mm?", "question", "low"),
    ("Why was the attachment on 24 removed?", "question", "low"),
    ("Excellent work as always 😊", "praise", "low"),
    ("Approved.", "other", "low"),
    ("Is the lower midline correct?", "question", "low"),
    ("Scans re-uploaded, the previous ones were distorted.", "complaint", "high"),
    ("Thanks for the quick turnaround!", "praise", "low"),
]


# --- unit: file maps ----------------------------------------------------------------------------

FILE_CASES: list[tuple[str, int, str, str, str]] = [
    # (ext, type, mime type, order_files category, case_files purpose)
    ("stl", 1, "model/stl", "scan", "photos"),
    ("STL", 2, "model/stl", "scan", "models"),
    (" .ply", 3, "model/x-ply", "scan", "photos"),
    ("jpg", 6, "image/jpeg", "image", "treatment_plan"),
    ("JPEG", 9, "image/jpeg", "image", "instruction_files"),
    ("png", 13, "image/png", "image", "instruction_files"),
    ("gif", 42, "image/gif", "image", "other"),
    ("pdf", 7, "application/pdf", "document", "treatment_plan"),
    ("zip", 8, "application/zip", "package", "treatment_plan"),
    ("rar", 5, "application/vnd.rar", "package", "photos"),
    ("tar", 4, "application/x-tar", "package", "photos"),
    ("docx", 6, activity.MIME_TYPES["docx"], "scan", "treatment_plan"),
    ("", 7, "application/octet-stream", "scan", "treatment_plan"),
    ("", 8, "application/octet-stream", "image", "treatment_plan"),
    ("weird", 10, "application/octet-stream", "other", "instruction_files"),
    ("dcm", 0, "application/dicom", "other", "other"),
]


def test_file_maps_on_the_server(server_conn: psycopg.Connection[Any]) -> None:
    query = (
        f"SELECT s.ext, s.type, {activity.mime_type_sql()}, {activity.category_sql()}::text,"
        f" {activity.purpose_sql()}::text FROM unnest(%s::text[], %s::int[]) AS s (ext, type)"
    )
    # The enum types are created by the schema step; casts to them need a target database.
    query = query.replace("::public.order_file_category", "").replace(
        "::public.case_file_purpose", ""
    )
    found = server_conn.execute(
        query, [[c[0] for c in FILE_CASES], [c[1] for c in FILE_CASES]]
    ).fetchall()
    assert [tuple(r) for r in found] == [tuple(c) for c in FILE_CASES]


# --- integration --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy(create_database: Callable[[str], str]) -> Legacy:
    conninfo = create_database("act_src")
    return Legacy(conninfo, generate(conninfo, scale=SCALE, seed=7))


def migrate_activity(source: str, target: str) -> None:
    names = CATALOGUE.order(CATALOGUE.closure(MINE))
    for name in names:
        run(source, target, name, batch_size=5000 if name == "system_messages" else 97)


@pytest.fixture(scope="module")
def migrated(legacy: Legacy, create_database: Callable[[str], str]) -> str:
    target = create_database("act_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    migrate_activity(legacy.conninfo, target)
    return target


def content_types(src: str) -> dict[int, str]:
    return {
        r["id"]: f"{r['app_label']}.{r['model']}"
        for r in rows(src, "SELECT id, app_label, model FROM django_content_type")
    }


def test_every_entity_is_accounted_for_and_validates(legacy: Legacy, migrated: str) -> None:
    with (
        psycopg.connect(legacy.conninfo) as source,
        psycopg.connect(migrated, autocommit=True) as target,
    ):
        for name in MINE:
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), source, target)
            failed = [c for c in result.checks if c.status != "passed"]
            assert not failed, (name, failed)
            accounting = next(c for c in result.checks if c.type == "accounting")
            assert accounting.details["expected"] > 0, name


EXT_CATEGORY = {"stl": "scan", "ply": "scan", "jpg": "image", "jpeg": "image", "png": "image",
                "gif": "image", "pdf": "document", "zip": "package", "rar": "package",
                "tar": "package"}  # fmt: skip
TYPE_PURPOSE = {1: "photos", 3: "photos", 4: "photos", 5: "photos", 2: "models",
                **{t: "treatment_plan" for t in (6, 7, 8)},
                **{t: "instruction_files" for t in range(9, 14)}}  # fmt: skip


def ext_key(ext: str) -> str:
    return ext.strip(" \t\r\n.").lower()


def test_files_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_file")
    target = by_key(rows(migrated, "SELECT * FROM files"), "legacy_file_id")
    assert len(target) == len(source)
    orders = uuids(migrated, "orders", "legacy_instruction_id")
    products = uuids(migrated, "products", "legacy_product_id")
    bad_json = 0
    for s in source:
        t = target[s["id"]]
        key = ext_key(s["ext"])
        ext = s["ext"].strip(" \t\r\n.")
        assert t["filename"] == (f"{s['name']}.{ext}" if ext else s["name"])
        assert t["file_type"] == (key or None)
        assert t["mime_type"] == activity.MIME_TYPES.get(key, "application/octet-stream")
        assert t["file_uid"] == s["uid"] and t["size_bytes"] == s["size"]
        assert t["legacy_type"] == s["type"] and t["status"] == s["status"]
        assert t["order_id"] == orders.get(s["instruction_id"])
        assert t["legacy_instruction_id"] == s["instruction_id"]
        assert t["product_id"] == products.get(s["product_id"])
        assert t["legacy_product_id"] == s["product_id"]
        assert t["description"] == s["description"]
        assert t["uploaded_at"] == s["created_at"] == t["created_at"]
        assert t["legacy_record_id"] == s["record_id"]
        if is_json(s["parameters"]):
            assert t["parameters"] == json.loads(s["parameters"])
            assert "legacy_raw" not in t["metadata"]
        else:
            bad_json += 1
            assert t["parameters"] is None
            assert t["metadata"]["legacy_raw"]["parameters"] == s["parameters"]
    assert bad_json == legacy.quirks["file_parameters_invalid_json"] >= 1
    unknown = issue_ids(migrated, "files", "unknown_code", "legacy_type")
    assert len(unknown) == legacy.quirks["file_type_unknown"] >= 1
    assert {t["mime_type"] for t in target.values()} >= {"model/stl", "application/octet-stream"}
    missing_order = issue_ids(migrated, "files", "missing_parent", "order_id")
    assert missing_order == {
        s["id"] for s in source if s["instruction_id"] and s["instruction_id"] not in orders
    }
    assert missing_order, "the generator promises instructions whose patient is missing"
    assert issue_ids(migrated, "files", "future_date", "uploaded_at")


def test_order_files_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_file WHERE instruction_id IS NOT NULL")
    target = by_key(rows(migrated, "SELECT * FROM order_files"), "legacy_file_id")
    reasons = outcomes(migrated, "order_files")
    orders = uuids(migrated, "orders", "legacy_instruction_id")
    files = uuids(migrated, "files", "legacy_file_id")
    categories = set()
    for s in source:
        if s["instruction_id"] not in orders:
            assert reasons[s["id"]] == "ORPHAN_ORDER" and s["id"] not in target
            continue
        t = target[s["id"]]
        assert t["file_id"] == files[s["id"]] and t["order_id"] == orders[s["instruction_id"]]
        expected = EXT_CATEGORY.get(ext_key(s["ext"])) or {6: "scan", 7: "scan", 8: "image"}.get(
            s["type"], "other"
        )
        assert t["category"] == expected, s["id"]
        assert t["legacy_type"] == s["type"] and t["created_at"] == s["created_at"]
        categories.add(t["category"])
    assert categories == {"scan", "image", "document", "package", "other"}
    assert set(reasons.values()) == {"ORPHAN_ORDER"}


def test_case_files_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(
        legacy.conninfo,
        "SELECT f.*, i.patient_id FROM dispatch_file f"
        " LEFT JOIN dispatch_instruction i ON i.id = f.instruction_id"
        " WHERE f.instruction_id IS NOT NULL",
    )
    target = by_key(rows(migrated, "SELECT * FROM case_files"), "legacy_file_id")
    reasons = outcomes(migrated, "case_files")
    cases = uuids(migrated, "cases", "legacy_patient_id")
    files = uuids(migrated, "files", "legacy_file_id")
    for s in source:
        if s["patient_id"] not in cases:
            assert reasons[s["id"]] == "ORPHAN_CASE" and s["id"] not in target
            continue
        t = target[s["id"]]
        assert t["file_id"] == files[s["id"]] and t["case_id"] == cases[s["patient_id"]]
        assert t["file_purpose"] == TYPE_PURPOSE.get(s["type"], "other")
        assert t["legacy_type"] == s["type"]
    assert reasons and set(reasons.values()) == {"ORPHAN_CASE"}
    assert {t["file_purpose"] for t in target.values()} == {
        "photos", "models", "treatment_plan", "instruction_files", "other"
    }  # fmt: skip


def test_tasks_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_task")
    target = by_key(rows(migrated, "SELECT * FROM tasks"), "legacy_task_id")
    reasons = outcomes(migrated, "tasks")
    orders = uuids(migrated, "orders", "legacy_instruction_id")
    templates = uuids(migrated, "templates", "legacy_template_id")
    profiles = uuids(migrated, "profiles", "legacy_user_id")
    files = uuids(migrated, "files", "legacy_file_id")
    plans = uuids(migrated, "treatment_plans", "legacy_plan_id")
    statuses = set()
    for s in source:
        if s["instruction_id"] not in orders:
            assert reasons[s["id"]] == "ORPHAN_ORDER" and s["id"] not in target
            continue
        t = target[s["id"]]
        assert t["order_id"] == orders[s["instruction_id"]]
        for col, legacy_col, src_col, known in [
            ("template_id", "legacy_template_id", "template_id", templates),
            ("assigned_to", "legacy_assigned_user_id", "actor_id", profiles),
            ("file_id", "legacy_file_id", "file_id", files),
            ("treatment_plan_id", "legacy_plan_id", "plan_id", plans),
        ]:
            assert t[col] == known.get(s[src_col]), (s["id"], col)
            assert t[legacy_col] == s[src_col]
        expected = "completed" if s["done_at"] else "in_progress" if s["checked"] else "pending"
        assert t["status"] == expected
        statuses.add(t["status"])
        assert t["completed_at"] == s["done_at"] and t["checked"] is s["checked"]
        assert t["description"] == s["text"] and t["jaw"] == s["jaw"]
    assert statuses == {"completed", "in_progress", "pending"}
    assert reasons, "the generator promises orders that do not migrate"


RECORD_TYPES = {3: "support", 5: "clinical_note", 6: "notification", 8: "status_update"}


def check_record(s: dict[str, Any], t: dict[str, Any], profiles: dict[int, Any]) -> None:
    assert t["message_type"] == RECORD_TYPES.get(s["type"], "unknown")
    assert t["legacy_type"] == s["type"]
    if s["type"] is not None and s["type"] not in RECORD_TYPES:
        assert t["metadata"]["legacy_raw"]["type"] == s["type"]
    assert t["body"] == s["text"] and t["is_public"] is s["public"]
    assert t["created_at"] == s["created_at"]
    assert t["author_id"] == profiles.get(s["author_id"])
    assert t["legacy_author_user_id"] == s["author_id"]


def test_records_split_by_content_type_name(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    ct = content_types(src)
    by_name = {name: i for i, name in ct.items()}
    # The generator puts the content types at other ids than production (11 and 58).
    assert by_name["dispatch.patient"] != 11 and by_name["auth.user"] != 58
    records = rows(src, "SELECT * FROM dispatch_record")
    messages = by_key(rows(migrated, "SELECT * FROM messages"), "legacy_record_id")
    comms = by_key(rows(migrated, "SELECT * FROM team_communications"), "legacy_record_id")
    message_reasons = outcomes(migrated, "messages")
    comm_reasons = outcomes(migrated, "team_communications")
    patients = uuids(migrated, "patients", "legacy_patient_id")
    profiles = uuids(migrated, "profiles", "legacy_user_id")
    teams = uuids(migrated, "teams", "legacy_group_id")
    kinds = {"patient": 0, "user": 0, "other": 0, "none": 0}
    for s in records:
        target_type = ct.get(s["target_type_id"]) if s["target_type_id"] is not None else None
        if target_type == "dispatch.patient":
            kinds["patient"] += 1
            assert s["id"] not in comms and s["id"] not in comm_reasons
            if s["target_id"] not in patients:
                assert message_reasons[s["id"]] == "ORPHAN_PATIENT"
                assert s["id"] not in messages
                continue
            t = messages[s["id"]]
            assert t["patient_id"] == patients[s["target_id"]]
            check_record(s, t, profiles)
            assert t["legacy_group_id"] == s["group_id"]
            continue
        assert s["id"] not in messages and s["id"] not in message_reasons
        t = comms[s["id"]]
        kind = "user" if target_type == "auth.user" else "other" if target_type else "none"
        kinds[kind] += 1
        assert t["legacy_target_type"] == target_type
        assert t["legacy_target_id"] == s["target_id"]
        if target_type == "auth.user":
            assert t["recipient_profile_id"] == profiles.get(s["target_id"])
            assert t["legacy_recipient_user_id"] == s["target_id"]
        else:
            assert t["recipient_profile_id"] is None and t["legacy_recipient_user_id"] is None
        assert t["team_id"] == teams.get(s["group_id"]) and t["legacy_group_id"] == s["group_id"]
        check_record(s, t, profiles)
    quirks = legacy.quirks
    assert kinds["other"] == quirks["record_other_target_type"] >= 1
    assert kinds["none"] == quirks["record_null_target_type"] >= 1
    assert kinds["patient"] >= 1 and kinds["user"] >= 1
    assert not comm_reasons
    # Aimed at a patient that does not exist, or at one that was itself rejected.
    legacy_patients = {r["id"] for r in rows(src, "SELECT id FROM dispatch_patient")}
    rejected_patients = set(outcomes(migrated, "patients"))
    by_id = {s["id"]: s for s in records}
    dangling = {i for i in message_reasons if by_id[i]["target_id"] not in legacy_patients}
    assert len(dangling) == quirks["record_patient_missing"] >= 1
    assert {by_id[i]["target_id"] for i in set(message_reasons) - dangling} <= rejected_patients
    unknown = issue_ids(migrated, "messages", "unknown_code", "message_type") | issue_ids(
        migrated, "team_communications", "unknown_code", "message_type"
    )
    assert len(unknown) == quirks["record_type_unknown"] >= 1


def test_message_attachments_from_both_sources(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    links = [
        (r["id"], "record_attachments", r["record_id"], r["file_id"])
        for r in rows(src, "SELECT * FROM dispatch_record_attachments ORDER BY id")
    ] + [
        (activity.FILE_LINK_OFFSET + r["id"], "file_record_id", r["record_id"], r["id"])
        for r in rows(src, "SELECT id, record_id FROM dispatch_file WHERE record_id IS NOT NULL")
    ]
    in_table: dict[tuple[int, int], int] = {}
    for key, kind, record, file in links:
        if kind == "record_attachments":
            in_table.setdefault((record, file), key)
    messages = uuids(migrated, "messages", "legacy_record_id")
    comms = uuids(migrated, "team_communications", "legacy_record_id")
    files = uuids(migrated, "files", "legacy_file_id")
    target = by_key(rows(migrated, "SELECT * FROM message_attachments"), "legacy_attachment_id")
    reasons = outcomes(migrated, "message_attachments")
    file_link_duplicates = 0
    migrated_kinds = set()
    for key, kind, record, file in links:
        if file not in files:
            assert reasons[key] == "ORPHAN_FILE"
        elif record not in messages and record not in comms:
            assert reasons[key] == "ORPHAN_RECORD"
        elif kind == "record_attachments" and in_table[(record, file)] != key:
            assert reasons[key] == "DUPLICATE_LINK"
        elif kind == "file_record_id" and (record, file) in in_table:
            assert reasons[key] == "DUPLICATE_LINK"
            file_link_duplicates += 1
        else:
            t = target[key]
            assert key not in reasons
            assert t["message_id"] == messages.get(record)
            assert t["team_communication_id"] == comms.get(record)
            assert t["file_id"] == files[file] and t["link_source"] == kind
            assert (t["legacy_record_id"], t["legacy_file_id"]) == (record, file)
            migrated_kinds.add((kind, t["message_id"] is not None))
    assert len(target) + len(reasons) == len(links)
    assert file_link_duplicates == legacy.quirks["attachment_links_both_ways"] >= 1
    assert {k for k, _ in migrated_kinds} == {"record_attachments", "file_record_id"}
    assert {m for _, m in migrated_kinds} == {True, False}
    assert "ORPHAN_RECORD" in reasons.values()
    # One row per (record, file).
    pairs = [(t["legacy_record_id"], t["legacy_file_id"]) for t in target.values()]
    assert len(pairs) == len(set(pairs))


def test_message_roles_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_record_roles ORDER BY id")
    messages = uuids(migrated, "messages", "legacy_record_id")
    comms = uuids(migrated, "team_communications", "legacy_record_id")
    roles = uuids(migrated, "roles", "legacy_role_id")
    target = by_key(rows(migrated, "SELECT * FROM message_roles"), "legacy_record_roles_id")
    reasons = outcomes(migrated, "message_roles")
    seen: set[tuple[int, int]] = set()
    for s in source:
        pair = (s["record_id"], s["role_id"])
        if s["role_id"] not in roles:
            assert reasons[s["id"]] == "ORPHAN_ROLE"
        elif s["record_id"] not in messages and s["record_id"] not in comms:
            assert reasons[s["id"]] == "ORPHAN_RECORD"
        elif pair in seen:
            assert reasons[s["id"]] == "DUPLICATE_LINK"
        else:
            t = target[s["id"]]
            assert t["message_id"] == messages.get(s["record_id"])
            assert t["team_communication_id"] == comms.get(s["record_id"])
            assert t["role_id"] == roles[s["role_id"]]
            assert t["legacy_record_id"] == s["record_id"]
        seen.add(pair)
    assert target


def test_treatment_discussions_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(
        legacy.conninfo,
        "SELECT c.*, p.instruction_id, i.patient_id FROM dispatch_comment c"
        " LEFT JOIN dispatch_plan p ON p.id = c.plan_id"
        " LEFT JOIN dispatch_instruction i ON i.id = p.instruction_id",
    )
    target = by_key(rows(migrated, "SELECT * FROM treatment_discussions"), "legacy_comment_id")
    reasons = outcomes(migrated, "treatment_discussions")
    plans = uuids(migrated, "treatment_plans", "legacy_plan_id")
    profiles = uuids(migrated, "profiles", "legacy_user_id")
    cases = uuids(migrated, "cases", "legacy_patient_id")
    missing_case = issue_ids(migrated, "treatment_discussions", "missing_parent", "case_id")
    expected_missing = set()
    without_order = 0
    for s in source:
        if s["plan_id"] not in plans:
            assert reasons[s["id"]] == "ORPHAN_TREATMENT_PLAN"
            continue
        t = target[s["id"]]
        assert t["treatment_plan_id"] == plans[s["plan_id"]]
        assert t["author_id"] == profiles.get(s["author_id"])
        assert t["legacy_author_user_id"] == s["author_id"]
        assert t["body"] == s["text"] and t["created_at"] == s["created_at"]
        assert t["case_id"] == cases.get(s["patient_id"])
        assert t["legacy_patient_id"] == s["patient_id"]
        if s["instruction_id"] is None:
            without_order += 1
        elif s["patient_id"] not in cases:
            expected_missing.add(s["id"])
    assert missing_case == expected_missing
    assert len(target) == len(source) - len(reasons)
    assert any(t["case_id"] for t in target.values())


def doctor_set(src: str) -> set[int]:
    users: set[int] = set()
    for query in (
        "SELECT ug.user_id AS u FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id"
        " WHERE g.name = 'Doctor'",
        "SELECT user_id AS u FROM dispatch_doctorsetting",
        "SELECT user_id AS u FROM dispatch_office_doctors",
        "SELECT doctor_id AS u FROM dispatch_patient",
        "SELECT doctor_id AS u FROM dispatch_note",
        "SELECT doctor_id AS u FROM dispatch_offer",
        "SELECT doctor_id AS u FROM dispatch_payment",
    ):
        users |= {r["u"] for r in rows(src, query) if r["u"] is not None}
    return users


def test_customer_feedback_field_by_field(legacy: Legacy, migrated: str) -> None:
    doctors_set = doctor_set(legacy.conninfo)
    source = [
        c
        for c in rows(legacy.conninfo, "SELECT * FROM dispatch_comment")
        if c["author_id"] in doctors_set
    ]
    assert scalar(migrated, "SELECT source_rows FROM migration.entity_progress"
                  " WHERE entity = 'customer_feedback'") == len(source)  # fmt: skip
    target = by_key(rows(migrated, "SELECT * FROM customer_feedback"), "legacy_comment_id")
    reasons = outcomes(migrated, "customer_feedback")
    discussions = uuids(migrated, "treatment_discussions", "legacy_comment_id")
    doctors = uuids(migrated, "doctors", "legacy_user_id")
    kinds = set()
    for s in source:
        if s["id"] not in discussions:
            assert reasons[s["id"]] == "ORPHAN_DISCUSSION"
            continue
        if s["author_id"] not in doctors:
            assert reasons[s["id"]] == "ORPHAN_DOCTOR"
            continue
        t = target[s["id"]]
        assert t["discussion_id"] == discussions[s["id"]]
        assert t["doctor_id"] == doctors[s["author_id"]]
        assert (t["feedback_type"], t["severity"]) == activity.classify_python(s["text"])
        assert t["created_at"] == s["created_at"]
        kinds.add((t["feedback_type"], t["severity"]))
    assert {k for k, _ in kinds} == {"complaint", "question", "praise", "other"}
    assert {s for _, s in kinds} == {"low", "high", "critical"}


def test_doctor_notes_field_by_field(legacy: Legacy, migrated: str) -> None:
    source = rows(legacy.conninfo, "SELECT * FROM dispatch_note")
    target = by_key(rows(migrated, "SELECT * FROM doctor_notes"), "legacy_note_id")
    reasons = outcomes(migrated, "doctor_notes")
    doctors = uuids(migrated, "doctors", "legacy_user_id")
    profiles = uuids(migrated, "profiles", "legacy_user_id")
    for s in source:
        if s["doctor_id"] not in doctors:
            assert reasons[s["id"]] == "ORPHAN_DOCTOR"
            continue
        t = target[s["id"]]
        assert t["doctor_id"] == doctors[s["doctor_id"]]
        assert t["author_id"] == profiles.get(s["author_id"])
        assert t["legacy_author_user_id"] == s["author_id"]
        assert t["body"] == s["text"] and t["created_at"] == s["created_at"]
    assert len(reasons) == legacy.quirks["note_doctor_missing"] >= 1
    assert max(len(t["body"]) for t in target.values()) >= 100_000


def test_system_messages_field_by_field(legacy: Legacy, migrated: str) -> None:
    src = legacy.conninfo
    ct = content_types(src)
    source = rows(src, "SELECT * FROM dispatch_notification")
    target = by_key(rows(migrated, "SELECT * FROM system_messages"), "legacy_notification_id")
    assert len(target) == len(source)
    assert not outcomes(migrated, "system_messages")
    orders = uuids(migrated, "orders", "legacy_instruction_id")
    profiles = uuids(migrated, "profiles", "legacy_user_id")
    bad_json = 0
    missing_order = set()
    item_types = set()
    for s in source:
        t = target[s["id"]]
        item_type = ct.get(s["item_type_id"]) if s["item_type_id"] is not None else None
        item_types.add(item_type)
        assert t["legacy_item_type"] == item_type and t["legacy_item_id"] == s["item_id"]
        if item_type == "dispatch.instruction":
            assert t["order_id"] == orders.get(s["item_id"])
            if s["item_id"] not in orders:
                missing_order.add(s["id"])
        else:
            assert t["order_id"] is None
        assert t["recipient_id"] == profiles.get(s["recipient_id"])
        assert t["legacy_recipient_user_id"] == s["recipient_id"]
        assert t["template_name"] == s["template_name"] and t["sender"] == s["sender"]
        assert (t["is_read"], t["sent"], t["send"]) == (s["read"], s["sent"], s["send"])
        assert t["created_at"] == s["created_at"]
        if is_json(s["template_context"]):
            assert t["context"] == json.loads(s["template_context"])
            assert "legacy_raw" not in t["metadata"]
        else:
            bad_json += 1
            assert t["context"] is None
            assert t["metadata"]["legacy_raw"]["template_context"] == s["template_context"]
    quirks = legacy.quirks
    assert bad_json == quirks["template_context_invalid_json"] >= 1
    assert len(issue_ids(migrated, "system_messages", "invalid_json", "context")) == bad_json
    assert missing_order == issue_ids(migrated, "system_messages", "missing_parent", "order_id")
    # Items whose instruction does not exist, plus instructions whose order was rejected.
    instructions = {r["id"] for r in rows(src, "SELECT id FROM dispatch_instruction")}
    rejected_orders = set(outcomes(migrated, "orders"))
    by_id = {s["id"]: s for s in source}
    dangling = {i for i in missing_order if by_id[i]["item_id"] not in instructions}
    assert len(dangling) == quirks["notification_item_missing"] >= 1
    assert {by_id[i]["item_id"] for i in missing_order - dangling} <= rejected_orders
    assert {"dispatch.instruction", "dispatch.plan", "dispatch.patient", None} <= item_types


def test_rerun_changes_nothing(legacy: Legacy, migrated: str) -> None:
    tables = ["files", "message_attachments", "customer_feedback", "system_messages"]
    before = {t: rows(migrated, f"SELECT * FROM {t} ORDER BY id") for t in tables}
    id_map = scalar(migrated, "SELECT count(*) FROM migration.id_map")
    for name in ("files", "message_attachments", "customer_feedback"):
        run(legacy.conninfo, migrated, name, batch_size=1000)
    run(legacy.conninfo, migrated, "system_messages", batch_size=20000)
    for table, snapshot in before.items():
        assert rows(migrated, f"SELECT * FROM {table} ORDER BY id") == snapshot, table
    assert scalar(migrated, "SELECT count(*) FROM migration.id_map") == id_map


def test_content_types_renumbered_or_unknown(create_database: Callable[[str], str]) -> None:
    """Content types are matched by (app_label, model) whatever their ids; an id that
    django_content_type does not have leaves the type NULL and keeps the raw id (rule 2)."""
    source = create_database("act_ct_src")
    generate(source, scale=0.001, seed=3)
    with psycopg.connect(source, autocommit=True) as conn:
        for table, column in [
            ("dispatch_record", "target_type_id"),
            ("dispatch_notification", "item_type_id"),
            ("auth_permission", "content_type_id"),
        ]:
            conn.execute(f"UPDATE {table} SET {column} = {column} + 1000")
        conn.execute("UPDATE django_content_type SET id = id + 1000")
        unknown_record = scalar(source, "SELECT min(id) FROM dispatch_record")
        unknown_notification = scalar(source, "SELECT min(id) FROM dispatch_notification")
        conn.execute(
            "UPDATE dispatch_record SET target_type_id = 77 WHERE id = %s", [unknown_record]
        )
        conn.execute(
            "UPDATE dispatch_notification SET item_type_id = 77 WHERE id = %s",
            [unknown_notification],
        )
    target = create_database("act_ct_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    wanted = ["messages", "team_communications", "system_messages"]
    for name in CATALOGUE.order(CATALOGUE.closure(wanted)):
        run(source, target, name, batch_size=500)

    ct = content_types(source)
    records = rows(source, "SELECT id, target_type_id FROM dispatch_record")
    patient_records = {
        r["id"] for r in records if ct.get(r["target_type_id"]) == "dispatch.patient"
    }
    assert patient_records
    held = set(uuids(target, "messages", "legacy_record_id")) | set(outcomes(target, "messages"))
    assert held == patient_records
    comms = by_key(rows(target, "SELECT * FROM team_communications"), "legacy_record_id")
    assert set(comms) == {r["id"] for r in records} - patient_records
    users = [t for t in comms.values() if t["legacy_target_type"] == "auth.user"]
    assert users and all(t["legacy_recipient_user_id"] == t["legacy_target_id"] for t in users)
    odd = comms[unknown_record]
    assert odd["legacy_target_type"] is None and odd["recipient_profile_id"] is None
    assert odd["metadata"]["legacy_raw"] == {"target_type_id": 77}
    assert issue_ids(
        target, "team_communications", "unknown_content_type", "legacy_target_type"
    ) == {unknown_record}
    notifications = by_key(rows(target, "SELECT * FROM system_messages"), "legacy_notification_id")
    odd = notifications[unknown_notification]
    assert odd["legacy_item_type"] is None and odd["order_id"] is None
    assert odd["metadata"]["legacy_raw"]["item_type_id"] == 77
    assert issue_ids(target, "system_messages", "unknown_content_type", "legacy_item_type") == {
        unknown_notification
    }
    linked = [t for t in notifications.values() if t["order_id"] is not None]
    assert linked and all(t["legacy_item_type"] == "dispatch.instruction" for t in linked)
    with psycopg.connect(source) as src, psycopg.connect(target, autocommit=True) as dst:
        for name in wanted:
            result = validate_entity(CATALOGUE, CATALOGUE.rows_entity(name), src, dst)
            assert result.passed, (name, result.checks)
