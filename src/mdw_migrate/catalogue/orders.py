"""Orders and their catalogue: courses, products, teams, orders, jaws, cases, order_cases,
order_states, projects, treatment_plans, brackets.

Each entity follows `../shared/spec/mapping.md` ("Entity rules"); decisions the spec leaves
open are written in docs/DECISIONS.md.
"""

from __future__ import annotations

from dataclasses import replace

from ..engine.spec import Col, EntitySpec, Issue, Ref, Source, computed, enum_cols
from .core import PATIENT_STATUS, copied, doctor_ref, office_ref


def json_col(name: str, source: str | None = None) -> Col:
    """JSON text -> jsonb; text that does not parse is NULL with the raw kept (rule 2).
    A blank text is no JSON at all: NULL without an issue."""
    raw = source or name
    return Col(
        name,
        f"migration.try_jsonb(s.{raw})",
        raw=raw,
        issue="invalid_json",
        issue_when=f"({computed(name)} IS NULL AND migration.clean_text(s.{raw}) <> '')",
    )


COURSE_TYPE = {
    1: "main",
    2: "refinement",
    3: "replacement",
    4: "any",
    7: "invoice",
    8: "merchandise",
}

courses = EntitySpec(
    name="courses",
    description="courses <- dispatch_course",
    source=Source.table("dispatch_course", ("name", "type", "customization")),
    target="courses",
    legacy_column="legacy_course_id",
    columns=(
        copied("name"),
        # The course's id is its code: the raw code is legacy_course_id itself.
        enum_cols("course_type", "public.course_type", "id", COURSE_TYPE)[0],
        copied("legacy_type", "type"),
        json_col("customization"),
    ),
)

products = EntitySpec(
    name="products",
    description="products <- dispatch_product",
    source=Source.table(
        "dispatch_product",
        (
            "name",
            "description",
            "free",
            "deleted",
            "customization",
            "type",
            "substitute",
            "course_id",
        ),
    ),
    target="products",
    legacy_column="legacy_product_id",
    refs=(
        Ref(
            name="course",
            entity="courses",
            source="course_id",
            column="course_id",
            legacy_column="legacy_course_id",
        ),
    ),
    columns=(
        copied("name"),
        copied("description"),
        copied("is_free", "free"),
        copied("is_substitute", "substitute"),
        Col("deleted", "coalesce(s.deleted, false)"),
        copied("legacy_type", "type"),
        json_col("customization"),
    ),
)

teams = EntitySpec(
    name="teams",
    description="teams <- auth_group",
    source=Source.table("auth_group", ("name",)),
    target="teams",
    legacy_column="legacy_group_id",
    columns=(copied("name"),),
)

ORDER_STATUS = {
    0: "no_product",
    1: "submitted",
    2: "approved",
    3: "in_production",
    4: "shipped",
    5: "cancelled",
    6: "on_hold",
}
# "approved_at = updated_at when status >= 2": the known codes from 2 up. An unknown code (99)
# says nothing about an approval, so it gets no approved_at.
APPROVED_CODES = tuple(code for code in ORDER_STATUS if code >= 2)
CLINICAL_FIELDS = (
    "model",
    "order",
    "scanner",
    "scanner_notes",
    "cbct",
    "conditions",
    "accept_extraction",
    "objective",
    "comprehensive",
)
INSTRUCTION_COLUMNS = (
    "id",
    "patient_id",
    "course_id",
    "status",
    "deleted",
    "submitted_at",
    "updated_at",
    "notes",
    "complaint",
    "price",
    "suffix",
    "exports",
    *CLINICAL_FIELDS,
    "upper_jaw_id",
    "lower_jaw_id",
)

