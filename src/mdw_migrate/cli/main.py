"""The `mdw-migrate` command line: thin wiring of settings, databases, engine and output."""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from .. import __version__, audit, databases, logs, report, state
from ..catalogue import CATALOGUE, LEGACY_TABLES
from ..config import EMBEDDED_TARGET_DB, Settings, load_settings
from ..engine import rollback as rollback_engine
from ..engine.migrate import RunOptions, RunOutcome
from ..engine.migrate import migrate as run_migration
from ..engine.validate import SECURITY, EntityValidation, validate_security, validate_selection
from ..errors import EXIT_FAILED, Code, MigrationError, UsageError, from_database_error
from ..legacy import generator
from ..target import schema as target_schema
from . import output

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("mdw_migrate.cli")
console = Console(stderr=False)
err_console = Console(stderr=True)

# The contract's spellings: `migrate:doctors validate`, `validate:core`, `rollback:patients`.
_CONTRACT_FORM = re.compile(r"^(migrate|validate|rollback):(.+)$")


def normalize_argv(argv: Sequence[str]) -> list[str]:
    args = list(argv)
    if not args:
        return args
    if args[0].startswith("migrate-"):
        # A contract script name: `migrate-tasks --batch-size=1000`.
        return ["migrate", *args]
    match = _CONTRACT_FORM.match(args[0])
    if not match:
        return args
    command, target = match.groups()
    rest = args[1:]
    if command == "migrate" and rest[:1] == ["validate"]:
        rest = ["--validate", *rest[1:]]
    elif command == "migrate" and rest[:1] == ["rollback"]:
        command, rest = "rollback", rest[1:]
    return [command, target, *rest]


def fail(exc: MigrationError, as_json: bool) -> None:
    if as_json:
        output.emit_json(exc.to_contract())
        return
    err_console.print(f"[bold red]{exc.code}[/]: {exc.message}", highlight=False)
    for key, value in exc.details.items():
        err_console.print(f"  {key}: {value}", highlight=False)
    err_console.print(f"[bold]What to do:[/] {exc.suggestion}", highlight=False)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine output (JSON lines).")(
        func
    )


AUDIT_DIR = Path("audit")


@dataclass
class Trail:
    """What a command reports to the audit trail: set as the command learns it."""

    endpoints: databases.Endpoints | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    outcome: audit.Outcome = "success"
    error_code: str | None = None


@dataclass
class Invocation:
    """One command being run: its settings and databases, and the summary it ends with.

    The command body sets `status`, `verdict` and `totals` (and `resume` when interrupted);
    the summary object is the last line of every `--json` output, errors included.
    """

    command: str
    as_json: bool
    settings: Settings
    trail: Trail = field(default_factory=Trail)
    run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)
    status: str = "success"
    verdict: str = ""
    totals: dict[str, Any] = field(default_factory=dict)
    resume: str | None = None
    exit_code: int = 0

    def connect(self, *, writes_target: bool = True) -> databases.Endpoints:
        """Resolves both sides, says which they are, and makes sure the target keeps its
        session state before anything is written."""
        endpoints = self.trail.endpoints = databases.resolve(self.settings)
        err_console.print(
            f"source {endpoints.source.describe()} -> target {endpoints.target.describe()}",
            highlight=False,
            soft_wrap=True,
        )
        if writes_target:
            databases.check_session_state(endpoints.target)
        return endpoints

    def failed(self, verdict: str, error_code: Code) -> None:
        """A finished command whose result is a failure (a check, an interruption)."""
        self.verdict = verdict
        self.exit_code = EXIT_FAILED
        self.trail.outcome = "interrupted" if self.status == "interrupted" else "failed"
        self.trail.error_code = error_code

    def summary(self, error: MigrationError | None = None) -> dict[str, Any]:
        return {
            "status": "error" if error else self.status,
            "summary": {
                "command": self.command,
                "verdict": f"{error.code}: {error.message}" if error else self.verdict,
                "runId": str(self.run_id),
                "startedAt": self.started_at.isoformat(),
                "durationSeconds": round(time.perf_counter() - self.clock, 3),
                "totals": self.totals,
                "resume": self.resume,
                "error": error.code if error else None,
            },
        }


