"""Runs one entity: counts its source rows, prepares the session, opens or resumes its
progress, defers constraints for a bulk load, runs its pass (split over workers when it is
large), resolves self-references, and records its final state.

The stages it composes each live in their own module: `passes` (where a pass starts, key
ranges, the keyset loop), `batch` (one transaction of one batch), `failures` (retries,
halving, rejects, the error budget), `staging` (temporary tables and the COPY pipe) and
`bulk` (deferred constraints).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from psycopg.pq import TransactionStatus

from .. import state
from ..state import BatchKeys
from . import batch, bulk, passes, sqlgen, staging, sync
from .context import EntityResult, Reporter
from .session import Session
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.runner")


class EntityRunner:
    def __init__(self, session: Session, reporter: Reporter) -> None:
        self.session = session
        self.reporter = reporter

    def preparer(self, spec: EntitySpec) -> Callable[[Session], None]:
        """What gives a session (this one, or a range worker's) fresh staging tables."""

        def prepare(session: Session) -> None:
            keys = BatchKeys(spec.name, session.ctx.run_id, 0)
            staging.prepare(session.source, session.target, spec, batch.params(session, keys))

        return prepare

    def run(self, spec: EntitySpec) -> EntityResult:
        started = time.perf_counter()
        session, ctx = self.session, self.session.ctx
        prepare = self.preparer(spec)
        plan = sync.plan(session, spec)
        if plan.buckets is None or plan.buckets or plan.keys:
            # A sync that found nothing to read here needs no staging tables (two DROPs and
            # CREATEs and a source query, 6 ms an entity: a tenth of a no-change sync).
            prepare(session)
        if plan.buckets is None:
            row = session.source.execute(sqlgen.source_count_query(spec)).fetchone()
            total = int(row[0]) if row else 0
        else:
            row, total = None, plan.source_rows
        size = ctx.batch_size_for(total)
        result = EntityResult(entity=spec.name, source_rows=total, batch_size=size)
        result.pass_kind = "full" if plan.buckets is None else "changes"
        begin = passes.start(ctx, session.source, session.target, spec, size)
        if plan.buckets is not None:
            # A sync resumes from the fingerprints, which say what the target holds.
            begin = passes.Start(None, [], False)
        with session.target.transaction():
            # A pass that starts again mid-bucket, in a newer snapshot than the part of the
            # bucket written before it, must not vouch for that bucket.
            restarts = [begin.key] if begin.key is not None else []
            restarts += [last for _, _, last, done in begin.ranges if last is not None and not done]
            if begin.ranges:
                restarts.append(max(hi for _, hi, _, _ in begin.ranges))
            if restarts:
                state.fingerprints.distrust(session.target, spec.name, restarts)
            if begin.continues:
                state.progress.resume(session.target, spec.name, ctx.run_id, total)
            else:
                state.ranges.forget(session.target, spec.name)
                state.progress.begin(session.target, spec.name, ctx.run_id, total)
        # A sync's progress runs over the rows it reads, not over the whole entity.
        planned = (
            total if plan.buckets is None else sum(n for _, n in plan.buckets) + len(plan.keys)
        )
        self.reporter.entity_started(spec.name, planned, size)
        log.info(
            "entity started",
            extra={
                "entity": spec.name,
                "action": "entity_started",
                "details": {"rows": total, "pass": result.pass_kind},
            },
        )
        # A full pass into an empty table reads each legacy key once, in key order: its
        # batches need not ask the table whether their keys are fresh, so the legacy key's
        # index waits with the others (decision 110).
        into_empty = False
        if not ctx.dry_run and total >= bulk.BULK_THRESHOLD:
            with session.target.transaction():
                if bulk.table_is_empty(session.target, spec.target):
                    into_empty = plan.buckets is None
                    legacy_key = spec.legacy_column if into_empty else None
                    bulk.defer(session.target, spec.name, spec.target, legacy_key)
                    if into_empty:
                        state.progress.none_mapped(session.target, spec.name)
        if not ctx.dry_run and not into_empty:
            # A run killed during a bulk load left it deferred: this pass upserts against it.
            with session.target.transaction():
                bulk.restore(session.target, spec.name, [bulk.LEGACY_KEY])
        one_pass = passes.Pass(session, spec, self.reporter, prepare, tracked=plan.tracked)
        try:
            if plan.buckets is not None:
                done = one_pass.run_spans(size, passes.spans_of(plan.buckets, plan.keys, size))
            else:
                done = self._full_pass(spec, begin, row, size, plan.tracked, into_empty)
        finally:
            # Constraints come back whether the pass completed or stopped; if the connection
            # is gone, state.deferred keeps them for the entity's next run.
            target = session.target
            if not target.broken and target.info.transaction_status == TransactionStatus.IDLE:
                with target.transaction():
                    bulk.restore(target, spec.name)
        stopped = ctx.should_stop()
        unchanged = plan.buckets is not None and done.batches == 0
        with session.target.transaction():
            if not stopped and not unchanged:
                self._resolve_self_references(spec)
                sync.finish(session, spec, plan)
            if unchanged:
                # A sync with nothing to read here: the counts of the last pass still hold.
                counts = state.progress.keep_counts(
                    session.target, spec.name, completed=not stopped
                )
            else:
                counts = state.progress.finish(
                    session.target,
                    sqlgen.mapped(spec),
                    done.last_key,
                    completed=not stopped,
                    prune_tail=plan.buckets is None,
                    # A pass into an empty table counted every row it mapped, from 0 (1 s
                    # of reading 5.1 M notifications again at the run's end, decision 118).
                    recount_mapped=plan.buckets is None and not into_empty,
                )
        result.batches, result.processed = done.batches, done.processed
        for name, n in done.changes.items():
            setattr(result, name, n)
        if not ctx.dry_run and not stopped and result.inserted >= bulk.ANALYZE_THRESHOLD:
            # Statistics now, in this worker while others still load, rather than at the
            # run's end: its dependants plan their joins to this table with them, and the
            # last entity's worker is the only one left waiting on an ANALYZE.
            with session.target.transaction():
                state.analyze(session.target, [sqlgen.q(spec.target)], with_state=False)
        result.migrated = counts["migrated"]
        result.excluded = counts["excluded"]
        result.rejected = counts["rejected"]
        if plan.buckets is not None:
            # Only changed rows were read: the source's count is what the state accounts
            # for (validation counts the source itself).
            result.source_rows = (
                result.migrated
                + result.excluded
                + result.rejected
                - (state.deletions.kept_count(session.target, spec.name))
            )
        result.reasons = state.outcomes.reasons(session.target, spec.name)
        result.issues = {
            f"{kind}:{column}": n
            for kind, column, n in state.issues.by_kind(session.target, spec.name)
        }
        result.status = "interrupted" if stopped else "completed"
        result.seconds = time.perf_counter() - started
        self.reporter.entity_done(result)
        log.info(
            "entity finished",
            extra={
                "entity": spec.name,
                "action": "entity_finished",
                "details": {
                    "status": result.status,
                    "pass": result.pass_kind,
                    "sourceRows": result.source_rows,
                    "migrated": result.migrated,
                    "excluded": result.excluded,
                    "rejected": result.rejected,
                    "inserted": result.inserted,
                    "updated": result.updated,
                    "deleted": result.deleted,
                    "reasons": result.reasons,
                    "seconds": round(result.seconds, 3),
                },
            },
        )
        return result

    def _full_pass(
        self,
        spec: EntitySpec,
        begin: passes.Start,
        counted: tuple[Any, ...] | None,
        size: int,
        tracked: bool,
        into_empty: bool,
    ) -> passes.PassResult:
        """Every source row, from `begin`: split over the workers when the entity is large.
        `into_empty`: the table was empty when the pass began (`passes.Pass`)."""
        session, ctx = self.session, self.session.ctx
        prepare = self.preparer(spec)
        ranges = begin.ranges
        total = int(counted[0]) if counted else 0
        if not ranges and begin.key is None and ctx.can_split(total) and counted:
            ranges = passes.plan_ranges(
                session.target,
                spec,
                ctx.workers,
                int(counted[2]),
                int(counted[1]),
            )
        one_pass = passes.Pass(
            session, spec, self.reporter, prepare, tracked=tracked, into_empty=into_empty
        )
        if not ranges:
            return one_pass.run(size, begin.key, None)
        done = passes.run_ranges(
            session,
            spec,
            self.reporter,
            prepare,
            size,
            ranges,
            tracked=tracked,
            into_empty=into_empty,
        )
        if not ctx.should_stop():
            # A resumed split pass reads a newer snapshot than the one its ranges were cut
            # from: rows added since sit above the last range.
            tail = one_pass.run(size, done.last_key, None)
            done.absorb(tail)
            done.last_key = tail.last_key
        return done

    def _resolve_self_references(self, spec: EntitySpec) -> None:
        """After the last batch of a complete pass: a parent may come later in key order. A
        parent that never migrated stays NULL, its legacy id kept, listed as an issue."""
        target = self.session.target
        table = f"public.{sqlgen.q(spec.target)}"
        for ref in spec.self_refs:
            column, legacy = sqlgen.q(ref.column), sqlgen.q(ref.legacy_column)
            state.id_map.resolve_self_reference(sqlgen.mapped(spec), target, column, legacy)
            state.issues.replace_kind(
                target,
                spec.name,
                "missing_parent",
                ref.column,
                f"SELECT c.{sqlgen.q(spec.legacy_column)} FROM {table} AS c"
                f" WHERE c.{legacy} IS NOT NULL AND c.{column} IS NULL",
                self.session.ctx.run_id,
            )
