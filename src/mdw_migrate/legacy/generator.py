"""The synthetic legacy database: the 58 tables of `mdw_db`, production-like volumes, every quirk.

`generate(conninfo, scale, seed)` creates the legacy schema (`ddl.sql`) in an empty database and
loads it on the server with set-based SQL (`data.sql`): every value is derived from a hash of
(seed, salt, row id), never from random(), so one (seed, scale) always gives the same data.
Row counts follow the volume table of the spec times `scale` (catalogue tables keep their size),
with minimums that keep every quirk present even at scale 0.001. After the load it measures
each table's row count and each quirk's count with SQL and returns them in a report.

Nothing here is real data: names come from word lists, emails use reserved example domains,
passwords are fake Django hashes.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources

import psycopg
from psycopg import sql

from ..catalogue.core import DOCTOR_GROUP_USERS, DOCTOR_SET
from .tables import LEGACY_TABLES

log = logging.getLogger(__name__)

# Tables whose size does not depend on the scale (catalogues and small tables of the spec's
# "< 100 each"). auth_group has the 11 names the spec lists (its volume table says 10).
FIXED_COUNTS: dict[str, int] = {
    "auth_group": 11,
    "auth_permission": 400,
    "django_content_type": 60,
    "dispatch_agent": 2,
    "dispatch_course": 8,
    "dispatch_product": 40,
    "dispatch_product_roles": 60,
    "dispatch_product_successors": 30,
    "dispatch_category": 44,
    "dispatch_template": 169,
    "dispatch_template_edit_roles": 500,
    "dispatch_template_view_roles": 700,
    "dispatch_template_view_groups": 400,
    "dispatch_template_products": 501,
    "dispatch_template_predecessors": 200,
    "dispatch_role": 48,
    "dispatch_role_permissions": 1346,
    "dispatch_globalsetting": 3,
    "dispatch_action": 20,
    "dispatch_client": 6,
    "dispatch_client3d": 12,
    "dispatch_event": 80,
    "dispatch_instance": 5,
    "dispatch_language": 12,
    "dispatch_link": 40,
    "dispatch_master": 10,
    "dispatch_reading": 90,
    "dispatch_storage": 50,
}

# Tables the spec scales: (rows at scale 1.0, minimum rows). The minimums keep every quirk and
# every relation the data needs (a staff member of each group...) present at tiny scales.
# The M2M tables attached to scaled parents (doctorsetting masters/sales, usersetting) scale too.
SCALED_VOLUMES: dict[str, tuple[int, int]] = {
    "auth_user": (9839, 1),  # at least patient-users + doctors + 22 staff: see _plan
    "auth_user_groups": (10400, 1),  # at least one row per grouped user + 5: see _plan
    "dispatch_office": (897, 24),
    "dispatch_office_doctors": (600, 10),
    "dispatch_doctorsetting": (1200, 10),
    "dispatch_doctorsetting_masters": (80, 3),
    "dispatch_doctorsetting_sales": (90, 3),
    "dispatch_usersetting": (90, 5),
    "dispatch_patient": (8488, 40),
    "dispatch_instruction": (25012, 60),
    "dispatch_jaw": (43458, 90),
    "dispatch_state": (5547, 20),
    "dispatch_project": (72155, 30),
    "dispatch_plan": (209241, 150),
    "dispatch_bracket": (1720, 5),
    "dispatch_task": (953000, 300),
    "dispatch_file": (327771, 200),
    "dispatch_record": (70742, 100),
    "dispatch_record_attachments": (8703, 10),
    "dispatch_record_roles": (1200, 5),
    "dispatch_comment": (16312, 30),
    "dispatch_note": (963, 10),
    "dispatch_notification": (5102536, 1000),
    "dispatch_payment": (17235, 40),
    "dispatch_operation": (3720, 10),
    "dispatch_order": (12000, 30),
    "dispatch_purchase": (15000, 40),
    "dispatch_offer": (788, 10),
    "dispatch_discount": (151, 5),
    "dispatch_ware": (16552, 20),
}

# Doctors are not a table of their own: group Doctor, mostly with a doctorsetting row.
_DOCTORS = (1250, 12)
# The 22-slot staff pattern of data.sql (step user_plan): which slots are group-less and which
# are technicians.
_STAFF_PATTERN = 22
_STAFF_NOGROUP_SLOTS = (10, 19, 21)
_STAFF_TECHNICIAN_SLOTS = (2, 3, 5, 7, 9, 11, 13, 15, 17, 20, 22)
_MIN_STAFF = 22

MAX_SEED = 2**63 - 1

# Columns read by the text quirks (free text written by people, and names).
_FREE_TEXT = (
    ("dispatch_instruction", "notes"),
    ("dispatch_instruction", "complaint"),
    ("dispatch_note", "text"),
    ("dispatch_comment", "text"),
    ("dispatch_record", "text"),
    ("dispatch_doctorsetting", "clinical_preferences"),
    ("dispatch_file", "description"),
    ("dispatch_plan", "notes"),
)
_NAMES = (("auth_user", "first_name"), ("auth_user", "last_name"))
_EMPTY_STRING_COLUMNS = (
    *_FREE_TEXT,
    *_NAMES,
    ("auth_user", "email"),
    ("dispatch_patient", "suffix"),
    ("dispatch_patient", "schemes"),
    ("dispatch_office", "zip"),
)
_EMOJI = r"[\U0001F300-\U0001FAFF\u2600-\u27BF]"
_CJK = r"[\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF]"
_ACCENTED = r"[\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u017F]"
_LONG_TEXT_BYTES = 100_000
# Anything after this is "in the future" (the normal data ends in 2026).
_FUTURE = "2030-01-01 00:00:00+00"
# A syntactically valid email once trimmed (the spelling the quirk counts measure against).
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
# Country spellings a careful mapping knows (lower-cased, trimmed); anything else is unknown.
KNOWN_COUNTRY_SPELLINGS = (
    "usa",
    "us",
    "united states",
    "u.s.a.",
    "america",
    "india",
    "in",
    "japan",
    "jp",
    "canada",
    "ca",
    "uk",
    "united kingdom",
    "gb",
    "germany",
    "deutschland",
    "de",
    "mexico",
    "mx",
)

# The codes each documented map knows; the quirk counts report rows outside them.
_UNKNOWN_CODES: dict[str, str] = {
    "patient_status_unknown": (
        "SELECT count(*) FROM dispatch_patient WHERE status NOT BETWEEN 1 AND 10"
    ),
    "instruction_status_unknown": (
        "SELECT count(*) FROM dispatch_instruction WHERE status NOT BETWEEN 0 AND 6"
    ),
    "state_status_unknown": (
        "SELECT count(*) FROM dispatch_state WHERE status NOT BETWEEN 11 AND 18"
    ),
    "file_type_unknown": "SELECT count(*) FROM dispatch_file WHERE type NOT BETWEEN 1 AND 13",
    "project_type_unknown": (
        "SELECT count(*) FROM dispatch_project WHERE type NOT IN (0, 1, 2, 3, 4, 5, 10, 11)"
    ),
    "project_status_unknown": (
        "SELECT count(*) FROM dispatch_project WHERE status NOT BETWEEN 0 AND 3"
    ),
    "record_type_unknown": (
        "SELECT count(*) FROM dispatch_record WHERE type IS NOT NULL AND type NOT IN (3, 5, 6, 8)"
    ),
    "jaw_reason_unknown": (
        "SELECT count(*) FROM dispatch_jaw WHERE reason IS NOT NULL AND reason NOT IN (1, 2, 3)"
    ),
    "operation_type_unknown": "SELECT count(*) FROM dispatch_operation WHERE type NOT IN (1, 2)",
    "course_type_unknown": (
        "SELECT count(*) FROM dispatch_course WHERE id NOT IN (1, 2, 3, 4, 7, 8)"
    ),
    "patient_sex_unknown": (
        "SELECT count(*) FROM dispatch_patient WHERE sex IS NOT NULL AND sex NOT IN (1, 2)"
    ),
}

_CT_PATIENT = (
    "(SELECT id FROM django_content_type WHERE app_label = 'dispatch' AND model = 'patient')"
)
_CT_USER = "(SELECT id FROM django_content_type WHERE app_label = 'auth' AND model = 'user')"
_CT_INSTRUCTION = (
    "(SELECT id FROM django_content_type WHERE app_label = 'dispatch' AND model = 'instruction')"
)


def _missing(table: str, column: str, parent: str, where: str = "TRUE") -> str:
    """Rows of `table` whose non-null `column` names no row of `parent`."""
    return (
        f"SELECT count(*) FROM {table} c WHERE c.{column} IS NOT NULL AND {where}"
        f" AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
    )


def _sum_over(columns: tuple[tuple[str, str], ...], predicate: str) -> str:
    """Rows matching `predicate` (with {c} for the column), summed over several columns."""
    parts = [
        f"SELECT count(*) AS n FROM {table} WHERE {predicate.format(c=column)}"
        for table, column in columns
    ]
    return "SELECT coalesce(sum(n), 0) FROM (" + " UNION ALL ".join(parts) + ") s"


def _invalid_json(table: str, column: str) -> str:
    return (
        f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND NOT pg_temp.is_json({column})"
    )


# Every quirk of the spec, measured by SQL after generation (never assumed from the plan).
_QUIRKS: dict[str, str] = {
    # 1. dangling references
    "patient_user_missing": _missing("dispatch_patient", "user_id", "auth_user"),
    "patient_doctor_missing": _missing("dispatch_patient", "doctor_id", "auth_user"),
    "patient_doctor_not_in_doctor_group": (
        "SELECT count(*) FROM dispatch_patient p JOIN auth_user u ON u.id = p.doctor_id"
        f" WHERE p.doctor_id NOT IN ({DOCTOR_GROUP_USERS})"
    ),
    "patient_office_missing": _missing("dispatch_patient", "office_id", "dispatch_office"),
    "instruction_patient_missing": _missing(
        "dispatch_instruction", "patient_id", "dispatch_patient"
    ),
    "state_instruction_missing": _missing(
        "dispatch_state", "instruction_id", "dispatch_instruction"
    ),
    "payment_instruction_missing": _missing(
        "dispatch_payment", "instruction_id", "dispatch_instruction"
    ),
    "record_patient_missing": _missing(
        "dispatch_record", "target_id", "dispatch_patient", f"c.target_type_id = {_CT_PATIENT}"
    ),
    "notification_item_missing": _missing(
        "dispatch_notification",
        "item_id",
        "dispatch_instruction",
        f"c.item_type_id = {_CT_INSTRUCTION}",
    ),
    "note_doctor_missing": _missing("dispatch_note", "doctor_id", "auth_user"),
    "office_doctors_user_missing": _missing("dispatch_office_doctors", "user_id", "auth_user"),
    "office_doctors_office_missing": _missing(
        "dispatch_office_doctors", "office_id", "dispatch_office"
    ),
    "office_doctors_duplicate_pairs": (
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM dispatch_office_doctors"
        " GROUP BY user_id, office_id HAVING count(*) > 1) d"
    ),
    "template_products_product_missing": _missing(
        "dispatch_template_products", "product_id", "dispatch_product"
    ),
    "category_parent_missing": _missing("dispatch_category", "parent_id", "dispatch_category"),
    "category_parent_after_child": (
        "SELECT count(*) FROM dispatch_category c JOIN dispatch_category p ON p.id = c.parent_id"
        " WHERE p.id > c.id"
    ),
    # 2. jaws
    "jaw_unreferenced": (
        "SELECT count(*) FROM dispatch_jaw j WHERE NOT EXISTS (SELECT 1 FROM dispatch_instruction i"
        " WHERE i.upper_jaw_id = j.id OR i.lower_jaw_id = j.id)"
    ),
    "jaw_shared": (
        "SELECT count(*) FROM (SELECT jaw_id FROM (SELECT upper_jaw_id AS jaw_id FROM"
        " dispatch_instruction UNION ALL SELECT lower_jaw_id FROM dispatch_instruction) s"
        " WHERE jaw_id IS NOT NULL GROUP BY jaw_id HAVING count(*) > 1) d"
    ),
    # 3. schemes
    "schemes_json": "SELECT count(*) FROM dispatch_patient WHERE pg_temp.is_json(schemes)",
    "schemes_python_literal": (
        "SELECT count(*) FROM dispatch_patient WHERE NOT pg_temp.is_json(schemes)"
        " AND schemes LIKE '{''%'"
    ),
    "schemes_garbage": (
        "SELECT count(*) FROM dispatch_patient WHERE NOT pg_temp.is_json(schemes)"
        " AND schemes NOT LIKE '{''%'"
    ),
    "schemes_null": "SELECT count(*) FROM dispatch_patient WHERE schemes IS NULL",
    # 4. other JSON texts
    "template_context_invalid_json": _invalid_json("dispatch_notification", "template_context"),
    "product_customization_invalid_json": _invalid_json("dispatch_product", "customization"),
    "file_parameters_invalid_json": _invalid_json("dispatch_file", "parameters"),
    "instruction_exports_nonempty": (
        "SELECT count(*) FROM dispatch_instruction WHERE exports <> '{}'"
    ),
    # 5. people
    "duplicate_email_users": (
        "SELECT count(*) FROM (SELECT count(*) OVER (PARTITION BY lower(btrim(email))) AS n"
        " FROM auth_user WHERE btrim(email) <> '') d WHERE n > 1"
    ),
    "test_accounts": (
        "SELECT count(*) FROM auth_user WHERE concat_ws(' ', email, username, first_name,"
        " last_name) ~* '(test|demo)'"
    ),
    "invalid_emails": (
        "SELECT count(*) FROM auth_user WHERE NOT btrim(email) ~ " + f"'{EMAIL_PATTERN}'"
    ),
    "emails_untrimmed": (
        "SELECT count(*) FROM auth_user WHERE email <> btrim(email)"
        f" AND btrim(email) ~ '{EMAIL_PATTERN}'"
    ),
    # 6. offices
    "office_country_spellings": (
        "SELECT count(DISTINCT country) FROM dispatch_office WHERE country IS NOT NULL"
    ),
    "office_country_null": "SELECT count(*) FROM dispatch_office WHERE country IS NULL",
    "office_country_unknown": (
        "SELECT count(*) FROM dispatch_office WHERE lower(btrim(country)) NOT IN ("
        + ", ".join(f"'{c}'" for c in KNOWN_COUNTRY_SPELLINGS)
        + ")"
    ),
    "office_messy_whitespace": (
        "SELECT count(*) FROM dispatch_office"
        r" WHERE name <> regexp_replace(btrim(name), '\s+', ' ', 'g')"
    ),
    # 7. groups
    "users_in_several_groups": (
        "SELECT count(*) FROM (SELECT user_id FROM auth_user_groups GROUP BY user_id"
        " HAVING count(*) > 1) d"
    ),
    "users_in_no_group": (
        "SELECT count(*) FROM auth_user u"
        " WHERE NOT EXISTS (SELECT 1 FROM auth_user_groups ug WHERE ug.user_id = u.id)"
    ),
    "doctors_in_group": f"SELECT count(DISTINCT user_id) FROM ({DOCTOR_GROUP_USERS}) d",
    "doctor_set": (
        f"SELECT count(*) FROM ({DOCTOR_SET}) d WHERE EXISTS"
        " (SELECT 1 FROM auth_user u WHERE u.id = d.user_id)"
    ),
    "doctorsetting_users": "SELECT count(DISTINCT user_id) FROM dispatch_doctorsetting",
    "doctorsetting_users_not_in_doctor_group": (
        f"SELECT count(*) FROM dispatch_doctorsetting WHERE user_id NOT IN ({DOCTOR_GROUP_USERS})"
    ),
    "technicians": (
        "SELECT count(DISTINCT ug.user_id) FROM auth_user_groups ug"
        " JOIN auth_group g ON g.id = ug.group_id WHERE g.name = 'Technician'"
    ),
    # 8. polymorphic records
    "record_other_target_type": (
        "SELECT count(*) FROM dispatch_record WHERE target_type_id IS NOT NULL"
        f" AND target_type_id NOT IN ({_CT_PATIENT}, {_CT_USER})"
    ),
    "record_null_target_type": "SELECT count(*) FROM dispatch_record WHERE target_type_id IS NULL",
    "attachment_links_both_ways": (
        "SELECT count(*) FROM dispatch_record_attachments a"
        " JOIN dispatch_file f ON f.id = a.file_id AND f.record_id = a.record_id"
    ),
    # 9. soft deletes and flags
    "instructions_deleted": "SELECT count(*) FROM dispatch_instruction WHERE deleted",
    "products_deleted": "SELECT count(*) FROM dispatch_product WHERE deleted",
    "patients_archived": "SELECT count(*) FROM dispatch_patient WHERE archived",
    "patients_suspended": "SELECT count(*) FROM dispatch_patient WHERE suspended",
    # 10. texts and dates
    "texts_with_emoji": _sum_over(_FREE_TEXT, "{c} ~ '" + _EMOJI + "'"),
    "texts_with_cjk": _sum_over((*_FREE_TEXT, *_NAMES), "{c} ~ '" + _CJK + "'"),
    "texts_with_accents": _sum_over((*_FREE_TEXT, *_NAMES), "{c} ~ '" + _ACCENTED + "'"),
    "texts_long": _sum_over(_FREE_TEXT, f"octet_length({{c}}) >= {_LONG_TEXT_BYTES}"),
    "empty_strings": _sum_over(_EMPTY_STRING_COLUMNS, "{c} = ''"),
    "birthdates_1900": "SELECT count(*) FROM dispatch_patient WHERE birthdate = '1900-01-01'",
    "patient_birthdate_null": "SELECT count(*) FROM dispatch_patient WHERE birthdate IS NULL",
    # 11. codes outside every map (details above; unknown_status_codes is their sum)
    **_UNKNOWN_CODES,
    "patient_sex_null": "SELECT count(*) FROM dispatch_patient WHERE sex IS NULL",
    "patient_suffix_null": "SELECT count(*) FROM dispatch_patient WHERE suffix IS NULL",
    "patient_suffix_empty": "SELECT count(*) FROM dispatch_patient WHERE suffix = ''",
    # money: nullable amounts
    "instruction_price_null": "SELECT count(*) FROM dispatch_instruction WHERE price IS NULL",
    "offer_price_null": (
        "SELECT count(*) FROM dispatch_offer"
        " WHERE price_both IS NULL OR price_upper IS NULL OR price_lower IS NULL"
    ),
}


class SourceNotEmpty(Exception):
    """The target database of the generator already holds tables in schema public."""

    def __init__(self, tables: list[str]) -> None:
        self.tables = list(tables)
        shown = ", ".join(self.tables[:10]) + (" ..." if len(self.tables) > 10 else "")
        super().__init__(
            f"the database already has {len(self.tables)} table(s) in schema public ({shown});"
            " generate into an empty database, or pass force=True to drop the legacy tables first"
        )


@dataclass
class GenerationReport:
    scale: float
    seed: int
    tables: dict[str, int] = field(default_factory=dict)
    quirks: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "seed": self.seed,
            "tables": dict(self.tables),
            "rows": sum(self.tables.values()),
            "quirks": dict(self.quirks),
            "seconds": round(self.seconds, 3),
        }


def _scaled(base: int, minimum: int, scale: float) -> int:
    # Half up, not Python's banker's rounding.
    return max(minimum, math.floor(base * scale + 0.5))


def _plan(scale: float) -> dict[str, int]:
    """Row counts of the 58 tables plus the derived numbers data.sql reads through pg_temp.n()."""
    s = {table: _scaled(base, minimum, scale) for table, (base, minimum) in SCALED_VOLUMES.items()}
    n: dict[str, int] = dict(FIXED_COUNTS)

    patients = s["dispatch_patient"]
    patient_user_missing = max(2, patients // 2000)
    patient_users = patients - patient_user_missing
    doctors = _scaled(*_DOCTORS, scale)
    doctorsettings = min(doctors, s["dispatch_doctorsetting"])
    users = max(s["auth_user"], patient_users + doctors + _MIN_STAFF)
    staff = users - patient_users - doctors
    nogroup_doctors = max(1, doctorsettings // 100)
    nogroup_patients = max(1, patient_users // 50)
    staff_nogroup = sum(1 for i in range(staff) if i % _STAFF_PATTERN + 1 in _STAFF_NOGROUP_SLOTS)
    technicians = sum(1 for i in range(staff) if i % _STAFF_PATTERN + 1 in _STAFF_TECHNICIAN_SLOTS)
    grouped = users - staff_nogroup - nogroup_doctors - nogroup_patients
    user_groups = max(s["auth_user_groups"], users + 5)
    eligible = (doctors - nogroup_doctors) + (staff - staff_nogroup)
    if user_groups - grouped > eligible:  # pragma: no cover - guarded by the volume table
        raise AssertionError("not enough users for the secondary group memberships")
    n.update(
        auth_user=users,
        auth_user_groups=user_groups,
        staff=staff,
        technicians=technicians,
        doctors=doctors,
        nonstaff=patient_users + doctors,
        patient_users=patient_users,
        patient_user_missing=patient_user_missing,
        nogroup_doctors=nogroup_doctors,
        nogroup_patients=nogroup_patients,
        email_quirks=max(10, users // 150),
        dispatch_patient=patients,
        dispatch_doctorsetting=doctorsettings,
        dispatch_doctorsetting_masters=min(doctorsettings, s["dispatch_doctorsetting_masters"]),
        dispatch_doctorsetting_sales=min(doctorsettings, s["dispatch_doctorsetting_sales"]),
        dispatch_usersetting=min(users, s["dispatch_usersetting"]),
        dispatch_office=s["dispatch_office"],
    )

    links = s["dispatch_office_doctors"]
    od = {
        "od_second": max(1, links // 10),
        "od_dup": max(1, links // 150),
        "od_user_missing": max(1, links // 300),
        "od_office_missing": max(1, links // 300),
    }
    extra = sum(od.values())
    base = links - extra
    if not extra <= base <= doctors:  # pragma: no cover - guarded by the minimums
        raise AssertionError("office-doctor links do not fit the doctors")
    n.update(od, od_extra=extra, od_base=base, dispatch_office_doctors=links)

    instructions = s["dispatch_instruction"]
    jaws = s["dispatch_jaw"]
    unreferenced = max(1, jaws // 400)
    shared = max(1, jaws // 20000)
    referenced = jaws - unreferenced
    if referenced + shared > 2 * instructions:  # pragma: no cover - guarded by the minimums
        raise AssertionError("more jaws than instruction slots")
    n.update(
        dispatch_instruction=instructions,
        dispatch_jaw=jaws,
        jaw_unreferenced=unreferenced,
        jaw_shared=shared,
        jaw_referenced=referenced,
        jaw_filled_slots=referenced + shared,
    )

    records = s["dispatch_record"]
    files = max(instructions, s["dispatch_file"])
    attachments = min(files, s["dispatch_record_attachments"])
    n.update(
        dispatch_record=records,
        record_other=max(2, records // 200),
        record_null=max(1, records // 1000),
        record_missing=max(1, records // 2000),
        dispatch_file=files,
        dispatch_plan=max(instructions, s["dispatch_plan"]),
        dispatch_record_attachments=attachments,
        ra_main=attachments - max(1, attachments // 50),
        dispatch_record_roles=min(records, s["dispatch_record_roles"]),
    )
    for table in (
        "dispatch_state",
        "dispatch_project",
        "dispatch_bracket",
        "dispatch_task",
        "dispatch_comment",
        "dispatch_note",
        "dispatch_notification",
        "dispatch_payment",
        "dispatch_operation",
        "dispatch_order",
        "dispatch_purchase",
        "dispatch_offer",
        "dispatch_discount",
        "dispatch_ware",
    ):
        n[table] = s[table]
    return n


def row_counts(scale: float) -> dict[str, int]:
    """The row count of each of the 58 legacy tables that `generate` produces at this scale."""
    _check_scale(scale)
    plan = _plan(scale)
    return {table: plan[table] for table in LEGACY_TABLES}


def generate(
    conninfo: str, scale: float = 0.01, seed: int = 42, force: bool = False
) -> GenerationReport:
    """Creates and loads the synthetic legacy database; returns measured counts and quirks.

    Refuses (SourceNotEmpty) a database that has any table in schema public, unless `force`,
    which first drops the 58 legacy tables (only those). The load runs in one transaction: a
    failure leaves the database as it was.
    """
    _check_scale(scale)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer between 0 and {MAX_SEED}")
    started = time.perf_counter()
    plan = _plan(scale)
    ddl_tables, ddl_indexes = _ddl_parts()
    with psycopg.connect(conninfo) as conn:
        existing = _public_tables(conn)
        if existing and not force:
            raise SourceNotEmpty(existing)
        with conn.transaction():
            # UTC makes every date derived from a timestamptz independent of the server's zone.
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute("SET LOCAL work_mem = '64MB'")
            if force:
                _drop_legacy_tables(conn)
            _create_helpers(conn, seed, plan)
            conn.execute(ddl_tables)
            for name, step in _data_steps():
                t0 = time.perf_counter()
                try:
                    conn.execute(step)
                except psycopg.Error as e:
                    e.add_note(f"in data.sql, step {name}")
                    raise
                log.debug("step %s: %.2fs", name, time.perf_counter() - t0)
            t0 = time.perf_counter()
            conn.execute(ddl_indexes)
            _reset_identities(conn)
            for table in LEGACY_TABLES:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
            log.debug("indexes and statistics: %.2fs", time.perf_counter() - t0)
        tables = _measure_tables(conn)
        quirks = _measure_quirks(conn)
    return GenerationReport(
        scale=scale,
        seed=seed,
        tables=tables,
        quirks=quirks,
        seconds=time.perf_counter() - started,
    )


def _int(value: object) -> int:
    if isinstance(value, int | Decimal):
        return int(value)
    raise TypeError(f"expected a count, got {type(value).__name__}")


def _check_scale(scale: float) -> None:
    if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        raise ValueError("scale must be a positive number")


def _read_sql(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _ddl_parts() -> tuple[str, str]:
    parts = re.split(r"^-- @indexes[ \t]*$", _read_sql("ddl.sql"), flags=re.MULTILINE)
    if len(parts) != 2:
        raise RuntimeError("ddl.sql must have exactly one '-- @indexes' line")
    return parts[0], parts[1]


def _data_steps() -> list[tuple[str, str]]:
    parts = re.split(r"^-- @step (\S+)[ \t]*$", _read_sql("data.sql"), flags=re.MULTILINE)
    # parts = [header, name1, body1, name2, body2, ...]
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def legacy_table_count(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """How many of the legacy tables the database holds already (a demo says it replaces them)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
        " AND tablename = ANY(%s)",
        [list(LEGACY_TABLES)],
    ).fetchone()
    return _int(row[0]) if row else 0


