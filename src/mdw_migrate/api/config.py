"""What every command of the library starts from: where its settings come from, where its
files go, and how it tells the caller what it is about to use. Settings are read on first
use, so that a setting that does not parse fails inside the command (and is audited)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import databases, logs
from ..config import ENV_FILE, LoadedSettings, Settings, load_settings

log = logging.getLogger("mdw_migrate.api")


def _quiet(_: str) -> None:
    return None


@dataclass
class Config:
    env_file: Path | None = ENV_FILE
    # The demo: both sides embedded, whatever SOURCE_DB_* / TARGET_DB_* say.
    embedded_only: bool = False
    # ./logs, ./audit, ./checkpoints and ./backups are made under this folder.
    workdir: Path = Path(".")
    # Told, before anything is written, which databases the command uses (no password).
    announce: Callable[[str], None] = _quiet
    # Told of every unknown variable with one of our prefixes.
    warn: Callable[[str], None] = _quiet
    _loaded: LoadedSettings | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        """The settings; CONFIG_INVALID when one does not parse or a side is half-set."""
        if self._loaded is None:
            loaded = load_settings(self.env_file, embedded_only=self.embedded_only)
            logs.configure(self.logs_dir, loaded.settings.log_level)
            for warning in loaded.warnings:
                self.warn(warning)
                log.warning("unknown setting", extra={"action": "config_warning"})
            self._loaded = loaded
        return self._loaded.settings

    @property
    def logs_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def audit_dir(self) -> Path:
        return self.workdir / "audit"

    @property
    def checkpoints_dir(self) -> Path:
        return self.workdir / "checkpoints"

    @property
    def backups_dir(self) -> Path:
        return self.workdir / "backups"

    def connect(
        self,
        *,
        writes_target: bool = True,
        resolved: Callable[[databases.Endpoints], None] = lambda _: None,
    ) -> databases.Endpoints:
        """Resolves both sides, announces them (and tells `resolved`, so that an audit record
        names them even if a check refuses them), and makes sure the target connection keeps
        its session state before the command writes anything."""
        endpoints = databases.resolve(self.settings)
        resolved(endpoints)
        self.announce(
            f"source {endpoints.source.describe()} -> target {endpoints.target.describe()}"
        )
        if writes_target:
            databases.check_session_state(endpoints.target)
        return endpoints

    @property
    def id_secret(self) -> str | None:
        secret = self.settings.mdw_id_secret
        return secret.get_secret_value() if secret else None
