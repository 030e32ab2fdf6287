"""The activity group's specs, without a database: the keyword classifier in Python, and
the specs' consistency. The same keyword cases (`TRICKY`) are run as SQL by the integration
tests."""

from __future__ import annotations

import pytest

from mdw_migrate.catalogue import activity

TRICKY: list[tuple[str, str, str]] = [
    # (text, feedback type, severity)
    ("Thanks!", "praise", "low"),
    ("thanks for the quick turnaround", "praise", "low"),
    ("A thankless task.", "other", "low"),
    ("Please ship ASAP", "other", "critical"),
    ("There was a wasp in the lab", "other", "low"),
    ("asap.", "other", "critical"),
    ("There is an issue with 12", "complaint", "high"),
    ("Tissue paper only", "other", "low"),
    ("Big PROBLEM here", "complaint", "high"),
    ("Problematic wording, not a problem word", "complaint", "high"),
    ("Problematic wording", "other", "low"),
    ("The bite is wrong", "complaint", "high"),
    ("It was wrongly labelled", "other", "low"),
    ("Is it ready?", "question", "low"),
    ("?", "question", "low"),
    ("URGENT: the bite registration looks wrong.", "complaint", "critical"),
    ("Call me urgently", "other", "critical"),
    ("An insurgent word", "other", "low"),
    ("Please call the office immediately.", "other", "critical"),
    ("Thank you, but the fit is wrong", "complaint", "high"),
    ("Thanks, can you ship it asap?", "question", "critical"),
    ("Great result, thank you! 👍", "praise", "low"),
    ("Merci, très bien \u2013 résultat parfait.", "praise", "low"),
    ("It doesn't fit at all", "complaint", "high"),
    ("It does   not\nfit", "complaint", "high"),
    ("The greatest", "other", "low"),
    ("", "other", "low"),
    ("Price 5$ (approx.) [x] {y} a|b \\d+ ^.*", "other", "low"),
    ("Necesita corrección inmediata, por favor.", "other", "critical"),
    ("上顎の前歯にIPRは不要です。", "other", "low"),
]


@pytest.mark.parametrize(("text", "kind", "severity"), TRICKY)
def test_classifier_in_python(text: str, kind: str, severity: str) -> None:
    assert activity.classify_python(text) == (kind, severity)


def test_keyword_regex_is_whole_word_and_escaped() -> None:
    assert activity.keyword_regex(("a.b", "x y")) == r"\m(?:a\.b|x\s+y)\M"
    assert activity.keyword_regex(("w",), ("?",)) == r"\m(?:w)\M|\?"
    assert activity.keyword_regex((), ("?",)) == r"\?"


def test_specs_are_consistent() -> None:
    names = {spec.name for spec in activity.ENTITIES}
    assert names == {
        "files", "order_files", "case_files", "tasks", "messages", "team_communications",
        "message_attachments", "message_roles", "treatment_discussions", "customer_feedback",
        "doctor_notes", "system_messages",
    }  # fmt: skip
    for spec in activity.ENTITIES:
        assert spec.legacy_column.startswith("legacy_") and spec.legacy_column.endswith("_id")
        assert spec.source.reads, spec.name
    # Content types are matched by name, never by id.
    for spec in (activity.messages, activity.team_communications, activity.system_messages):
        assert "app_label" in spec.source.query and "django_content_type" in spec.source.reads