orders = EntitySpec(
    name="orders",
    description="orders <- dispatch_instruction",
    source=Source(
        # The patient by its primary key: doctor, office and suffix come from it.
        query="SELECT "
        + ", ".join(f'i."{c}"' for c in INSTRUCTION_COLUMNS)
        + """, p.doctor_id AS patient_doctor_id, p.office_id AS patient_office_id,
               p.suffix AS patient_suffix
          FROM dispatch_instruction i
          LEFT JOIN dispatch_patient p ON p.id = i.patient_id""",
        reads={
            "dispatch_instruction": INSTRUCTION_COLUMNS,
            "dispatch_patient": ("id", "doctor_id", "office_id", "suffix"),
        },
    ),
    target="orders",
    legacy_column="legacy_instruction_id",
    refs=(
        Ref(
            name="patient",
            entity="patients",
            source="patient_id",
            column="patient_id",
            required=True,
        ),
        doctor_ref("patient_doctor_id"),
        office_ref("patient_office_id"),
        Ref(
            name="course",
            entity="courses",
            source="course_id",
            column="course_id",
            legacy_column="legacy_course_id",
        ),
    ),
    columns=(
        # The patient's suffix, cleaned; the id alone when the suffix is NULL or blank.
        Col(
            "order_number",
            "coalesce(nullif(migration.clean_text(s.patient_suffix), '') || '-', '') || s.id::text",
        ),
        *enum_cols("status", "public.order_status", "status", ORDER_STATUS),
        Col(
            "approved_at",
            f"(CASE WHEN s.status IN ({', '.join(map(str, APPROVED_CODES))})"
            " THEN s.updated_at END)",
        ),
        Col("shipped_at", "(CASE WHEN s.status = 4 THEN s.updated_at END)"),
        copied("amount", "price"),
        copied("notes"),
        copied("complaint"),
        copied("suffix"),
        # '{}' (the legacy "nothing exported") is NULL; text that is not JSON too, raw kept.
        Col(
            "exports",
            "nullif(migration.try_jsonb(s.exports), '{}'::jsonb)",
            raw="exports",
            issue="invalid_json",
            issue_when=f"({computed('exports')} IS NULL"
            " AND migration.clean_text(s.exports) NOT IN ('', '{{}}')"
            " AND migration.try_jsonb(s.exports) IS NULL)",
        ),
        Col(
            "clinical",
            "jsonb_build_object(" + ", ".join(f"'{c}', s.\"{c}\"" for c in CLINICAL_FIELDS) + ")",
        ),
        copied("submitted_at"),
        Col("deleted", "coalesce(s.deleted, false)"),
        Col("deleted_at", "(CASE WHEN s.deleted THEN s.updated_at END)"),
        copied("legacy_upper_jaw_id", "upper_jaw_id"),
        copied("legacy_lower_jaw_id", "lower_jaw_id"),
        copied("created_at", "submitted_at"),
        copied("updated_at"),
    ),
    money=(("price", "amount"),),
)

JAW_REASON = {1: "breakage", 2: "other", 3: "complete"}
_jaw_reason, _jaw_legacy_reason = enum_cols(
    "replacement_reason", "public.jaw_replacement_reason", "reason", JAW_REASON
)

jaws = EntitySpec(
    name="jaws",
    description="jaws <- dispatch_jaw (side and order from the instructions naming them)",
    source=Source(
        # The instructions naming the jaw, through the indexes on upper_jaw_id and lower_jaw_id.
        # char(16) is read as text: the staging table would type a bare `character` as char(1).
        query="""
        SELECT j.id, j.bond_teeth::text AS bond_teeth, j.extract_teeth::text AS extract_teeth,
               j.reason, j.product_id, j.labial,
               least(r.first_upper, r.first_lower) AS instruction_id,
               r.first_upper, r.first_lower, r.instructions_count
          FROM dispatch_jaw j
         CROSS JOIN LATERAL (
               SELECT min(i.id) FILTER (WHERE i.upper_jaw_id = j.id) AS first_upper,
                      min(i.id) FILTER (WHERE i.lower_jaw_id = j.id) AS first_lower,
                      count(*) AS instructions_count
                 FROM dispatch_instruction i
                WHERE i.upper_jaw_id = j.id OR i.lower_jaw_id = j.id) AS r""",
        reads={
            "dispatch_jaw": ("id", "bond_teeth", "extract_teeth", "reason", "product_id", "labial"),
            "dispatch_instruction": ("id", "upper_jaw_id", "lower_jaw_id"),
        },
    ),
    target="jaws",
    legacy_column="legacy_jaw_id",
    refs=(
        Ref(
            name="order",
            entity="orders",
            source="instruction_id",
            column="order_id",
            legacy_column="legacy_instruction_id",
        ),
        Ref(
            name="product",
            entity="products",
            source="product_id",
            column="product_id",
            legacy_column="legacy_product_id",
        ),
    ),
    columns=(
        # The lowest instruction naming the jaw decides; naming it on both sides reads as upper.
        Col(
            "jaw_type",
            """(CASE WHEN s.instruction_id IS NULL THEN 'unassigned'
                     WHEN s.first_upper = s.instruction_id THEN 'upper'
                     ELSE 'lower' END)::public.jaw_type""",
        ),
        copied("bond_teeth"),
        copied("extract_teeth"),
        copied("labial"),
        # NULL is "no replacement" (none), not an unknown code.
        replace(
            _jaw_reason,
            expr=f"(CASE WHEN s.reason IS NULL THEN 'none' ELSE {_jaw_reason.expr} END)",
        ),
        _jaw_legacy_reason,
    ),
    issues=(
        Issue("unreferenced_jaw", "order_id", "s.instruction_id IS NULL"),
        Issue("shared_jaw", "order_id", "s.instructions_count > 1"),
        Issue("jaw_on_both_sides", "jaw_type", "s.first_upper = s.first_lower"),
    ),
)

