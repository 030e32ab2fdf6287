"""`migration.range_fingerprints`: per entity and bucket of legacy ids (legacy id >> 5), the
source rows and the fingerprint the source server computed for them, twice: as the target
holds them (`source_rows`, `fingerprint`, NULL when the bucket was never brought up to date)
and as the source has them in the current run's snapshot (`seen_*`, NULL when the source has
no row there). A run loads what it sees (`observe`); a batch makes the buckets it brought up
to date agree (`store`), in its own transaction, so a killed run resumes with exactly the
buckets it had not finished; `dirty` lists those that disagree. Workers share the table.
"""

from __future__ import annotations

from ._conn import BatchKeys, Conn, in_batch

# Legacy ids per bucket: small enough that a change re-reads few rows, large enough that the
# fingerprints stay a small fraction of the rows (5.1 M rows: 160 k fingerprints).
BUCKET_BITS = 5
BUCKET_WIDTH = 1 << BUCKET_BITS
# The bucket of an entity's lookup tables: every bucket is dirty when it changes.
LOOKUPS = -1
# What the source's fingerprint COPY is loaded into first.
SEEN = "pg_temp.mdw_fingerprints"


def prepare_seen(conn: Conn) -> None:
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS mdw_fingerprints (bucket bigint,"
        " source_rows bigint, fingerprint numeric)"
    )
    conn.execute(f"TRUNCATE {SEEN}")


def observe(conn: Conn, entity: str) -> None:
    """What the source has now (loaded into SEEN) becomes the entity's `seen_*`."""
    conn.execute(
        "UPDATE migration.range_fingerprints SET seen_rows = NULL, seen_fingerprint = NULL"
        " WHERE entity = %s AND seen_rows IS NOT NULL",
        [entity],
    )
    conn.execute(
        "INSERT INTO migration.range_fingerprints AS f (entity, bucket, seen_rows,"
        " seen_fingerprint) SELECT %s, bucket, source_rows, fingerprint FROM "
        + SEEN
        + " ON CONFLICT (entity, bucket) DO UPDATE SET seen_rows = EXCLUDED.seen_rows,"
        " seen_fingerprint = EXCLUDED.seen_fingerprint",
        [entity],
    )
    conn.execute(
        "DELETE FROM migration.range_fingerprints WHERE entity = %s AND seen_rows IS NULL"
        " AND source_rows IS NULL",
        [entity],
    )


def dirty(conn: Conn, entity: str) -> tuple[bool, list[tuple[int, int]]]:
    """(whether the lookups changed, [(bucket, rows) of every bucket whose target state is
    not what the source has now]); rows are the larger of both counts."""
    lookups = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM migration.range_fingerprints WHERE entity = %s"
        " AND bucket = %s AND (source_rows, fingerprint) IS DISTINCT FROM"
        " (seen_rows, seen_fingerprint))",
        [entity, LOOKUPS],
    ).fetchone()
    rows = conn.execute(
        "SELECT bucket, greatest(coalesce(source_rows, 0), coalesce(seen_rows, 0))"
        " FROM migration.range_fingerprints WHERE entity = %s AND bucket <> %s"
        " AND (source_rows, fingerprint) IS DISTINCT FROM (seen_rows, seen_fingerprint)"
        " ORDER BY bucket",
        [entity, LOOKUPS],
    ).fetchall()
    return bool(lookups and lookups[0]), [(int(b), int(n)) for b, n in rows]


def seen_rows(conn: Conn, entity: str) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(seen_rows), 0) FROM migration.range_fingerprints"
        " WHERE entity = %s AND bucket <> %s",
        [entity, LOOKUPS],
    ).fetchone()
    return int(row[0]) if row else 0


def rows_of(conn: Conn, entity: str, buckets: list[int]) -> dict[int, int]:
    """Source rows now (else before) of the given buckets."""
    rows = conn.execute(
        "SELECT bucket, greatest(coalesce(source_rows, 0), coalesce(seen_rows, 0))"
        " FROM migration.range_fingerprints WHERE entity = %s AND bucket = ANY(%s)",
        [entity, buckets],
    ).fetchall()
    return {int(b): int(n) for b, n in rows}


def store(conn: Conn, keys: BatchKeys) -> None:
    """The buckets whose last key the batch covers are now as the source has them (a bucket
    cut by an earlier batch of the same pass was finished by this one)."""
    owned = in_batch(f"((bucket << {BUCKET_BITS}) + {BUCKET_WIDTH - 1})")
    conn.execute(
        "DELETE FROM migration.range_fingerprints WHERE entity = %(entity)s"
        f" AND bucket <> {LOOKUPS} AND seen_rows IS NULL AND {owned}",
        keys.params(),
    )
    conn.execute(
        "UPDATE migration.range_fingerprints SET source_rows = seen_rows,"
        " fingerprint = seen_fingerprint WHERE entity = %(entity)s"
        f" AND bucket <> {LOOKUPS} AND {owned}"
        " AND (source_rows, fingerprint) IS DISTINCT FROM (seen_rows, seen_fingerprint)",
        keys.params(),
    )


def store_lookups(conn: Conn, entity: str) -> None:
    """After a complete pass: the lookups are as the source has them."""
    conn.execute(
        "UPDATE migration.range_fingerprints SET source_rows = seen_rows,"
        " fingerprint = seen_fingerprint WHERE entity = %s AND bucket = %s",
        [entity, LOOKUPS],
    )


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.range_fingerprints WHERE entity = %s", [entity])
