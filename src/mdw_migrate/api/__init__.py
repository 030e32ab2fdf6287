"""The library face of mdw-migrate: one function per command, each taking a `Config` and
returning a typed result (`Ended` and its kinds) that says how the command ended. The CLI
(`mdw_migrate.cli`) only parses, calls these, and renders what they return."""

from __future__ import annotations

from .commands import (
    demo,
    generate,
    migrate,
    plan,
    rollback,
    schema_apply,
    security_check,
    status,
    validate,
)
from .config import Config
from .results import (
    Demonstrated,
    Ended,
    Generated,
    Migrated,
    Plan,
    RolledBack,
    SchemaApplied,
    SecurityChecked,
    Status,
    Validated,
    validation_verdict,
)

__all__ = [
    "Config",
    "Demonstrated",
    "Ended",
    "Generated",
    "Migrated",
    "Plan",
    "RolledBack",
    "SchemaApplied",
    "SecurityChecked",
    "Status",
    "Validated",
    "demo",
    "generate",
    "migrate",
    "plan",
    "rollback",
    "schema_apply",
    "security_check",
    "status",
    "validate",
    "validation_verdict",
]
