"""`migration.range_fingerprints`: per entity and bucket of legacy ids (legacy id >> 5), the
source rows and the fingerprint the source server computed for them: as the target holds
them (`source_rows`, `fingerprint`, NULL when the bucket was never brought up to date), and,
where the current run's snapshot differs, as the source has them now (`seen_*`; 0 rows when
the source has none there, NULL when nothing differs). A run loads what it sees (`observe`);
a batch makes the buckets it brought up to date agree (`store`), in its own transaction, so a
killed run resumes with exactly the buckets it had not finished; `dirty` lists those that
disagree. A stored bucket names the run and batch that stored it: the id map's provenance.
Workers share the table.
"""

from __future__ import annotations

from ._conn import BatchKeys, Conn

# Legacy ids per bucket: small enough that a change re-reads few rows, large enough that the
# fingerprints stay a small fraction of the rows (5.1 M rows: 160 k fingerprints).
BUCKET_BITS = 5
BUCKET_WIDTH = 1 << BUCKET_BITS
# The bucket of an entity's lookup tables: every bucket is dirty when it changes.
LOOKUPS = -1
# What the source's fingerprint COPY is loaded into first.
SEEN = "pg_temp.mdw_fingerprints"


def bucket_end(key: int) -> int:
    """The last key of the bucket that holds `key`."""
    return key | (BUCKET_WIDTH - 1)


def distrust(conn: Conn, entity: str, keys: list[int]) -> None:
    """The buckets holding `keys` (where a pass starts again, mid-bucket, in a newer
    snapshot than the part of the bucket written before) are not stored by this run and
    count as changed by the next one."""
    conn.execute(
        "UPDATE migration.range_fingerprints SET source_rows = NULL, fingerprint = NULL,"
        " seen_rows = NULL, seen_fingerprint = NULL WHERE entity = %s"
        f" AND bucket = ANY(ARRAY(SELECT k >> {BUCKET_BITS} FROM unnest(%s::bigint[]) AS k))",
        [entity, keys],
    )


def prepare_seen(conn: Conn) -> None:
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS mdw_fingerprints (bucket bigint,"
        " source_rows bigint, fingerprint numeric)"
    )
    conn.execute(f"TRUNCATE {SEEN}")


def observe(conn: Conn, entity: str) -> None:
    """What the source has now (loaded into SEEN) is compared with what the target holds;
    only the buckets that differ get a `seen_*` (0 rows: the source has none there), so a
    sync with nothing changed writes nothing here."""
    conn.execute(f"ANALYZE {SEEN}")
    # What an interrupted run saw is stale now.
    conn.execute(
        "UPDATE migration.range_fingerprints SET seen_rows = NULL, seen_fingerprint = NULL"
        " WHERE entity = %s AND seen_rows IS NOT NULL",
        [entity],
    )
    conn.execute(
        "INSERT INTO migration.range_fingerprints AS f (entity, bucket, seen_rows,"
        f" seen_fingerprint) SELECT %(e)s, c.bucket, c.source_rows, c.fingerprint FROM {SEEN} c"
        " LEFT JOIN migration.range_fingerprints s ON s.entity = %(e)s AND s.bucket = c.bucket"
        " WHERE (s.source_rows, s.fingerprint) IS DISTINCT FROM (c.source_rows, c.fingerprint)"
        " ON CONFLICT (entity, bucket) DO UPDATE SET seen_rows = EXCLUDED.seen_rows,"
        " seen_fingerprint = EXCLUDED.seen_fingerprint",
        {"e": entity},
    )
    conn.execute(
        "UPDATE migration.range_fingerprints AS s SET seen_rows = 0, seen_fingerprint = 0"
        " WHERE s.entity = %s AND s.source_rows IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {SEEN} c WHERE c.bucket = s.bucket)",
        [entity],
    )


def dirty(conn: Conn, entity: str) -> tuple[bool, list[tuple[int, int]]]:
    """(whether the lookups changed, [(bucket, rows) of every bucket whose target state is
    not what the source has now]); rows are the larger of both counts."""
    rows = conn.execute(
        "SELECT bucket, greatest(coalesce(source_rows, 0), seen_rows)"
        " FROM migration.range_fingerprints WHERE entity = %s AND seen_rows IS NOT NULL"
        " ORDER BY bucket",
        [entity],
    ).fetchall()
    lookups = any(int(b) == LOOKUPS for b, _ in rows)
    return lookups, [(int(b), int(n)) for b, n in rows if int(b) != LOOKUPS]


def seen_rows(conn: Conn, entity: str) -> int:
    """The entity's source rows now (as far as the fingerprints count them)."""
    row = conn.execute(
        "SELECT coalesce(sum(coalesce(seen_rows, source_rows)), 0)"
        " FROM migration.range_fingerprints WHERE entity = %s AND bucket <> %s",
        [entity, LOOKUPS],
    ).fetchone()
    return int(row[0]) if row else 0


def store(conn: Conn, keys: BatchKeys) -> None:
    """The buckets whose last key the batch covers are now as the source has them (a bucket
    cut by an earlier batch of the same pass was finished by this one)."""
    params = {**keys.params(), "owned": owned(keys)}
    if keys.spans:
        condition = "bucket = ANY(%(owned)s::bigint[])"
    else:
        condition = "bucket BETWEEN %(owned)s[1] AND %(owned)s[2]"
    conn.execute(
        "DELETE FROM migration.range_fingerprints WHERE entity = %(entity)s"
        f" AND bucket <> {LOOKUPS} AND seen_rows = 0 AND {condition}",
        params,
    )
    conn.execute(
        "UPDATE migration.range_fingerprints SET source_rows = seen_rows,"
        " fingerprint = seen_fingerprint, seen_rows = NULL, seen_fingerprint = NULL,"
        " run_id = %(run_id)s, batch_no = %(batch_no)s"
        f" WHERE entity = %(entity)s AND bucket <> {LOOKUPS} AND {condition}"
        " AND seen_rows IS NOT NULL",
        params,
    )


def owned(keys: BatchKeys) -> list[int]:
    """The buckets whose last key the batch covers: listed for a batch of spans, else the
    first and last of a range of them."""
    last = BUCKET_WIDTH - 1
    if keys.spans:
        return sorted(
            {
                k >> BUCKET_BITS
                for lo, hi in keys.spans
                for k in range(lo + 1, hi + 1)
                if k & last == last
            }
        )
    return [((keys.lo - last) >> BUCKET_BITS) + 1, (keys.hi - last) >> BUCKET_BITS]


def store_lookups(conn: Conn, entity: str) -> None:
    """After a complete pass: the lookups are as the source has them."""
    conn.execute(
        "UPDATE migration.range_fingerprints SET source_rows = seen_rows,"
        " fingerprint = seen_fingerprint, seen_rows = NULL, seen_fingerprint = NULL"
        " WHERE entity = %s AND bucket = %s AND seen_rows IS NOT NULL",
        [entity, LOOKUPS],
    )


def forget(conn: Conn, entity: str) -> None:
    conn.execute("DELETE FROM migration.range_fingerprints WHERE entity = %s", [entity])