def _public_tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
        " WHERE s.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " ORDER BY c.relname"
    ).fetchall()
    tables = [str(row[0]) for row in rows]
    conn.rollback()  # end the implicit transaction of the probe
    return tables


def _drop_legacy_tables(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    # No CASCADE: an object of someone else's that depends on a legacy table stops the drop.
    conn.execute(
        sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.SQL(", ").join(sql.Identifier("public", t) for t in LEGACY_TABLES)
        )
    )


# Session helpers the data script uses. SQL-language, immutable and simple enough for the
# planner to inline them (and fold them to constants when their arguments are constants).
_HELPERS = """
CREATE FUNCTION pg_temp.h(salt integer, id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashint8extended(id # (salt::bigint << 32), {seed}) $$;
-- uniform in [0, n)
CREATE FUNCTION pg_temp.ri(salt integer, id bigint, n bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (pg_temp.h(salt, id) & 9223372036854775807) % n $$;
-- true for about pct percent of the ids
CREATE FUNCTION pg_temp.chance(salt integer, id bigint, pct integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.ri(salt, id, 100) < pct $$;
CREATE FUNCTION pg_temp.pick(salt integer, id bigint, a anyarray) RETURNS anyelement
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT a[1 + pg_temp.ri(salt, id, cardinality(a))] $$;
-- Exactly k of the ids 1..n get an ordinal 1..k (the others 0): evenly spaced, rotated by a
-- seed-dependent offset, never two adjacent ids while k <= n / 2.
CREATE FUNCTION pg_temp.spread_idx(id bigint, n bigint, k bigint, salt integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE
        WHEN ((id - 1 + pg_temp.ri(salt, 0, n)) % n + 1) * k / n
             > ((id - 1 + pg_temp.ri(salt, 0, n)) % n) * k / n
        THEN ((id - 1 + pg_temp.ri(salt, 0, n)) % n + 1) * k / n
        ELSE 0 END $$;
CREATE FUNCTION pg_temp.spread(id bigint, n bigint, k bigint, salt integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.spread_idx(id, n, k, salt) > 0 $$;
-- r-th of cnt distinct, increasing values in 1..total (one random value per slot)
CREATE FUNCTION pg_temp.slot(salt integer, r bigint, total bigint, cnt bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (r - 1) * total / cnt + 1 + pg_temp.ri(salt, r, greatest(total / cnt, 1)) $$;
-- total rows cut into `groups` consecutive blocks: the block of row g, the first row of block i,
-- and a random row of block i
CREATE FUNCTION pg_temp.block_of(g bigint, total bigint, groups bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (g - 1) * groups / total + 1 $$;
CREATE FUNCTION pg_temp.block_first(i bigint, total bigint, groups bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((i - 1) * total + groups - 1) / groups + 1 $$;
CREATE FUNCTION pg_temp.block_pick(salt integer, g bigint, i bigint, total bigint, groups bigint)
    RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.block_first(i, total, groups)
                 + pg_temp.ri(salt, g, pg_temp.block_first(i + 1, total, groups)
                                       - pg_temp.block_first(i, total, groups)) $$;
-- a timestamp that grows with the id from 2016-01 to 2025-06, plus up to two days of jitter
CREATE FUNCTION pg_temp.ts(salt integer, id bigint, n bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT timestamptz '2016-01-04 08:00:00+00'
                 + interval '1 second' * (id * 297000000 / n + pg_temp.ri(salt, id, 172800)) $$;
-- an exact amount with cents between lo and hi cents (never a float)
CREATE FUNCTION pg_temp.money(salt integer, id bigint, lo bigint, hi bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((lo + pg_temp.ri(salt, id, hi - lo + 1))::numeric / 100)::numeric(10,2) $$;
"""


