"""Declarative entity specifications: what to read, where it goes, and by which rules.

An `EntitySpec` knows nothing about batching, connections or checkpoints; the runner turns it
into SQL. Column expressions are SQL over two kinds of names:

* `s.<column>`: the staged source row (the columns the source query returns);
* `r_<ref name>`: the UUID of a resolved parent (NULL when the parent is missing).

Every expression is written once, here, and executed in the target database, set-based.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# A Python fallback for one raw value the SQL expression could not convert. It returns the
# converted value (JSON-serialisable) or None when the raw value is beyond saving.
Fallback = Callable[[str], Any]


def computed_column(column: str) -> str:
    """The name under which a row's computed value of `column` is available (unquoted)."""
    return f"_c_{column}"


def computed(column: str) -> str:
    """SQL for the value the spec computes for target `column` in the current row: issue
    conditions and rules can test it without computing it again."""
    return f's."{computed_column(column)}"'


@dataclass(frozen=True, kw_only=True)
class Ref:
    """A reference to a parent entity, resolved through the id map.

    `source` is the staged column holding the parent's legacy id. When `column` is set the
    parent's UUID is written there; `legacy_column` keeps the legacy id next to it (rule 5).
    A missing required parent rejects the row with `reason`; a missing optional parent leaves
    the column NULL and counts a data-quality issue `missing_<name>`.
    """

    name: str
    entity: str
    source: str
    column: str | None = None
    legacy_column: str | None = None
    required: bool = False
    reason: str | None = None
    # False when a missing optional parent is expected and no data-quality issue (one of
    # several alternative parents, e.g. a record held by messages or by team_communications).
    issue: bool = True
    # Where the parent's rows are (its target table and legacy-id column): the catalogue
    # binds them, since the target tables are the id map.
    parent_target: str | None = None
    parent_legacy: str | None = None

    @property
    def alias(self) -> str:
        return f"r_{self.name}"

    @property
    def reject_reason(self) -> str:
        return self.reason or f"ORPHAN_{self.name.upper()}"


@dataclass(frozen=True, kw_only=True)
class SelfRef:
    """A reference to another row of the same entity (a category's parent), resolved after
    the last batch of a pass, since the parent may come in a later batch. `legacy_column`
    holds the parent's legacy id; a parent that never migrated leaves `column` NULL and is
    listed as a `missing_parent` issue."""

    column: str
    legacy_column: str


@dataclass(frozen=True)
class Col:
    """One target column and the SQL that computes it.

    `raw` names a staged column whose original value is kept in
    `metadata -> 'legacy_raw' -> <raw>` when the row raises `issue` (rule 2). By default a row
    raises it when the expression gives NULL although the raw value was not NULL;
    `issue_when` replaces that condition (for enums, whose unknown member is not NULL).
    `fallback` converts in Python the few raw values the SQL expression gave up on.
    """

    name: str
    expr: str
    raw: str | None = None
    issue: str | None = None
    issue_when: str | None = None
    fallback: Fallback | None = None
    # Recorded (without keeping the raw) when `fallback` rescued the value.
    fallback_issue: str | None = None

    def issue_condition(self) -> str | None:
        if self.issue is None:
            return None
        if self.issue_when is not None:
            return self.issue_when
        if self.raw is None:
            raise ValueError(f"column {self.name}: an issue needs `raw` or `issue_when`")
        return f"({computed(self.name)} IS NULL AND s.{self.raw} IS NOT NULL)"


@dataclass(frozen=True)
class Issue:
    """A data-quality issue worth listing although the value migrates as it is (a test
    account, a placeholder birth date). `when` is SQL over `s.*` and `r_*`."""

    kind: str
    column: str
    when: str


@dataclass(frozen=True)
class Rule:
    """A named outcome for rows that are not migrated: `excluded` by a documented rule, or
    `rejected` with a reason code. `when` is SQL over `s.*` and `r_*`."""

    code: str
    when: str
    outcome: str = "excluded"

    def __post_init__(self) -> None:
        if self.outcome not in {"excluded", "rejected"}:
            raise ValueError(f"rule {self.code}: outcome must be excluded or rejected")


