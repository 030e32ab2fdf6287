"""Structured JSON log lines in ./logs/, in the contract's shape.

Callers log ids, counts, codes and timings only: never a row's content.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter


class ContractFormatter(JsonFormatter):
    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat()
        log_data["level"] = record.levelname
        log_data.setdefault("component", record.name.removeprefix("mdw_migrate."))
        log_data.setdefault("entity", None)
        log_data.setdefault("action", record.getMessage())
        log_data.setdefault("details", {})
        log_data.pop("message", None)


def configure(directory: Path, level: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"mdw-migrate-{datetime.now(UTC):%Y%m%d}.jsonl"
    logger = logging.getLogger("mdw_migrate")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(ContractFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return path
