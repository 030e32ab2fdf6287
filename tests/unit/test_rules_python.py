"""The transformation rules written in Python (Python literals read as JSON), without a
database."""

from __future__ import annotations

import pytest

from mdw_migrate.catalogue.rules import python_literal_to_json


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("{'a': 1, 'b': True, 'c': None}", {"a": 1, "b": True, "c": None}),
        ("['x', ('y', 2)]", ["x", ["y", 2]]),
        ("{1: 'one'}", {"1": "one"}),
        ("{'nested': {'deep': [1.5, -2]}}", {"nested": {"deep": [1.5, -2]}}),
        ("__import__('os').system('true')", None),
        ("{'a': float('nan')}", None),
        ("not a literal", None),
        ("{'a': 1", None),
        ("[" * 5000 + "]" * 5000, None),
        ("x" * 2_000_000, None),
    ],
)
def test_python_literals_are_read_safely(raw: str, expected: object) -> None:
    assert python_literal_to_json(raw) == expected
