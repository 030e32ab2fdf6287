"""The tool's own state in the target's `migration` schema, and the only code that names its
tables (the DDL in target/sql aside).

One module per table: `deployment` (the id secret), `runs`, `progress` (per entity),
`ranges` (key ranges of a split entity), `id_map` (a view: the target tables are the map),
`outcomes` (excluded and rejected rows), `issues` (data-quality issues), `deferred`
(constraints of a bulk load), `audit_log`, `versions` (schema steps and country aliases),
and for `sync`: `fingerprints` (per bucket of keys, what the target holds and what the
source has), `deletions` (rows waiting to be deleted, or kept), `changes` (mapping changes
for dependants) and `marks` (per entity, how far it is in step). Batch statements take the
named parameters of `BatchKeys`; the engine's SQL generator hands in SELECTs over the
batch's `work` table and these modules write them into their tables.
"""

from __future__ import annotations

from . import (
    audit_log,
    changes,
    deferred,
    deletions,
    deployment,
    fingerprints,
    id_map,
    issues,
    marks,
    outcomes,
    progress,
    ranges,
    runs,
    versions,
)
from ._conn import MAX_KEY, MIN_KEY, BatchKeys, Conn

# The state tables that grow with the rows migrated (one row, or more, per legacy row).
GROWING_TABLES = ("range_fingerprints", "row_outcomes", "quality_issues")


def analyze(conn: Conn, public_tables: list[str], *, with_state: bool = True) -> None:
    """Fresh planner statistics for `public_tables` (quoted names) and, `with_state`, the
    growing state tables, after a run loaded many rows into them: until autovacuum gets
    there, a sync that follows plans against the sizes of empty tables (measured: 44 to
    104 s for a 1 % sync right after the initial load, 34 s once analysed)."""
    tables = [f"public.{t}" for t in public_tables]
    if with_state:
        tables += [f"{SCHEMA}.{t}" for t in GROWING_TABLES]
    conn.execute(f"ANALYZE {', '.join(tables)}".encode())


# What `migrate` needs to find in the target (the pre-flight check).
RUN_TABLES = (
    "id_map",
    "row_outcomes",
    "entity_progress",
    "runs",
    "deferred_ddl",
    "range_progress",
    "range_fingerprints",
    "pending_deletions",
    "mapping_changes",
    "entity_sync",
    "id_derivation",
)
SCHEMA = "migration"

__all__ = [
    "GROWING_TABLES",
    "MAX_KEY",
    "MIN_KEY",
    "RUN_TABLES",
    "SCHEMA",
    "BatchKeys",
    "Conn",
    "analyze",
    "audit_log",
    "changes",
    "deferred",
    "deletions",
    "deployment",
    "fingerprints",
    "id_map",
    "issues",
    "marks",
    "outcomes",
    "progress",
    "ranges",
    "runs",
    "versions",
]
