"""The `security` check: nothing of the tool's is open to the Data API's roles."""

from __future__ import annotations

from collections.abc import Sequence

from .. import lockdown
from ..context import Conn
from .result import Check, EntityValidation, status

# The security check's name, as a check type and as the `entity` of its result.
SECURITY = "security"
# Its lists of open objects: (key in the check's details, what it lists).
SECURITY_LISTS = (
    ("rlsDisabled", "Tables in an exposed schema with row-level security off"),
    ("privileges", "Objects PUBLIC, anon or authenticated hold a privilege on"),
    ("mutableSearchPath", "Functions without a fixed search_path"),
    ("definerViews", "Views in an exposed schema that run with their owner's rights"),
)


def validate_security(target: Conn, public_tables: Sequence[str]) -> EntityValidation:
    report = lockdown.check(target, public_tables)
    # A target without the tool's tables proves nothing: it must not read as a pass.
    empty = report.tables_checked == 0
    check = Check(
        SECURITY,
        status(report.passed and not empty),
        {
            "tablesChecked": report.tables_checked,
            "functionsChecked": report.functions_checked,
            "apiRoles": report.api_roles,
            "exposedSchemas": report.exposed_schemas,
            "rlsDisabled": report.rls_disabled,
            "privileges": report.privileges,
            "mutableSearchPath": report.mutable_search_path,
            "definerViews": report.definer_views,
        },
    )
    recommendations = []
    if empty:
        recommendations.append("No table of the tool was found: run 'mdw-migrate schema apply'")
    elif not report.passed:
        recommendations.append(
            "Run 'mdw-migrate schema apply' again: it enables row-level security and revokes"
            " the Data API roles' privileges on everything the tool owns"
        )
    return EntityValidation(SECURITY, [check], [], recommendations)
