"""What every state module shares: the connection type, and the keys of one batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import psycopg

Conn = psycopg.Connection[tuple[Any, ...]]
MIN_KEY = -(2**63)
MAX_KEY = 2**63 - 1


@dataclass(frozen=True)
class BatchKeys:
    """One batch of one entity: the key range (lo, hi] it covers, in which run. A batch's
    state (its outcomes, issues, fingerprints, checkpoint) is written under these keys."""

    entity: str
    run_id: uuid.UUID
    batch_no: int
    lo: int = MIN_KEY
    hi: int = MIN_KEY
    # A sync's batch covers scattered buckets of keys: the spans (lo, hi] within (lo, hi]
    # that it owns. Empty: the whole of (lo, hi].
    spans: tuple[tuple[int, int], ...] = ()

    def up_to(self, hi: int) -> BatchKeys:
        return replace(self, hi=hi)

    def params(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "run_id": self.run_id,
            "batch_no": self.batch_no,
            "lo": self.lo,
            "hi": self.hi,
            "span_keys": self.span_keys,
        }

    @cached_property
    def span_keys(self) -> list[int]:
        """Every key of the spans (a sync's batch: 64 k at most), listed once per batch."""
        return [k for lo, hi in self.spans for k in range(lo + 1, hi + 1)]


def in_batch(column: str, keys: BatchKeys) -> str:
    """SQL: `column` (a legacy id) is one of the batch's keys (parameters of BatchKeys). A
    batch of spans lists its keys, so that an index finds them wherever they are."""
    if keys.spans:
        return f"({column} = ANY(%(span_keys)s::bigint[]))"
    return f"({column} > %(lo)s AND {column} <= %(hi)s)"


@contextmanager
def hashed(conn: Conn) -> Iterator[None]:
    """Within a transaction: the statements run inside join by hashing, not in nested loops.
    `pending_deletions` fills during a sync's pass, after its statistics were taken, so the
    planner believed an entity had no queued row and looped over all of them (17 k) for
    each of the batch's keys: the 1 % sync took 45 s instead of 21 s in one run out of two."""
    conn.execute("SET LOCAL enable_nestloop = off")
    try:
        yield
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute("RESET enable_nestloop")
