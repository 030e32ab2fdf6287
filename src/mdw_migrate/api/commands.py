"""The commands of the tool as library functions: the CLI parses, calls one, and renders what
it returns (as alembic's `command` module does). Each opens its databases through `Config`,
is audited when it changes or checks the target, and raises contract errors only."""

from __future__ import annotations

import dataclasses
import getpass
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from .. import __version__, audit, databases, report, state
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
from . import files
from .config import Config
from .results import (
    AuditVerified,
    Demonstrated,
    Ended,
    Generated,
    Migrated,
    Plan,
    RollbackPlan,
    RolledBack,
    SchemaApplied,
    SecurityChecked,
    Status,
    Synced,
    Validated,
)
from .trail import Trail, audited, contract_errors

E = TypeVar("E", bound=Ended)


def _never() -> bool:
    return False


def schema_apply(config: Config) -> SchemaApplied:
    """Creates or upgrades the target schema, after checking nothing it would create already
    exists with another shape, and locks down everything the tool owns."""
    with audited(config, "schema apply", {}) as trail:
        endpoints = config.connect(resolved=trail.resolved)
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
        endpoints = config.connect(resolved=trail.resolved)
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
        outcome, validations = _run_and_file(
            config, endpoints, names, options, reporter, validate, selection, trail
        )
        return _ended(trail, Migrated.of(outcome, validations, selection))


def sync(
    config: Config,
    selection: str,
    *,
    dry_run: bool = False,
    keep_deleted: bool = False,
    batch_size: int | None = None,
    validate: bool = False,
    workers: int | None = None,
    reporter: Reporter | None = None,
    should_stop: Callable[[], bool] = _never,
) -> Synced:
    """Brings a migrated phase or entity up to date with the source as it is now: new rows
    are migrated, changed rows updated under their UUID, rows whose legacy row is gone (or
    that no longer migrate) deleted after a copy to migration_backup, dependants first. Only
    the buckets of keys whose fingerprint changed are read. The entities that depend on the
    selection and were migrated are synced too (a parent's change can change their
    outcome). `dry_run` (`diff`) writes nothing and reports what a sync would do; a sync
    that was stopped is resumed by running it again."""
    arguments = {
        "selection": selection,
        "dryRun": dry_run,
        "keepDeleted": keep_deleted,
        "batchSize": batch_size,
        "validate": validate,
        "workers": workers,
    }
    command = "diff" if dry_run else "sync"
    with audited(config, command, arguments) as trail:
        chosen = CATALOGUE.resolve(selection)
        endpoints = config.connect(resolved=trail.resolved)
        with databases.target_session(endpoints.target, config.settings.migration_timeout) as t:
            known = state.progress.states(t)
        names = CATALOGUE.with_dependents(chosen, known)
        options = dataclasses.replace(
            _run_options(
                config,
                endpoints,
                selection,
                arguments,
                dry_run=dry_run,
                batch_size=batch_size,
                workers=workers,
                resume=False,
                checkpoints={},
                restart_batches={},
                should_stop=should_stop,
            ),
            command=f"sync {selection}",
            incremental=True,
            keep_deleted=keep_deleted,
        )
        outcome, validations = _run_and_file(
            config, endpoints, names, options, reporter, validate, selection, trail
        )
        added = sorted(set(names) - set(chosen))
        return _ended(trail, Synced.of(outcome, validations, selection, added))


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


def _run_and_file(
    config: Config,
    endpoints: databases.Endpoints,
    names: Sequence[str],
    options: RunOptions,
    reporter: Reporter | None,
    validate: bool,
    selection: str,
    trail: Trail,
) -> tuple[RunOutcome, list[EntityValidation]]:
    """A migrate or sync run, then its files: validations, the metadata of the copies of the
    rows it deleted (./backups/<migrate|sync>-<selection>-<stamp>.json), the audit's counts."""
    outcome, validations = _run(
        config, endpoints, names, options, reporter or SilentReporter(), validate
    )
    if validations:
        files.write_validation(config, validations, selection)
    if outcome.backups:
        kind = "sync" if options.incremental else "migrate"
        files.write_backup_metadata(
            config, selection, options.backup_stamp, endpoints, outcome.backups, kind=kind
        )
    trail.counts = dict(outcome.counts())
    return outcome, validations


def _run(
    config: Config,
    endpoints: databases.Endpoints,
    names: Sequence[str],
    options: RunOptions,
    reporter: Reporter,
    validate: bool,
) -> tuple[RunOutcome, list[EntityValidation]]:
    timeout = config.settings.migration_timeout
    with databases.source_session(endpoints.source) as source:
        with databases.target_session(endpoints.target, timeout) as target:
            outcome = run_migration(CATALOGUE, names, source, target, options, reporter)
        validations: list[EntityValidation] = []
        if validate and not options.dry_run:
            # A connection of its own: the run's may have been replaced by a retry. The
            # source is the run's, so the checks read the snapshot that was migrated.
            with databases.target_session(endpoints.target, timeout) as target:
                validations = validate_selection(CATALOGUE, names, source, target, config.id_secret)
    return outcome, validations