@dataclass(frozen=True)
class Source:
    """What is read from the legacy database.

    `query` is a SELECT whose rows are the entity's source rows; `key` is a unique integer
    column of it, used for keyset batches and as the legacy id. `reads` lists every legacy
    table and column the query touches, for the pre-flight check.

    `rows_of` names the legacy table whose row of the same key each source row is computed
    from, when the other tables of `reads` are only small lookups: a sync then detects a
    change from that table's row versions (`xmin`) instead of hashing every source row.
    Leave it unset when a source row depends on other rows (a join to a large table).
    """

    query: str
    reads: Mapping[str, tuple[str, ...]]
    key: str = "id"
    rows_of: str | None = None

    @classmethod
    def table(cls, table: str, columns: tuple[str, ...], key: str = "id") -> Source:
        cols = ", ".join(_quote(c) for c in (key, *[c for c in columns if c != key]))
        return cls(
            query=f"SELECT {cols} FROM {table}",
            reads={table: (key, *columns)},
            key=key,
            rows_of=table,
        )


@dataclass(frozen=True)
class EntitySpec:
    name: str
    source: Source
    target: str
    legacy_column: str
    columns: tuple[Col, ...]
    refs: tuple[Ref, ...] = ()
    rules: tuple[Rule, ...] = ()
    issues: tuple[Issue, ...] = ()
    # Entities this one needs migrated first, beyond those its refs name (which count
    # anyway: after construction `deps` holds both).
    deps: tuple[str, ...] = ()
    # Extra jsonb merged into `metadata` next to `legacy_raw`.
    metadata: str | None = None
    # Money columns, for the validator's sums (source column, target column).
    money: tuple[tuple[str, str], ...] = ()
    # Target columns whose repeated values the validator lists (e.g. duplicate emails, which
    # migrate unmerged): across the whole table, so not a per-row issue.
    duplicates: tuple[str, ...] = ()
    description: str = ""
    self_refs: tuple[SelfRef, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        names += [r.column for r in self.refs if r.column]
        names += [r.legacy_column for r in self.refs if r.legacy_column]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"entity {self.name}: columns written twice: {sorted(duplicates)}")
        implied = [r.entity for r in self.refs if r.entity != self.name]
        object.__setattr__(self, "deps", tuple(dict.fromkeys([*implied, *self.deps])))

    def target_columns(self) -> list[str]:
        """Every target column the entity writes, in insert order."""
        cols = [c.name for c in self.columns]
        for ref in self.refs:
            if ref.column:
                cols.append(ref.column)
            if ref.legacy_column:
                cols.append(ref.legacy_column)
        return cols


def _quote(identifier: str) -> str:
    # Legacy columns include reserved words ("order", "on").
    return '"' + identifier.replace('"', '""') + '"'


def enum_cols(
    target: str,
    enum_type: str,
    source: str,
    mapping: Mapping[int, str],
    legacy_column: str | None = None,
    issue: str = "unknown_code",
) -> tuple[Col, Col]:
    """An enum column mapped from a legacy integer code, plus the raw code kept (rule 8).

    NULL and codes outside the map both give `unknown`; only a non-NULL unmapped code is a
    data-quality issue, and only it is copied to `legacy_raw` (the smallint column keeps all).
    """
    cases = " ".join(f"WHEN {int(code)} THEN '{value}'" for code, value in mapping.items())
    known = ", ".join(str(int(code)) for code in mapping)
    expr = f"(CASE s.{source} {cases} ELSE 'unknown' END)::{enum_type}"
    return (
        Col(
            target,
            expr,
            raw=source,
            issue=issue,
            issue_when=f"(s.{source} IS NOT NULL AND s.{source} NOT IN ({known}))",
        ),
        # Out-of-range codes cannot be smallint; they still reach legacy_raw through the issue.
        Col(
            legacy_column or f"legacy_{source}",
            f"(CASE WHEN s.{source} BETWEEN -32768 AND 32767 THEN s.{source}::smallint END)",
        ),
    )