@contextmanager
def invocation(
    command: str,
    as_json: bool,
    audit_arguments: dict[str, Any] | None = None,
    *,
    selection: str | None = None,
    embedded_only: bool = False,
) -> Iterator[Invocation]:
    """Settings (CONFIG_INVALID, never a traceback), logs, the audit record when
    `audit_arguments` is given, errors in the contract's shape, and the closing summary."""
    verb = command
    command = f"{command} {selection}" if selection else command
    inv: Invocation | None = None
    error: MigrationError | None = None
    trail = Trail()
    try:
        with _audited(verb, audit_arguments, trail):
            loaded = load_settings(embedded_only=embedded_only)
            logs.configure(Path("logs"), loaded.settings.log_level)
            for warning in loaded.warnings:
                err_console.print(f"[yellow]warning[/]: {warning}", highlight=False)
                log.warning("unknown setting", extra={"action": "config_warning"})
            inv = Invocation(command, as_json, loaded.settings, trail)
            yield inv
    except MigrationError as exc:
        error = exc
    except psycopg.Error as exc:
        log.error(
            "database error",
            extra={
                "action": "error",
                "details": {
                    "error": type(exc).__name__,
                    "sqlstate": getattr(exc, "sqlstate", None),
                },
            },
        )
        error = from_database_error(exc, command=verb)
    if inv is None:
        inv = Invocation(command, as_json, Settings.model_construct(), trail)
    if error is not None:
        fail(error, as_json)
        inv.exit_code = error.exit_code
    if as_json:
        output.emit_json(inv.summary(error))
    if inv.exit_code:
        sys.exit(inv.exit_code)


@contextmanager
def _audited(command: str, arguments: dict[str, Any] | None, trail: Trail) -> Iterator[None]:
    """Appends one record to ./audit/ (and to migration.audit_log when the target can take
    it) however the command ends. Arguments are the parsed options only."""
    if arguments is None:
        yield
        return
    try:
        yield
    except MigrationError as exc:
        trail.outcome = "refused" if exc.refused else "failed"
        trail.error_code = exc.code
        raise
    except click.Abort:
        trail.outcome, trail.error_code = "refused", Code.ABORTED
        raise
    except psycopg.Error as exc:
        trail.outcome, trail.error_code = "failed", from_database_error(exc).code
        raise
    except KeyboardInterrupt:
        trail.outcome, trail.error_code = "interrupted", Code.INTERRUPTED
        raise
    except Exception as exc:
        trail.outcome, trail.error_code = "failed", Code.UNEXPECTED_ERROR
        log.error(
            "unexpected error", extra={"action": "error", "details": {"type": type(exc).__name__}}
        )
        raise
    finally:
        source = dict(trail.endpoints.source.identity()) if trail.endpoints else None
        target = dict(trail.endpoints.target.identity()) if trail.endpoints else None
        record = audit.append(
            AUDIT_DIR,
            command,
            {**arguments, "user": getpass.getuser()},
            source,
            target,
            trail.counts,
            trail.outcome,
            trail.error_code,
        )
        if trail.endpoints is not None:
            _audit_to_target(trail.endpoints, record)


def _audit_to_target(endpoints: databases.Endpoints, record: audit.AuditRecord) -> None:
    # Best effort: the file is the record of truth; a target that is down or has no
    # migration.audit_log yet (before `schema apply`) must not turn a result into an error.
    try:
        with databases.connect(endpoints.target, autocommit=True) as conn:
            if state.audit_log.exists(conn):
                state.audit_log.insert(conn, record)
    except (MigrationError, psycopg.Error) as exc:
        log.warning(
            "audit copy to target skipped",
            extra={"action": "audit_db_skipped", "details": {"error": type(exc).__name__}},
        )


