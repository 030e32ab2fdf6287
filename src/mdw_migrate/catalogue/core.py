"""Core and core-with-patients: offices, profiles, doctors, doctor_offices, patients.

Each entity follows `../shared/spec/mapping.md` ("Entity rules"); decisions the spec leaves
open are written in docs/DECISIONS.md.
"""

from __future__ import annotations

from ..engine.spec import Col, EntitySpec, Issue, Ref, Rule, Source, enum_cols
from .rules import python_literal_to_json

# Every user who is in group Doctor, or has a doctorsetting row, or is named as a doctor by
# office_doctors, patient, note, offer or payment (mapping.md, "The doctor set").
DOCTOR_GROUP_USERS = (
    "SELECT ug.user_id FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id"
    " WHERE g.name = 'Doctor'"
)
DOCTOR_SET = f"""
    {DOCTOR_GROUP_USERS}
    UNION SELECT user_id FROM dispatch_doctorsetting
    UNION SELECT user_id FROM dispatch_office_doctors
    UNION SELECT doctor_id FROM dispatch_patient
    UNION SELECT doctor_id FROM dispatch_note
    UNION SELECT doctor_id FROM dispatch_offer
    UNION SELECT doctor_id FROM dispatch_payment
"""
DOCTOR_SET_READS: dict[str, tuple[str, ...]] = {
    "auth_user_groups": ("user_id", "group_id"),
    "auth_group": ("id", "name"),
    "dispatch_doctorsetting": ("user_id",),
    "dispatch_office_doctors": ("user_id",),
    "dispatch_patient": ("doctor_id",),
    "dispatch_note": ("doctor_id",),
    "dispatch_offer": ("doctor_id",),
    "dispatch_payment": ("doctor_id",),
}


def doctor_ref(source: str = "doctor_id") -> Ref:
    """A doctor named by a legacy user id: optional, the legacy id kept next to it (rule 5)."""
    return Ref(
        name="doctor",
        entity="doctors",
        source=source,
        column="doctor_id",
        legacy_column="legacy_doctor_user_id",
    )


def office_ref(source: str = "office_id") -> Ref:
    """An office: optional, the legacy id kept next to it (rule 5)."""
    return Ref(
        name="office",
        entity="offices",
        source=source,
        column="office_id",
        legacy_column="legacy_office_id",
    )


def cleaned(name: str, source: str | None = None) -> Col:
    return Col(name, f"migration.clean_text(s.{source or name})")


def copied(name: str, source: str | None = None) -> Col:
    return Col(name, f"s.{source or name}")


# A placeholder birth date (1900) or a date in the future migrates as it is, listed as an issue.
def date_issues(column: str, source: str) -> tuple[Issue, Issue]:
    return (
        Issue("placeholder_date", column, f"s.{source} < DATE '1901-01-01'"),
        Issue("future_date", column, f"s.{source} > now()"),
    )


offices = EntitySpec(
    name="offices",
    description="offices <- dispatch_office",
    source=Source.table(
        "dispatch_office",
        (
            "name",
            "address",
            "apt",
            "city",
            "state",
            "zip",
            "country",
            "phone",
            "tax_rate",
            "valid",
            "sq_customer_id",
            "emails",
        ),
    ),
    target="offices",
    legacy_column="legacy_office_id",
    columns=(
        cleaned("name"),
        cleaned("address"),
        cleaned("apartment", "apt"),
        cleaned("city"),
        cleaned("state"),
        cleaned("zip_code", "zip"),
        cleaned("phone"),
        Col(
            "country",
            "migration.country_iso2(s.country)",
            raw="country",
            issue="unknown_country",
            # Blank text is no country at all, not an unknown one.
            issue_when="(migration.country_iso2(s.country) IS NULL"
            " AND migration.country_key(s.country) IS NOT NULL)",
        ),
        copied("tax_rate"),
        copied("is_active", "valid"),
        copied("email_notifications", "emails"),
        copied("square_customer_id", "sq_customer_id"),
    ),
)

