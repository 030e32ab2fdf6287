"""The final validation report: one self-contained, escaped, accessible HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mdw_migrate.api.results import validation_verdict
from mdw_migrate.engine.validate import Check, EntityValidation
from mdw_migrate.report import About, render_html, write_report

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
EVIL = "<script>alert(1)</script>"


class StrictParser(HTMLParser):
    """Fails on any element closed out of order or left open (void elements aside)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(document)
    parser.close()
    assert parser.stack == [], f"left open: {parser.stack}"
    return parser


def accounting(
    expected: int,
    migrated: int,
    excluded: int,
    rejected: int,
    excluded_by: dict[str, int] | None = None,
    rejected_by: dict[str, int] | None = None,
) -> Check:
    actual = migrated + excluded + rejected
    details = {"expected": expected, "actual": actual, "migrated": migrated,
               "excluded": excluded, "rejected": rejected,
               "excludedBy": excluded_by or {}, "rejectedBy": rejected_by or {}}  # fmt: skip
    return Check("accounting", "passed" if expected == actual else "failed", details)


def money(column: str, source: str, target: str, rejected: str = "0") -> Check:
    accounted = Decimal(target) + Decimal(rejected)
    details = {"column": column, "expected": source, "actual": str(accounted),
               "sourceSum": source, "targetSum": target, "rejectedSum": rejected,
               "rejectedRows": int(Decimal(rejected) > 0), "excludedSum": "0",
               "keptRawSum": "0", "difference": str(accounted - Decimal(source))}  # fmt: skip
    status = "passed" if accounted == Decimal(source) else "failed"
    return Check("money", status, details)


def entity(
    name: str, *checks: Check, issues: list[dict[str, object]] | None = None
) -> EntityValidation:
    always = [
        Check("record_count", "passed", {"expected": 10, "actual": 10, "tolerance": 0.1}),
        Check("referential_integrity", "passed", {"foreignKeyViolations": 0}),
        Check("data_quality", "passed", {"completeness": 99.5, "rowsWithIssues": 1}),
    ]
    recommendations = (
        ["Look at migration.row_outcomes"] if any(c.status == "failed" for c in checks) else []
    )
    return EntityValidation(name, [*checks, *always], issues or [], recommendations)


@pytest.fixture
def results() -> list[EntityValidation]:
    return [
        entity("doctors", accounting(120, 118, 2, 0),
               issues=[{"kind": "bad_json", "column": "schedule", "count": 3}]),
        entity("patients", accounting(7856, 7850, 3, 1, {"TEST_ACCOUNT": 3},
                                      {"ORPHAN_PROFILE": 1}), issues=[
            {"kind": "duplicate_email", "column": "email", "count": 4},
            {"kind": "unknown_code", "column": "country", "count": 2},
            {"kind": "test_account", "column": None, "count": 1},
        ]),
        entity("payments", accounting(500, 500, 0, 0),
               money("amount", "123456.78", "123456.77"), money("fee", "10.00", "7.50", "2.50")),
        entity("legacy_archive", Check("accounting", "passed",
               {"expected": 900, "actual": 900, "tables": 2, "mismatches": {},
                "perTable": {"dispatch_log": {"source": 899, "archived": 899},
                             "dispatch_tmp": {"source": 1, "archived": 1}}})),
        entity("system_messages", accounting(1_000_000, 1_000_000, 0, 0)),
        entity(EVIL, accounting(5, 5, 0, 0)),
    ]  # fmt: skip


ABOUT = About(
    version="9.8.7",
    run_id="0b5e1c9e-0000-4000-8000-00000000abcd",
    command="validate final",
    seconds=12.5,
    last_run={"id": "7d0c", "command": "migrate all", "arguments": {"workers": 2,
              "password": "hunter2"}, "toolVersion": "9.8.7", "status": "completed",
              "startedAt": datetime(2025, 10, 15, 9, 0, tzinfo=UTC),
              "endedAt": datetime(2025, 10, 15, 9, 1, 30, tzinfo=UTC)},
)  # fmt: skip


