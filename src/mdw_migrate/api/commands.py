"""The commands of the tool as library functions: the CLI parses, calls one, and renders what
it returns (as alembic's `command` module does). Each opens its databases through `Config`,
is audited when it changes or checks the target, and raises contract errors only."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg
from psycopg import sql

from .. import databases, report, state
from ..catalogue import CATALOGUE, LEGACY_TABLES
from ..config import EMBEDDED_TARGET_DB
from ..engine import rollback as rollback_engine
from ..engine.context import Reporter, SilentReporter
from ..engine.migrate import RunOptions, RunOutcome
from ..engine.migrate import migrate as run_migration
from ..engine.validate import EntityValidation, validate_security, validate_selection
from ..errors import Code, UsageError
from ..legacy import generator
from ..target import schema as target_schema
from .config import Config
from .results import (
    Demonstrated,
    Ended,
    Generated,
    Migrated,
    Plan,
    RolledBack,
    SchemaApplied,
    SecurityChecked,
    Status,
    Validated,
)
from .trail import Trail, audited

E = TypeVar("E", bound=Ended)


def _never() -> bool:
    return False


def schema_apply(config: Config) -> SchemaApplied:
    """Creates or upgrades the target schema, after checking nothing it would create already
    exists with another shape, and locks down everything the tool owns."""
    with audited(config, "schema apply", {}) as trail:
        endpoints = trail.endpoints = config.connect()
        with databases.connect(endpoints.target, autocommit=True) as conn:
            applied = target_schema.apply(conn)
            versions = target_schema.versions(conn)
        trail.counts = {
            "stepsApplied": len(applied.steps),
            "stepsTotal": len(versions),
            "publicTables": applied.tables,
            "objectsLockedDown": applied.locked,
        }
        return SchemaApplied(
            verdict=f"Schema up to date ({len(versions)} steps);"
            f" {applied.locked} object(s) locked down",
            totals=dict(trail.counts),
            steps=applied.steps,
            versions=versions,
        )


def migrate(
    config: Config,
    selection: str,
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    validate: bool = False,
    workers: int | None = None,
    resume: bool = False,
    checkpoint: int | None = None,
    restart_from_batch: int | None = None,
    reporter: Reporter | None = None,
    should_stop: Callable[[], bool] = _never,
) -> Migrated:
    """Migrates a phase or an entity; `should_stop` asks it to stop after the batch in flight
    (the result is then `interrupted`, with the command that resumes)."""
    arguments = {
        "selection": selection,
        "dryRun": dry_run,
        "batchSize": batch_size,
        "validate": validate,
        "workers": workers,
    }
    with audited(config, "migrate", arguments) as trail:
        names = CATALOGUE.resolve(selection)
        if (checkpoint is not None or restart_from_batch is not None) and len(names) != 1:
            raise UsageError(
                code=Code.USAGE,
                message="--checkpoint and --restart-from-batch apply to one entity, not a phase",
                details={"entities": len(names)},
                suggestion="Name one entity: mdw-migrate migrate <entity> --checkpoint N",
            )
        endpoints = trail.endpoints = config.connect()
        options = _run_options(
            config,
            endpoints,
            selection,
            arguments,
            dry_run=dry_run,
            batch_size=batch_size,
            workers=workers,
            resume=resume or checkpoint is not None or restart_from_batch is not None,
            checkpoints={names[0]: checkpoint} if checkpoint is not None else {},
            restart_batches={names[0]: restart_from_batch} if restart_from_batch else {},
            should_stop=should_stop,
        )
        outcome, validations = _run(
            config, endpoints, names, options, reporter or SilentReporter(), validate
        )
        if validations:
            _write_validation(config, validations, selection)
        trail.counts = dict(outcome.counts())
        return _ended(trail, Migrated.of(outcome, validations, selection))


def _ended(trail: Trail, result: E) -> E:
    """Tells the audit trail how a command that did not raise ended."""
    if result.failure is not None:
        trail.ended("interrupted" if result.status == "interrupted" else "failed", result.failure)
    return result


def _run_options(
    config: Config,
    endpoints: databases.Endpoints,
    selection: str,
    arguments: dict[str, object],
    *,
    dry_run: bool,
    batch_size: int | None,
    workers: int | None,
    resume: bool,
    checkpoints: dict[str, int],
    restart_batches: dict[str, int],
    should_stop: Callable[[], bool],
) -> RunOptions:
    settings = config.settings
    # Each worker holds a source and a target connection.
    default_workers = max(1, min(settings.max_connections // 2, os.cpu_count() or 1))
    return RunOptions(
        batch_size=batch_size or settings.batch_size,
        batch_size_forced=batch_size is not None or "batch_size" in settings.model_fields_set,
        max_retry_attempts=settings.max_retry_attempts,
        dry_run=dry_run,
        id_secret_env=config.id_secret,
        command=f"migrate {selection}",
        arguments={**arguments, "user": getpass.getuser()},
        source_identity=dict(endpoints.source.identity()),
        target_identity=dict(endpoints.target.identity()),
        workers=workers or default_workers,
        resume=resume,
        checkpoints=checkpoints,
        restart_batches=restart_batches,
        checkpoint_dir=config.checkpoints_dir,
        checkpoint_frequency=settings.checkpoint_frequency,
        should_stop=should_stop,
        open_source=lambda: databases.open_source(endpoints.source),
        open_target=lambda: databases.open_target(endpoints.target, settings.migration_timeout),
    )


def _run(
    config: Config,
    endpoints: databases.Endpoints,
    names: Sequence[str],
    options: RunOptions,
    reporter: Reporter,
    validate: bool,
) -> tuple[RunOutcome, list[EntityValidation]]:
    timeout = config.settings.migration_timeout
    with (
        databases.source_session(endpoints.source) as source,
        databases.target_session(endpoints.target, timeout) as target,
    ):
        outcome = run_migration(CATALOGUE, names, source, target, options, reporter)
        validations: list[EntityValidation] = []
        if validate and not options.dry_run:
            validations = validate_selection(CATALOGUE, names, source, target, config.id_secret)
    return outcome, validations


def validate(config: Config, selection: str) -> Validated:
    """Validates a phase or an entity. `final` covers every entity and the legacy archive,
    adds the security check and writes the self-contained HTML report."""
    final = selection.strip().lower() == "final"
    with audited(config, "validate", {"selection": selection}) as trail:
        names = CATALOGUE.resolve("all" if final else selection)
        endpoints = trail.endpoints = config.connect()
        with (
            databases.source_session(endpoints.source) as source,
            databases.target_session(endpoints.target, config.settings.migration_timeout) as target,
        ):
            results = validate_selection(CATALOGUE, names, source, target, config.id_secret)
            if final:
                results.append(validate_security(target, target_schema.public_tables()))
        _write_validation(config, results, selection)
        trail.counts = {"entities": len(results), "failed": sum(not v.passed for v in results)}
        html = (
            _write_html(config, results, "MDW migration: final validation", endpoints)
            if final
            else None
        )
        return _ended(trail, Validated.of(results, html))


def security_check(config: Config) -> SecurityChecked:
    """What Supabase's Data API roles could reach of the tool's objects (reads only)."""
    endpoints = config.connect(writes_target=False)
    with databases.connect(endpoints.target, autocommit=True) as target:
        return SecurityChecked.of(validate_security(target, target_schema.public_tables()))


def rollback(
    config: Config,
    selection: str,
    *,
    yes: bool = False,
    confirm: Callable[[list[str]], None] | None = None,
) -> RolledBack:
    """Deletes, in reverse dependency order, the rows the tool created for a phase or entity,
    after copying them to migration_backup. Unless `yes`, `confirm` is asked first (it raises
    to refuse); without either, CONFIRMATION_REQUIRED."""
    with audited(config, "rollback", {"selection": selection, "yes": yes}) as trail:
        names = CATALOGUE.resolve(selection)
        endpoints = trail.endpoints = config.connect()
        with databases.target_session(endpoints.target, config.settings.migration_timeout) as t:
            rollback_engine.check_rollback(CATALOGUE, names, t)
            if not yes:
                if confirm is None:
                    raise UsageError(
                        code=Code.CONFIRMATION_REQUIRED,
                        message="rollback deletes migrated rows and needs confirmation",
                        suggestion="Run it on a terminal, or add --yes",
                    )
                confirm(names)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            backups = rollback_engine.rollback(CATALOGUE, names, t, stamp)
        metadata = _write_backup_metadata(config, selection, stamp, endpoints, backups)
        removed = {b.entity: b.rows for b in backups}
        trail.counts = {"removed": removed}
        return RolledBack(
            verdict=f"Rolled back {len(backups)} entities: {sum(removed.values()):,} row(s)"
            f" removed, copies in migration_backup; metadata {metadata}",
            totals={"entities": len(backups), "rowsRemoved": sum(removed.values())},
            backups=backups,
            metadata=metadata,
        )


def status(config: Config) -> Status:
    """Per entity: state, counts, last checkpoint and last run."""
    endpoints = config.connect(writes_target=False)
    with databases.connect(endpoints.target, autocommit=True) as conn:
        items = state.progress.status_rows(conn, CATALOGUE.order(CATALOGUE.entities))
    states = [item["state"] for item in items]
    return Status(
        verdict=f"{states.count('completed')} of {len(items)} entities completed",
        totals={
            "entities": len(items),
            **{s: states.count(s) for s in ("completed", "running", "pending", "failed")},
        },
        entities=items,
    )


def generate(config: Config, *, scale: float, seed: int, force: bool) -> Generated:
    """Fills the (empty) source with a synthetic legacy database."""
    endpoints = config.connect(writes_target=False)
    made = _generate(endpoints, scale, seed, force)
    rows = sum(made.tables.values())
    return Generated(
        verdict=f"Generated {rows:,} rows in {len(made.tables)} tables",
        totals={"tables": len(made.tables), "rows": rows},
        report=made,
    )


def _generate(
    endpoints: databases.Endpoints, scale: float, seed: int, force: bool
) -> generator.GenerationReport:
    conninfo = psycopg.conninfo.make_conninfo(**endpoints.source.conninfo_kwargs())
    try:
        return generator.generate(conninfo, scale=scale, seed=seed, force=force)
    except generator.SourceNotEmpty as exc:
        raise UsageError(
            code=Code.SOURCE_NOT_EMPTY,
            message="The source database already has tables; generate refuses to touch it",
            details={"database": endpoints.source.dbname, "tables": len(exc.tables)},
            suggestion="Add --force to replace the legacy tables (never on a real database)",
        ) from exc


def demo(
    config: Config,
    *,
    scale: float,
    seed: int,
    batch_size: int | None = None,
    reporter: Reporter | None = None,
    step: Callable[[str, bool], None] = lambda text, detail: None,
) -> Demonstrated:
    """The embedded server, a synthetic legacy database, the schema, `migrate all`, validation
    and the HTML report; it never touches a configured database."""
    config.embedded_only = True
    step(f"Starting the embedded PostgreSQL under {config.settings.mdw_home}/", False)
    endpoints = config.connect()
    assert endpoints.server is not None
    _reset_database(endpoints.server.admin_conninfo(), EMBEDDED_TARGET_DB)
    step(f"Generating the synthetic legacy database (scale {scale})", False)
    made = _generate(endpoints, scale, seed, force=True)
    rows = sum(made.tables.values())
    step(f"{rows:,} rows in {len(made.tables)} tables, {made.seconds:.1f}s", True)
    step("Applying the target schema", False)
    with databases.connect(endpoints.target, autocommit=True) as conn:
        target_schema.apply(conn)
    step("Migrating phase 'all', then validating", False)
    names = CATALOGUE.resolve("all")
    options = _run_options(
        config,
        endpoints,
        "all",
        {"selection": "all", "demo": True},
        dry_run=False,
        batch_size=batch_size,
        workers=None,
        resume=False,
        checkpoints={},
        restart_batches={},
        should_stop=_never,
    )
    outcome, validations = _run(
        config, endpoints, names, options, reporter or SilentReporter(), True
    )
    with databases.connect(endpoints.target, autocommit=True) as conn:
        validations.append(validate_security(conn, target_schema.public_tables()))
    _write_validation(config, validations, "all")
    migrated = Migrated.of(outcome, validations, "all")
    html = _write_html(config, validations, "MDW migration demo: validation", endpoints)
    return Demonstrated(
        status=migrated.status,
        verdict=migrated.verdict,
        totals=migrated.totals,
        run_id=migrated.run_id,
        failure=migrated.failure,
        migrated=migrated,
        report=html,
    )


def _reset_database(admin_conninfo: str, dbname: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def _write_validation(config: Config, validations: list[EntityValidation], selection: str) -> Path:
    directory = config.logs_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"validation-{selection}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps([v.to_contract() for v in validations], indent=2, default=str))
    return path


def _write_html(
    config: Config,
    validations: list[EntityValidation],
    title: str,
    endpoints: databases.Endpoints,
) -> Path:
    now = datetime.now(UTC)
    html_text = report.render_html(
        validations,
        title=title,
        generated_at=now,
        source=endpoints.source.identity(),
        target=endpoints.target.identity(),
    )
    return report.write_report(config.logs_dir, html_text, f"{now:%Y%m%dT%H%M%S}")


def _write_backup_metadata(
    config: Config,
    selection: str,
    stamp: str,
    endpoints: databases.Endpoints,
    backups: list[rollback_engine.Backup],
) -> Path:
    """./backups/rollback-<stamp>.json: counts, legacy id ranges, checksums and where the
    restorable copies are (tables in the target's migration_backup schema); no row content."""
    directory = config.backups_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"rollback-{selection}-{stamp}.json"
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


def plan() -> Plan:
    """The dependency order, the phases, and the fate of every legacy table (no database)."""
    order = CATALOGUE.order(CATALOGUE.entities)
    fates = {
        table: {
            "entity": entity,
            "state": "implemented"
            if (entity if entity != "archive" else "legacy_archive") in CATALOGUE.entities
            else "planned",
        }
        for table, entity in sorted(LEGACY_TABLES.items())
    }
    return Plan(
        order=[
            (n, list(CATALOGUE.entities[n].deps), CATALOGUE.entities[n].description) for n in order
        ],
        phases={k: CATALOGUE.order(v) for k, v in CATALOGUE.phases.items()},
        legacy_tables=fates,
    )
