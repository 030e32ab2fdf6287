"""What every state module shares: the connection type, and the keys of one batch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import psycopg

Conn = psycopg.Connection[tuple[Any, ...]]
MIN_KEY = -(2**63)


@dataclass(frozen=True)
class BatchKeys:
    """One batch of one entity: the key range (lo, hi] it covers, in which run. A batch's
    state (its id-map rows, outcomes, issues, checkpoint) is written under these keys."""

    entity: str
    run_id: uuid.UUID
    batch_no: int
    lo: int = MIN_KEY
    hi: int = MIN_KEY

    def up_to(self, hi: int) -> BatchKeys:
        return replace(self, hi=hi)

    def params(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "run_id": self.run_id,
            "batch_no": self.batch_no,
            "lo": self.lo,
            "hi": self.hi,
        }