def render(results: list[EntityValidation]) -> str:
    return render_html(
        results,
        title="Final validation",
        generated_at=datetime(2025, 10, 15, 10, 16, tzinfo=UTC),
        source={"host": "embedded", "port": 5432, "database": "mdw_legacy", "password": "hunter2"},
        target={"host": "db.example", "port": 6543, "database": "postgres"},
        verdict=validation_verdict(results),
        about=ABOUT,
    )


def test_is_well_formed_with_balanced_svg(results: list[EntityValidation]) -> None:
    document = render(results)
    assert document.startswith("<!DOCTYPE html>")
    parser = parse(document)
    tags = [t for t, _ in parser.starts]
    assert tags.count("svg") == 3
    assert document.count("<svg") == document.count("</svg>") == 3
    assert ("html", {"lang": "en"}) in parser.starts
    assert "title" in tags
    assert any(t == "th" and a.get("scope") == "col" for t, a in parser.starts)


def test_is_self_contained(results: list[EntityValidation]) -> None:
    document = render(results).lower()
    assert "http://" not in document and "https://" not in document
    assert "<script" not in document
    assert "<link" not in document
    assert "@import" not in document and "url(" not in document
    assert "hunter2" not in document


def test_every_entity_and_issue_appears(results: list[EntityValidation]) -> None:
    document = render(results)
    for name in ["doctors", "patients", "payments", "legacy_archive"]:
        assert name in document
    for kind in ["bad_json", "duplicate_email", "unknown_code", "test_account"]:
        assert kind in document
    assert "Look at migration.row_outcomes" in document


def test_failed_money_shows_both_sums_and_says_failed(results: list[EntityValidation]) -> None:
    text = " ".join(parse(render(results)).text)
    assert "123,456.78" in text and "123,456.77" in text
    assert "-0.01" in text
    # entity, column, source, target, rejected, excluded, kept raw, difference, status
    row = re.search(
        r"payments\s*amount\s*123,456\.78\s*123,456\.77\s*0\s*0\s*0\s*-0\.01\s*(\w+)", text
    )
    assert row is not None and row.group(1) == "failed"
    assert "NOT RECONCILED" in text and "FAILED" in text


def test_rejected_money_is_shown_and_reconciles(results: list[EntityValidation]) -> None:
    text = " ".join(parse(render(results)).text)
    row = re.search(r"payments\s*fee\s*10\.00\s*7\.50\s*2\.50\s*0\s*0\s*0\.00\s*(\w+)", text)
    assert row is not None and row.group(1) == "passed"
    assert "Rejected money 2.50" in text


def test_failed_entities_come_first(results: list[EntityValidation]) -> None:
    text = " ".join(parse(render(results)).text)
    checks = text[text.index("Checks by entity") :]
    order = [checks.index(name) for name in ("patients", "payments", "doctors")]
    assert order == sorted(order)
    assert "What failed" in text and text.index("What failed") < text.index("Checks by entity")
    assert "Validation FAILED: patients (accounting), payments (money)" in text


def test_reasons_per_entity_and_the_archive_per_table(results: list[EntityValidation]) -> None:
    text = " ".join(parse(render(results)).text)
    assert re.search(r"patients\s*rejected\s*ORPHAN_PROFILE\s*1", text)
    assert re.search(r"patients\s*excluded\s*TEST_ACCOUNT\s*3", text)
    assert re.search(r"dispatch_log\s*899\s*899\s*passed", text)


def test_about_names_the_tool_the_runs_and_the_endpoints(results: list[EntityValidation]) -> None:
    document = render(results)
    text = " ".join(parse(document).text)
    assert "mdw-migrate 9.8.7" in text and ABOUT.run_id in text and "12.5 s" in text
    assert "migrate all (completed), run id 7d0c" in text and "took 90.0 s" in text
    assert "workers=2" in text and "db.example" in text and "6543" in text
    assert "hunter2" not in document