profiles = EntitySpec(
    name="profiles",
    description="profiles <- auth_user",
    source=Source(
        query=f"""
        SELECT u.id, u.password, u.last_login, u.is_superuser, u.username, u.first_name,
               u.last_name, u.email, u.is_staff, u.is_active, u.date_joined,
               ARRAY(SELECT lower(g.name) FROM auth_user_groups ug
                       JOIN auth_group g ON g.id = ug.group_id
                      WHERE ug.user_id = u.id ORDER BY 1) AS group_names,
               u.id IN ({DOCTOR_SET}) AS in_doctor_set,
               EXISTS (SELECT 1 FROM dispatch_patient p WHERE p.user_id = u.id) AS has_patient
          FROM auth_user u""",
        reads={
            "auth_user": (
                "id",
                "password",
                "last_login",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ),
            **DOCTOR_SET_READS,
            "dispatch_patient": ("user_id", "doctor_id"),
        },
    ),
    target="profiles",
    legacy_column="legacy_user_id",
    columns=(
        # The highest group wins; without one of the five, the flags and facts decide.
        Col(
            "profile_type",
            """(CASE WHEN 'master' = ANY (s.group_names) THEN 'master'
                     WHEN 'administrator' = ANY (s.group_names) THEN 'admin'
                     WHEN 'technician' = ANY (s.group_names) THEN 'technician'
                     WHEN 'doctor' = ANY (s.group_names) THEN 'doctor'
                     WHEN 'patient' = ANY (s.group_names) THEN 'patient'
                     WHEN s.is_superuser THEN 'master'
                     WHEN s.is_staff THEN 'admin'
                     WHEN s.in_doctor_set THEN 'doctor'
                     WHEN s.has_patient THEN 'patient'
                     ELSE 'other' END)::public.profile_type""",
        ),
        Col(
            "email",
            "migration.normalize_email(s.email)",
            raw="email",
            issue="invalid_email",
            # A blank email is no email: NULL, not an issue.
            issue_when="(migration.normalize_email(s.email) IS NULL"
            " AND coalesce(migration.clean_text(s.email), '') <> '')",
        ),
        copied("username"),
        copied("first_name"),
        copied("last_name"),
        copied("is_active"),
        copied("is_staff"),
        copied("is_superuser"),
        copied("password_hash", "password"),
        copied("last_login_at", "last_login"),
        copied("created_at", "date_joined"),
    ),
    duplicates=("email",),
    issues=(
        Issue(
            "test_account",
            "email",
            "(s.email ~* '(test|demo)' OR s.username ~* '(test|demo)'"
            " OR s.first_name ~* '(test|demo)' OR s.last_name ~* '(test|demo)')",
        ),
    ),
)

doctors = EntitySpec(
    name="doctors",
    description="doctors <- the doctor set + dispatch_doctorsetting",
    source=Source(
        query=f"""
        SELECT u.id AS user_id, u.is_active, ds.id AS doctorsetting_id,
               ds.clinical_preferences, ds.sq_customer_id, ds.promised_payment, ds.credit,
               ds.tier_type, ds.tier_finish, ds.installment_payments, ds.baa_agreed_at,
               ds.eula_agreed_at, ds.company_account,
               (SELECT od.office_id FROM dispatch_office_doctors od
                 WHERE od.user_id = u.id ORDER BY od.id LIMIT 1) AS primary_office_id
          FROM auth_user u
          LEFT JOIN dispatch_doctorsetting ds ON ds.user_id = u.id
         WHERE u.id IN ({DOCTOR_SET})""",
        key="user_id",
        reads={
            "auth_user": ("id", "is_active"),
            **DOCTOR_SET_READS,
            "dispatch_doctorsetting": (
                "id",
                "user_id",
                "clinical_preferences",
                "sq_customer_id",
                "promised_payment",
                "credit",
                "tier_type",
                "tier_finish",
                "installment_payments",
                "baa_agreed_at",
                "eula_agreed_at",
                "company_account",
            ),
            "dispatch_office_doctors": ("id", "user_id", "office_id"),
        },
    ),
    target="doctors",
    legacy_column="legacy_user_id",
    refs=(
        Ref(
            name="profile", entity="profiles", source="user_id", column="profile_id", required=True
        ),
        Ref(
            name="primary_office",
            entity="offices",
            source="primary_office_id",
            column="primary_office_id",
            legacy_column="legacy_primary_office_id",
        ),
    ),
    columns=(
        Col("doctor_number", "migration.padded_number('DOC-', s.user_id)"),
        Col(
            "status",
            "(CASE WHEN s.is_active THEN 'active' ELSE 'inactive' END)::public.doctor_status",
        ),
        copied("clinical_preferences"),
        copied("square_customer_id", "sq_customer_id"),
        copied("credit"),
        copied("promised_payment"),
        copied("installment_payments"),
        copied("company_account"),
        copied("tier_type"),
        copied("tier_finish"),
        copied("baa_agreed_at"),
        copied("eula_agreed_at"),
        copied("legacy_doctorsetting_id", "doctorsetting_id"),
    ),
    money=(("credit", "credit"),),
)

