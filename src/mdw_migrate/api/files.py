"""What the commands write next to the tool: validation results and the HTML report in
./logs, rollback metadata in ./backups. Ids, counts, sums and codes only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from .. import databases, report
from ..engine.backup import Backup
from ..engine.validate import EntityValidation
from .config import Config
from .results import validation_verdict


def write_validation(config: Config, validations: list[EntityValidation], selection: str) -> Path:
    directory = config.logs_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"validation-{selection}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps([v.to_contract() for v in validations], indent=2, default=str))
    return path


def write_html(
    config: Config,
    validations: list[EntityValidation],
    title: str,
    endpoints: databases.Endpoints,
    about: report.About,
) -> Path:
    now = datetime.now(UTC)
    html_text = report.render_html(
        validations,
        title=title,
        generated_at=now,
        source=endpoints.source.identity(),
        target=endpoints.target.identity(),
        verdict=validation_verdict(validations),
        about=about,
    )
    return report.write_report(config.logs_dir, html_text, f"{now:%Y%m%dT%H%M%S}")


def write_backup_metadata(
    config: Config,
    selection: str,
    stamp: str,
    endpoints: databases.Endpoints,
    backups: list[Backup],
    kind: str = "rollback",
) -> Path:
    """./backups/<kind>-<selection>-<stamp>.json (a rollback, or a sync's deletions): counts,
    legacy id ranges, checksums and where the restorable copies are (tables in the target's
    migration_backup schema); no row content."""
    directory = config.backups_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{selection}-{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "createdAt": datetime.now(UTC).isoformat(),
                "selection": selection,
                "target": endpoints.target.identity(),
                "entities": [b.to_dict() for b in backups],
                "restore": "INSERT INTO public.<table> SELECT * FROM <restorableCopy>, then"
                " 'mdw-migrate migrate <entity>' rebuilds the id map with the same UUIDs",
            },
            indent=2,
        )
    )
    return path
