"""A bulk load's batch reads the pages the batch before it wrote, so their hint bits are set
while they are fresh (`engine.hints`, decision 115). Read off the pages by `pageinspect`,
which does not set hint bits itself."""

from __future__ import annotations

from typing import Any

import psycopg

from mdw_migrate.engine.hints import FreshPages

ROWS_PER_BATCH = 5_000
# t_infomask: the inserting transaction is known committed.
HEAP_XMIN_COMMITTED = 0x0100


def unhinted(conn: psycopg.Connection[tuple[Any, ...]], span: tuple[int, int]) -> int:
    """Rows on the blocks of `span` whose page does not yet know their insert committed."""
    row = conn.execute(
        "SELECT count(*) FROM generate_series(%s::int, %s::int - 1) AS b,"
        " heap_page_items(get_raw_page('public.t', b)) AS i"
        " WHERE i.lp_flags = 1 AND i.t_infomask & %s = 0",
        [span[0], span[1], HEAP_XMIN_COMMITTED],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_each_batch_hints_the_pages_of_the_batch_before_and_the_pass_end_the_last(
    empty_db: str,
) -> None:
    with psycopg.connect(empty_db) as conn:
        conn.execute("CREATE EXTENSION pageinspect")
        conn.execute("CREATE TABLE public.t (id bigint, v text)")
        conn.commit()
        pages = FreshPages("t")
        spans: list[tuple[int, int]] = []
        for batch in range(3):
            first = pages.blocks(conn)
            conn.execute(
                "INSERT INTO public.t SELECT g, repeat('x', 100)"
                " FROM generate_series(%s::bigint, %s::bigint) AS g",
                [batch * ROWS_PER_BATCH + 1, (batch + 1) * ROWS_PER_BATCH],
            )
            pages.wrote(conn, first)
            conn.commit()
            assert pages.pending is not None
            spans.append(pages.pending)
        # Each span starts on the page before the batch's first (it may have filled it).
        assert [first for first, _ in spans[1:]] == [end - 1 for _, end in spans[:-1]]
        # The first two batches' rows were read by the batch after each; the last one's not.
        last_first, last_end = spans[-1]
        assert unhinted(conn, (0, last_first)) == 0
        assert unhinted(conn, spans[-1]) == ROWS_PER_BATCH
        pages.settle(conn)
        conn.commit()
        assert unhinted(conn, (0, last_end)) == 0
        assert pages.pending is None
        pages.settle(conn)  # nothing left: no statement
        assert conn.execute("SELECT count(*) FROM public.t").fetchone() == (3 * ROWS_PER_BATCH,)
