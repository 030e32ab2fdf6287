"""Turns an `EntitySpec` into the SQL of one batch. Pure text: no connection here.

The batch flows through two temporary tables in the target:

    stg   the source rows as read (binary COPY from the source's keyset query)
    work  one row per source row: outcome, UUID, every target value, issue flags, raw values

and from `work` into the target table with one set-based statement; the target tables are
the id map (state/id_map.py). Outcomes and quality issues are the state package's tables:
this module gives it SELECTs over `work` (`MIGRATED_KEYS`, `OUTCOMES`, `flagged_issues`) and
it writes them. Statements take named parameters: secret, entity, run_id, batch_no, lo, hi
(see state.BatchKeys), and the transform first_block and block_prefixes (`block_prefixes`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..state import BatchKeys, fingerprints
from ..state._conn import in_batch
from ..state.id_map import MappedTable
from .spec import Col, EntitySpec, Ref, computed_column

STAGE = "pg_temp.mdw_stage"
WORK = "pg_temp.mdw_work"


def q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def mapped(spec: EntitySpec) -> MappedTable:
    """The entity's target table, which is its part of the id map."""
    return MappedTable(spec.name, f"public.{q(spec.target)}", q(spec.legacy_column))


def parent_mapped(ref: Ref) -> MappedTable:
    if ref.parent_target is None or ref.parent_legacy is None:
        raise ValueError(f"reference {ref.name} to {ref.entity} is not bound to its table")
    return MappedTable(ref.entity, f"public.{q(ref.parent_target)}", q(ref.parent_legacy))


def _frag(text: str) -> str:
    """A spec's SQL fragment, made safe for psycopg's %-placeholders."""
    return text.replace("%", "%%")


@dataclass(frozen=True)
class IssueFlag:
    kind: str
    column: str
    condition: str
    raw: str | None  # the staged column kept in legacy_raw when the flag is set

    @property
    def flag(self) -> str:
        return f"_q_{self.kind}_{self.column}"


def issue_flags(spec: EntitySpec) -> list[IssueFlag]:
    flags: list[IssueFlag] = []
    for col in spec.columns:
        condition = col.issue_condition()
        if condition is not None and col.issue is not None:
            flags.append(IssueFlag(col.issue, col.name, condition, col.raw))
        if col.fallback is not None and col.fallback_issue is not None:
            flags.append(IssueFlag(col.fallback_issue, col.name, "false", None))
    for issue in spec.issues:
        flags.append(IssueFlag(issue.kind, issue.column, issue.when, None))
    for ref in spec.refs:
        if not ref.required and ref.issue:
            column = ref.column or ref.name
            condition = f"(s.{q(ref.source)} IS NOT NULL AND {ref.alias} IS NULL)"
            flags.append(IssueFlag("missing_parent", column, condition, None))
    return flags


def fallback_flag(spec: EntitySpec, col: Col) -> tuple[IssueFlag, IssueFlag | None]:
    flags = {(f.kind, f.column): f for f in issue_flags(spec)}
    failed = flags[(col.issue or "", col.name)]
    recovered = flags.get((col.fallback_issue or "", col.name))
    return failed, recovered