def audit_identity(endpoints: databases.Endpoints) -> tuple[dict[str, Any], dict[str, Any]]:
    return dict(endpoints.source.identity()), dict(endpoints.target.identity())


def validation_verdict(validations: list[EntityValidation]) -> str:
    """One line: `Validation passed: 49 entities` or `Validation FAILED: payments (money)`."""
    failed = [v for v in validations if not v.passed]
    if not failed:
        entities = sum(v.entity != SECURITY for v in validations)
        checked = " and the security check" if entities < len(validations) else ""
        return f"Validation passed: {entities} entities{checked}"
    return "Validation FAILED: " + ", ".join(
        f"{v.entity} ({', '.join(sorted({c.type for c in v.checks if c.status != 'passed'}))})"
        for v in failed
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mdw-migrate")
def cli() -> None:
    """Migrates the legacy MDW database (mdw_db) onto the Supabase schema.

    Databases come from SOURCE_DB_* and TARGET_DB_* (environment or .env); a side left
    unconfigured uses the embedded PostgreSQL under ./.mdw.
    """


# ---------------------------------------------------------------- generate / schema / plan


@cli.command()
@click.option("--scale", type=float, default=0.01, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--force", is_flag=True, help="Replace the legacy tables of a non-empty source.")
@json_option
def generate(scale: float, seed: int, force: bool, as_json: bool) -> None:
    """Build a synthetic legacy database (all 58 tables, quirks in known numbers) in the source."""
    with invocation("generate", as_json) as inv:
        endpoints = inv.connect(writes_target=False)
        generated = _generate(endpoints, scale, seed, force)
        inv.totals = {"tables": len(generated.tables), "rows": sum(generated.tables.values())}
        inv.verdict = f"Generated {inv.totals['rows']:,} rows in {len(generated.tables)} tables"
        if as_json:
            output.emit_json({"status": "success", "generate": generated.to_dict()})
            return
        table = Table(title=f"Synthetic legacy database (scale {scale}, seed {seed})")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, rows in sorted(generated.tables.items()):
            table.add_row(name, f"{rows:,}")
        console.print(table)
        quirks = Table(title="Quirks (known numbers)")
        quirks.add_column("quirk")
        quirks.add_column("count", justify="right")
        for name, count in sorted(generated.quirks.items()):
            quirks.add_row(name, f"{count:,}")
        console.print(quirks)
        console.print(f"{sum(generated.tables.values()):,} rows in {generated.seconds:.1f}s")


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


@cli.group()
def schema() -> None:
    """The target schema."""


@schema.command("apply")
@json_option
def schema_apply(as_json: bool) -> None:
    """Create or upgrade the target schema and the migration control schema (idempotent).

    Every table it creates gets row-level security and no privilege for Supabase's anon and
    authenticated roles; a table that already exists with another shape stops it with
    SCHEMA_CONFLICT before anything changes.
    """
    with invocation("schema apply", as_json, {}) as inv:
        endpoints = inv.connect()
        with databases.connect(endpoints.target, autocommit=True) as conn:
            applied = target_schema.apply(conn)
            versions = target_schema.versions(conn)
        inv.trail.counts = {
            "stepsApplied": len(applied.steps),
            "stepsTotal": len(versions),
            "publicTables": applied.tables,
            "objectsLockedDown": applied.locked,
        }
        inv.totals = dict(inv.trail.counts)
        done = ", ".join(applied.steps) if applied.steps else "nothing (already up to date)"
        inv.verdict = (
            f"Schema up to date ({len(versions)} steps); {applied.locked} object(s) locked down"
        )
        if as_json:
            output.emit_json({"status": "success", "applied": applied.steps, "versions": versions})
        else:
            console.print(f"Applied: {done}. Schema versions: {', '.join(versions)}")
            console.print(
                f"Locked down: {applied.locked} object(s) changed; every table of the tool has"
                " row-level security and no privilege for anon or authenticated."
            )


@cli.command()
@json_option
def plan(as_json: bool) -> None:
    """Print the dependency order and the fate of every legacy table."""
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
    if as_json:
        output.emit_json(
            {
                "order": [{"entity": n, "deps": list(CATALOGUE.entities[n].deps)} for n in order],
                "phases": {k: CATALOGUE.order(v) for k, v in CATALOGUE.phases.items()},
                "legacyTables": fates,
            }
        )
        return
    table = Table(title="Dependency order")
    for header in ("#", "entity", "target <- legacy", "depends on"):
        table.add_column(header)
    for i, name in enumerate(order, 1):
        spec = CATALOGUE.entities[name]
        table.add_row(str(i), name, spec.description, ", ".join(spec.deps) or "-")
    console.print(table)
    tables = Table(title=f"Legacy tables: {len(fates)} of {len(LEGACY_TABLES)} accounted for")
    for header in ("legacy table", "entity", "state"):
        tables.add_column(header)
    for name, fate in fates.items():
        tables.add_row(name, fate["entity"], fate["state"])
    console.print(tables)


# ---------------------------------------------------------------- migrate / validate


@cli.command()
@click.argument("selection")
@click.option("--dry-run", is_flag=True, help="Read and transform, write nothing, report.")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=None)
@click.option("--validate", "validate_after", is_flag=True, help="Validate after migrating.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Entities migrated at once (default: MAX_CONNECTIONS / 2, at most the CPU count).",
)
@click.option("--resume", is_flag=True, help="Continue unfinished entities from their checkpoints.")
@click.option(
    "--checkpoint",
    type=int,
    default=None,
    help="Start the (single) entity after this legacy id.",
)
@click.option(
    "--restart-from-batch",
    type=click.IntRange(1),
    default=None,
    help="Restart the (single) entity at this batch number of a pass of --batch-size rows.",
)
@json_option
def migrate(
    selection: str,
    dry_run: bool,
    batch_size: int | None,
    validate_after: bool,
    workers: int | None,
    resume: bool,
    checkpoint: int | None,
    restart_from_batch: int | None,
    as_json: bool,
) -> None:
    """Migrate a phase (core, core-with-patients, orders-with-deps, all) or one entity.

    Ctrl-C or SIGTERM stops after the batch in flight; `--resume` continues from there.
    """
    stop = _stop_on_signals()
    arguments = {
        "selection": selection,
        "dryRun": dry_run,
        "batchSize": batch_size,
        "validate": validate_after,
        "workers": workers,
    }
    with invocation("migrate", as_json, arguments, selection=selection) as inv:
        names = CATALOGUE.resolve(selection)
        if (checkpoint is not None or restart_from_batch is not None) and len(names) != 1:
            raise UsageError(
                code=Code.USAGE,
                message="--checkpoint and --restart-from-batch apply to one entity, not a phase",
                details={"entities": len(names)},
                suggestion="Name one entity: mdw-migrate migrate <entity> --checkpoint N",
            )
        endpoints = inv.connect()
        outcome, validations = _migrate(
            endpoints,
            inv.settings,
            names,
            selection,
            dry_run,
            batch_size,
            validate_after,
            as_json,
            workers,
            resume=resume or checkpoint is not None or restart_from_batch is not None,
            checkpoints={names[0]: checkpoint} if checkpoint is not None else {},
            restart_batches={names[0]: restart_from_batch} if restart_from_batch else {},
            should_stop=stop.is_set,
        )
        inv.trail.counts = dict(outcome.counts())
        _conclude_migration(inv, outcome, validations, selection)
        _report_migration(outcome, validations, as_json, selection, inv.verdict)


def _conclude_migration(
    inv: Invocation, outcome: RunOutcome, validations: list[EntityValidation], selection: str
) -> None:
    inv.run_id = outcome.run_id
    totals = {
        key: sum(getattr(r, attr) for r in outcome.results)
        for key, attr in (
            ("sourceRows", "source_rows"),
            ("migrated", "migrated"),
            ("excluded", "excluded"),
            ("rejected", "rejected"),
        )
    }
    inv.totals = {
        "entities": len(outcome.results),
        **totals,
        "dryRun": outcome.dry_run,
        "validated": len(validations),
        "validationFailed": sum(not v.passed for v in validations),
    }
    done = (
        f"{len(outcome.results)} entities: {totals['migrated']:,} migrated,"
        f" {totals['excluded']:,} excluded, {totals['rejected']:,} rejected"
    )
    if outcome.interrupted:
        inv.status = "interrupted"
        inv.resume = f"mdw-migrate migrate {selection} --resume"
        inv.failed(f"Interrupted after {done}; resume with: {inv.resume}", Code.INTERRUPTED)
    elif any(not v.passed for v in validations):
        inv.status = "failed"
        inv.failed(f"Migrated {done}. {validation_verdict(validations)}", Code.VALIDATION_FAILED)
    else:
        verb = "Dry run read" if outcome.dry_run else "Migrated"
        checked = f". {validation_verdict(validations)}" if validations else ""
        inv.verdict = f"{verb} {done}{checked}"


def _migrate(
    endpoints: databases.Endpoints,
    settings: Settings,
    names: list[str],
    selection: str,
    dry_run: bool,
    batch_size: int | None,
    validate_after: bool,
    as_json: bool,
    workers: int | None = None,
    *,
    resume: bool = False,
    checkpoints: dict[str, int] | None = None,
    restart_batches: dict[str, int] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[RunOutcome, list[EntityValidation]]:
    source_identity, target_identity = audit_identity(endpoints)
    # Each worker holds a source and a target connection.
    default_workers = max(1, min(settings.max_connections // 2, os.cpu_count() or 1))
    id_secret = _id_secret(settings)
    options = RunOptions(
        batch_size=batch_size or settings.batch_size,
        batch_size_forced=batch_size is not None or "batch_size" in settings.model_fields_set,
        max_retry_attempts=settings.max_retry_attempts,
        dry_run=dry_run,
        id_secret_env=id_secret,
        command=f"migrate {selection}",
        arguments={
            "selection": selection,
            "dryRun": dry_run,
            "batchSize": batch_size,
            "validate": validate_after,
            "user": getpass.getuser(),
        },
        source_identity=source_identity,
        target_identity=target_identity,
        workers=workers or default_workers,
        resume=resume,
        checkpoints=checkpoints or {},
        restart_batches=restart_batches or {},
        checkpoint_dir=Path("checkpoints"),
        checkpoint_frequency=settings.checkpoint_frequency,
        should_stop=should_stop,
        open_source=lambda: databases.open_source(endpoints.source),
        open_target=lambda: databases.open_target(endpoints.target, settings.migration_timeout),
    )
    reporter: output.JsonReporter | output.RichReporter = (
        output.JsonReporter() if as_json else output.RichReporter(console)
    )
    with (
        databases.source_session(endpoints.source) as source,
        databases.target_session(endpoints.target, settings.migration_timeout) as target,
        reporter,
    ):
        outcome = run_migration(CATALOGUE, names, source, target, options, reporter)
        validations: list[EntityValidation] = []
        if validate_after and not dry_run:
            validations = validate_selection(CATALOGUE, names, source, target, id_secret)
            _write_validation(validations, selection)
    return outcome, validations


def _id_secret(settings: Settings) -> str | None:
    return settings.mdw_id_secret.get_secret_value() if settings.mdw_id_secret else None


def _stop_on_signals() -> threading.Event:
    """The first Ctrl-C or SIGTERM asks the run to stop after the batch in flight (a clean,
    resumable state); a second one stops at once."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print(
            "Stopping after the batch in flight (press Ctrl-C again to stop at once)..."
        )

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
    return stop


def _report_migration(
    outcome: RunOutcome,
    validations: list[EntityValidation],
    as_json: bool,
    selection: str,
    verdict: str,
) -> None:
    by_entity = {v.entity: v for v in validations}
    if as_json:
        for result in outcome.results:
            output.emit_json(output.success_object(result, outcome, by_entity.get(result.entity)))
        for v in validations:
            output.emit_json(v.to_contract())
        return
    console.print(output.summary_table(outcome))
    reasons = output.reasons_table(outcome)
    if reasons is not None:
        console.print(reasons)
    if validations:
        console.print(output.validation_table(validations))
    if outcome.interrupted:
        console.print(
            "[bold yellow]Stopped after the batch in flight; everything up to it is committed."
            f"[/] Continue with: mdw-migrate migrate {selection} --resume"
        )
    console.print(verdict, highlight=False)


def _write_validation(validations: list[EntityValidation], selection: str) -> Path:
    directory = Path("logs")
    directory.mkdir(exist_ok=True)
    path = directory / f"validation-{selection}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps([v.to_contract() for v in validations], indent=2, default=str))
    return path


def _write_html_report(
    validations: list[EntityValidation], title: str, endpoints: databases.Endpoints
) -> Path:
    now = datetime.now(UTC)
    html_text = report.render_html(
        validations,
        title=title,
        generated_at=now,
        source=endpoints.source.identity(),
        target=endpoints.target.identity(),
    )
    return report.write_report(Path("logs"), html_text, f"{now:%Y%m%dT%H%M%S}")


@cli.command()
@click.argument("selection")
@json_option
def validate(selection: str, as_json: bool) -> None:
    """Validate migrated entities: accounting, counts, references, data quality, money.

    `validate final` covers every entity and the legacy archive, adds the security check
    (nothing of the tool's open to Supabase's anon or authenticated roles) and also writes a
    self-contained HTML report to ./logs/.
    """
    final = selection.strip().lower() == "final"
    with invocation("validate", as_json, {"selection": selection}, selection=selection) as inv:
        names = CATALOGUE.resolve("all" if final else selection)
        endpoints = inv.connect()
        with (
            databases.source_session(endpoints.source) as source,
            databases.target_session(endpoints.target, inv.settings.migration_timeout) as target,
        ):
            results = validate_selection(CATALOGUE, names, source, target, _id_secret(inv.settings))
            if final:
                results.append(validate_security(target, target_schema.public_tables()))
        _write_validation(results, selection)
        failed_entities = sum(not v.passed for v in results)
        inv.trail.counts = {"entities": len(results), "failed": failed_entities}
        inv.totals = dict(inv.trail.counts)
        if final:
            path = _write_html_report(results, "MDW migration: final validation", endpoints)
            inv.totals["report"] = str(path)
        if failed_entities:
            inv.status = "failed"
            inv.failed(validation_verdict(results), Code.VALIDATION_FAILED)
        else:
            inv.verdict = validation_verdict(results)
        if as_json:
            for v in results:
                output.emit_json(v.to_contract())
        else:
            console.print(output.validation_table(results))
            if final:
                console.print(f"HTML report: {inv.totals['report']}")
            console.print(inv.verdict, highlight=False)


@cli.group("security")
def security_group() -> None:
    """What Supabase's Data API roles could reach of the tool's objects."""


@security_group.command("check")
@json_option
def security_check(as_json: bool) -> None:
    """Fail on a tool table with row-level security off in an exposed schema, any privilege
    of anon or authenticated on the tool's objects, or a function without a fixed search_path.
    """
    with invocation("security check", as_json) as inv:
        endpoints = inv.connect(writes_target=False)
        with databases.connect(endpoints.target, autocommit=True) as target:
            result = validate_security(target, target_schema.public_tables())
        check = result.checks[0]
        problems = sum(
            len(check.details[k])
            for k in ("rlsDisabled", "privileges", "mutableSearchPath", "definerViews")
        )
        inv.totals = {
            "tablesChecked": check.details["tablesChecked"],
            "functionsChecked": check.details["functionsChecked"],
            "problems": problems,
        }
        if result.passed:
            inv.verdict = (
                f"Security check passed: {check.details['tablesChecked']} tables and"
                f" {check.details['functionsChecked']} functions locked down"
            )
        else:
            inv.status = "failed"
            inv.failed(f"Security check FAILED: {problems} problem(s)", Code.SECURITY_CHECK_FAILED)
        if as_json:
            output.emit_json(result.to_contract())
        else:
            console.print(output.security_table(check))
            for line in result.recommendations:
                console.print(line, highlight=False)
            console.print(inv.verdict, highlight=False)


@cli.command()
@click.argument("selection")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def rollback(selection: str, yes: bool, as_json: bool) -> None:
    """Delete the rows the tool created for a phase or entity (reverse dependency order)."""
    with invocation(
        "rollback", as_json, {"selection": selection, "yes": yes}, selection=selection
    ) as inv:
        names = CATALOGUE.resolve(selection)
        endpoints = inv.connect()
        with databases.target_session(endpoints.target, inv.settings.migration_timeout) as target:
            rollback_engine.check_rollback(CATALOGUE, names, target)
            if not yes:
                if not sys.stdin.isatty():
                    raise UsageError(
                        code=Code.CONFIRMATION_REQUIRED,
                        message="rollback deletes migrated rows and needs confirmation",
                        suggestion="Run it on a terminal, or add --yes",
                    )
                click.confirm(f"Delete the migrated rows of {', '.join(names)}?", abort=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            backups = rollback_engine.rollback(CATALOGUE, names, target, stamp)
        metadata = _write_backup_metadata(selection, stamp, endpoints, backups)
        removed = {b.entity: b.rows for b in backups}
        inv.trail.counts = {"removed": removed}
        inv.totals = {"entities": len(backups), "rowsRemoved": sum(removed.values())}
        inv.verdict = (
            f"Rolled back {len(backups)} entities: {sum(removed.values()):,} row(s) removed,"
            f" copies in migration_backup; metadata {metadata}"
        )
        if as_json:
            output.emit_json(
                {
                    "status": "success",
                    "entity": selection,
                    "removed": removed,
                    "backup": str(metadata),
                }
            )
            return
        for backup in backups:
            console.print(
                f"{backup.entity}: {backup.rows:,} row(s) removed;"
                f" copy kept in {', '.join(backup.restorable_copy[:1])}"
                + (
                    f" (+{len(backup.restorable_copy) - 1} more)"
                    if backup.restorable_copy[1:]
                    else ""
                )
            )
        console.print(f"Backup metadata: {metadata}")


def _write_backup_metadata(
    selection: str,
    stamp: str,
    endpoints: databases.Endpoints,
    backups: list[rollback_engine.Backup],
) -> Path:
    """./backups/rollback-<stamp>.json: counts, legacy id ranges, checksums and where the
    restorable copies are (tables in the target's migration_backup schema); no row content."""
    directory = Path("backups")
    directory.mkdir(exist_ok=True)
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


@cli.group("audit")
def audit_group() -> None:
    """The audit trail in ./audit/."""


@audit_group.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """Check that no audit record was edited, removed, inserted or reordered."""
    result = audit.verify(AUDIT_DIR)
    if as_json:
        output.emit_json(
            {
                "status": "success" if result.ok else "error",
                "records": result.records,
                "problems": result.problems,
            }
        )
    else:
        if result.ok:
            console.print(f"Audit trail intact: {result.records} record(s), chain verified.")
        else:
            err_console.print(f"[bold red]Audit trail damaged[/] ({result.records} record(s)):")
            for problem in result.problems:
                err_console.print(f"  {problem}")
            err_console.print(
                "[bold]What to do:[/] keep this copy as evidence, and compare it with"
                " migration.audit_log in the target database"
            )
    if not result.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@json_option
def status(as_json: bool) -> None:
    """Per entity: state, counts, last checkpoint."""
    with invocation("status", as_json) as inv:
        endpoints = inv.connect(writes_target=False)
        with databases.connect(endpoints.target, autocommit=True) as conn:
            items = state.progress.status_rows(conn, CATALOGUE.order(CATALOGUE.entities))
        states = [item["state"] for item in items]
        inv.totals = {
            "entities": len(items),
            **{state: states.count(state) for state in ("completed", "running", "pending")},
            "failed": states.count("failed"),
        }
        inv.verdict = f"{states.count('completed')} of {len(items)} entities completed"
        if as_json:
            output.emit_json({"status": "success", "entities": items})
            return
        table = Table(title="Migration status")
        headers = (
            "entity",
            "state",
            "source",
            "migrated",
            "excluded",
            "rejected",
            "checkpoint",
            "last run",
        )
        for header in headers:
            table.add_column(header, no_wrap=header == "entity")
        keys = (
            "entity",
            "state",
            "sourceRows",
            "migrated",
            "excluded",
            "rejected",
            "lastCheckpoint",
        )
        for item in items:
            run = item["lastRun"]
            last = f"{run['startedAt'][:19]} {run['status']}" if isinstance(run, dict) else "-"
            table.add_row(*[str(item[k]) if item[k] is not None else "-" for k in keys], last)
        console.print(table)


# ---------------------------------------------------------------- demo


@cli.command()
@click.option("--scale", type=float, default=0.01, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=None)
def demo(scale: float, seed: int, batch_size: int | None) -> None:
    """Embedded PostgreSQL, a synthetic legacy database, schema, migrate all, validate."""
    # The demo always runs on the embedded server, whatever SOURCE_DB_*/TARGET_DB_* say.
    with invocation("demo", False, embedded_only=True) as inv:
        console.print(
            f"[bold]1/4[/] Starting the embedded PostgreSQL under {inv.settings.mdw_home}/"
        )
        endpoints = inv.connect()
        assert endpoints.server is not None
        _reset_database(endpoints.server.admin_conninfo(), EMBEDDED_TARGET_DB)
        console.print(f"[bold]2/4[/] Generating the synthetic legacy database (scale {scale})")
        generated = _generate(endpoints, scale, seed, force=True)
        console.print(
            f"      {sum(generated.tables.values()):,} rows in {len(generated.tables)} tables,"
            f" {generated.seconds:.1f}s"
        )
        console.print("[bold]3/4[/] Applying the target schema")
        with databases.connect(endpoints.target, autocommit=True) as conn:
            target_schema.apply(conn)
        console.print("[bold]4/4[/] Migrating phase 'all', then validating")
        outcome, validations = _migrate(
            endpoints, inv.settings, CATALOGUE.resolve("all"), "all", False, batch_size, True, False
        )
        with databases.connect(endpoints.target, autocommit=True) as conn:
            validations.append(validate_security(conn, target_schema.public_tables()))
        _conclude_migration(inv, outcome, validations, "all")
        _report_migration(outcome, validations, False, "all", inv.verdict)
        html_path = _write_html_report(validations, "MDW migration demo: validation", endpoints)
        console.print(f"HTML report: {html_path}")
        console.print(
            "Logs: ./logs/   Details of every excluded or rejected row: migration.row_outcomes"
        )


def _reset_database(admin_conninfo: str, dbname: str) -> None:
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def main(argv: Sequence[str] | None = None) -> None:
    args = normalize_argv(sys.argv[1:] if argv is None else argv)
    cli.main(args=args, prog_name="mdw-migrate")
