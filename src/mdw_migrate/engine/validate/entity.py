"""The checks of one migrated entity: accounting, record count and id map, references, data
quality (with a sample mapped again), and money sums. Generic over entity specs."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ... import state
from .. import recompute, sqlgen
from ..context import Conn, RunContext
from ..planner import Catalogue
from ..session import Session
from ..spec import EntitySpec
from .result import Check, EntityValidation, status

DEFAULT_TOLERANCE = 0.1  # percent, the contract's
# Percent of the re-mapped sample that must equal the target, column by column: all of it.
# Completeness (rows without a data-quality issue) has no threshold: those rows migrate,
# each issue is listed by kind, and the rules say which values become issues.
ACCURACY_THRESHOLD = 100.0
# Rows per entity re-read from the source and mapped again for the accuracy check.
SAMPLE_SIZE = 200


def validate_entity(
    catalogue: Catalogue,
    spec: EntitySpec,
    source: Conn,
    target: Conn,
    secret: bytes | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> EntityValidation:
    name = spec.name
    spec = catalogue.bind(spec)  # its references read their parents' tables
    row = source.execute(sqlgen.source_count_query(spec)).fetchone()
    source_rows = int(row[0]) if row else 0
    mapped = sqlgen.mapped(spec)
    migrated = state.id_map.count(target, mapped)
    reasons = state.outcomes.reasons_by_outcome(target, name)
    excluded = sum(reasons.get("excluded", {}).values())
    rejected = sum(reasons.get("rejected", {}).values())
    table = f"public.{sqlgen.q(spec.target)}"
    # Rows kept by `sync --keep-deleted`: migrated once, their legacy row gone since.
    kept = state.deletions.kept_ids(target, name)
    accounted = migrated - len(kept) + excluded + rejected
    counted: dict[str, object] = {
        "expected": source_rows,
        "actual": accounted,
        "migrated": migrated,
        "excluded": excluded,
        "rejected": rejected,
        # By named rule and by reason code (details per row: migration.row_outcomes).
        "excludedBy": reasons.get("excluded", {}),
        "rejectedBy": reasons.get("rejected", {}),
    }
    if kept:
        counted["keptDeleted"] = len(kept)
        counted["explanation"] = (
            f"{len(kept)} migrated row(s) stay although their legacy row was deleted"
            " (sync --keep-deleted; metadata.legacy_deleted_at); they are not counted"
            " against the source"
        )
    checks = [
        Check("accounting", status(source_rows == accounted), counted),
        _id_map(spec, target, secret),
        _record_count(target, spec, migrated),
        _references(catalogue, target, spec, table),
    ]
    quality, issues = _data_quality(spec, source, target, secret, sample_size, migrated, table)
    checks.append(quality)
    checks += _money(spec, source, target, table, kept)
    recommendations = []
    if rejected:
        recommendations.append(
            f"{rejected} {name} row(s) were rejected: see migration.row_outcomes"
            f" (entity = '{name}') for the reason codes"
        )
    return EntityValidation(name, checks, issues, recommendations)


def _id_map(spec: EntitySpec, target: Conn, secret: bytes | None) -> Check:
    """Exact: every row of the target table has the UUID that the deployment's secret derives
    from its legacy id, so the map is what every earlier run made of it (a row whose id or
    legacy id was changed fails here, whatever the tolerance). Unique both ways: the table's
    primary key and its unique legacy-id column."""
    if secret is None:
        secret = state.deployment.existing_id_secret(target, None)
    if secret is None:
        # As for the accuracy sample: without the secret the UUIDs cannot be derived again.
        return Check("id_map", "passed", {"checked": 0, "uuidsNotDerived": 0})
    row = target.execute(
        sqlgen.underived_uuids(spec).encode(),
        {
            "secret": secret,
            "entity": spec.name,
            "uuid_layout": state.deployment.uuid_layout(target),
        },
    ).fetchone()
    checked, wrong = (int(row[0]), int(row[1])) if row else (0, 0)
    return Check("id_map", status(wrong == 0), {"checked": checked, "uuidsNotDerived": wrong})


def _record_count(target: Conn, spec: EntitySpec, migrated: int) -> Check:
    """Target rows with a legacy id (every row of the table) = migrated rows: a row still
    queued for deletion, or one written outside the tool, shows here."""
    target_rows = state.id_map.target_rows(target, sqlgen.mapped(spec))
    tolerance = 0.0 if spec.money else DEFAULT_TOLERANCE
    allowed = migrated * tolerance / 100
    return Check(
        "record_count",
        status(abs(target_rows - migrated) <= allowed),
        {"expected": migrated, "actual": target_rows, "tolerance": tolerance},
    )


def _scalar(conn: Conn, query: str) -> int:
    row = conn.execute(query.encode()).fetchone()
    return int(row[0]) if row else 0


def _references(catalogue: Catalogue, target: Conn, spec: EntitySpec, table: str) -> Check:
    violations = 0
    mismatched = 0
    explained: dict[str, int] = {}
    for ref in spec.refs:
        if not ref.column:
            continue
        parent = catalogue.rows_entity(ref.entity)
        col = sqlgen.q(ref.column)
        # Dangling, whether or not the database enforces the key (it may be deferred).
        violations += _scalar(
            target,
            f"SELECT count(*) FROM {table} t WHERE t.{col} IS NOT NULL AND NOT EXISTS"
            f" (SELECT 1 FROM public.{sqlgen.q(parent.target)} p WHERE p.id = t.{col})",
        )
        if ref.legacy_column:
            legacy_ref = sqlgen.q(ref.legacy_column)
            # A valid key that is not the parent the legacy id names is wrong too.
            mismatched += state.id_map.wrong_parents(
                target, sqlgen.parent_mapped(ref), table, col, legacy_ref
            )
            explained[ref.column] = _scalar(
                target,
                f"SELECT count(*) FROM {table} t"
                f" WHERE t.{col} IS NULL AND t.{legacy_ref} IS NOT NULL",
            )
    return Check(
        "referential_integrity",
        status(violations == 0 and mismatched == 0),
        {
            "foreignKeyViolations": violations,
            "referencesNotMatchingTheirLegacyId": mismatched,
            "optionalReferencesMissing": explained,
        },
    )


def _data_quality(
    spec: EntitySpec,
    source: Conn,
    target: Conn,
    secret: bytes | None,
    sample_size: int,
    migrated: int,
    table: str,
) -> tuple[Check, list[dict[str, Any]]]:
    affected = state.issues.rows_affected(target, spec.name)
    quality = 100.0 if migrated == 0 else round(100.0 * (migrated - affected) / migrated, 2)
    sampled, differing = _accuracy_sample(spec, source, target, secret, sample_size)
    accuracy = 100.0 if not sampled else round(100.0 * (sampled - len(differing)) / sampled, 2)
    check = Check(
        "data_quality",
        status(not differing and accuracy >= ACCURACY_THRESHOLD),
        {
            "completeness": quality,
            "rowsWithIssues": affected,
            "accuracy": accuracy,
            "accuracyThreshold": ACCURACY_THRESHOLD,
            "sampled": sampled,
            "differingLegacyIds": differing[:20],
        },
    )
    issues: list[dict[str, Any]] = [
        {"kind": k, "column": c, "count": n} for k, c, n in state.issues.by_kind(target, spec.name)
    ]
    for column in spec.duplicates:
        col = sqlgen.q(column)
        row = target.execute(
            f"SELECT count(*), count(DISTINCT {col}) FROM {table} WHERE {col} IN"
            f" (SELECT {col} FROM {table} WHERE {col} IS NOT NULL GROUP BY 1 HAVING count(*) > 1)"
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
    return check, issues


def _accuracy_sample(
    spec: EntitySpec, source: Conn, target: Conn, secret: bytes | None, size: int
) -> tuple[int, list[int]]:
    """Re-reads a sample of migrated source rows, maps them again and compares every target
    column (UUID and metadata included). Returns (sampled, differing legacy ids)."""
    if size <= 0:
        return 0, []
    keys = state.id_map.sample_keys(target, sqlgen.mapped(spec), size)
    if not keys:
        return 0, []
    if secret is None:
        secret = state.deployment.existing_id_secret(target, None)
        if secret is None:
            return 0, []
    ctx = RunContext(
        run_id=uuid.uuid4(),
        secret=secret,
        uuid_layout=state.deployment.uuid_layout(target),
        batch_size=len(keys),
        max_retry_attempts=0,
    )
    return len(keys), recompute.differing(Session(source, target, ctx), spec, keys)


def _money(
    spec: EntitySpec, source: Conn, target: Conn, table: str, kept: list[int]
) -> list[Check]:
    """Every money column reconciled to the cent: the source sum of all rows equals the target
    sum plus the sums of the rejected and the excluded rows, plus values kept raw because they
    did not fit (rule 2). Rejected money is shown, never hidden. Rows kept by --keep-deleted
    have no source row and are left out of the target's sum."""
    if not spec.money:
        return []
    ids, outcomes = state.outcomes.not_migrated(target, spec.name)
    key = sqlgen.q(spec.source.key)
    sums = []
    for source_col, _ in spec.money:
        col = f"src.{sqlgen.q(source_col)}"
        sums += [
            f"coalesce(sum({col}), 0)",
            f"coalesce(sum({col}) FILTER (WHERE o.outcome = 'rejected'), 0)",
            f"coalesce(sum({col}) FILTER (WHERE o.outcome = 'excluded'), 0)",
            f"count({col}) FILTER (WHERE o.outcome = 'rejected')",
        ]
    # One scan of the source for every column; the outcomes join by hash, not per-row ANY().
    src = source.execute(
        f"SELECT {', '.join(sums)} FROM ({spec.source.query}) AS src"
        " LEFT JOIN unnest(%s::bigint[], %s::text[]) AS o (legacy_id, outcome)"
        f" ON o.legacy_id = src.{key}",
        [ids, outcomes],
    ).fetchone()
    raws = {c.name: c.raw for c in spec.columns if c.raw}
    dst_sums = []
    for _, target_col in spec.money:
        col = sqlgen.q(target_col)
        dst_sums.append(f"coalesce(sum({col}), 0)")
        raw = raws.get(target_col)
        dst_sums.append(
            f"coalesce(sum((metadata -> 'legacy_raw' ->> '{raw}')::numeric)"
            f" FILTER (WHERE {col} IS NULL), 0)"
            if raw
            else "0"
        )
    dst = target.execute(
        f"SELECT {', '.join(dst_sums)} FROM {table}"
        f" WHERE NOT ({sqlgen.q(spec.legacy_column)} = ANY(%s))".encode(),
        [kept],
    ).fetchone()
    checks = []
    for i, (_, target_col) in enumerate(spec.money):
        total, rejected, excluded, rejected_rows = src[4 * i : 4 * i + 4] if src else (0, 0, 0, 0)
        in_target, kept_raw = dst[2 * i : 2 * i + 2] if dst else (0, 0)
        expected = Decimal(total)
        accounted = Decimal(in_target) + Decimal(rejected) + Decimal(excluded) + Decimal(kept_raw)
        checks.append(
            Check(
                "money",
                status(expected == accounted),
                {
                    "column": target_col,
                    # The contract's pair: the source sum, and what the target accounts for.
                    "expected": str(expected),
                    "actual": str(accounted),
                    "sourceSum": str(expected),
                    "targetSum": str(Decimal(in_target)),
                    "rejectedSum": str(Decimal(rejected)),
                    "rejectedRows": int(rejected_rows),
                    "excludedSum": str(Decimal(excluded)),
                    "keptRawSum": str(Decimal(kept_raw)),
                    "difference": str(accounted - expected),
                },
            )
        )
    return checks