def validate(config: Config, selection: str) -> Validated:
    """Validates a phase or an entity. `final` covers every entity and the legacy archive,
    adds the security check and writes the self-contained HTML report."""
    final = selection.strip().lower() == "final"
    started, run_id = time.perf_counter(), uuid.uuid4()
    with audited(config, "validate", {"selection": selection}) as trail:
        names = CATALOGUE.resolve("all" if final else selection)
        endpoints = config.connect(resolved=trail.resolved)
        with (
            databases.source_session(endpoints.source) as source,
            databases.target_session(endpoints.target, config.settings.migration_timeout) as target,
        ):
            results = validate_selection(CATALOGUE, names, source, target, config.id_secret)
            if final:
                results.append(validate_security(target, target_schema.public_tables()))
            last_run = state.runs.last(target)
        files.write_validation(config, results, selection)
        trail.counts = {"entities": len(results), "failed": sum(not v.passed for v in results)}
        about = report.About(
            version=__version__,
            run_id=str(run_id),
            command=f"validate {selection}",
            seconds=time.perf_counter() - started,
            last_run=last_run,
        )
        html = (
            files.write_html(config, results, "MDW migration: final validation", endpoints, about)
            if final
            else None
        )
        return _ended(trail, Validated.of(results, html, run_id))


def security_check(config: Config) -> SecurityChecked:
    """What Supabase's Data API roles could reach of the tool's objects (reads only)."""
    with contract_errors("security"):
        endpoints = config.connect(writes_target=False)
        with databases.connect(endpoints.target, autocommit=True) as target:
            return SecurityChecked.of(validate_security(target, target_schema.public_tables()))


def rollback(
    config: Config,
    selection: str,
    *,
    yes: bool = False,
    confirm: Callable[[RollbackPlan], bool] | None = None,
) -> RolledBack:
    """Deletes, in reverse dependency order, the rows the tool created for a phase or entity,
    after copying them to migration_backup. Unless `yes`, `confirm(plan)` is asked first, with
    the rows it would remove and where their copies go; without either, CONFIRMATION_REQUIRED.
    Declining changes nothing and is no failure."""
    with audited(config, "rollback", {"selection": selection, "yes": yes}) as trail:
        names = CATALOGUE.resolve(selection)
        endpoints = config.connect(resolved=trail.resolved)
        with databases.target_session(endpoints.target, config.settings.migration_timeout) as t:
            rollback_engine.check_rollback(CATALOGUE, names, t)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            plan = RollbackPlan(
                rows=rollback_engine.rows_to_remove(CATALOGUE, names, t, config.id_secret),
                backup=f"migration_backup.<entity>__{stamp}",
                metadata=config.backups_dir / f"rollback-{selection}-{stamp}.json",
            )
            if not yes and plan.total:
                if confirm is None:
                    raise UsageError(
                        code=Code.CONFIRMATION_REQUIRED,
                        message="rollback deletes migrated rows and needs confirmation",
                        suggestion="Run it on a terminal, or add --yes",
                    )
                if not confirm(plan):
                    trail.ended("refused", Code.ABORTED)
                    return RolledBack(
                        verdict="Rollback declined: nothing was changed",
                        totals={"entities": 0, "rowsRemoved": 0},
                        declined=True,
                    )
            backups = rollback_engine.rollback(CATALOGUE, names, t, stamp, config.id_secret)
        # Nothing removed, nothing to restore: no metadata file pointing at no copy.
        metadata = (
            files.write_backup_metadata(config, selection, stamp, endpoints, backups)
            if backups
            else None
        )
        result = RolledBack(backups=backups, metadata=metadata)
        removed = sum(result.removed.values())
        trail.counts = {"removed": result.removed}
        result.totals = {"entities": len(backups), "rowsRemoved": removed}
        result.verdict = (
            f"Rolled back {len(backups)} entities: {removed:,} row(s) removed, copies in"
            f" migration_backup; metadata {metadata}"
            if backups
            else f"Nothing to roll back: no migrated rows in {selection}; no backup was made"
        )
        return result


