"""The final validation report: one self-contained, escaped, accessible HTML page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mdw_migrate.engine.validate import Check, EntityValidation
from mdw_migrate.report import render_html, write_report

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


def accounting(expected: int, migrated: int, excluded: int, rejected: int) -> Check:
    actual = migrated + excluded + rejected
    details = {"expected": expected, "actual": actual, "migrated": migrated,
               "excluded": excluded, "rejected": rejected}  # fmt: skip
    return Check("accounting", "passed" if expected == actual else "failed", details)


def money(column: str, expected: str, actual: str) -> Check:
    status = "passed" if expected == actual else "failed"
    return Check("money", status, {"column": column, "expected": expected, "actual": actual})


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
        entity("patients", accounting(7856, 7850, 3, 1), issues=[
            {"kind": "duplicate_email", "column": "email", "count": 4},
            {"kind": "unknown_code", "column": "country", "count": 2},
            {"kind": "test_account", "column": None, "count": 1},
        ]),
        entity("payments", accounting(500, 500, 0, 0),
               money("amount", "123456.78", "123456.77"), money("fee", "10.00", "10.00")),
        entity("legacy_archive", Check("accounting", "passed",
               {"expected": 900, "actual": 900, "tables": 4, "mismatches": {}})),
        entity(EVIL, accounting(5, 5, 0, 0)),
    ]  # fmt: skip


def render(results: list[EntityValidation]) -> str:
    return render_html(
        results,
        title="Final validation",
        generated_at=datetime(2025, 10, 15, 10, 16, tzinfo=UTC),
        source={"host": "embedded", "port": 5432, "database": "mdw_legacy", "password": "hunter2"},
        target={"host": "db.example", "port": 6543, "database": "postgres"},
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
    row = re.search(r"payments\s*amount\s*123,456\.78\s*123,456\.77\s*-0\.01\s*(\w+)", text)
    assert row is not None and row.group(1) == "failed"
    assert "NOT EQUAL" in text and "FAILED" in text


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
    assert labels == ["Rows per entity", "Data-quality issues by kind", "Money reconciliation"]
    assert all(a.get("role") == "img" for t, a in parser.starts if t == "svg")


def test_all_passing_says_passed() -> None:
    ok = [entity("doctors", accounting(3, 3, 0, 0), money("amount", "1.00", "1.00"))]
    text = " ".join(parse(render(ok)).text)
    assert "Overall: PASSED" in text and "FAILED" not in text


def test_empty_results_still_render() -> None:
    parser = parse(render([]))
    assert [a.get("aria-label") for t, a in parser.starts if t == "svg"] == [
        "Rows per entity", "Data-quality issues by kind", "Money reconciliation",
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
