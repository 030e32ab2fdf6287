"""A validation result in the contract's shape (Validation Output Contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def status(ok: bool) -> str:
    return "passed" if ok else "failed"


@dataclass
class Check:
    type: str
    status: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_contract(self) -> dict[str, Any]:
        return {"type": self.type, "status": self.status, **self.details}


@dataclass
class EntityValidation:
    entity: str
    checks: list[Check]
    issues: list[dict[str, Any]]
    recommendations: list[str]

    @property
    def passed(self) -> bool:
        return all(c.status == "passed" for c in self.checks)

    def to_contract(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "timestamp": datetime.now(UTC).isoformat(),
            "validation": {
                "overallStatus": "passed" if self.passed else "failed",
                "checks": [c.to_contract() for c in self.checks],
            },
            "issues": self.issues,
            "recommendations": self.recommendations,
        }
