"""Settings from the environment or a `.env` file: the contract's variable names, nothing else.

A side (source or target) with no `*_DB_HOST` is served by the embedded PostgreSQL under
`MDW_HOME` (default `./.mdw`). Passwords are `SecretStr`, so no repr or log line shows them.
A value that does not parse, or a side half-configured (a `TARGET_DB_*` variable without
`TARGET_DB_HOST`, a typo such as `TARGET_DB_HSOT`), is refused as `CONFIG_INVALID`: a typo must
never send the migration to another database than the operator meant.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import config_invalid

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]

EMBEDDED_SOURCE_DB = "mdw_db"
EMBEDDED_TARGET_DB = "mdw_target"
ENV_FILE = Path(".env")
# Variables with these prefixes are ours: an unknown one is most likely a typo.
OUR_PREFIXES = ("SOURCE_DB_", "TARGET_DB_", "DB_", "MDW_")
_PORT = "a TCP port number from 1 to 65535"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", case_sensitive=False)

    source_db_host: str | None = Field(default=None, description="a host name, IP or socket dir")
    source_db_port: int = Field(default=5432, ge=1, le=65535, description=_PORT)
    source_db_user: str = "postgres"
    source_db_name: str = "mdw_db"
    source_db_password: SecretStr | None = None

    target_db_host: str | None = Field(default=None, description="a host name, IP or socket dir")
    target_db_port: int = Field(default=5432, ge=1, le=65535, description=_PORT)
    target_db_user: str = "postgres"
    target_db_name: str = "postgres"
    target_db_password: SecretStr | None = None

    batch_size: int = Field(
        default=5000, ge=1, le=1_000_000, description="an integer from 1 to 1000000 (rows)"
    )
    max_retry_attempts: int = Field(default=3, ge=0, le=100, description="an integer from 0 to 100")
    # The contract gives milliseconds (300000 = 5 minutes); it bounds one statement.
    migration_timeout: int = Field(
        default=300_000, ge=0, description="milliseconds, an integer of 0 (no limit) or more"
    )
    max_connections: int = Field(default=4, ge=1, le=100, description="an integer from 1 to 100")
    checkpoint_frequency: int = Field(
        default=10_000, ge=1, description="rows, an integer of 1 or more"
    )
    log_level: LogLevel = Field(
        default="info", description="one of debug, info, warning, error, critical"
    )

    db_sslmode: SslMode | None = Field(
        default=None,
        description="one of disable, allow, prefer, require, verify-ca, verify-full",
    )
    db_sslrootcert: str | None = None

    mdw_home: Path = Path(".mdw")
    # Keys the legacy-id -> UUID derivation; see state/deployment.py.
    mdw_id_secret: SecretStr | None = None

    @field_validator("log_level", "db_sslmode", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def variables_help() -> list[tuple[str, str]]:
    """Every setting's variable with its default, for `--help` (secrets show none)."""
    shown = {
        "source_db_host": "the embedded server",
        "target_db_host": "the embedded server",
        "source_db_password": "none; never printed",
        "target_db_password": "none; never printed",
        "mdw_id_secret": "generated once, stored in the target",
        "db_sslmode": "require for a remote host, prefer for a local one",
        "db_sslrootcert": "none",
    }
    return [
        (name.upper(), shown.get(name, str(info.default)))
        for name, info in Settings.model_fields.items()
    ]


SECRET_FIELDS = frozenset({"source_db_password", "target_db_password", "mdw_id_secret"})
KNOWN_VARIABLES = frozenset(name.upper() for name in Settings.model_fields)


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    # Variables with our prefixes that no setting reads, each with where it was found.
    warnings: list[str] = field(default_factory=list)


def _variables(env_file: Path | None) -> dict[str, str]:
    """Every variable the settings could see, upper-cased, with where it came from; the
    environment wins over `.env`, as it does for the settings themselves."""
    found: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        found.update({name.upper(): str(env_file) for name in dotenv_values(env_file)})
    found.update({name.upper(): "the environment" for name in os.environ})
    return found


def _unknown_warning(name: str, origin: str) -> str:
    close = difflib.get_close_matches(name, sorted(KNOWN_VARIABLES), n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name} in {origin} is not a setting mdw-migrate knows; it is ignored{hint}"