def test_small_entities_are_visible_beside_a_large_one(results: list[EntityValidation]) -> None:
    """A 5-row entity next to a million-row one: its bars are not a pixel wide."""
    document = render(results)
    chart = document[document.index('aria-label="Rows per entity"') :]
    chart = chart[: chart.index("</svg>")]
    widths = [
        float(w)
        for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="16"', chart)
    ]
    assert widths and min(widths) >= 3
    # doctors (120 rows) against system_messages (1,000,000): a tenth or more of the width.
    source_bars = re.findall(
        r'width="([\d.]+)" height="16" fill="#6e7781"><title>source: ([\d,]+)<', chart
    )
    sizes = {n: float(w) for w, n in source_bars}
    assert sizes["120"] > sizes["1,000,000"] / 3


def test_accounting_mismatch_is_named_in_words(results: list[EntityValidation]) -> None:
    text = " ".join(parse(render(results)).text)
    row = re.search(r"patients\s*7,856\s*7,850\s*3\s*1\s*7,854\s*(\w+)", text)
    assert row is not None and row.group(1) == "failed"
    assert "MISMATCH" in text
    assert "Overall: FAILED" in text


def test_names_are_escaped(results: list[EntityValidation]) -> None:
    document = render(results)
    assert EVIL not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert EVIL in " ".join(parse(document).text)


def test_three_charts_have_text_alternatives(results: list[EntityValidation]) -> None:
    parser = parse(render(results))
    labels = [a.get("aria-label") for t, a in parser.starts if t == "svg"]
    assert labels == ["Money reconciliation", "Rows per entity", "Data-quality issues by kind"]
    assert all(a.get("role") == "img" for t, a in parser.starts if t == "svg")


def test_all_passing_says_passed() -> None:
    ok = [entity("doctors", accounting(3, 3, 0, 0), money("amount", "1.00", "1.00"))]
    text = " ".join(parse(render(ok)).text)
    assert "Overall: PASSED" in text and "FAILED" not in text


def test_empty_results_still_render() -> None:
    parser = parse(render([]))
    assert [a.get("aria-label") for t, a in parser.starts if t == "svg"] == [
        "Money reconciliation", "Rows per entity", "Data-quality issues by kind",
    ]  # fmt: skip
    assert "NO ENTITIES VALIDATED" in " ".join(parser.text)


def test_write_report(tmp_path: Path, results: list[EntityValidation]) -> None:
    document = render(results)
    path = write_report(tmp_path / "logs", document, "20251015T101600Z")
    assert path == tmp_path / "logs" / "validation-final-20251015T101600Z.html"
    assert path.read_text(encoding="utf-8") == document


def security(**problems: list[str]) -> EntityValidation:
    details: dict[str, object] = {
        "tablesChecked": 66,
        "functionsChecked": 9,
        "apiRoles": ["anon", "authenticated"],
        "exposedSchemas": ["graphql_public", "public"],
        "rlsDisabled": [],
        "privileges": [],
        "mutableSearchPath": [],
        "definerViews": [],
        **problems,
    }
    status = "failed" if problems else "passed"
    return EntityValidation("security", [Check("security", status, details)], [], [])


def test_the_security_check_has_its_section_and_names_what_is_open() -> None:
    ok = [entity("doctors", accounting(3, 3, 0, 0)), security()]
    text = " ".join(parse(render(ok)).text)
    assert "Security (Supabase Data API)" in text and "Security check: PASSED" in text
    assert "Overall: PASSED" in text
    # The check is not an entity: the cards count entities only.
    assert "Entities passed 1" in " ".join(text.split())
    opened = [entity("doctors", accounting(3, 3, 0, 0)), security(privileges=["public.patients"])]
    text = " ".join(parse(render(opened)).text)
    assert "Security check: FAILED" in text and "public.patients" in text
    assert "Overall: FAILED" in text
