"""What each command of the library returns: the engine's results, and how the command
ended (status, a one-line verdict, totals) for whoever renders them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.backup import Backup
from ..engine.migrate import RunOutcome
from ..engine.validate import SECURITY, SECURITY_LISTS, EntityValidation
from ..errors import Code
from ..legacy.generator import GenerationReport


@dataclass
class Ended:
    """How a command ended: `success`, `failed` (a check failed) or `interrupted`."""

    status: str = "success"
    verdict: str = ""
    totals: dict[str, Any] = field(default_factory=dict)
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # The command that continues an interrupted run.
    resume: str | None = None
    # Why the audit trail records it as failed or interrupted.
    failure: Code | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"


def validation_verdict(validations: list[EntityValidation]) -> str:
    """One line: `Validation passed: 49 entities` or `Validation FAILED: payments (money)`.
    Entities with nothing in the source nor the target are said to be empty, not ok."""
    failed = [v for v in validations if not v.passed]
    if not failed:
        entities = sum(v.entity != SECURITY for v in validations)
        checked = " and the security check" if entities < len(validations) else ""
        empty = [v.entity for v in validations if _nothing_migrated(v)]
        if empty and len(empty) == entities:
            return f"Validation passed, but nothing was migrated: {entities} entities are empty"
        if empty:
            shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
            checked += f"; {len(empty)} empty in source and target ({shown})"
        return f"Validation passed: {entities} entities{checked}"
    return "Validation FAILED: " + ", ".join(
        f"{v.entity} ({', '.join(sorted({c.type for c in v.checks if c.status != 'passed'}))})"
        for v in failed
    )


def _nothing_migrated(v: EntityValidation) -> bool:
    check = next((c for c in v.checks if c.type == "accounting"), None)
    return check is not None and check.details.get("migrated", check.details.get("actual")) == 0


@dataclass
class SchemaApplied(Ended):
    steps: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)


@dataclass
class Migrated(Ended):
    outcome: RunOutcome | None = None
    validations: list[EntityValidation] = field(default_factory=list)

    @classmethod
    def of(
        cls, outcome: RunOutcome, validations: list[EntityValidation], selection: str
    ) -> Migrated:
        sums = {
            key: sum(getattr(r, attr) for r in outcome.results)
            for key, attr in (
                ("sourceRows", "source_rows"),
                ("migrated", "migrated"),
                ("excluded", "excluded"),
                ("rejected", "rejected"),
            )
        }
        totals = {
            "entities": len(outcome.results),
            **sums,
            "dryRun": outcome.dry_run,
            # The source snapshot the run read: the target holds the source as of then.
            "snapshotAt": outcome.snapshot_at.isoformat() if outcome.snapshot_at else None,
            "validated": len(validations),
            "validationFailed": sum(not v.passed for v in validations),
        }
        done = (
            f"{len(outcome.results)} entities: {sums['migrated']:,} migrated,"
            f" {sums['excluded']:,} excluded, {sums['rejected']:,} rejected"
        )
        result = cls(totals=totals, run_id=outcome.run_id, outcome=outcome, validations=validations)
        if outcome.interrupted:
            result.status, result.failure = "interrupted", Code.INTERRUPTED
            result.resume = f"mdw-migrate migrate {selection} --resume"
            result.verdict = f"Interrupted after {done}; resume with: {result.resume}"
        elif any(not v.passed for v in validations):
            result.status, result.failure = "failed", Code.VALIDATION_FAILED
            result.verdict = f"Migrated {done}. {validation_verdict(validations)}"
        elif outcome.dry_run:
            result.verdict = (
                f"Dry run (nothing written): {len(outcome.results)} entities would have"
                f" {sums['migrated']:,} migrated, {sums['excluded']:,} excluded,"
                f" {sums['rejected']:,} rejected"
            )
        else:
            checked = f". {validation_verdict(validations)}" if validations else ""
            result.verdict = f"Migrated {done}{checked}"
        return result


@dataclass
class Synced(Migrated):
    """A sync (or its dry run, `diff`): per entity what changed, and the source snapshot the
    target is now in step with."""

    added: list[str] = field(default_factory=list)

    @classmethod
    def of(  # type: ignore[override]
        cls,
        outcome: RunOutcome,
        validations: list[EntityValidation],
        selection: str,
        added: list[str],
    ) -> Synced:
        keys = ("inserted", "updated", "unchanged", "deleted", "kept", "outcomeChanges")
        counts = outcome.counts()
        sums = {k: sum(c[k] for c in counts.values()) for k in keys}
        for k in ("migrated", "excluded", "rejected"):
            sums[k] = sum(c[k] for c in counts.values())
        snapshot = outcome.snapshot_at.isoformat() if outcome.snapshot_at else None
        totals: dict[str, Any] = {
            "entities": len(outcome.results),
            **sums,
            "dryRun": outcome.dry_run,
            "snapshotAt": snapshot,
            "validated": len(validations),
            "validationFailed": sum(not v.passed for v in validations),
        }
        if outcome.deletions_waiting:
            totals["deletionsWaiting"] = outcome.deletions_waiting
        result = cls(
            totals=totals,
            run_id=outcome.run_id,
            outcome=outcome,
            validations=validations,
            added=added,
        )
        verb = "would insert" if outcome.dry_run else "inserted"
        done = (
            f"{len(outcome.results)} entities: {sums['inserted']:,} {verb},"
            f" {sums['updated']:,} updated, {sums['deleted']:,} deleted,"
            f" {sums['unchanged']:,} unchanged, {sums['outcomeChanges']:,} outcome changes"
        )
        if outcome.interrupted:
            result.status, result.failure = "interrupted", Code.INTERRUPTED
            result.resume = f"mdw-migrate sync {selection}"
            result.verdict = f"Interrupted after {done}; resume with: {result.resume}"
        elif any(not v.passed for v in validations):
            result.status, result.failure = "failed", Code.VALIDATION_FAILED
            result.verdict = f"Synced {done}. {validation_verdict(validations)}"
        elif outcome.dry_run:
            result.verdict = f"Dry run (nothing written) of {done}"
        else:
            checked = f". {validation_verdict(validations)}" if validations else ""
            result.verdict = (
                f"Synced {done}; the target is in step with the source as of {snapshot}{checked}"
            )
        if outcome.deletions_waiting and not outcome.interrupted:
            result.verdict += (
                f". Deletions of {', '.join(outcome.deletions_waiting)} wait for their"
                " dependants: run mdw-migrate sync all"
            )
        return result


@dataclass
class Validated(Ended):
    results: list[EntityValidation] = field(default_factory=list)
    # validate final's self-contained HTML report.
    report: Path | None = None

    @classmethod
    def of(
        cls, results: list[EntityValidation], report: Path | None, run_id: uuid.UUID | None = None
    ) -> Validated:
        failed = sum(not v.passed for v in results)
        entities = [v for v in results if v.entity != SECURITY]
        totals: dict[str, Any] = {
            "entities": len(entities),
            "failed": sum(not v.passed for v in entities),
        }
        if len(entities) < len(results):
            totals["securityPassed"] = failed == totals["failed"]
        if report is not None:
            totals["report"] = str(report)
        validated = cls(totals=totals, results=results, report=report)
        if run_id is not None:
            validated.run_id = run_id
        validated.verdict = validation_verdict(results)
        if failed:
            validated.status, validated.failure = "failed", Code.VALIDATION_FAILED
        return validated


@dataclass
class SecurityChecked(Ended):
    result: EntityValidation | None = None

    @classmethod
    def of(cls, result: EntityValidation) -> SecurityChecked:
        details = result.checks[0].details
        problems = sum(len(details[key]) for key, _ in SECURITY_LISTS)
        totals = {
            "tablesChecked": details["tablesChecked"],
            "functionsChecked": details["functionsChecked"],
            "problems": problems,
        }
        checked = cls(totals=totals, result=result)
        if result.passed:
            checked.verdict = (
                f"Security check passed: {details['tablesChecked']} tables and"
                f" {details['functionsChecked']} functions locked down"
            )
        else:
            checked.status, checked.failure = "failed", Code.SECURITY_CHECK_FAILED
            checked.verdict = f"Security check FAILED: {problems} problem(s)"
        return checked


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback would do, for its confirmation: rows per entity, in the order they go."""

    rows: dict[str, int]
    # Where the copies go (one table per entity) and the file that lists them.
    backup: str
    metadata: Path

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass
class RolledBack(Ended):
    backups: list[Backup] = field(default_factory=list)
    metadata: Path | None = None
    # The operator answered no: nothing was changed.
    declined: bool = False

    @property
    def removed(self) -> dict[str, int]:
        return {b.entity: b.rows for b in self.backups}


@dataclass
class Status(Ended):
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Generated(Ended):
    report: GenerationReport | None = None


@dataclass
class Demonstrated(Ended):
    migrated: Migrated | None = None
    report: Path | None = None


@dataclass
class Plan:
    # (entity, its dependencies, what it migrates), in dependency order.
    order: list[tuple[str, list[str], str]]
    phases: dict[str, list[str]]
    # legacy table -> {"entity": ..., "state": implemented | planned}
    legacy_tables: dict[str, dict[str, str]]


@dataclass
class AuditVerified(Ended):
    records: int = 0
    problems: list[str] = field(default_factory=list)