def load_settings(
    env_file: Path | None = ENV_FILE, *, embedded_only: bool = False, **overrides: Any
) -> LoadedSettings:
    """The settings, or CONFIG_INVALID naming every variable that is wrong.

    `embedded_only` (the demo) ignores SOURCE_DB_*/TARGET_DB_*: both sides are embedded.
    """
    if embedded_only:
        overrides.update(source_db_host=None, target_db_host=None)
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            info = Settings.model_fields.get(name)
            problems.append(
                {
                    "variable": name.upper(),
                    "expected": (info.description if info and info.description else None)
                    or error["msg"],
                    # A secret's value is never echoed, not even a wrong one.
                    "value": None if name in SECRET_FIELDS else str(error.get("input")),
                }
            )
        raise config_invalid(problems) from None
    variables = _variables(env_file)
    unknown = {
        name: origin
        for name, origin in variables.items()
        if name.startswith(OUR_PREFIXES) and name not in KNOWN_VARIABLES
    }
    if not embedded_only:
        _check_sides(settings, variables, unknown)
    return LoadedSettings(settings, [_unknown_warning(n, o) for n, o in sorted(unknown.items())])


def _check_sides(settings: Settings, variables: dict[str, str], unknown: dict[str, str]) -> None:
    """A side with any SOURCE_DB_*/TARGET_DB_* variable must have its HOST: without it the
    side would silently become the embedded server."""
    problems = []
    for side, host in (("SOURCE", settings.source_db_host), ("TARGET", settings.target_db_host)):
        if host:
            continue
        prefix = f"{side}_DB_"
        for name in sorted(n for n in variables if n.startswith(prefix)):
            if name == prefix + "HOST":
                continue  # set but empty
            hint = f"; did you mean {prefix}HOST?" if name in unknown else ""
            problems.append(
                {
                    "variable": name,
                    "expected": f"{prefix}HOST set as well (a {side.lower()} without a host"
                    f" would be the embedded server){hint}",
                    "value": None,
                }
            )
    if problems:
        raise config_invalid(problems)


@dataclass(frozen=True)
class Endpoint:
    """Where one side lives. `embedded` means our own server; host is then its socket folder."""

    side: str
    host: str
    port: int
    user: str
    dbname: str
    password: SecretStr | None
    sslmode: str
    sslrootcert: str | None
    embedded: bool

    def conninfo_kwargs(self) -> dict[str, str]:
        kwargs = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": self.dbname,
            "sslmode": self.sslmode,
            "application_name": f"mdw-migrate-{self.side}",
        }
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        if self.sslrootcert:
            kwargs["sslrootcert"] = self.sslrootcert
        return kwargs

    def identity(self) -> dict[str, str | int]:
        """What may be printed or audited about this side: never the user's password."""
        return {
            "host": "embedded" if self.embedded else self.host,
            "port": self.port,
            "database": self.dbname,
        }

    def describe(self) -> str:
        """`user@host:port/db`, no password: the one line an operator checks before a run."""
        host = "embedded" if self.embedded else self.host
        return f"{self.user}@{host}:{self.port}/{self.dbname}"


def is_local_host(host: str) -> bool:
    if host.startswith("/") or host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_sslmode(host: str, configured: str | None) -> str:
    if configured:
        return configured
    return "prefer" if is_local_host(host) else "require"


def endpoint(
    settings: Settings, side: str, embedded_socket: str | None, embedded_port: int
) -> Endpoint:
    host = settings.source_db_host if side == "source" else settings.target_db_host
    if host:
        prefix = f"{side}_db_"
        return Endpoint(
            side=side,
            host=host,
            port=getattr(settings, prefix + "port"),
            user=getattr(settings, prefix + "user"),
            dbname=getattr(settings, prefix + "name"),
            password=getattr(settings, prefix + "password"),
            sslmode=default_sslmode(host, settings.db_sslmode),
            sslrootcert=settings.db_sslrootcert,
            embedded=False,
        )
    if embedded_socket is None:
        raise ValueError("the embedded server must be started before its endpoint is asked for")
    return Endpoint(
        side=side,
        host=embedded_socket,
        port=embedded_port,
        user="postgres",
        dbname=EMBEDDED_SOURCE_DB if side == "source" else EMBEDDED_TARGET_DB,
        password=None,
        sslmode="disable",
        sslrootcert=None,
        embedded=True,
    )


def needs_embedded(settings: Settings) -> bool:
    return not settings.source_db_host or not settings.target_db_host