def _create_helpers(
    conn: psycopg.Connection[tuple[object, ...]], seed: int, plan: dict[str, int]
) -> None:
    conn.execute(sql.SQL(_HELPERS).format(seed=sql.Literal(seed)))
    # n('name'): a planned count. Immutable with a constant argument, so the planner folds it.
    # An unknown name fails loudly instead of generating nothing.
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(name), sql.Literal(value))
        for name, value in sorted(plan.items())
    )
    conn.execute(
        sql.SQL(
            "CREATE FUNCTION pg_temp.n(t text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            " AS $$ SELECT CASE t {} ELSE CAST('unknown count: ' || t AS bigint) END $$"
        ).format(cases)
    )
    _create_is_json(conn)


def _create_is_json(
    conn: psycopg.Connection[tuple[object, ...]], *, portable: bool = False
) -> None:
    """pg_temp.is_json(text): IS JSON on PostgreSQL 16+, a slower exception-based test before."""
    if conn.info.server_version >= 160000 and not portable:
        conn.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.is_json(t text) RETURNS boolean"
            " LANGUAGE sql IMMUTABLE AS $$ SELECT t IS JSON $$"
        )
    else:
        conn.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.is_json(t text) RETURNS boolean"
            " LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM t::json; RETURN t IS NOT NULL;"
            " EXCEPTION WHEN others THEN RETURN false; END $$"
        )


