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


# ---------------------------------------------------------------- CONFIG_INVALID, end to end

from pathlib import Path  # noqa: E402

from click.testing import CliRunner, Result  # noqa: E402

from mdw_migrate.cli.main import cli  # noqa: E402

from ..helpers import contract_error  # noqa: E402

BAD_VALUES = [
    ("BATCH_SIZE", "abc", "an integer from 1 to 1000000"),
    ("BATCH_SIZE", "0", "an integer from 1 to 1000000"),
    ("BATCH_SIZE", "-5", "an integer from 1 to 1000000"),
    ("DB_SSLMODE", "bogus", "one of disable, allow, prefer, require, verify-ca, verify-full"),
    ("SOURCE_DB_PORT", "abc", "a TCP port number from 1 to 65535"),
    ("TARGET_DB_PORT", "70000", "a TCP port number from 1 to 65535"),
    ("LOG_LEVEL", "verbose", "one of debug, info, warning, error, critical"),
    ("MAX_RETRY_ATTEMPTS", "many", "an integer from 0 to 100"),
    ("MIGRATION_TIMEOUT", "5m", "milliseconds"),
]
COMMANDS = [
    ["migrate", "core"],
    ["validate", "final"],
    ["rollback", "core", "--yes"],
    ["schema", "apply"],
    ["status"],
    ["security", "check"],
    ["generate"],
]


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No setting from the machine running the tests, and a working directory of our own."""
    import os

    for name in list(os.environ):
        if name.startswith(("SOURCE_DB_", "TARGET_DB_", "DB_", "MDW_", "BATCH_", "LOG_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_VALUES)
def test_a_bad_setting_is_config_invalid_naming_it_as_json_with_exit_2(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = run_cli("migrate", "core", "--json")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # not a traceback
    assert "Traceback" not in result.output
    error = contract_error(result.output)["error"]
    assert error["code"] == "CONFIG_INVALID"
    (problem,) = error["details"]["variables"]
    assert problem["variable"] == variable
    assert expected in problem["expected"]
    assert problem["value"] == value
    assert variable in error["message"] and repr(value) in error["message"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_refuses_bad_settings_without_a_traceback(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "abc")
    text = run_cli(*command)
    assert text.exit_code == 2 and isinstance(text.exception, SystemExit)
    assert "CONFIG_INVALID" in text.output and "BATCH_SIZE" in text.output
    assert "Traceback" not in text.output
    as_json = run_cli(*command, "--json")
    assert as_json.exit_code == 2
    assert contract_error(as_json.output)["error"]["code"] == "CONFIG_INVALID"


def test_the_demo_refuses_bad_settings_too(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    result = run_cli("demo")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "CONFIG_INVALID" in result.output and "LOG_LEVEL" in result.output


def test_a_wrong_secret_value_is_never_echoed(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A secret that fails to parse cannot happen for plain strings; a half-configured side
    # with a password is refused without showing it.
    monkeypatch.setenv("TARGET_DB_PASSWORD", "pw-marker-never-echo")
    result = run_cli("migrate", "core", "--json")
    assert result.exit_code == 2
    assert "pw-marker-never-echo" not in result.output
    (problem,) = contract_error(result.output)["error"]["details"]["variables"]
    assert problem == {
        "variable": "TARGET_DB_PASSWORD",
        "expected": "TARGET_DB_HOST set as well (a target without a host would be the"
        " embedded server)",
        "value": None,
    }


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_typo_in_the_host_variable_is_refused_not_sent_to_the_embedded_server(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    settings = {
        "TARGET_DB_HSOT": "db.abcdefgh.supabase.co",
        "TARGET_DB_USER": "postgres",
        "TARGET_DB_NAME": "postgres",
    }
    if where == ".env":
        (clean_env / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    else:
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
    result = run_cli("migrate", "core", "--json")
    assert result.exit_code == 2
    error = contract_error(result.output)["error"]
    assert error["code"] == "CONFIG_INVALID"
    named = {p["variable"] for p in error["details"]["variables"]}
    assert named == {"TARGET_DB_HSOT", "TARGET_DB_USER", "TARGET_DB_NAME"}
    assert any(
        "did you mean TARGET_DB_HOST" in p["expected"] for p in error["details"]["variables"]
    )
    # Nothing started: no embedded server, no audit of a run against it.
    assert not (clean_env / ".mdw").exists()


def test_an_unknown_variable_with_our_prefix_is_named_in_a_warning(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mdw_migrate.config import load_settings

    (clean_env / ".env").write_text("MDW_ID_SECRT=x\nBATCH_SIZE=100\n")
    monkeypatch.setenv("DB_SSLMOD", "require")
    loaded = load_settings()
    assert loaded.settings.batch_size == 100
    assert len(loaded.warnings) == 2
    assert "DB_SSLMOD in the environment" in loaded.warnings[0]
    assert "did you mean DB_SSLMODE?" in loaded.warnings[0]
    assert "MDW_ID_SECRT in .env" in loaded.warnings[1]
    assert "did you mean MDW_ID_SECRET?" in loaded.warnings[1]
    # Both sides configured (so no embedded server starts), reachable or not: the warning
    # comes before any connection.
    for side in ("SOURCE", "TARGET"):
        monkeypatch.setenv(f"{side}_DB_HOST", str(clean_env / "no-server-here"))
    result = run_cli("status", "--json")
    assert "warning: DB_SSLMOD in the environment" in result.output
    assert contract_error(result.output)["error"]["code"] == "CONNECTION_FAILED"


def test_a_scale_the_generator_cannot_take_is_a_usage_error(clean_env: Path) -> None:
    for command in (["generate", "--scale", "0"], ["demo", "--scale", "-1"]):
        result = run_cli(*command)
        assert result.exit_code == 2, command
        assert "Traceback" not in result.output and "scale" in result.output


def test_an_unwritable_logs_folder_is_a_contract_error_not_a_traceback(
    clean_env: Path,
) -> None:
    (clean_env / "logs").write_text("a file where the folder should be")
    result = run_cli("migrate", "core", "--json")
    assert result.exit_code == 3 and isinstance(result.exception, SystemExit)
    error = contract_error(result.output)["error"]
    assert error["code"] == "LOCAL_IO_ERROR"
    assert "logs" in error["message"]
