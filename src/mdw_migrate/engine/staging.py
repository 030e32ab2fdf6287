"""Staging: the temporary tables a batch flows through, and the COPY pipe that fills them.

`pipe` streams a source `COPY ... TO STDOUT` into a target `COPY ... FROM STDIN`, chunk by
chunk (Python holds one chunk at a time); the entity runner and the legacy archive both use
it. `prepare` (re)creates an entity's `stage` and `work` tables in the target session.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from psycopg import ClientCursor, Copy
from psycopg.abc import Buffer
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.pq.abc import PGconn

from . import sqlgen
from .context import Conn
from .spec import EntitySpec

log = logging.getLogger("mdw_migrate.staging")


def pipe(source: Conn, target: Conn, copy_out: str, copy_in: str) -> int:
    """Rows piped from the source's `copy_out` into the target's `copy_in`.

    A SQL_ASCII legacy server holds bytes that may not be UTF-8, and refuses to convert them
    for a UTF-8 client: for the COPY alone the source session takes them raw, and the target,
    which checks its input, refuses the row that is not valid (a LOAD_ERROR reject after the
    batch is halved) instead of the source stopping the run.
    """
    raw = source.info.parameter_status("server_encoding") in (b"SQL_ASCII", "SQL_ASCII")
    if not raw:
        return _copy(source, target, copy_out, copy_in)
    source.execute("SET client_encoding TO 'SQL_ASCII'")
    try:
        return _copy(source, target, copy_out, copy_in)
    finally:
        # Not on a failed transaction: that would replace the error that failed it.
        if not source.broken and source.info.transaction_status != TransactionStatus.INERROR:
            source.execute("SET client_encoding TO 'UTF8'")


# The source sends one COPY message a row; the target takes them in writes of this size
# (a write a row cost 0.16 µs a row more: 1.19 s against 1.03 s for 1 M notifications).
WRITE_BYTES = 1 << 17


class SourceCopy:
    """The messages of a source `COPY ... TO STDOUT`, read from libpq while it holds them.

    psycopg's `Copy` iterator goes through its wait machinery for every message, one a row:
    about 1.3 µs of Python a row. libpq already holds most messages when they are asked for,
    so they are taken straight from it (`PGconn.get_copy_data` without blocking), and only
    when it holds none does `Copy.read` wait for the next one (decision 119).

    When the loop, not psycopg, meets the COPY's end, it reads the COPY's final result
    itself and raises the source's own error, if any. `ended` then says so, and `finish`
    does not ask libpq for a COPY that is over.
    """

    def __init__(self, source: Conn, out: Copy) -> None:
        self._source = source
        self._out = out
        self.ended = False

    def __iter__(self) -> Iterator[Buffer]:
        pgconn = self._source.pgconn
        get_copy_data = pgconn.get_copy_data
        while not self.ended:
            size, data = get_copy_data(1)  # async: 0 when libpq holds no message, not a wait
            if size > 0:
                yield data
            elif size == 0:
                yield from self._wait_for_more()
            else:
                self._end(pgconn)

    def _wait_for_more(self) -> Iterator[Buffer]:
        try:
            data = self._out.read()  # b"" at the end, with the final result read
        except psycopg.Error:
            self.ended = True  # psycopg read the failed COPY's final result
            raise
        if data:
            yield data
        else:
            self.ended = True

    def _end(self, pgconn: PGconn) -> None:
        """The COPY's final result: COMMAND_OK, or the error that ended it."""
        self.ended = True
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        if not results:
            message = pgconn.error_message.decode(self._source.info.encoding, "replace")
            raise psycopg.OperationalError(f"the source COPY failed: {message}")
        if results[0].status != ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(results[0], self._source.info.encoding)

    def finish(self) -> None:
        """Reads the rest of the COPY, so the source's transaction stays usable."""
        for _ in self:
            pass