def _reset_identities(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    # Explicit ids were inserted: move each identity past them, as Django's data would have.
    for table in LEGACY_TABLES:
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({name}, 'id'), coalesce(max(id), 1),"
                " max(id) IS NOT NULL) FROM {table}"
            ).format(name=sql.Literal(f"public.{table}"), table=sql.Identifier("public", table))
        )


def _measure_tables(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(
            sql.Literal(table), sql.Identifier("public", table)
        )
        for table in LEGACY_TABLES
    )
    counts = {str(name): _int(n) for name, n in conn.execute(query).fetchall()}
    conn.rollback()
    return {table: counts[table] for table in LEGACY_TABLES}


def _future_timestamps_query(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """Rows with any timestamptz column after 2030, over every legacy table that has one."""
    rows = conn.execute(
        "SELECT table_name, string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position)"
        " FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type = 'timestamp with time zone' AND table_name = ANY(%s)"
        " GROUP BY table_name ORDER BY table_name",
        [list(LEGACY_TABLES)],
    ).fetchall()
    parts = []
    for table, columns in rows:
        predicate = " OR ".join(f"{c} > '{_FUTURE}'" for c in str(columns).split(","))
        parts.append(f"SELECT count(*) AS n FROM {table} WHERE {predicate}")
    return "SELECT coalesce(sum(n), 0) FROM (" + " UNION ALL ".join(parts) + ") s"


def quirk_queries(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, str]:
    """The SQL that measures each quirk (needs pg_temp.is_json: see measure_quirks)."""
    queries = dict(_QUIRKS)
    queries["timestamps_future"] = _future_timestamps_query(conn)
    return queries


def measure_quirks(conninfo: str) -> dict[str, int]:
    """Measures the quirks of an already generated legacy database."""
    with psycopg.connect(conninfo) as conn:
        _create_is_json(conn)
        return _measure_quirks(conn)


def _measure_quirks(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, int]:
    with conn.transaction():
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        quirks: dict[str, int] = {}
        for name, query in quirk_queries(conn).items():
            row = conn.execute(query).fetchone()
            quirks[name] = _int(row[0]) if row else 0
        quirks["unknown_status_codes"] = sum(quirks[k] for k in _UNKNOWN_CODES)
    return dict(sorted(quirks.items()))
