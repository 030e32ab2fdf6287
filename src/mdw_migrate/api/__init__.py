"""The library face of mdw-migrate: one function per command, each taking a `Config` and
returning a typed result (`Ended` and its kinds) that says how the command ended. The CLI
(`mdw_migrate.cli`) only parses, calls these, and renders what they return."""

from __future__ import annotations

from ..engine.context import BatchStats, EntityResult
from ..engine.migrate import RunOutcome
from ..engine.validate import ACCURACY_THRESHOLD, SECURITY, SECURITY_LISTS, Check, EntityValidation
from ..legacy.generator import GenerationReport
from .commands import (
    audit_verify,
    demo,
    generate,
    migrate,
    plan,
    rollback,
    schema_apply,
    security_check,
    status,
    sync,
    validate,
)
from .config import Config
from .results import (
    AuditVerified,
    Demonstrated,
    Ended,
    Generated,
    Migrated,
    Plan,
    RollbackPlan,
    RolledBack,
    SchemaApplied,
    SecurityChecked,
    Status,
    Synced,
    Validated,
    validation_verdict,
)
from .trail import contract_errors

__all__ = [
    "ACCURACY_THRESHOLD",
    "SECURITY",
    "SECURITY_LISTS",
    "AuditVerified",
    "BatchStats",
    "Check",
    "Config",
    "Demonstrated",
    "Ended",
    "EntityResult",
    "EntityValidation",
    "Generated",
    "GenerationReport",
    "Migrated",
    "Plan",
    "RollbackPlan",
    "RolledBack",
    "RunOutcome",
    "SchemaApplied",
    "SecurityChecked",
    "Status",
    "Synced",
    "Validated",
    "audit_verify",
    "contract_errors",
    "demo",
    "generate",
    "migrate",
    "plan",
    "rollback",
    "schema_apply",
    "security_check",
    "status",
    "sync",
    "validate",
    "validation_verdict",
]
