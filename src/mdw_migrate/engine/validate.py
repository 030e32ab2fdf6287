"""Validation of migrated entities: accounting, record count, references, data quality, money.

Generic over entity specs; the contract's validation JSON is built from the checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from . import control, lockdown, preflight, sqlgen
from .archive import ArchiveSpec, validate_archive
from .planner import Catalogue
from .runner import BatchStats, EntityResult, EntityRunner, RunContext
from .spec import EntitySpec

Conn = psycopg.Connection[tuple[Any, ...]]
DEFAULT_TOLERANCE = 0.1  # percent, the contract's
# Rows per entity re-read from the source and mapped again for the accuracy check.
SAMPLE_SIZE = 200
# The security check's name, as a check type and as the `entity` of its result.
SECURITY = "security"


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


def _status(ok: bool) -> str:
    return "passed" if ok else "failed"


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
    secret = control.existing_id_secret(target, id_secret_env)
    return [validate(catalogue, n, source, target, secret) for n in names]


def validate(
    catalogue: Catalogue, name: str, source: Conn, target: Conn, secret: bytes | None = None
) -> EntityValidation:
    spec = catalogue.entities[name]
    if isinstance(spec, ArchiveSpec):
        return _validate_archive(spec, source, target)
    return validate_entity(catalogue, spec, source, target, secret)


def _id_map_check(spec: EntitySpec, target: Conn, table: str, legacy: str) -> Check:
    """Exact: every id-map row has its target row and every target row with a legacy id has
    its id-map row (a deleted row or a dropped mapping fails here, whatever the tolerance)."""
    row = target.execute(
        f"SELECT (SELECT count(*) FROM migration.id_map m WHERE m.entity = %(e)s AND NOT EXISTS"
        f"   (SELECT 1 FROM {table} t WHERE t.id = m.id AND t.{legacy} = m.legacy_id)),"
        f" (SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM migration.id_map m"
        f"   WHERE m.entity = %(e)s AND m.id = t.id AND m.legacy_id = t.{legacy}))",
        {"e": spec.name},
    ).fetchone()
    missing_rows, unmapped_rows = (int(v) for v in row) if row else (0, 0)
    return Check(
        "id_map",
        _status(missing_rows == 0 and unmapped_rows == 0),
        {"mappedWithoutRow": missing_rows, "rowsWithoutMapping": unmapped_rows},
    )


class _Silent:
    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None: ...

    def batch_done(self, stats: BatchStats) -> None: ...

    def entity_done(self, result: EntityResult) -> None: ...


def _accuracy_sample(
    spec: EntitySpec, source: Conn, target: Conn, secret: bytes | None, size: int
) -> tuple[int, list[int]]:
    """Re-reads a random sample of migrated source rows, maps them again and compares every
    target column (UUID and metadata included). Returns (sampled, differing legacy ids)."""
    if size <= 0:
        return 0, []
    # An entity no larger than the sample is compared whole; a larger one by random probes
    # into its legacy id range (index lookups, no scan of the id map).
    keys = [
        int(r[0])
        for r in target.execute(
            "SELECT legacy_id FROM migration.id_map WHERE entity = %(e)s"
            " AND (SELECT count(*) <= %(n)s FROM migration.id_map WHERE entity = %(e)s)",
            {"e": spec.name, "n": size},
        ).fetchall()
    ] or [
        int(r[0])
        for r in target.execute(
            "WITH b AS (SELECT min(legacy_id) AS lo, max(legacy_id) AS hi FROM migration.id_map"
            "  WHERE entity = %(e)s)"
            " SELECT DISTINCT s.legacy_id FROM b, generate_series(1, %(n)s) AS g"
            " CROSS JOIN LATERAL (SELECT legacy_id FROM migration.id_map WHERE entity = %(e)s"
            "  AND legacy_id >= b.lo + floor(random() * (b.hi - b.lo + 1) + g * 0)::bigint"
            "  ORDER BY legacy_id LIMIT 1) AS s",
            {"e": spec.name, "n": size},
        ).fetchall()
    ]
    if not keys:
        return 0, []
    if secret is None:
        secret = control.existing_id_secret(target, None)
        if secret is None:
            return 0, []
    ctx = RunContext(run_id=uuid.uuid4(), secret=secret, batch_size=len(keys), max_retry_attempts=0)
    differing = EntityRunner(source, target, ctx, _Silent()).recompute(spec, keys)
    return len(keys), differing


def _validate_archive(spec: ArchiveSpec, source: Conn, target: Conn) -> EntityValidation:
    counts = validate_archive(spec, source, target)
    expected = sum(s for s, _ in counts.values())
    actual = sum(a for _, a in counts.values())
    short = {t: {"source": s, "archived": a} for t, (s, a) in counts.items() if s != a}
    checks = [
        Check(
            "accounting",
            _status(not short),
            {"expected": expected, "actual": actual, "tables": len(counts), "mismatches": short},
        )
    ]
    recommendations = [f"Run 'mdw-migrate migrate {spec.name}' again"] if short else []
    return EntityValidation(spec.name, checks, [], recommendations)


def validate_entity(
    catalogue: Catalogue,
    spec: EntitySpec,
    source: Conn,
    target: Conn,
    secret: bytes | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> EntityValidation:
    name = spec.name
    row = source.execute(sqlgen.source_count_query(spec)).fetchone()
    source_rows = int(row[0]) if row else 0
    counts: dict[str, int] = dict(
        target.execute(
            "SELECT 'migrated', count(*) FROM migration.id_map WHERE entity = %(e)s"
            " UNION ALL SELECT outcome, count(*) FROM migration.row_outcomes"
            " WHERE entity = %(e)s GROUP BY outcome",
            {"e": name},
        ).fetchall()
    )
    migrated = int(counts.get("migrated", 0))
    excluded = int(counts.get("excluded", 0))
    rejected = int(counts.get("rejected", 0))
    checks = [
        Check(
            "accounting",
            _status(source_rows == migrated + excluded + rejected),
            {
                "expected": source_rows,
                "actual": migrated + excluded + rejected,
                "migrated": migrated,
                "excluded": excluded,
                "rejected": rejected,
            },
        )
    ]

    legacy = sqlgen.q(spec.legacy_column)
    table = f"public.{sqlgen.q(spec.target)}"
    row = target.execute(
        f"SELECT count(*) FROM {table} t WHERE t.{legacy} IS NOT NULL"
        f" AND EXISTS (SELECT 1 FROM migration.id_map m WHERE m.entity = %s"
        f" AND m.legacy_id = t.{legacy} AND m.id = t.id)",
        [name],
    ).fetchone()
    target_rows = int(row[0]) if row else 0
    checks.append(_id_map_check(spec, target, table, legacy))
    tolerance = 0.0 if spec.money else DEFAULT_TOLERANCE
    allowed = migrated * tolerance / 100
    checks.append(
        Check(
            "record_count",
            _status(abs(target_rows - migrated) <= allowed),
            {"expected": migrated, "actual": target_rows, "tolerance": tolerance},
        )
    )

    violations = 0
    mismatched = 0
    explained: dict[str, int] = {}
    for ref in spec.refs:
        if not ref.column:
            continue
        parent = catalogue.rows_entity(ref.entity)
        col = sqlgen.q(ref.column)
        # Dangling, whether or not the database enforces the key (it may be deferred).
        row = target.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{col} IS NOT NULL AND NOT EXISTS"
            f" (SELECT 1 FROM public.{sqlgen.q(parent.target)} p WHERE p.id = t.{col})"
        ).fetchone()
        violations += int(row[0]) if row else 0
        if ref.legacy_column:
            legacy_ref = sqlgen.q(ref.legacy_column)
            # A valid key that is not the parent the legacy id names is wrong too.
            row = target.execute(
                f"SELECT count(*) FROM {table} t JOIN migration.id_map m ON m.entity = %s"
                f" AND m.legacy_id = t.{legacy_ref} WHERE t.{col} IS DISTINCT FROM m.id",
                [ref.entity],
            ).fetchone()
            mismatched += int(row[0]) if row else 0
            row = target.execute(
                f"SELECT count(*) FROM {table} t"
                f" WHERE t.{col} IS NULL AND t.{legacy_ref} IS NOT NULL"
            ).fetchone()
            explained[ref.column] = int(row[0]) if row else 0
    checks.append(
        Check(
            "referential_integrity",
            _status(violations == 0 and mismatched == 0),
            {
                "foreignKeyViolations": violations,
                "referencesNotMatchingTheirLegacyId": mismatched,
                "optionalReferencesMissing": explained,
            },
        )
    )

    issue_rows = target.execute(
        "SELECT kind, column_name, count(*) FROM migration.quality_issues WHERE entity = %s"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        [name],
    ).fetchall()
    rows_with_issues = target.execute(
        "SELECT count(DISTINCT legacy_id) FROM migration.quality_issues WHERE entity = %s", [name]
    ).fetchone()
    affected = int(rows_with_issues[0]) if rows_with_issues else 0
    quality = 100.0 if migrated == 0 else round(100.0 * (migrated - affected) / migrated, 2)
    sampled, differing = _accuracy_sample(spec, source, target, secret, sample_size)
    accuracy = 100.0 if not sampled else round(100.0 * (sampled - len(differing)) / sampled, 2)
    checks.append(
        Check(
            "data_quality",
            _status(not differing),
            {
                "completeness": quality,
                "rowsWithIssues": affected,
                "accuracy": accuracy,
                "sampled": sampled,
                "differingLegacyIds": differing[:20],
            },
        )
    )
    issues = [{"kind": k, "column": c, "count": int(n)} for k, c, n in issue_rows]
    for column in spec.duplicates:
        row = target.execute(
            f"SELECT count(*), count(DISTINCT {sqlgen.q(column)}) FROM {table}"
            f" WHERE {sqlgen.q(column)} IN (SELECT {sqlgen.q(column)} FROM {table}"
            f"  WHERE {sqlgen.q(column)} IS NOT NULL GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()
        if row and row[0]:
            issues.append(
                {
                    "kind": f"duplicate_{column}",
                    "column": column,
                    "count": int(row[0]),
                    "distinctValues": int(row[1]),
                }
            )

    if spec.money:
        not_migrated = [
            r[0]
            for r in target.execute(
                "SELECT legacy_id FROM migration.row_outcomes WHERE entity = %s", [name]
            )
        ]
        for source_col, target_col in spec.money:
            src = source.execute(
                f"SELECT coalesce(sum(src.{sqlgen.q(source_col)}), 0) FROM ({spec.source.query})"
                f" AS src WHERE NOT (src.{sqlgen.q(spec.source.key)} = ANY(%s))",
                [not_migrated],
            ).fetchone()
            dst = target.execute(
                f"SELECT coalesce(sum({sqlgen.q(target_col)}), 0) FROM {table}"
            ).fetchone()
            expected = Decimal(src[0]) if src else Decimal(0)
            actual = Decimal(dst[0]) if dst else Decimal(0)
            checks.append(
                Check(
                    "money",
                    _status(expected == actual),
                    {"column": target_col, "expected": str(expected), "actual": str(actual)},
                )
            )

    recommendations = []
    if rejected:
        recommendations.append(
            f"{rejected} {name} row(s) were rejected: see migration.row_outcomes"
            f" (entity = '{name}') for the reason codes"
        )
    return EntityValidation(name, checks, issues, recommendations)


def validate_security(target: Conn, public_tables: Sequence[str]) -> EntityValidation:
    """The `security` check: nothing of the tool's is open to the Data API's roles."""
    report = lockdown.check(target, public_tables)
    # A target without the tool's tables proves nothing: it must not read as a pass.
    empty = report.tables_checked == 0
    check = Check(
        SECURITY,
        _status(report.passed and not empty),
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
