from __future__ import annotations

import pytest

from mdw_migrate.config import Settings, default_sslmode, endpoint


def test_remote_hosts_require_tls_and_loopback_prefers_it() -> None:
    assert default_sslmode("db.example.internal", None) == "require"
    assert default_sslmode("10.1.2.3", None) == "require"
    assert default_sslmode("127.0.0.1", None) == "prefer"
    assert default_sslmode("localhost", None) == "prefer"
    assert default_sslmode("::1", None) == "prefer"
    assert default_sslmode("/tmp/socket", None) == "prefer"
    assert default_sslmode("db.example.internal", "verify-full") == "verify-full"


def test_contract_variables_configure_a_side_and_the_password_stays_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DB_HOST", "legacy.example.internal")
    monkeypatch.setenv("SOURCE_DB_PORT", "6543")
    monkeypatch.setenv("SOURCE_DB_USER", "reader")
    monkeypatch.setenv("SOURCE_DB_NAME", "mdw_db")
    monkeypatch.setenv("SOURCE_DB_PASSWORD", "s3cret-value")
    monkeypatch.setenv("BATCH_SIZE", "750")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    source = endpoint(settings, "source", None, 0)
    assert settings.batch_size == 750
    assert source.port == 6543 and source.sslmode == "require" and not source.embedded
    assert source.conninfo_kwargs()["password"] == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in str(source.identity())
    with pytest.raises(ValueError):
        endpoint(settings, "target", None, 0)
