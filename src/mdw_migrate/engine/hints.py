"""The hint bits of a bulk load's pages, set while the pages are fresh (decision 115).

The first reader of a row after its transaction commits sets hint bits on the row's page.
With data checksums (PostgreSQL 18's default) or `wal_log_hints`, a page hinted for the
first time since the last checkpoint is written to the WAL whole (`FPI_FOR_HINT`); with
neither, it is still dirtied and written to disk a second time. A bulk load's pages were
first read by the restores after the load (the first index build), after the checkpoints
the load itself had caused: at scale 1.0, 143,935 of system_messages' 165,100 pages went to
the WAL again that way, 1.16 GB of the run's 4.28 GB.

So each batch of a pass into an empty table reads the pages the batch before it wrote (a TID
range scan of the blocks the table grew by), while they are still in shared buffers and
usually within the same checkpoint cycle. One batch later, because a batch commits with
`synchronous_commit = off`, and a hint bit is only set once the commit is flushed. The read
changes no row; a batch that failed left dead rows there, which the read hints as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from .context import Conn
from .sqlgen import q


@dataclass
class FreshPages:
    """The target table of one pass (or key range), and the blocks its last batch wrote."""

    table: str
    pending: tuple[int, int] | None = None

    @property
    def relation(self) -> str:
        return f"public.{q(self.table)}"

    def blocks(self, conn: Conn) -> int:
        """The table's length in blocks now."""
        row = conn.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
            [self.relation],
        ).fetchone()
        return int(row[0]) if row else 0

    def wrote(self, conn: Conn, first: int) -> None:
        """After a batch's insert: the previous batch's pages are read, and this batch's are
        kept for the next one: from the block before `first` (the table's length before the
        insert, whose last page the insert may have filled) to the table's end."""
        self.settle(conn)
        end = self.blocks(conn)
        self.pending = (max(first - 1, 0), end) if end > first else None

    def settle(self, conn: Conn) -> None:
        """Reads the pages kept by `wrote` (the pass's end reads its last batch's)."""
        if self.pending is None:
            return
        first, end = self.pending
        self.pending = None
        conn.execute(
            f"SELECT count(*) FROM {self.relation} WHERE ctid >= %s::tid AND ctid < %s::tid",
            [f"({first},0)", f"({end},0)"],
        )