def source_batch_query(
    spec: EntitySpec, last_key: int | None, limit: int, upper: int | None = None
) -> str:
    """The keyset query of one batch, as a COPY ... TO STDOUT (binary) of the source;
    `upper` closes the key range of a split entity's worker."""
    key = q(spec.source.key)
    conditions = []
    if last_key is not None:
        conditions.append(f"src.{key} > {int(last_key)}")
    if upper is not None:
        conditions.append(f"src.{key} <= {int(upper)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"COPY (SELECT * FROM ({spec.source.query}) AS src{where}"
        f" ORDER BY src.{key} LIMIT {int(limit)}) TO STDOUT (FORMAT BINARY)"
    )


def source_spans_query(spec: EntitySpec, spans: tuple[tuple[int, int], ...]) -> str:
    """The source rows whose keys fall in the spans (lo, hi], as a binary COPY: a sync's
    batch of changed buckets."""
    key = q(spec.source.key)
    where = " OR ".join(f"(src.{key} > {int(lo)} AND src.{key} <= {int(hi)})" for lo, hi in spans)
    return (
        f"COPY (SELECT * FROM ({spec.source.query}) AS src WHERE {where or 'false'}"
        f" ORDER BY src.{key}) TO STDOUT (FORMAT BINARY)"
    )


def fingerprint_query(spec: EntitySpec, lo: int | None = None, hi: int | None = None) -> str:
    """Per bucket of legacy ids: (bucket, source rows, fingerprint), computed by the source
    server, as a binary COPY; nothing of a row leaves it. From the row versions of
    `rows_of` when the spec names it (a changed row has a new `xmin`), else from a hash of
    every source row's text; plus bucket -1 for the lookup tables. A bucket's fingerprint
    is the XOR of its rows' 64-bit hashes: a bigint aggregate, where a sum needed numeric
    (1.7 s against 0.65 s for 5.1 M notifications); with the row count beside it."""
    key = q(spec.source.key)
    bits = fingerprints.BUCKET_BITS
    bounds = []
    if lo is not None:
        bounds.append(f"t.{key} > {int(lo)}")
    if hi is not None:
        bounds.append(f"t.{key} <= {int(hi)}")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    if spec.source.rows_of:
        buckets = (
            f"SELECT (t.{key}::bigint >> {bits}), count(*),"
            f" bit_xor(hashxidextended(t.xmin, t.{key}::bigint))::numeric"
            f" FROM {spec.source.rows_of} AS t{where} GROUP BY 1"
        )
        lookups = [table for table in spec.source.reads if table != spec.source.rows_of]
    else:
        buckets = (
            f"SELECT (t.{key}::bigint >> {bits}), count(*),"
            f" bit_xor(hashtextextended(t::text, 0))::numeric"
            f" FROM ({spec.source.query}) AS t{where} GROUP BY 1"
        )
        lookups = []
    if lookups:
        parts = " UNION ALL ".join(
            f"SELECT count(*) AS n, bit_xor(hashtextextended(l::text, 0)) AS h FROM {table} AS l"
            for table in lookups
        )
        buckets += (
            f" UNION ALL SELECT {fingerprints.LOOKUPS}::bigint, sum(n)::bigint,"
            f" coalesce(sum(h), 0)::numeric FROM ({parts}) AS lookups"
        )
    return f"COPY ({buckets}) TO STDOUT (FORMAT BINARY)"


def referring_keys_query(spec: EntitySpec, source_column: str) -> str:
    """The keys of the source rows whose `source_column` is one of %(ids)s (bigint[])."""
    key = q(spec.source.key)
    return (
        f"SELECT DISTINCT src.{key}::bigint FROM ({_frag(spec.source.query)}) AS src"
        f" WHERE src.{q(source_column)} = ANY(%(ids)s::bigint[])"
    )


def mapping_hash(spec: EntitySpec, environment: str = "") -> str:
    """Changes when the mapping of the entity may have changed: its SQL, or `environment`
    (what else decides a value: the tool's version, its SQL functions, the country
    aliases). A sync then re-reads the whole entity instead of trusting fingerprints of rows
    mapped otherwise."""
    text = "\n".join(
        [
            spec.source.query,
            str(spec.source.rows_of),
            work_select(spec, defining=True),
            upsert_target(spec),
        ]
    )
    return hashlib.sha256((text + environment).encode()).hexdigest()[:16]


def next_key_query(spec: EntitySpec, last_key: int | None, upper: int | None) -> str:
    """The first key after `last_key` (within `upper`), read directly from the source."""
    key = q(spec.source.key)
    conditions = ["TRUE"]
    if last_key is not None:
        conditions.append(f"src.{key} > {int(last_key)}")
    if upper is not None:
        conditions.append(f"src.{key} <= {int(upper)}")
    return (
        f"SELECT src.{key}::bigint FROM ({spec.source.query}) AS src"
        f" WHERE {' AND '.join(conditions)} ORDER BY src.{key} LIMIT 1"
    )


def stage_max_key(spec: EntitySpec) -> str:
    return f"SELECT max({q(spec.source.key)})::bigint FROM {STAGE}"


def complete_key_group(spec: EntitySpec) -> tuple[str, str]:
    """A source without a primary key can hold one legacy id twice, and LIMIT may cut between
    the copies: the batch's last key is dropped and read again whole."""
    key = q(spec.source.key)
    return (
        f"DELETE FROM {STAGE} WHERE {key} = %(key)s",
        f"SELECT * FROM ({spec.source.query}) AS src WHERE src.{key} = %(key)s",
    )


def split_duplicates(spec: EntitySpec) -> tuple[str, str]:
    """(does the stage hold a legacy id twice?, remove every copy but the first and return
    their keys)."""
    key = q(spec.source.key)
    return (
        f"SELECT EXISTS (SELECT 1 FROM {STAGE} GROUP BY {key} HAVING count(*) > 1)",
        f"DELETE FROM {STAGE} WHERE ctid IN (SELECT ctid FROM (SELECT ctid, row_number()"
        f" OVER (PARTITION BY {key} ORDER BY ctid) AS n FROM {STAGE}) AS d WHERE d.n > 1)"
        f" RETURNING {key}::bigint",
    )


def source_keys_query(spec: EntitySpec, keys: list[int]) -> str:
    """The source rows of the given keys (a validation sample), as a binary COPY."""
    listed = ",".join(str(int(k)) for k in keys) or "NULL"
    key = q(spec.source.key)
    return (
        f"COPY (SELECT * FROM ({spec.source.query}) AS src WHERE src.{key} IN ({listed}))"
        " TO STDOUT (FORMAT BINARY)"
    )


def differing_rows(spec: EntitySpec) -> str:
    """Legacy ids of sampled rows whose target row differs from what the mapping gives now."""
    columns = ["id", *spec.target_columns(), "metadata"]
    legacy = q(spec.legacy_column)
    recomputed = ", ".join(
        ["w._uuid", *[f"w.{q(c)}" for c in spec.target_columns()], _metadata_expr(spec, "w.")]
    )
    stored = ", ".join(f"t.{q(c)}" for c in columns)
    return (
        f"SELECT w._legacy_id FROM {WORK} w LEFT JOIN public.{q(spec.target)} t"
        f" ON t.{legacy} = w._legacy_id WHERE w._outcome IS NULL"
        f" AND (t.{legacy} IS NULL OR ({stored}) IS DISTINCT FROM ({recomputed}))"
        " ORDER BY 1"
    )


def source_count_query(spec: EntitySpec) -> str:
    key = q(spec.source.key)
    return f"SELECT count(*), max(src.{key}), min(src.{key}) FROM ({spec.source.query}) AS src"


def source_columns_query(spec: EntitySpec) -> str:
    return f"SELECT * FROM ({spec.source.query}) AS src LIMIT 0"


def create_stage(columns: list[tuple[str, str]]) -> str:
    cols = ", ".join(f"{q(name)} {sqltype}" for name, sqltype in columns)
    return f"CREATE TEMP TABLE IF NOT EXISTS mdw_stage ({cols})"


# The stage's unique index on the legacy key (see `staging.into_stage`).
STAGE_KEY = "pg_temp.mdw_stage_key"


def key_stage(spec: EntitySpec) -> str:
    return f"CREATE UNIQUE INDEX IF NOT EXISTS mdw_stage_key ON {STAGE} ({q(spec.source.key)})"


def _outcome_cases(spec: EntitySpec) -> tuple[str, str, str]:
    """(outcome, reason, detail) CASE expressions: orphans first, then the spec's rules."""
    outcome, reason, detail = [], [], []
    for ref in spec.refs:
        if not ref.required:
            continue
        missing = f"(s.{q(ref.source)} IS NULL OR {ref.alias} IS NULL)"
        outcome.append(f"WHEN {missing} THEN 'rejected'")
        reason.append(f"WHEN {missing} THEN '{ref.reject_reason}'")
        # Ids only: the detail is read by operators and must carry no personal data.
        detail.append(
            f"WHEN {missing} THEN '{ref.source}=' || coalesce(s.{q(ref.source)}::text, 'NULL')"
            f" || ' has no migrated {ref.entity} row'"
        )
    for rule in spec.rules:
        cond = _frag(rule.when)
        outcome.append(f"WHEN {cond} THEN '{rule.outcome}'")
        reason.append(f"WHEN {cond} THEN '{rule.code}'")
        detail.append(f"WHEN {cond} THEN NULL")
    if not outcome:
        return "NULL::text", "NULL::text", "NULL::text"
    return tuple(  # type: ignore[return-value]
        "(CASE " + " ".join(parts) + " END)" for parts in (outcome, reason, detail)
    )


# Ids per block of UUID layout 2: the rows of a block share the UUID's first 4 bytes.
UUID_BLOCK_BITS = 12


def block_prefix(block: str) -> str:
    """The first 4 bytes of layout-2 UUIDs of the legacy ids of `block` (id >> 12)."""
    return (
        "substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || '#' || "
        f"({block})::text, 'UTF8')) FROM 1 FOR 4)"
    )


# A batch's blocks are few (a 50,000-row batch of dense ids spans 13): their prefixes are
# hashed in Python, once a block, and passed as an array of int4, where a row finds its own by
# subscript. Joining a table of the blocks' hashes instead cost 1 µs a row of the transform.
MAX_PASSED_BLOCKS = 4096


def stage_blocks(spec: EntitySpec) -> str:
    """The first and last UUID block of the staged keys (through the stage's key index)."""
    key = q(spec.source.key)
    return (
        f"SELECT min({key})::bigint >> {UUID_BLOCK_BITS}, max({key})::bigint >> {UUID_BLOCK_BITS}"
        f" FROM {STAGE}"
    )


def block_prefixes(secret: bytes, entity: str, first: int, last: int) -> list[int]:
    """`block_prefix` of the blocks `first` to `last`, each as the int4 whose `int4send`
    gives those 4 bytes."""
    return [
        int.from_bytes(
            hashlib.sha256(secret + f"{entity}#{block}".encode()).digest()[:4], "big", signed=True
        )
        for block in range(first, last + 1)
    ]


def passed_block_prefix(legacy_id: str) -> str:
    """The prefix of `legacy_id`'s block: looked up in `%(block_prefixes)s` (the prefixes of
    the blocks from `%(first_block)s` on, `block_prefixes`), hashed in the row where the
    array does not reach (an empty one: every row)."""
    block = f"(({legacy_id})::bigint >> {UUID_BLOCK_BITS})"
    offset = f"{block} - %(first_block)s::bigint"
    looked_up = (
        f"int4send((%(block_prefixes)s::int4[])[CASE WHEN {offset} BETWEEN 0 AND"
        f" cardinality(%(block_prefixes)s::int4[]) - 1 THEN ({offset} + 1)::int END])"
    )
    return f"coalesce({looked_up}, {block_prefix(block)})"


def uuid_hash(legacy_id: str, prefix: str | None = None) -> str:
    """The 16 bytes a UUID is made of (`uuid_of_hash`): the keyed hash of (entity, id), whose
    first 4 bytes layout 2 takes from the id's block instead. `%(uuid_layout)s` is the
    deployment's (state/deployment.py); `prefix` is the block's, when the query has it."""
    own = (
        "sha256(%(secret)s::bytea || convert_to(%(entity)s::text || ':' || "
        f"({legacy_id})::bigint::text, 'UTF8'))"
    )
    block = prefix or block_prefix(f"({legacy_id})::bigint >> {UUID_BLOCK_BITS}")
    return (
        f"CASE WHEN %(uuid_layout)s::smallint = 2 THEN {block} || substring({own} FROM 5 FOR 12)"
        f" ELSE substring({own} FROM 1 FOR 16) END"
    )


def uuid_of_hash(h: str) -> str:
    """16 bytes shaped as a version-8 UUID. `h` is referenced three times: pass a column."""
    return (
        f"encode(set_byte(set_byte({h}, 6, (get_byte({h}, 6) & 15) | 128), 8,"
        f" (get_byte({h}, 8) & 63) | 128), 'hex')::uuid"
    )


def uuid_expr(legacy_id: str) -> str:
    """`migration.legacy_uuid(secret, entity, id, layout)` written out inline (a SQL function
    is not inlined, and calling it costs more than the hash); OFFSET 0 keeps the hash from
    being computed once per reference."""
    return f"(SELECT {uuid_of_hash('u.h')} FROM (SELECT {uuid_hash(legacy_id)} AS h OFFSET 0) AS u)"


def made_by_tool(alias: str, legacy_id: str) -> str:
    """SQL: row `alias` (with its `id`) has the UUID the deployment's secret derives from
    `legacy_id`, so the tool made it; a row written into the table by hand or by an
    application is never queued for deletion or rolled back. Takes secret, entity and
    uuid_layout."""
    return f"{alias}.id = {uuid_expr(legacy_id)}"


def underived_uuids(spec: EntitySpec) -> str:
    """(rows, rows whose id is not the UUID derived from their legacy id) of the entity's
    target table: the id map checked whole, one hash a row and one a block."""
    legacy, table = q(spec.legacy_column), f"public.{q(spec.target)}"
    blocks = (
        f" LEFT JOIN (SELECT b.block, {block_prefix('b.block')} AS prefix FROM (SELECT DISTINCT"
        f" t0.{legacy}::bigint >> {UUID_BLOCK_BITS} AS block FROM {table} t0) AS b) AS blk"
        f" ON blk.block = t.{legacy}::bigint >> {UUID_BLOCK_BITS}"
    )
    hashed = f"SELECT t.id, {uuid_hash(f't.{legacy}', 'blk.prefix')} AS h FROM {table} t{blocks}"
    return (
        f"SELECT count(*), count(*) FILTER (WHERE s.id IS DISTINCT FROM {uuid_of_hash('s.h')})"
        f" FROM ({hashed} OFFSET 0) AS s"
    )


def work_select(
    spec: EntitySpec, *, defining: bool = False, unqueued: frozenset[str] = frozenset()
) -> str:
    """SELECT over the staged rows producing the `work` rows. `defining`: the UUID's block
    prefix hashed in every row, as the derivation defines it, rather than passed by the batch
    (the same values; the mapping hash is taken of this form, so how a batch finds the
    prefix is not part of the mapping). `unqueued`: parent entities with no row queued for
    deletion, whose lookups need not join the queue (`deletions.unqueued`, decision 117);
    never in the defining form."""
    key = q(spec.source.key)
    joins = []
    ref_cols = []
    for ref in spec.refs:
        m = f"m_{ref.name}"
        # `m.id` is the parent's UUID, NULL when it is not mapped.
        queued = defining or ref.entity not in unqueued
        joins.append(parent_mapped(ref).lookup(m, f"st.{q(ref.source)}", queued=queued))
        ref_cols.append(f"{m}.id AS {ref.alias}")
    inner = " ".join([f"SELECT st.*{''.join(', ' + c for c in ref_cols)} FROM {STAGE} st", *joins])
    # Values are computed once, in a layer of their own (OFFSET 0 keeps the planner from
    # merging it back), so issue conditions can test them without computing them again.
    prefix = None if defining else passed_block_prefix(f"s.{key}")
    values = f", {uuid_hash(f's.{key}', prefix)} AS _uuid_h"
    values += "".join(
        f", ({_frag(col.expr)}) AS {q(computed_column(col.name))}" for col in spec.columns
    )
    computed = f"SELECT s.*{values} FROM ({inner}) AS s OFFSET 0"
    outcome, reason, detail = _outcome_cases(spec)
    items = [
        f"s.{key}::bigint AS _legacy_id",
        f"{uuid_of_hash('s._uuid_h')} AS _uuid",
        f"{outcome} AS _outcome",
        f"{reason} AS _reason",
        f"{detail} AS _detail",
    ]
    items += [f"s.{q(computed_column(col.name))} AS {q(col.name)}" for col in spec.columns]
    if spec.metadata:
        # Computed with the row (it reads `s.*`); the upsert only sees `work`.
        items.append(f"({_frag(spec.metadata)}) AS _metadata")
    for ref in spec.refs:
        if ref.column:
            items.append(f"{ref.alias} AS {q(ref.column)}")
        if ref.legacy_column:
            items.append(f"s.{q(ref.source)}::bigint AS {q(ref.legacy_column)}")
    flags = issue_flags(spec)
    items += [f"coalesce({_frag(f.condition)}, false) AS {q(f.flag)}" for f in flags]
    # A raw value is copied only for the rows that keep it: most rows need none, and a long
    # text (a notification's context) would otherwise be written to `work` twice.
    raws: dict[str, list[str]] = {}
    for f in flags:
        if f.raw:
            raws.setdefault(f.raw, []).append(f"coalesce({_frag(f.condition)}, false)")
    items += [
        f"CASE WHEN {' OR '.join(conditions)} THEN s.{q(raw)} END AS {q('_raw_' + raw)}"
        for raw, conditions in sorted(raws.items())
    ]
    return f"SELECT {', '.join(items)} FROM ({computed}) AS s"


def create_work(spec: EntitySpec) -> str:
    # Types come from the expressions themselves; built once per entity run, filled per batch.
    return f"CREATE TEMP TABLE IF NOT EXISTS mdw_work AS {work_select(spec)} WITH NO DATA"


def analyze_stage(spec: EntitySpec) -> str:
    """Statistics of the staged batch's join columns. A temporary table has none until it is
    analysed, and without them the planner hashes or merge-scans whole parent tables for
    every batch; with them it looks the batch's parents up by index. Each batch is analysed,
    since its keys move through the parents' ranges (the first batch's statistics misled the
    planner into merge joins later)."""
    columns = dict.fromkeys([spec.source.key, *(ref.source for ref in spec.refs)])
    return f"ANALYZE {STAGE} ({', '.join(q(c) for c in columns)})"


def fill_work(
    spec: EntitySpec,
    server_version: int = 0,
    *,
    fast: bool = False,
    unqueued: frozenset[str] = frozenset(),
) -> str:
    """The batch's transform into `work`, for a target of `server_version` (`fast`: see
    `inline_try_jsonb`; `unqueued`: see `work_select`)."""
    select = work_select(spec, unqueued=unqueued)
    return inline_try_jsonb(f"INSERT INTO {WORK} {select}", server_version, fast=fast)


def batch_counts(source: str) -> str:
    """(migrated, excluded, rejected, last legacy id read) of the transformed rows of
    `source`."""
    return (
        "SELECT count(*) FILTER (WHERE _outcome IS NULL),"
        " count(*) FILTER (WHERE _outcome = 'excluded'),"
        " count(*) FILTER (WHERE _outcome = 'rejected'),"
        f" max(_legacy_id) FROM {source}"
    )


def has_fallbacks(spec: EntitySpec) -> bool:
    """Whether some column converts in Python what its SQL gave up on (`batch.apply_fallbacks`),
    which must happen before the rows are written."""
    return any(col.fallback is not None for col in spec.columns)


def load_fresh(
    spec: EntitySpec,
    server_version: int = 0,
    *,
    fast: bool = False,
    unqueued: frozenset[str] = frozenset(),
) -> str:
    """One statement for a batch whose keys are fresh and whose entity is not tracked: the
    transform goes straight into the target table, and only the rows the batch's state needs
    go into `work` (those that do not migrate, and those that raise an issue). Returns the
    `batch_counts` of every row. Writing each migrated row into `work` and reading it back
    cost 1 µs a row of system_messages (decision 112)."""
    kept = ["_outcome IS NOT NULL", *(q(f.flag) for f in issue_flags(spec))]
    statement = (
        f"WITH w AS MATERIALIZED ({work_select(spec, unqueued=unqueued)}),"
        f" loaded AS ({insert_target(spec, source='w')}),"
        f" kept AS (INSERT INTO {WORK} SELECT * FROM w WHERE {' OR '.join(kept)})"
        f" {batch_counts('w')}"
    )
    return inline_try_jsonb(statement, server_version, fast=fast)


# The work_mem a bulk load's batch runs with, at least (decision 116): `load_fresh`
# materializes its transform once and reads it three times (the insert, the kept rows, the
# counts). At the server's default of 4 MB a 50,000-row batch of system_messages (12.6 MB
# held in memory) went to a temporary file and back every batch. Local to the batch's
# transaction, and never lowers a larger setting.
LOAD_WORK_MEM = "16MB"
RAISE_WORK_MEM = (
    "SELECT set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')),"
    f" pg_size_bytes('{LOAD_WORK_MEM}')) / 1024 || 'kB', true)"
)


# migration.try_jsonb of a plain column reference (what the catalogue's rules pass it).
_TRY_JSONB = re.compile(r"migration\.try_jsonb\((s\.(?:\w+|\"\w+\"))\)")


def inline_try_jsonb(statement: str, server_version: int, *, fast: bool = False) -> str:
    """On PostgreSQL 16+ `migration.try_jsonb(x)` is `pg_input_is_valid(x, 'jsonb')` then
    the cast, and the batch writes that out. The function itself is never inlined (its fixed
    search_path, which the Supabase linter asks for, prevents it), and each call cost 0.43 µs
    a row of system_messages (1.23 against 0.80). The value is the same, so the mapping hash,
    built from the catalogue's text, does not change.

    `fast`: the text is checked with `IS JSON`, which only scans it, instead of being parsed
    into jsonb twice (0.7 µs a row of system_messages). A few texts are JSON and not jsonb
    (a \\u0000 escape, a lone surrogate, a number beyond numeric): the fast statement then
    fails with a data exception, and the batch runs the exact one instead (`batch.guarded`,
    decision 113)."""
    if server_version < 160000:
        return statement
    if fast:
        return _TRY_JSONB.sub(r"(CASE WHEN (\1) IS JSON THEN (\1)::jsonb END)", statement)
    return _TRY_JSONB.sub(
        r"(CASE WHEN pg_catalog.pg_input_is_valid(\1, 'jsonb') THEN (\1)::jsonb END)", statement
    )


def _metadata_expr(spec: EntitySpec, prefix: str = "") -> str:
    raw_flags = [f for f in issue_flags(spec) if f.raw]
    parts = []
    if spec.metadata:
        parts.append(f"coalesce({prefix}_metadata, '{{}}'::jsonb)")
    if raw_flags:
        any_flag = " OR ".join(prefix + q(f.flag) for f in raw_flags)
        pairs = ", ".join(
            f"'{f.raw}', CASE WHEN {prefix}{q(f.flag)}"
            f" THEN to_jsonb({prefix}{q('_raw_' + (f.raw or ''))}) END"
            for f in raw_flags
        )
        parts.append(
            f"CASE WHEN {any_flag} THEN jsonb_build_object('legacy_raw',"
            f" jsonb_strip_nulls(jsonb_build_object({pairs}))) ELSE '{{}}'::jsonb END"
        )
    return " || ".join(parts) if parts else "'{}'::jsonb"


def range_is_fresh(spec: EntitySpec, keys: BatchKeys) -> str:
    """True when the target holds no row of the batch's key range (mapped or queued for
    deletion): the batch can then be plain INSERTs, cheaper than upserts (no speculative
    insertion), and every row it migrates is newly mapped."""
    legacy = q(spec.legacy_column)
    return (
        f"SELECT NOT EXISTS (SELECT 1 FROM public.{q(spec.target)} WHERE {in_batch(legacy, keys)})"
    )


def insert_target(spec: EntitySpec, source: str = WORK) -> str:
    """Plain insert of a fresh key range (see `range_is_fresh`) from `source`'s rows."""
    return upsert_target(spec, source).split(" ON CONFLICT ")[0]


def upsert_counted(spec: EntitySpec, keys: BatchKeys) -> str:
    """`upsert_target` of the batch's rows that are new or differ from their target row,
    returning (inserted, updated, legacy ids inserted): a row written by an insert has no
    `xmax`, an updated one has its updater's.

    A row equal to its target row is left out before the insert, not by the `ON CONFLICT`
    filter: that filter comes after the conflicting row is locked, which writes the row's
    page and a WAL record, for every row of a batch with nothing changed (decision 122).
    The comparison is the filter's own, so the same rows are written. A batch of one key
    range bounds the target's side by it, as `outcomes.transitions` does."""
    legacy = q(spec.legacy_column)
    compared = [*spec.target_columns()]
    stored = ", ".join([*(f"t.{q(c)}" for c in compared), "t.metadata"])
    recomputed = ", ".join([*(f"w.{q(c)}" for c in compared), _metadata_expr(spec, "w.")])
    bounded = "" if keys.spans else f" AND {in_batch(f't.{legacy}', keys)}"
    changed = (
        f"(SELECT w.* FROM {WORK} w WHERE w._outcome IS NULL AND NOT EXISTS (SELECT 1"
        f" FROM public.{q(spec.target)} t WHERE t.{legacy} = w._legacy_id{bounded}"
        f" AND ({stored}) IS NOT DISTINCT FROM ({recomputed}))) AS changed"
    )
    return (
        f"WITH w AS ({upsert_target(spec, changed)}"
        f" RETURNING (t.xmax = 0) AS inserted, t.{legacy} AS k)"
        " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
        " coalesce(array_agg(k::bigint) FILTER (WHERE inserted), '{}') FROM w"
    )


def mark_kept(spec: EntitySpec, kept_cte: str) -> str:
    """--keep-deleted: the target rows whose ids `kept_cte` (a data-modifying statement)
    returns stay, marked with the time their legacy row was found gone."""
    touched = "" if "updated_at" in spec.target_columns() else ", updated_at = now()"
    return (
        f"WITH k AS ({kept_cte}) UPDATE public.{q(spec.target)} SET metadata = metadata ||"
        f" jsonb_build_object('legacy_deleted_at', now()){touched}"
        " WHERE id IN (SELECT id FROM k)"
    )


def upsert_target(spec: EntitySpec, source: str = WORK) -> str:
    """Insert new rows of `source` (`work`, or a query's name for its rows); update changed
    ones in place (same UUID); leave identical ones alone."""
    columns = spec.target_columns()
    target_cols = ", ".join(q(c) for c in ["id", spec.legacy_column, *columns, "metadata"])
    values = ", ".join(["_uuid", "_legacy_id", *[q(c) for c in columns], _metadata_expr(spec)])
    compared = [*columns, "metadata"]
    sets = [f"{q(c)} = EXCLUDED.{q(c)}" for c in compared]
    if "updated_at" not in columns:
        sets.append("updated_at = now()")
    old = ", ".join(f"t.{q(c)}" for c in compared)
    new = ", ".join(f"EXCLUDED.{q(c)}" for c in compared)
    return (
        f"INSERT INTO public.{q(spec.target)} AS t ({target_cols})"
        f" SELECT {values} FROM {source} WHERE _outcome IS NULL"
        f" ON CONFLICT ({q(spec.legacy_column)}) DO UPDATE SET {', '.join(sets)}"
        f" WHERE ({old}) IS DISTINCT FROM ({new})"
    )


# The batch's rows, for the state package to record: migrated (legacy id), and the others
# (legacy id, outcome, reason, detail).
MIGRATED_KEYS = f"SELECT _legacy_id FROM {WORK} WHERE _outcome IS NULL"
# Every row of the batch: (legacy id, migrated?) and (legacy id, outcome or 'migrated').
WORK_KEYS = f"SELECT _legacy_id, _outcome IS NULL FROM {WORK}"
WORK_OUTCOMES = f"SELECT _legacy_id, coalesce(_outcome, 'migrated') FROM {WORK}"
ANALYZE_WORK = f"ANALYZE {WORK} (_legacy_id, _outcome)"
OUTCOMES = f"SELECT _legacy_id, _outcome, _reason, _detail FROM {WORK} WHERE _outcome IS NOT NULL"


def flagged_issues(spec: EntitySpec) -> str | None:
    """(legacy id, kind, column) of every data-quality issue the batch's migrated rows raise."""
    flags = issue_flags(spec)
    if not flags:
        return None
    values = ", ".join(f"('{f.kind}', '{f.column}', w.{q(f.flag)})" for f in flags)
    # Most rows raise none: only those with a flag set are unfolded into one row per flag
    # (unfolding every row cost system_messages 0.7 µs a row for 0.25 % of them flagged).
    any_flag = " OR ".join(f"w.{q(f.flag)}" for f in flags)
    return (
        f"SELECT w._legacy_id, i.kind, i.col FROM {WORK} w"
        f" CROSS JOIN LATERAL (VALUES {values}) AS i (kind, col, flagged)"
        f" WHERE w._outcome IS NULL AND ({any_flag}) AND i.flagged"
    )


BATCH_COUNTS = batch_counts(WORK)


def fallback_rows(spec: EntitySpec, col: Col) -> str:
    failed, _ = fallback_flag(spec, col)
    return (
        f"SELECT _legacy_id, {q('_raw_' + (col.raw or ''))}::text FROM {WORK}"
        f" WHERE _outcome IS NULL AND {q(failed.flag)}"
    )


def fallback_update(spec: EntitySpec, col: Col) -> str:
    failed, recovered = fallback_flag(spec, col)
    sets = [f"{q(col.name)} = %(value)s", f"{q(failed.flag)} = false"]
    if recovered:
        sets.append(f"{q(recovered.flag)} = true")
    return f"UPDATE {WORK} SET {', '.join(sets)} WHERE _legacy_id = %(legacy_id)s"