def forward(rows: Iterable[Buffer], into: Copy) -> None:
    """Every chunk of `rows` into `into`, gathered into writes of about WRITE_BYTES."""
    gathered = bytearray()
    for chunk in rows:
        gathered += chunk
        if len(gathered) >= WRITE_BYTES:
            into.write(gathered)
            gathered = bytearray()
    if gathered:
        into.write(gathered)


def _copy(source: Conn, target: Conn, copy_out: str, copy_in: str) -> int:
    with (
        source.cursor() as src_cur,
        target.cursor() as dst_cur,
        src_cur.copy(copy_out.encode()) as out,
    ):
        rows = SourceCopy(source, out)
        try:
            with dst_cur.copy(copy_in.encode()) as into:
                forward(rows, into)
        except psycopg.Error:
            # The target refused the data: let the source finish its COPY, so its
            # transaction (the run's snapshot) stays usable for the retry.
            rows.finish()
            raise
        # Read before the cursor closes: a closed cursor forgets its row count.
        return max(dst_cur.rowcount, 0)


def into_stage(source: Conn, target: Conn, copy_out: str) -> int:
    """Pipes a source COPY into the entity's staging table.

    The stage starts with a unique index on the legacy key (`prepare`): the batch then
    finds its last key through the index and need not look for a key staged twice, which
    cost scans of the stage (0.55 µs a row of system_messages). A source without a
    primary key can hold a key twice: that COPY is refused, and staged again into the stage
    without its index, where the batch splits the duplicates as before (`stage_is_keyed`).
    """
    copy_in = f"COPY {sqlgen.STAGE} FROM STDIN (FORMAT BINARY)"
    if not stage_is_keyed(target):
        return pipe(source, target, copy_out, copy_in)
    try:
        with target.transaction():  # a savepoint: the batch's transaction goes on
            return pipe(source, target, copy_out, copy_in)
    except psycopg.errors.UniqueViolation:
        log.info("a legacy key staged twice", extra={"action": "stage_unkeyed"})
        target.execute(f"DROP INDEX {sqlgen.STAGE_KEY}")
        return pipe(source, target, copy_out, copy_in)


def stage_is_keyed(target: Conn) -> bool:
    """Whether the stage still has its unique index on the legacy key."""
    row = target.execute(f"SELECT to_regclass('{sqlgen.STAGE_KEY}') IS NOT NULL").fetchone()
    return bool(row and row[0])


def source_column_types(source: Conn, spec: EntitySpec) -> list[tuple[str, str]]:
    """The source query's columns and types, as the staging table declares them."""
    cur = source.execute(sqlgen.source_columns_query(spec))
    description = cur.description or []
    oids = [col.type_code for col in description]
    # Without a type modifier, `character` means char(1) and `bit` bit(1): stage them under
    # their unbounded names so no value is cut or refused.
    names: dict[int, str] = dict(
        source.execute(
            "SELECT oid, CASE typname WHEN 'bpchar' THEN 'bpchar' WHEN '_bpchar' THEN"
            " 'bpchar[]' WHEN 'bit' THEN 'varbit' WHEN '_bit' THEN 'varbit[]'"
            " ELSE format_type(oid, NULL) END FROM pg_type WHERE oid = ANY(%s)",
            [oids],
        ).fetchall()
    )
    return [(col.name, str(names[col.type_code])) for col in description]


def prepare(source: Conn, target: Conn, spec: EntitySpec, params: dict[str, Any]) -> None:
    """Fresh `stage` and `work` tables for the entity in the target session."""
    columns = source_column_types(source, spec)
    with target.transaction():
        target.execute(f"DROP TABLE IF EXISTS {sqlgen.STAGE}, {sqlgen.WORK}")
        target.execute(sqlgen.create_stage(columns).encode())
        target.execute(sqlgen.key_stage(spec).encode())
        # CREATE TABLE AS cannot take server-side parameters, so they are bound on the
        # client, as text in the statement: the UUID secret must not be among them (only the
        # columns' types matter here, and they do not depend on its value).
        with ClientCursor(target) as cur:
            cur.execute(sqlgen.create_work(spec), {**params, "secret": b""})
