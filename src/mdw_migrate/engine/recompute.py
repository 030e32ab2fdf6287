"""Maps given legacy rows again, without writing anything outside temporary tables, and
says which target rows differ from what the mapping gives now (validation's accuracy)."""

from __future__ import annotations

from ..state import BatchKeys
from . import batch, sqlgen, staging
from .session import Session
from .spec import EntitySpec


def differing(session: Session, spec: EntitySpec, keys: list[int]) -> list[int]:
    params = batch.params(session, BatchKeys(spec.name, session.ctx.run_id, 0))
    source, target = session.source, session.target
    staging.prepare(source, target, spec, params)
    with target.transaction(force_rollback=True):
        staging.into_stage(source, target, sqlgen.source_keys_query(spec, keys))
        target.execute(sqlgen.fill_work(spec).encode(), params)
        batch.apply_fallbacks(target, spec)
        rows = target.execute(sqlgen.differing_rows(spec).encode()).fetchall()
    return [int(r[0]) for r in rows]
