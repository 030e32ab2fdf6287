"""The entity catalogue: every entity of mapping.md as a declarative spec, the phases of the
contract, and the fate of every legacy table."""

from __future__ import annotations

from ..engine.archive import ArchiveSpec
from ..engine.planner import Catalogue, Unit
from ..legacy import tables as legacy_tables
from . import activity, core, money, orders, workflow

# The entity of mapping.md that migrates each legacy table it reads (tables only read as
# lookups name that entity too); every other legacy table is copied row for row into
# legacy_archive ("archive").
_ENTITY_OF_TABLE: dict[str, str] = {
    "auth_user": "profiles",
    "auth_group": "teams",
    "auth_user_groups": "team_members",
    "dispatch_office": "offices",
    "dispatch_office_doctors": "doctor_offices",
    "dispatch_doctorsetting": "doctors",
    "dispatch_patient": "patients",
    "dispatch_course": "courses",
    "dispatch_product": "products",
    "dispatch_product_roles": "product_roles",
    "dispatch_product_successors": "product_successors",
    "dispatch_category": "categories",
    "dispatch_template": "templates",
    "dispatch_template_edit_roles": "template_roles",
    "dispatch_template_view_roles": "template_roles",
    "dispatch_template_view_groups": "template_view_groups",
    "dispatch_template_products": "template_products",
    "dispatch_template_predecessors": "template_predecessors",
    "dispatch_role": "roles",
    "dispatch_role_permissions": "role_permissions",
    "dispatch_globalsetting": "global_settings",
    "dispatch_instruction": "orders",
    "dispatch_jaw": "jaws",
    "dispatch_state": "order_states",
    "dispatch_project": "projects",
    "dispatch_plan": "treatment_plans",
    "dispatch_bracket": "brackets",
    "dispatch_task": "tasks",
    "dispatch_file": "files",
    "dispatch_record": "messages",
    "dispatch_record_attachments": "message_attachments",
    "dispatch_record_roles": "message_roles",
    "dispatch_comment": "treatment_discussions",
    "dispatch_note": "doctor_notes",
    "dispatch_notification": "system_messages",
    "dispatch_payment": "payments",
    "dispatch_operation": "operations",
    "dispatch_order": "sales_orders",
    "dispatch_purchase": "purchases",
    "dispatch_offer": "offers",
    "dispatch_discount": "discounts",
}
_unknown = set(_ENTITY_OF_TABLE) - set(legacy_tables.LEGACY_TABLES)
assert not _unknown, f"not legacy tables: {sorted(_unknown)}"
# Every legacy table (legacy/tables.py, the one list of them) and its fate.
LEGACY_TABLES: dict[str, str] = {
    table: _ENTITY_OF_TABLE.get(table, "archive") for table in legacy_tables.LEGACY_TABLES
}

# Catalogue order: the planner keeps it among entities that do not depend on each other.
_MODULES = (core, orders, workflow, activity, money)
LEGACY_ARCHIVE = ArchiveSpec(
    name="legacy_archive",
    tables=tuple(t for t, fate in LEGACY_TABLES.items() if fate == "archive"),
    known=frozenset(LEGACY_TABLES),
)
_ENTITIES: dict[str, Unit] = {spec.name: spec for module in _MODULES for spec in module.ENTITIES}
_ENTITIES[LEGACY_ARCHIVE.name] = LEGACY_ARCHIVE

_CORE = ["offices", "profiles", "doctors", "doctor_offices"]
_CORE_WITH_PATIENTS = [*_CORE, "patients"]


def _present(names: list[str]) -> list[str]:
    return [n for n in names if n in _ENTITIES]


# Phases include everything before them (the contract's phase 1 to 3, then all).
PHASES = {
    "core": _CORE,
    "core-with-patients": _CORE_WITH_PATIENTS,
    "orders-with-deps": [*_CORE_WITH_PATIENTS, *_present(["courses", "orders"])],
    "all": list(_ENTITIES),
}

# The contract's script names (mapping.md, "The contract's script names map onto these
# entities"); `-fixed`, `-optimized` and `-complete` suffixes are accepted too.
SCRIPT_ALIASES = {
    "migrate-tasks": ["tasks"],
    "migrate-cases": ["cases", "order_cases"],
    "migrate-dispatch-records": ["messages", "message_attachments"],
    "migrate-communications": ["team_communications"],
    "migrate-offers-and-discounts": ["offers", "discounts"],
    "migrate-purchases": ["sales_orders", "purchases", "payments", "operations"],
    "migrate-order-files": ["files", "order_files"],
    "migrate-case-files": ["case_files"],
    "migrate-doctor-notes": ["doctor_notes"],
    "migrate-technician-roles": ["technicians", "roles", "role_permissions", "technician_roles"],
    "migrate-customer-feedback": ["customer_feedback"],
}
ALIASES = {
    f"{script}{suffix}": _present(names)
    for script, names in SCRIPT_ALIASES.items()
    for suffix in ("", "-fixed", "-optimized", "-complete")
    if _present(names)
}

CATALOGUE = Catalogue(entities=_ENTITIES, phases=PHASES, aliases=ALIASES)
