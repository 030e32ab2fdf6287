"""Activity: files, order_files, case_files, tasks, messages, team_communications,
message_attachments, message_roles, treatment_discussions, customer_feedback, doctor_notes,
system_messages.

Each entity follows `../shared/spec/mapping.md` ("Entity rules"); decisions the spec leaves
open are written in docs/DECISIONS.md. Polymorphic columns (dispatch_record.target_type_id,
dispatch_notification.item_type_id) are resolved by joining django_content_type and comparing
(app_label, model), never by id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.spec import Col, EntitySpec, Issue, Ref, Rule, Source, enum_cols
from .core import DOCTOR_SET, DOCTOR_SET_READS, copied

# --- files -------------------------------------------------------------------------------------

# The extension as a lookup key: trimmed (blanks and a leading dot), lower-cased.
EXT_KEY = r"lower(btrim(s.ext, E' \t\r\n.'))"

# MIME type by extension; an extension not listed (or none) is application/octet-stream.
MIME_TYPES: Mapping[str, str] = {
    "stl": "model/stl",
    "ply": "model/x-ply",
    "obj": "model/obj",
    "3mf": "model/3mf",
    "dcm": "application/dicom",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "heic": "image/heic",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "xml": "application/xml",
    "html": "text/html",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
    "rar": "application/vnd.rar",
    "tar": "application/x-tar",
    "gz": "application/gzip",
    "7z": "application/x-7z-compressed",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
}
DEFAULT_MIME_TYPE = "application/octet-stream"

# order_files.category: the extension decides when it is one of these; otherwise the file type
# (6-7 scan, 8 image); otherwise other.
CATEGORY_BY_EXT: Mapping[str, str] = {
    "stl": "scan",
    "ply": "scan",
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "gif": "image",
    "pdf": "document",
    "zip": "package",
    "rar": "package",
    "tar": "package",
}
CATEGORY_BY_TYPE: Mapping[int, str] = {6: "scan", 7: "scan", 8: "image"}

# case_files.file_purpose by file type; any other type is other.
PURPOSE_BY_TYPE: Mapping[int, str] = {
    1: "photos",
    3: "photos",
    4: "photos",
    5: "photos",
    2: "models",
    6: "treatment_plan",
    7: "treatment_plan",
    8: "treatment_plan",
    9: "instruction_files",
    10: "instruction_files",
    11: "instruction_files",
    12: "instruction_files",
    13: "instruction_files",
}
FILE_TYPES = range(1, 14)  # the documented dispatch_file.type codes


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mime_type_sql(ext_key: str = EXT_KEY) -> str:
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in MIME_TYPES.items())
    return f"(CASE {ext_key} {cases} ELSE {_literal(DEFAULT_MIME_TYPE)} END)"


def category_sql(ext_key: str = EXT_KEY, file_type: str = "s.type") -> str:
    by_ext = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in CATEGORY_BY_EXT.items())
    by_type = " ".join(f"WHEN {int(k)} THEN {_literal(v)}" for k, v in CATEGORY_BY_TYPE.items())
    return (
        f"(coalesce(CASE {ext_key} {by_ext} END, CASE {file_type} {by_type} END, 'other'))"
        "::public.order_file_category"
    )


def purpose_sql(file_type: str = "s.type") -> str:
    cases = " ".join(f"WHEN {int(k)} THEN {_literal(v)}" for k, v in PURPOSE_BY_TYPE.items())
    return f"(CASE {file_type} {cases} ELSE 'other' END)::public.case_file_purpose"


FILE_COLUMNS = (
    "uid",
    "name",
    "ext",
    "size",
    "type",
    "instruction_id",
    "created_at",
    "description",
    "product_id",
    "parameters",
    "record_id",
    "status",
)

files = EntitySpec(
    name="files",
    description="files <- dispatch_file",
    source=Source.table("dispatch_file", FILE_COLUMNS),
    target="files",
    legacy_column="legacy_file_id",
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
        copied("file_uid", "uid"),
        # name + '.' + ext when the extension is set (blanks and a leading dot trimmed).
        Col(
            "filename",
            r"(CASE WHEN btrim(s.ext, E' \t\r\n.') <> ''"
            r" THEN s.name || '.' || btrim(s.ext, E' \t\r\n.') ELSE s.name END)",
        ),
        Col("file_type", f"nullif({EXT_KEY}, '')"),
        Col("mime_type", mime_type_sql()),
        copied("size_bytes", "size"),
        copied("legacy_type", "type"),
        copied("status"),
        Col(
            "parameters",
            "migration.try_jsonb(s.parameters)",
            raw="parameters",
            issue="invalid_json",
        ),
        copied("description"),
        copied("uploaded_at", "created_at"),
        copied("created_at"),
        copied("legacy_record_id", "record_id"),
    ),
    issues=(
        Issue(
            "unknown_code",
            "legacy_type",
            f"s.type NOT BETWEEN {FILE_TYPES.start} AND {FILE_TYPES.stop - 1}",
        ),
        Issue("future_date", "uploaded_at", "s.created_at > now()"),
    ),
)

# Derived entities read the files that have an instruction: those are their source rows.
order_files = EntitySpec(
    name="order_files",
    description="order_files <- files that have an order",
    source=Source(
        query="SELECT f.id, f.instruction_id, f.ext, f.type, f.created_at FROM dispatch_file f"
        " WHERE f.instruction_id IS NOT NULL",
        reads={"dispatch_file": ("id", "instruction_id", "ext", "type", "created_at")},
        rows_of="dispatch_file",
    ),
    target="order_files",
    legacy_column="legacy_file_id",
    refs=(
        Ref(name="file", entity="files", source="id", column="file_id", required=True),
        Ref(
            name="order", entity="orders", source="instruction_id", column="order_id", required=True
        ),
    ),
    columns=(
        Col("category", category_sql()),
        copied("legacy_type", "type"),
        copied("created_at"),
    ),
)

case_files = EntitySpec(
    name="case_files",
    description="case_files <- files -> order -> patient -> case",
    source=Source(
        query="""
        SELECT f.id, f.type, f.created_at,
               (SELECT i.patient_id FROM dispatch_instruction i
                 WHERE i.id = f.instruction_id) AS patient_id
          FROM dispatch_file f
         WHERE f.instruction_id IS NOT NULL""",
        reads={
            "dispatch_file": ("id", "instruction_id", "type", "created_at"),
            "dispatch_instruction": ("id", "patient_id"),
        },
    ),
    target="case_files",
    legacy_column="legacy_file_id",
    refs=(
        Ref(name="file", entity="files", source="id", column="file_id", required=True),
        # cases are keyed by their patient's legacy id.
        Ref(name="case", entity="cases", source="patient_id", column="case_id", required=True),
    ),
    columns=(
        Col("file_purpose", purpose_sql()),
        copied("legacy_type", "type"),
        copied("created_at"),
    ),
)

# --- tasks -------------------------------------------------------------------------------------

tasks = EntitySpec(
    name="tasks",
    description="tasks <- dispatch_task",
    source=Source.table(
        "dispatch_task",
        (
            "checked",
            "file_id",
            "template_id",
            "done_at",
            "text",
            "plan_id",
            "instruction_id",
            "actor_id",
            "jaw",
        ),
    ),
    target="tasks",
    legacy_column="legacy_task_id",
    refs=(
        Ref(
            name="order", entity="orders", source="instruction_id", column="order_id", required=True
        ),
        Ref(
            name="template",
            entity="templates",
            source="template_id",
            column="template_id",
            legacy_column="legacy_template_id",
        ),
        Ref(
            name="assignee",
            entity="profiles",
            source="actor_id",
            column="assigned_to",
            legacy_column="legacy_assigned_user_id",
        ),
        Ref(
            name="file",
            entity="files",
            source="file_id",
            column="file_id",
            legacy_column="legacy_file_id",
        ),
        Ref(
            name="treatment_plan",
            entity="treatment_plans",
            source="plan_id",
            column="treatment_plan_id",
            legacy_column="legacy_plan_id",
        ),
    ),
    columns=(
        copied("description", "text"),
        Col(
            "status",
            "(CASE WHEN s.done_at IS NOT NULL THEN 'completed' WHEN s.checked THEN 'in_progress'"
            " ELSE 'pending' END)::public.task_status",
        ),
        copied("checked"),
        copied("completed_at", "done_at"),
        copied("jaw"),
    ),
)

# --- records: messages and team_communications ------------------------------------------------

RECORD_TYPES = {3: "support", 5: "clinical_note", 6: "notification", 8: "status_update"}
RECORD_COLUMNS = ("id", "target_type_id", "target_id", "type", "created_at", "text",
                  "author_id", "group_id", "public")  # fmt: skip
RECORD_READS: dict[str, tuple[str, ...]] = {
    "dispatch_record": RECORD_COLUMNS,
    "django_content_type": ("id", "app_label", "model"),
}
# The record's content type, joined on id and then judged by (app_label, model) only.
IS_PATIENT = "(ct.app_label = 'dispatch' AND ct.model = 'patient')"
IS_USER = "(ct.app_label = 'auth' AND ct.model = 'user')"


def record_columns() -> tuple[Col, ...]:
    return (
        *enum_cols(
            "message_type", "public.message_type", "type", RECORD_TYPES, legacy_column="legacy_type"
        ),
        copied("body", "text"),
        copied("is_public", "public"),
        copied("created_at"),
    )


def author_ref() -> Ref:
    return Ref(
        name="author",
        entity="profiles",
        source="author_id",
        column="author_id",
        legacy_column="legacy_author_user_id",
    )


messages = EntitySpec(
    name="messages",
    description="messages <- dispatch_record aimed at a patient",
    source=Source(
        query=f"""
        SELECT r.id, r.target_id AS patient_id, r.type, r.created_at, r.text, r.author_id,
               r.group_id, r.public
          FROM dispatch_record r
          JOIN django_content_type ct ON ct.id = r.target_type_id
         WHERE {IS_PATIENT}""",
        reads=RECORD_READS,
        rows_of="dispatch_record",
    ),
    target="messages",
    legacy_column="legacy_record_id",
    refs=(
        Ref(
            name="patient",
            entity="patients",
            source="patient_id",
            column="patient_id",
            required=True,
        ),
        author_ref(),
    ),
    # The spec gives messages no team: a record's group is kept as its legacy id.
    columns=(*record_columns(), copied("legacy_group_id", "group_id")),
)

team_communications = EntitySpec(
    name="team_communications",
    description="team_communications <- every other dispatch_record",
    source=Source(
        query=f"""
        SELECT r.id, r.target_type_id, r.target_id, r.type, r.created_at, r.text, r.author_id,
               r.group_id, r.public,
               ct.app_label || '.' || ct.model AS target_type,
               CASE WHEN {IS_USER} THEN r.target_id END AS recipient_user_id
          FROM dispatch_record r
          LEFT JOIN django_content_type ct ON ct.id = r.target_type_id
         WHERE ct.id IS NULL OR NOT {IS_PATIENT}""",
        reads=RECORD_READS,
        rows_of="dispatch_record",
    ),
    target="team_communications",
    legacy_column="legacy_record_id",
    refs=(
        Ref(
            name="recipient",
            entity="profiles",
            source="recipient_user_id",
            column="recipient_profile_id",
            legacy_column="legacy_recipient_user_id",
        ),
        Ref(
            name="team",
            entity="teams",
            source="group_id",
            column="team_id",
            legacy_column="legacy_group_id",
        ),
        author_ref(),
    ),
    columns=(
        # A content type id that django_content_type does not have: NULL, the id kept (rule 2).
        Col(
            "legacy_target_type",
            "s.target_type",
            raw="target_type_id",
            issue="unknown_content_type",
        ),
        copied("legacy_target_id", "target_id"),
        *record_columns(),
    ),
)

# --- message attachments and roles -------------------------------------------------------------

# The key of a link held only by dispatch_file.record_id: beyond every attachments id.
FILE_LINK_OFFSET = 4294967296


def _record_holders() -> tuple[Ref, Ref]:
    # A record is held by exactly one of the two tables; neither is an issue on its own.
    return (
        Ref(
            name="message", entity="messages", source="record_id", column="message_id", issue=False
        ),
        Ref(
            name="team_communication",
            entity="team_communications",
            source="record_id",
            column="team_communication_id",
            issue=False,
        ),
    )


ORPHAN_RECORD = Rule(
    "ORPHAN_RECORD", "(r_message IS NULL AND r_team_communication IS NULL)", outcome="rejected"
)

message_attachments = EntitySpec(
    name="message_attachments",
    description="message_attachments <- dispatch_record_attachments + dispatch_file.record_id",
    source=Source(
        # A pair repeated in the attachments table keeps its lowest id; a file link that the
        # attachments table already has is the duplicate.
        query=f"""
        SELECT a.id::bigint AS id, 'record_attachments' AS link_source, a.record_id, a.file_id,
               EXISTS (SELECT 1 FROM dispatch_record_attachments e
                        WHERE e.record_id = a.record_id AND e.file_id = a.file_id
                          AND e.id < a.id) AS is_duplicate
          FROM dispatch_record_attachments a
        UNION ALL
        SELECT {FILE_LINK_OFFSET} + f.id, 'file_record_id', f.record_id, f.id,
               EXISTS (SELECT 1 FROM dispatch_record_attachments e
                        WHERE e.record_id = f.record_id AND e.file_id = f.id)
          FROM dispatch_file f
         WHERE f.record_id IS NOT NULL""",
        reads={
            "dispatch_record_attachments": ("id", "record_id", "file_id"),
            "dispatch_file": ("id", "record_id"),
        },
    ),
    target="message_attachments",
    legacy_column="legacy_attachment_id",
    refs=(
        *_record_holders(),
        Ref(name="file", entity="files", source="file_id", column="file_id", required=True),
    ),
    columns=(
        Col("link_source", "s.link_source::public.message_attachment_source"),
        copied("legacy_record_id", "record_id"),
        copied("legacy_file_id", "file_id"),
    ),
    rules=(ORPHAN_RECORD, Rule("DUPLICATE_LINK", "s.is_duplicate")),
)

message_roles = EntitySpec(
    name="message_roles",
    description="message_roles <- dispatch_record_roles",
    source=Source(
        query="""
        SELECT rr.id, rr.record_id, rr.role_id,
               EXISTS (SELECT 1 FROM dispatch_record_roles e
                        WHERE e.record_id = rr.record_id AND e.role_id = rr.role_id
                          AND e.id < rr.id) AS is_duplicate
          FROM dispatch_record_roles rr""",
        reads={"dispatch_record_roles": ("id", "record_id", "role_id")},
    ),
    target="message_roles",
    legacy_column="legacy_record_roles_id",
    refs=(
        *_record_holders(),
        Ref(name="role", entity="roles", source="role_id", column="role_id", required=True),
    ),
    columns=(copied("legacy_record_id", "record_id"),),
    rules=(ORPHAN_RECORD, Rule("DUPLICATE_LINK", "s.is_duplicate")),
)

# --- discussions, feedback, notes --------------------------------------------------------------

treatment_discussions = EntitySpec(
    name="treatment_discussions",
    description="treatment_discussions <- dispatch_comment",
    source=Source(
        query="""
        SELECT c.id, c.created_at, c.text, c.author_id, c.plan_id, p.instruction_id,
               (SELECT i.patient_id FROM dispatch_instruction i
                 WHERE i.id = p.instruction_id) AS patient_id
          FROM dispatch_comment c
          LEFT JOIN dispatch_plan p ON p.id = c.plan_id""",
        reads={
            "dispatch_comment": ("id", "created_at", "text", "author_id", "plan_id"),
            "dispatch_plan": ("id", "instruction_id"),
            "dispatch_instruction": ("id", "patient_id"),
        },
    ),
    target="treatment_discussions",
    legacy_column="legacy_comment_id",
    refs=(
        Ref(
            name="treatment_plan",
            entity="treatment_plans",
            source="plan_id",
            column="treatment_plan_id",
            required=True,
        ),
        author_ref(),
        # No issue of its own: the plan may have no order (below).
        Ref(
            name="case",
            entity="cases",
            source="patient_id",
            column="case_id",
            legacy_column="legacy_patient_id",
            issue=False,
        ),
    ),
    columns=(copied("body", "text"), copied("created_at")),
    # A plan with an order whose patient has no migrated case is an issue; no order is not.
    issues=(
        Issue("missing_parent", "case_id", "(s.instruction_id IS NOT NULL AND r_case IS NULL)"),
    ),
)


@dataclass(frozen=True)
class KeywordRule:
    """A value chosen when the text holds one of `words` (whole words or phrases, any case,
    inner blanks matching any whitespace) or one of `symbols` (literal, anywhere)."""

    value: str
    words: tuple[str, ...]
    symbols: tuple[str, ...] = ()


# First match wins: a complaint phrased as a question is a complaint.
FEEDBACK_RULES: tuple[KeywordRule, ...] = (
    KeywordRule(
        "complaint",
        (
            "complaint", "complain", "complains", "complained", "unhappy", "not happy",
            "disappointed", "disappointing", "unacceptable", "issue", "issues", "problem",
            "problems", "wrong", "incorrect", "mistake", "mistakes", "error", "errors", "broken",
            "broke", "crack", "cracked", "cracks", "damaged", "defect", "defective", "distorted",
            "does not fit", "doesn't fit", "not fitting", "poor", "bad", "worse", "worst",
            "remake", "redo", "delayed", "painful",
        ),
    ),
    KeywordRule(
        "question",
        (
            "question", "questions", "can you", "could you", "would you", "please advise",
            "please clarify", "wondering", "is it possible",
        ),
        symbols=("?",),
    ),
    KeywordRule(
        "praise",
        (
            "thanks", "thank", "thank you", "great", "excellent", "perfect", "awesome", "amazing",
            "fantastic", "wonderful", "well done", "good job", "pleased", "appreciate",
            "appreciated", "kudos", "bravo", "merci", "parfait", "parfaite", "gracias", "danke",
        ),
    ),
)  # fmt: skip
DEFAULT_FEEDBACK_TYPE = "other"
# Critical whatever the type; otherwise complaints are high and the rest low.
CRITICAL_WORDS: tuple[str, ...] = (
    "urgent", "urgently", "asap", "immediately", "immediate", "emergency",
    "urgente", "inmediata", "inmediato", "inmediatamente", "dringend", "sofort",
)  # fmt: skip

_REGEX_SPECIALS = set("\\.^$*+?()[]{}|")


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _REGEX_SPECIALS else ch for ch in text)


def keyword_regex(words: tuple[str, ...], symbols: tuple[str, ...] = ()) -> str:
    """A PostgreSQL ARE matching any of the words as whole words (\\m ... \\M)."""
    alternatives = []
    if words:
        spelled = (r"\s+".join(_escape(part) for part in word.split()) for word in words)
        alternatives.append(r"\m(?:" + "|".join(spelled) + r")\M")
    alternatives += [_escape(symbol) for symbol in symbols]
    return "|".join(alternatives)


def feedback_type_sql(text: str) -> str:
    """One CASE over `text` (a SQL expression) giving the feedback type, case-insensitive."""
    whens = " ".join(
        f"WHEN {text} ~* {_literal(keyword_regex(rule.words, rule.symbols))}"
        f" THEN {_literal(rule.value)}"
        for rule in FEEDBACK_RULES
    )
    return f"(CASE {whens} ELSE {_literal(DEFAULT_FEEDBACK_TYPE)} END)"


def severity_sql(text: str, feedback_type: str) -> str:
    critical = _literal(keyword_regex(CRITICAL_WORDS))
    return (
        f"(CASE WHEN {text} ~* {critical} THEN 'critical'"
        f" WHEN {feedback_type} = 'complaint' THEN 'high' ELSE 'low' END)"
    )


def classify_python(text: str) -> tuple[str, str]:
    """The same rules in Python (for tests and explanations): (feedback type, severity)."""

    def matches(words: tuple[str, ...], symbols: tuple[str, ...] = ()) -> bool:
        for word in words:
            pattern = r"\s+".join(re.escape(part) for part in word.split())
            if re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE):
                return True
        return any(symbol in text for symbol in symbols)

    kind = next(
        (rule.value for rule in FEEDBACK_RULES if matches(rule.words, rule.symbols)),
        DEFAULT_FEEDBACK_TYPE,
    )
    if matches(CRITICAL_WORDS):
        return kind, "critical"
    return kind, "high" if kind == "complaint" else "low"


customer_feedback = EntitySpec(
    name="customer_feedback",
    description="customer_feedback <- treatment_discussions written by doctors",
    # Classified in the source query: the comment text itself never travels for this entity.
    source=Source(
        query=f"""
        SELECT c.id, c.author_id, c.created_at, k.feedback_type,
               {severity_sql("c.text", "k.feedback_type")} AS severity
          FROM dispatch_comment c
         CROSS JOIN LATERAL (SELECT {feedback_type_sql("c.text")} AS feedback_type) k
         WHERE c.author_id IN ({DOCTOR_SET})""",
        reads={
            **DOCTOR_SET_READS,
            "dispatch_comment": ("id", "author_id", "created_at", "text"),
        },
    ),
    target="customer_feedback",
    legacy_column="legacy_comment_id",
    refs=(
        Ref(
            name="discussion",
            entity="treatment_discussions",
            source="id",
            column="discussion_id",
            required=True,
        ),
        Ref(name="doctor", entity="doctors", source="author_id", column="doctor_id", required=True),
    ),
    columns=(
        Col("feedback_type", "s.feedback_type::public.feedback_type"),
        Col("severity", "s.severity::public.feedback_severity"),
        copied("created_at"),
    ),
)

doctor_notes = EntitySpec(
    name="doctor_notes",
    description="doctor_notes <- dispatch_note",
    source=Source.table("dispatch_note", ("created_at", "text", "author_id", "doctor_id")),
    target="doctor_notes",
    legacy_column="legacy_note_id",
    refs=(
        Ref(name="doctor", entity="doctors", source="doctor_id", column="doctor_id", required=True),
        author_ref(),
    ),
    columns=(copied("body", "text"), copied("created_at")),
)

# --- system_messages: the largest table --------------------------------------------------------

system_messages = EntitySpec(
    name="system_messages",
    description="system_messages <- dispatch_notification",
    source=Source(
        # A join against the tiny django_content_type (hashed once per batch), nothing per row.
        query="""
        SELECT n.id, n.created_at, n.sender, n.template_name, n.template_context, n.read,
               n.item_id, n.item_type_id, n.recipient_id, n.sent, n.send,
               ct.app_label || '.' || ct.model AS item_type,
               CASE WHEN ct.app_label = 'dispatch' AND ct.model = 'instruction'
                    THEN n.item_id END AS instruction_id
          FROM dispatch_notification n
          LEFT JOIN django_content_type ct ON ct.id = n.item_type_id""",
        reads={
            "dispatch_notification": (
                "id",
                "created_at",
                "sender",
                "template_name",
                "template_context",
                "read",
                "item_id",
                "item_type_id",
                "recipient_id",
                "sent",
                "send",
            ),
            "django_content_type": ("id", "app_label", "model"),
        },
        # Each notification's row, and the tiny content-type table as a lookup.
        rows_of="dispatch_notification",
    ),
    target="system_messages",
    legacy_column="legacy_notification_id",
    refs=(
        Ref(
            name="recipient",
            entity="profiles",
            source="recipient_id",
            column="recipient_id",
            legacy_column="legacy_recipient_user_id",
        ),
        # Only an instruction item names an order; its legacy id is legacy_item_id.
        Ref(name="order", entity="orders", source="instruction_id", column="order_id"),
    ),
    columns=(
        copied("template_name"),
        copied("sender"),
        Col(
            "context",
            "migration.try_jsonb(s.template_context)",
            raw="template_context",
            issue="invalid_json",
        ),
        # As for records: an unknown content type id is kept in legacy_raw (rule 2).
        Col("legacy_item_type", "s.item_type", raw="item_type_id", issue="unknown_content_type"),
        copied("legacy_item_id", "item_id"),
        copied("is_read", "read"),
        copied("sent"),
        copied("send"),
        copied("created_at"),
    ),
)

ENTITIES: tuple[EntitySpec, ...] = (
    files,
    order_files,
    case_files,
    tasks,
    messages,
    team_communications,
    message_attachments,
    message_roles,
    treatment_discussions,
    customer_feedback,
    doctor_notes,
    system_messages,
)
