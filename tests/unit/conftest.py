"""Unit tests run without a database: a test here that asks for the embedded server (or a
fixture that needs it) fails at collection instead of quietly starting one."""

from __future__ import annotations

import pytest

_SERVER_FIXTURES = {"pg_server", "create_database", "empty_db"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = _SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if needs and item.path.parent.name == "unit":
            raise pytest.UsageError(
                f"{item.nodeid} is a unit test but needs {sorted(needs)}: move it to"
                " tests/integration"
            )
