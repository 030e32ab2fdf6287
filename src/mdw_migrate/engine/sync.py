"""What a pass over an entity must read: everything, or only what changed since the target
was last brought up to date with the source (a sync).

Change detection needs read access alone. The source server fingerprints every bucket of 32
legacy ids (`sqlgen.fingerprint_query`: its rows' versions, or a hash of its rows); the
target keeps, per bucket, the fingerprint of what it holds (`state.fingerprints`). A bucket
is dirty when the two differ, and also when a row in it names a parent whose mapping changed
(`state.changes`: a parent that appeared or is gone changes the child's outcome, rule 5), or
holds a row kept by an earlier `--keep-deleted`; such rows are read again alone. Only dirty
buckets and those rows are read, transformed and written; inside them the batch finds the
new, changed and missing ids in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import __version__, state
from . import sqlgen, staging
from .context import Conn
from .session import Session
from .spec import EntitySpec

# Beyond this share of an entity's rows in dirty buckets, a full pass (ordered key ranges,
# split over the workers) costs less than reading the buckets one list of spans at a time.
FULL_PASS_SHARE = 0.5
# Output settings that decide a row's text, fixed for the fingerprint (the source session's
# own settings are left alone: the savepoint rolls them back).
_FIXED_TEXT = (
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL IntervalStyle = 'postgres'",
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL bytea_output = 'hex'",
)


@dataclass(frozen=True)
class Plan:
    """`buckets` None: read every source row; else the dirty buckets (bucket, rows) and the
    single `keys` outside them to read again (rows naming a changed parent, kept rows).
    `tracked`: the entity was brought up to date before, so the ids whose mapping changes
    are recorded for its dependants. `watermark`: the last mapping change it has taken in
    when this pass completes."""

    buckets: list[tuple[int, int]] | None
    tracked: bool
    mapping_hash: str
    watermark: int
    source_rows: int = 0
    keys: list[int] = field(default_factory=list)


def plan(session: Session, spec: EntitySpec) -> Plan:
    target, ctx = session.target, session.ctx
    with target.transaction():
        mapping = sqlgen.mapping_hash(spec, _environment(target))
        mark = state.marks.get(target, spec.name)
        if mark is not None and mark.mapping_hash != mapping:
            # Mapped by another version of the tool: no fingerprint can be trusted.
            state.fingerprints.forget(target, spec.name)
        watermark = state.changes.last_seq(target)
    observe(session, spec)
    full = Plan(None, mark is not None, mapping, watermark)
    if not ctx.incremental or mark is None or mark.mapping_hash != mapping:
        return full
    lookups_changed, dirty = state.fingerprints.dirty(target, spec.name)
    if lookups_changed:
        return full
    buckets = dict(dirty)
    keys = _keys_naming_changed_parents(session, spec, mark.changes_seen, watermark)
    if not ctx.keep_deleted:
        keys |= set(state.deletions.kept_ids(target, spec.name))
    bits = state.fingerprints.BUCKET_BITS
    single = sorted(k for k in keys if k >> bits not in buckets)
    total = state.fingerprints.seen_rows(target, spec.name)
    if total and sum(buckets.values()) + len(single) > FULL_PASS_SHARE * total:
        return full
    return Plan(sorted(buckets.items()), True, mapping, watermark, total, single)


def observe(session: Session, spec: EntitySpec) -> None:
    """Loads the source's fingerprints of the entity, in the run's snapshot."""
    source, target = session.source, session.target
    with target.transaction():
        state.fingerprints.prepare_seen(target)
        source.execute("SAVEPOINT mdw_fingerprint")
        for setting in _FIXED_TEXT:
            source.execute(setting)
        staging.pipe(
            source,
            target,
            sqlgen.fingerprint_query(spec),
            f"COPY {state.fingerprints.SEEN} FROM STDIN (FORMAT BINARY)",
        )
        source.execute("ROLLBACK TO SAVEPOINT mdw_fingerprint")
        source.execute("RELEASE SAVEPOINT mdw_fingerprint")
        state.fingerprints.observe(target, spec.name)


def finish(session: Session, spec: EntitySpec, plan: Plan) -> None:
    """After a complete pass (in its final transaction): the entity is in step with the
    source as of the run's snapshot."""
    target = session.target
    state.fingerprints.store_lookups(target, spec.name)
    state.marks.put(
        target,
        spec.name,
        mapping_hash=plan.mapping_hash,
        changes_seen=plan.watermark,
        synced_at=session.ctx.snapshot_at,
    )


def _keys_naming_changed_parents(
    session: Session, spec: EntitySpec, seen: int, watermark: int
) -> set[int]:
    """Keys of the rows whose parent gained or lost its UUID since the entity last read
    its parents' changes: found by the source (through an index on the reference, where
    there is one), or directly when the reference is the row's own key."""
    found: set[int] = set()
    for ref in spec.refs:
        if ref.entity == spec.name:
            continue
        ids = state.changes.changed_since(session.target, ref.entity, seen, watermark)
        if not ids:
            continue
        if ref.source == spec.source.key:
            found |= set(ids)
            continue
        rows = session.source.execute(
            sqlgen.referring_keys_query(spec, ref.source).encode(), {"ids": ids}
        ).fetchall()
        found |= {int(r[0]) for r in rows}
    return found


def _environment(target: Conn) -> str:
    """What decides a mapped value besides the entity's SQL: the tool's version, the bodies
    of its SQL functions and the country aliases (all in the target)."""
    return f"{__version__}|{state.versions.mapping_inputs(target)}"
