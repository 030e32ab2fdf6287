"""Settings from the environment or a `.env` file: the contract's variable names, nothing else.

A side (source or target) with no `*_DB_HOST` is served by the embedded PostgreSQL under
`MDW_HOME` (default `./.mdw`). Passwords are `SecretStr`, so no repr or log line shows them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

EMBEDDED_SOURCE_DB = "mdw_db"
EMBEDDED_TARGET_DB = "mdw_target"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    source_db_host: str | None = None
    source_db_port: int = 5432
    source_db_user: str = "postgres"
    source_db_name: str = "mdw_db"
    source_db_password: SecretStr | None = None

    target_db_host: str | None = None
    target_db_port: int = 5432
    target_db_user: str = "postgres"
    target_db_name: str = "postgres"
    target_db_password: SecretStr | None = None

    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    max_retry_attempts: int = Field(default=3, ge=0, le=100)
    # The contract gives milliseconds (300000 = 5 minutes); it bounds one statement.
    migration_timeout: int = Field(default=300_000, ge=0)
    max_connections: int = Field(default=4, ge=1, le=100)
    checkpoint_frequency: int = Field(default=10_000, ge=1)
    log_level: str = "info"

    db_sslmode: SslMode | None = None
    db_sslrootcert: str | None = None

    mdw_home: Path = Path(".mdw")
    # Keys the legacy-id -> UUID derivation; see engine/control.py.
    mdw_id_secret: SecretStr | None = None


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