def status(config: Config) -> Status:
    """Per entity: state, counts, last checkpoint and last run."""
    with contract_errors("status"):
        endpoints = config.connect(writes_target=False)
        with databases.connect(endpoints.target, autocommit=True) as conn:
            items = state.progress.status_rows(conn, CATALOGUE.order(CATALOGUE.entities))
            running = (
                state.runs.active(conn) if any(i["state"] == "running" for i in items) else False
            )
            for item in items:
                _explain_unfinished(conn, item, running)
    states = [item["state"] for item in items]
    resumes = sorted({item["resume"] for item in items if item.get("resume")})
    verdict = f"{states.count('completed')} of {len(items)} entities completed"
    if resumes:
        verdict += f"; {states.count('interrupted')} interrupted, resume with: {', '.join(resumes)}"
    return Status(
        verdict=verdict,
        totals={
            "entities": len(items),
            **{
                s: states.count(s)
                for s in ("completed", "running", "interrupted", "pending", "failed")
            },
        },
        resume=resumes[0] if len(resumes) == 1 else None,
        entities=items,
    )


def _explain_unfinished(conn: psycopg.Connection[Any], item: dict[str, Any], running: bool) -> None:
    """An entity left `running` by a run that no longer holds the run lock was interrupted:
    it says so, with the command that resumes it and, when its pass was split, the
    checkpoint of each key range (the ones --resume uses)."""
    if item["state"] != "running" or running:
        return
    item["state"] = "interrupted"
    command = (item["lastRun"] or {}).get("command") or f"migrate {item['entity']}"
    verb, _, selection = command.partition(" ")
    item["resume"] = (
        f"mdw-migrate sync {selection}"
        if verb == "sync"
        else f"mdw-migrate migrate {selection or item['entity']} --resume"
    )
    ranges = state.ranges.saved(conn, item["entity"])
    if ranges:
        # Each range resumes from its own checkpoint: the entity has none of its own.
        item["lastCheckpoint"] = None
        item["ranges"] = [
            {"upTo": hi, "lastCheckpoint": last, "done": done} for _, hi, last, done in ranges
        ]


def generate(config: Config, *, scale: float, seed: int, force: bool) -> Generated:
    """Fills the (empty) source with a synthetic legacy database."""
    with contract_errors("generate"):
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
    # The generator connects on its own; this says CONNECTION_FAILED the way every other
    # command does when the source cannot be reached.
    databases.connect(endpoints.source).close()
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
    # Its own Config, whose settings are read afresh with both sides embedded.
    config = dataclasses.replace(config, embedded_only=True)
    arguments = {"scale": scale, "seed": seed, "batchSize": batch_size}
    with audited(config, "demo", arguments) as trail:
        return _ended(trail, _demo(config, scale, seed, batch_size, reporter, step, trail))


def _demo(
    config: Config,
    scale: float,
    seed: int,
    batch_size: int | None,
    reporter: Reporter | None,
    step: Callable[[str, bool], None],
    trail: Trail,
) -> Demonstrated:
    step(f"Starting the embedded PostgreSQL under {config.settings.mdw_home}/", False)
    endpoints = config.connect(resolved=trail.resolved)
    if endpoints.server is None or not (endpoints.source.embedded and endpoints.target.embedded):
        raise UsageError(
            code=Code.USAGE,
            message="The demo runs on the embedded server only",
            suggestion="Run it with a Config whose settings were not read yet",
        )
    _reset_database(endpoints.server.admin_conninfo(), EMBEDDED_TARGET_DB)
    with databases.connect(endpoints.source, autocommit=True) as conn:
        previous = generator.legacy_table_count(conn)
    again = (
        f"Regenerating the synthetic legacy database (scale {scale}, seed {seed}): its"
        f" {previous} legacy tables from an earlier demo are replaced"
        if previous
        else f"Generating the synthetic legacy database (scale {scale}, seed {seed})"
    )
    step(again, False)
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
    outcome, validations = _run_and_file(
        config, endpoints, names, options, reporter, True, "all", trail
    )
    with databases.connect(endpoints.target, autocommit=True) as conn:
        validations.append(validate_security(conn, target_schema.public_tables()))
    files.write_validation(config, validations, "all")
    migrated = Migrated.of(outcome, validations, "all")
    with databases.connect(endpoints.target, autocommit=True) as conn:
        last_run = state.runs.last(conn)
    about = report.About(
        version=__version__,
        run_id=str(migrated.run_id),
        command="demo",
        options={"scale": scale, "seed": seed, "batchSize": batch_size},
        last_run=last_run,
    )
    html = files.write_html(config, validations, "MDW migration demo: validation", endpoints, about)
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


def audit_verify(config: Config) -> AuditVerified:
    """Checks that no record of ./audit/ was edited, removed, inserted or reordered."""
    with contract_errors("audit"):
        found = audit.verify(config.audit_dir)
    result = AuditVerified(
        verdict=f"Audit trail intact: {found.records} record(s), chain verified",
        totals={"records": found.records, "problems": len(found.problems)},
        records=found.records,
        problems=found.problems,
    )
    if not found.ok:
        result.status, result.failure = "failed", Code.AUDIT_LOG_DAMAGED
        result.verdict = f"Audit trail damaged: {len(found.problems)} problem(s)"
    return result