cases = EntitySpec(
    name="cases",
    description="cases <- dispatch_patient (one case per migrated patient)",
    source=Source.table(
        "dispatch_patient", ("doctor_id", "office_id", "status", "submitted_at", "updated_at")
    ),
    target="cases",
    legacy_column="legacy_patient_id",
    refs=(
        Ref(name="patient", entity="patients", source="id", column="patient_id", required=True),
        doctor_ref(),
        office_ref(),
    ),
    columns=(
        Col("case_number", "'CASE-' || s.id::text"),
        *enum_cols("status", "public.patient_status", "status", PATIENT_STATUS),
        copied("created_at", "submitted_at"),
        copied("updated_at"),
    ),
)

order_cases = EntitySpec(
    name="order_cases",
    description="order_cases <- orders x cases (the order's patient's case)",
    source=Source.table("dispatch_instruction", ("patient_id",)),
    target="order_cases",
    legacy_column="legacy_instruction_id",
    refs=(
        Ref(name="order", entity="orders", source="id", column="order_id", required=True),
        Ref(name="case", entity="cases", source="patient_id", column="case_id", required=True),
    ),
    columns=(),
)

ORDER_STATE_STATUS = {
    11: "review_approval",
    12: "processing",
    13: "manufacturing",
    14: "shipped",
    15: "delivered",
    16: "completed",
    17: "cancelled",
    18: "on_hold",
}

order_states = EntitySpec(
    name="order_states",
    description="order_states <- dispatch_state",
    source=Source.table(
        "dispatch_state", ("status", "on", "changed_at", "actor_id", "instruction_id")
    ),
    target="order_states",
    legacy_column="legacy_state_id",
    refs=(
        Ref(
            name="order", entity="orders", source="instruction_id", column="order_id", required=True
        ),
        Ref(
            name="changed_by",
            entity="profiles",
            source="actor_id",
            column="changed_by",
            legacy_column="legacy_changed_by_user_id",
        ),
    ),
    columns=(
        # The raw code is status_code itself (an integer: no code is out of its range).
        Col("status_code", "s.status"),
        enum_cols("status_name", "public.order_state_status_name", "status", ORDER_STATE_STATUS)[0],
        Col("is_active", 's."on"'),
        copied("changed_at"),
        copied("created_at", "changed_at"),
    ),
)

PROJECT_TYPE = {
    0: "stl_upper",
    1: "stl_lower",
    2: "clinical_photo",
    3: "treatment_plan",
    4: "xray",
    5: "cbct_scan",
    10: "simulation",
    11: "aligner_design",
}
PROJECT_STATUS = {0: "draft", 1: "in_progress", 2: "completed", 3: "archived"}

projects = EntitySpec(
    name="projects",
    description="projects <- dispatch_project",
    source=Source.table(
        "dispatch_project",
        ("uid", "created_at", "name", "size", "public", "type", "status", "creator_id"),
    ),
    target="projects",
    legacy_column="legacy_project_id",
    refs=(
        Ref(
            name="creator",
            entity="profiles",
            source="creator_id",
            column="creator_id",
            legacy_column="legacy_creator_user_id",
        ),
    ),
    columns=(
        copied("name"),
        *enum_cols("project_type", "public.project_type", "type", PROJECT_TYPE, "legacy_type"),
        *enum_cols("status", "public.project_status", "status", PROJECT_STATUS),
        copied("file_uid", "uid"),
        copied("file_size_bytes", "size"),
        Col("is_public", 's."public"'),
        copied("created_at"),
    ),
)

treatment_plans = EntitySpec(
    name="treatment_plans",
    description="treatment_plans <- dispatch_plan",
    source=Source.table(
        "dispatch_plan", ("instruction_id", "project_id", "notes", "number", "name", "original")
    ),
    target="treatment_plans",
    legacy_column="legacy_plan_id",
    refs=(
        Ref(
            name="project",
            entity="projects",
            source="project_id",
            column="project_id",
            required=True,
        ),
        Ref(
            name="order",
            entity="orders",
            source="instruction_id",
            column="order_id",
            legacy_column="legacy_instruction_id",
        ),
    ),
    columns=(
        Col("plan_number", 's."number"'),
        Col("plan_name", 's."name"'),
        Col("plan_notes", "s.notes"),
        Col("is_original", "s.original"),
    ),
)

brackets = EntitySpec(
    name="brackets",
    description="brackets <- dispatch_bracket",
    source=Source.table("dispatch_bracket", ("name", "project_id", "type")),
    target="brackets",
    legacy_column="legacy_bracket_id",
    refs=(
        Ref(
            name="project",
            entity="projects",
            source="project_id",
            column="project_id",
            required=True,
        ),
    ),
    columns=(copied("name"), copied("legacy_type", "type")),
)

ENTITIES = (
    courses,
    products,
    teams,
    orders,
    jaws,
    cases,
    order_cases,
    order_states,
    projects,
    treatment_plans,
    brackets,
)