doctor_offices = EntitySpec(
    name="doctor_offices",
    description="doctor_offices <- dispatch_office_doctors",
    source=Source(
        query="""
        SELECT od.id, od.office_id, od.user_id,
               NOT EXISTS (SELECT 1 FROM dispatch_office_doctors e
                            WHERE e.user_id = od.user_id AND e.id < od.id) AS is_primary,
               EXISTS (SELECT 1 FROM dispatch_office_doctors e
                        WHERE e.user_id = od.user_id AND e.office_id = od.office_id
                          AND e.id < od.id) AS is_duplicate
          FROM dispatch_office_doctors od""",
        reads={"dispatch_office_doctors": ("id", "office_id", "user_id")},
    ),
    target="doctor_offices",
    legacy_column="legacy_office_doctors_id",
    refs=(
        Ref(name="doctor", entity="doctors", source="user_id", column="doctor_id", required=True),
        Ref(name="office", entity="offices", source="office_id", column="office_id", required=True),
    ),
    columns=(Col("is_primary", "s.is_primary"),),
    rules=(Rule("DUPLICATE_LINK", "s.is_duplicate"),),
)

PATIENT_STATUS = {
    1: "active",
    2: "on_hold",
    3: "in_treatment",
    4: "active",
    5: "retention",
    6: "completed",
    7: "cancelled",
    8: "transferred",
    9: "consultation",
    10: "archived",
}

patients = EntitySpec(
    name="patients",
    description="patients <- dispatch_patient",
    source=Source.table(
        "dispatch_patient",
        (
            "user_id",
            "doctor_id",
            "office_id",
            "birthdate",
            "sex",
            "suffix",
            "archived",
            "suspended",
            "status",
            "schemes",
            "submitted_at",
            "updated_at",
        ),
    ),
    target="patients",
    legacy_column="legacy_patient_id",
    refs=(
        Ref(
            name="profile", entity="profiles", source="user_id", column="profile_id", required=True
        ),
        doctor_ref(),
        office_ref(),
    ),
    columns=(
        Col("patient_number", "migration.padded_number('PAT-', s.id)"),
        copied("date_of_birth", "birthdate"),
        *enum_cols("sex", "public.patient_sex", "sex", {1: "male", 2: "female"}),
        copied("suffix"),
        *enum_cols("status", "public.patient_status", "status", PATIENT_STATUS),
        Col("archived", "coalesce(s.archived, false)"),
        Col("suspended", "coalesce(s.suspended, false)"),
        Col(
            "schemes",
            "migration.try_jsonb(s.schemes)",
            raw="schemes",
            issue="invalid_json",
            fallback=python_literal_to_json,
            fallback_issue="python_literal_json",
        ),
        copied("enrolled_at", "submitted_at"),
        copied("created_at", "submitted_at"),
        copied("updated_at"),
    ),
    issues=date_issues("date_of_birth", "birthdate"),
)

ENTITIES = (offices, profiles, doctors, doctor_offices, patients)
