"""Validation of migrated entities: accounting, record count, references, data quality,
money, and the security check of the tool's objects. The contract's validation JSON is built
from the checks."""

from __future__ import annotations

from collections.abc import Sequence

from ... import state
from .. import preflight
from ..archive import ArchiveSpec, validate_archive
from ..context import Conn
from ..planner import Catalogue
from ..spec import EntitySpec
from .entity import ACCURACY_THRESHOLD, DEFAULT_TOLERANCE, SAMPLE_SIZE, validate_entity
from .result import Check, EntityValidation, status
from .security import SECURITY, SECURITY_LISTS, validate_security

__all__ = [
    "ACCURACY_THRESHOLD",
    "DEFAULT_TOLERANCE",
    "SAMPLE_SIZE",
    "SECURITY",
    "SECURITY_LISTS",
    "Check",
    "EntityValidation",
    "validate",
    "validate_entity",
    "validate_security",
    "validate_selection",
]


def validate_selection(
    catalogue: Catalogue,
    names: Sequence[str],
    source: Conn,
    target: Conn,
    id_secret_env: str | None,
) -> list[EntityValidation]:
    """Validates each entity, after the same pre-flight as a migration (a missing table or
    column is SCHEMA_INCOMPATIBLE, named), with the deployment's id secret: MDW_ID_SECRET
    when it is set, else the stored one."""
    specs = [s for n in names if isinstance(s := catalogue.entities[n], EntitySpec)]
    preflight.check_source(source, specs)
    preflight.check_target(target, specs)
    secret = state.deployment.existing_id_secret(target, id_secret_env)
    return [validate(catalogue, n, source, target, secret) for n in names]


def validate(
    catalogue: Catalogue, name: str, source: Conn, target: Conn, secret: bytes | None = None
) -> EntityValidation:
    spec = catalogue.entities[name]
    if isinstance(spec, ArchiveSpec):
        return _validate_archive(spec, source, target)
    return validate_entity(catalogue, spec, source, target, secret)


def _validate_archive(spec: ArchiveSpec, source: Conn, target: Conn) -> EntityValidation:
    counts = validate_archive(spec, source, target)
    expected = sum(s for s, _ in counts.values())
    actual = sum(a for _, a in counts.values())
    short = {t: {"source": s, "archived": a} for t, (s, a) in counts.items() if s != a}
    checks = [
        Check(
            "accounting",
            status(not short),
            {
                "expected": expected,
                "actual": actual,
                "tables": len(counts),
                "mismatches": short,
                "perTable": {t: {"source": s, "archived": a} for t, (s, a) in counts.items()},
            },
        )
    ]
    recommendations = [f"Run 'mdw-migrate migrate {spec.name}' again"] if short else []
    return EntityValidation(spec.name, checks, [], recommendations)
