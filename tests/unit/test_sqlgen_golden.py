"""Golden tests of the SQL generator: what one spec turns into, statement by statement, is
compared with the text kept in tests/unit/golden/. A change to the generator that changes
the SQL shows here as a diff to read; `UPDATE_GOLDEN=1 ./dev test --unit` rewrites the files
after a deliberate change (then review `git diff tests/unit/golden`)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine import sqlgen
from mdw_migrate.engine.spec import Col, EntitySpec, Issue, Ref, Rule, Source, computed, enum_cols
from mdw_migrate.state import BatchKeys

GOLDEN = Path(__file__).parent / "golden"

# A small spec with one of everything the generator handles: a required and an optional
# parent (with its legacy id kept), an exclusion rule, an enum with its raw code, a value
# kept raw when it does not parse, an issue on a computed value, and extra metadata.
SAMPLE = EntitySpec(
    name="widgets",
    description="widgets <- legacy_widget",
    source=Source.table("legacy_widget", ("owner_id", "shop_id", "kind", "spec", "label")),
    target="widgets",
    legacy_column="legacy_widget_id",
    refs=(
        Ref(name="owner", entity="profiles", source="owner_id", column="owner_id", required=True),
        Ref(
            name="shop",
            entity="offices",
            source="shop_id",
            column="shop_id",
            legacy_column="legacy_shop_id",
        ),
    ),
    columns=(
        *enum_cols("kind", "public.widget_kind", "kind", {1: "small", 2: "large"}),
        Col("spec", "migration.try_jsonb(s.spec)", raw="spec", issue="invalid_json"),
        Col("label", "nullif(btrim(s.label), '')"),
    ),
    rules=(Rule("TEST_WIDGET", "s.label ILIKE 'test%'"),),
    issues=(Issue("unlabelled", "label", f"{computed('label')} IS NULL"),),
    metadata="jsonb_build_object('legacy_label', s.label)",
)

RUN = uuid.UUID(int=1)
STATEMENTS = {
    "source_batch": lambda spec: sqlgen.source_batch_query(spec, 41, 500, 9000),
    "work": sqlgen.work_select,
    "upsert": sqlgen.upsert_target,
    "insert": sqlgen.insert_target,
    "range_is_fresh": lambda spec: sqlgen.range_is_fresh(spec, BatchKeys(spec.name, RUN, 1)),
    "range_is_fresh_spans": lambda spec: sqlgen.range_is_fresh(
        spec, BatchKeys(spec.name, RUN, 1, spans=((31, 63),))
    ),
    "spans": lambda spec: sqlgen.source_spans_query(spec, ((31, 63), (99, 100))),
    "fingerprint": sqlgen.fingerprint_query,
    "upsert_counted": lambda spec: sqlgen.upsert_counted(spec, BatchKeys(spec.name, RUN, 1)),
    "upsert_counted_spans": lambda spec: sqlgen.upsert_counted(
        spec, BatchKeys(spec.name, RUN, 1, spans=((31, 63),))
    ),
    "issues": lambda spec: sqlgen.flagged_issues(spec) or "",
    "differing": sqlgen.differing_rows,
}
SPECS = {"widgets": CATALOGUE.bind(SAMPLE), "patients": CATALOGUE.rows_entity("patients")}


def pretty(statement: str) -> str:
    """One clause a line, so that a diff points at the clause that changed."""
    text = re.sub(
        r" (FROM|LEFT JOIN|JOIN|WHERE|ON CONFLICT|DO UPDATE SET|SELECT|CROSS JOIN|ORDER BY)\b",
        r"\n\1",
        statement,
    )
    return text.strip() + "\n"


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("statement", sorted(STATEMENTS))
def test_the_generated_sql_is_the_golden_one(spec_name: str, statement: str) -> None:
    text = pretty(STATEMENTS[statement](SPECS[spec_name]))
    path = GOLDEN / f"{spec_name}.{statement}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 ./dev test --unit"
    assert text == path.read_text(), f"{path.name} changed (UPDATE_GOLDEN=1 rewrites it)"


def test_no_sql_of_the_generator_names_a_state_table_itself() -> None:
    """The state package owns migration.*: the generator only reaches the id map through
    the join that package gives it."""
    for spec in SPECS.values():
        for make in STATEMENTS.values():
            text = make(spec)
            named = set(re.findall(r"migration\.(\w+)\b(?!\()", text))
            assert named <= {"pending_deletions"}, named


def test_try_jsonb_is_written_out_for_postgresql_16_and_later() -> None:
    statement = sqlgen.fill_work(SPECS["widgets"])
    assert sqlgen.fill_work(SPECS["widgets"], 150008) == statement
    inlined = sqlgen.fill_work(SPECS["widgets"], 170004)
    assert "try_jsonb" in statement and "try_jsonb" not in inlined
    assert "(CASE WHEN pg_catalog.pg_input_is_valid(s.spec, 'jsonb') THEN (s.spec)::jsonb END)" in (
        inlined
    )
    assert (
        inlined.replace(
            "(CASE WHEN pg_catalog.pg_input_is_valid(s.spec, 'jsonb') THEN (s.spec)::jsonb END)",
            "migration.try_jsonb(s.spec)",
        )
        == statement
    )
    fast = sqlgen.fill_work(SPECS["widgets"], 170004, fast=True)
    assert "(CASE WHEN (s.spec) IS JSON THEN (s.spec)::jsonb END)" in fast
    assert sqlgen.fill_work(SPECS["widgets"], 150008, fast=True) == statement
    # Only a plain column is rewritten; anything else keeps the function.
    kept = 'migration.try_jsonb(s.a || s.b), migration.try_jsonb(s."Spec")'
    assert sqlgen.inline_try_jsonb(kept, 170004).startswith(
        "migration.try_jsonb(s.a || s.b), (CASE"
    )
