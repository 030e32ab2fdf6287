"""The `mdw-migrate` command line: it parses, calls one `mdw_migrate.api` function, and
renders what comes back (rich tables, or the contract's JSON lines). No logic of its own
beyond that: signals, the confirmation prompt and the exit code are the terminal's."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console

from .. import __version__, api
from ..errors import EXIT_FAILED, EXIT_SIGNAL_BASE, MigrationError
from . import output, runbook

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("mdw_migrate.cli")
# No automatic highlighting: it colours "1,530" as "1" and "530", codes inside the number.
console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

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


# The generator's own bounds, so that a bad value is a usage error before anything runs.
SCALE = click.FloatRange(min=0, min_open=True, max=100)
SEED = click.IntRange(0, 2**63 - 1)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine output (JSON lines).")(
        func
    )


def _config() -> api.Config:
    return api.Config(
        announce=lambda line: err_console.print(line, highlight=False, soft_wrap=True),
        warn=lambda text: err_console.print(f"[yellow]warning[/]: {text}", highlight=False),
    )


@dataclass
class Out:
    """One command's rendering: its result, and the summary every `--json` output ends with
    (errors included), whose status decides the exit code."""

    command: str
    as_json: bool
    config: api.Config = field(default_factory=_config)
    result: api.Ended | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.perf_counter)
    # Set by the commands that stop on a signal: which signal stopped them.
    stop: Stop | None = None

    def exit_code(self) -> int:
        """For a result that is not ok: 128 + the signal that stopped the run, else 1."""
        signum = self.stop.signum if self.stop else None
        if self.result is not None and self.result.status == "interrupted" and signum:
            return EXIT_SIGNAL_BASE + signum
        return EXIT_FAILED

    def summary(self, error: MigrationError | None) -> dict[str, Any]:
        result = self.result or api.Ended()
        return {
            "status": "error" if error else result.status,
            "summary": {
                "command": self.command,
                "verdict": f"{error.code}: {error.message}" if error else result.verdict,
                "runId": str(result.run_id),
                "startedAt": self.started_at.isoformat(),
                "durationSeconds": round(time.perf_counter() - self.clock, 3),
                "totals": result.totals,
                "resume": result.resume,
                "error": error.code if error else None,
            },
        }


def fail(exc: MigrationError, as_json: bool) -> None:
    if as_json:
        output.emit_json(exc.to_contract())
        return
    err_console.print(f"[bold red]{exc.code}[/]: {exc.message}", highlight=False)
    for key, value in exc.details.items():
        err_console.print(f"  {key}: {value}", highlight=False)
    err_console.print(f"[bold]What to do:[/] {exc.suggestion}", highlight=False)


@contextmanager
def rendered(command: str, as_json: bool, selection: str | None = None) -> Iterator[Out]:
    """Errors in the contract's shape (never a traceback), the closing summary, the exit
    code: 0, 1 for a failed check, 128 + the signal for a run a signal stopped, else the
    error's own."""
    out = Out(f"{command} {selection}" if selection else command, as_json)
    error: MigrationError | None = None
    try:
        with api.contract_errors(command):
            yield out
    except MigrationError as exc:
        error = exc
    except KeyboardInterrupt:
        # A second signal: stopped at once, the batch in flight rolled back.
        resume = f"mdw-migrate {out.command}" + (" --resume" if command == "migrate" else "")
        out.result = api.Ended(
            status="interrupted",
            verdict=f"Stopped at once; the batch in flight was rolled back. Resume: {resume}",
            resume=resume,
        )
        err_console.print(out.result.verdict, highlight=False)
        out.stop = out.stop or Stop(signal.SIGINT)
    if error is not None:
        fail(error, as_json)
    if as_json:
        output.emit_json(out.summary(error))
    if error is not None:
        sys.exit(error.exit_code)
    if out.result is not None and not out.result.ok:
        sys.exit(out.exit_code())


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=runbook.epilog())
@click.version_option(__version__, prog_name="mdw-migrate")
def cli() -> None:
    """Migrates the legacy MDW database (mdw_db) onto the Supabase schema.

    Databases come from SOURCE_DB_* and TARGET_DB_* (environment or .env); a side left
    unconfigured uses the embedded PostgreSQL under ./.mdw.
    """


# ---------------------------------------------------------------- generate / schema / plan


@cli.command()
@click.option("--scale", type=SCALE, default=0.01, show_default=True, help=runbook.SCALE)
@click.option("--seed", type=SEED, default=42, show_default=True, help=runbook.SEED)
@click.option("--force", is_flag=True, help="Replace the legacy tables of a non-empty source.")
@json_option
def generate(scale: float, seed: int, force: bool, as_json: bool) -> None:
    """Build a synthetic legacy database (all 58 tables, quirks in known numbers) in the source.

    Example: mdw-migrate generate --scale 0.1 --seed 7
    """
    with rendered("generate", as_json) as out:
        result = out.result = api.generate(out.config, scale=scale, seed=seed, force=force)
        assert result.report is not None
        if as_json:
            output.emit_json({"status": "success", "generate": result.report.to_dict()})
        else:
            output.print_generated(console, result.report, scale, seed)


@cli.group()
def schema() -> None:
    """The target schema: `mdw-migrate schema apply`."""


@schema.command("apply")
@json_option
def schema_apply(as_json: bool) -> None:
    """Create or upgrade the target schema and the migration control schema (idempotent).

    Every table it creates gets row-level security and no privilege for Supabase's anon and
    authenticated roles; a table that already exists with another shape stops it with
    SCHEMA_CONFLICT before anything changes.

    Example: mdw-migrate schema apply
    """
    with rendered("schema apply", as_json) as out:
        result = out.result = api.schema_apply(out.config)
        if as_json:
            output.emit_json(
                {"status": "success", "applied": result.steps, "versions": result.versions}
            )
            return
        done = ", ".join(result.steps) if result.steps else "nothing (already up to date)"
        console.print(f"Applied: {done}. Schema versions: {', '.join(result.versions)}")
        console.print(
            f"Locked down: {result.totals['objectsLockedDown']} object(s) changed; every table"
            " of the tool has row-level security and no privilege for anon or authenticated."
        )


@cli.command()
@json_option
def plan(as_json: bool) -> None:
    """Print the dependency order and the fate of every legacy table.

    Example: mdw-migrate plan --json
    """
    result = api.plan()
    if as_json:
        output.emit_json(
            {
                "order": [{"entity": n, "deps": deps} for n, deps, _ in result.order],
                "phases": result.phases,
                "legacyTables": result.legacy_tables,
            }
        )
    else:
        output.print_plan(console, result)


# ---------------------------------------------------------------- migrate / validate


@cli.command()
@click.argument("selection")
@click.option("--dry-run", is_flag=True, help="Read and transform, write nothing, report.")
@click.option(
    "--batch-size", type=click.IntRange(1, 1_000_000), default=None, help=runbook.BATCH_SIZE
)
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
    A re-run without --resume reads everything again and changes only what differs.

    \b
    Examples:
      mdw-migrate migrate all --validate
      mdw-migrate migrate orders-with-deps --workers 2
      mdw-migrate migrate all --resume
      mdw-migrate migrate tasks --checkpoint 15000
    """
    with rendered("migrate", as_json, selection) as out:
        stop = _stop_on_signals(out)
        reporter = output.reporter_for(console, as_json)
        with reporter:
            result = out.result = api.migrate(
                out.config,
                selection,
                dry_run=dry_run,
                batch_size=batch_size,
                validate=validate_after,
                workers=workers,
                resume=resume,
                checkpoint=checkpoint,
                restart_from_batch=restart_from_batch,
                reporter=reporter,
                should_stop=stop.is_set,
            )
        output.report_migration(console, result, as_json)


@cli.command()
@click.argument("selection")
@click.option("--dry-run", is_flag=True, help="Find what changed, write nothing, report.")
@click.option(
    "--keep-deleted",
    is_flag=True,
    help="Keep rows whose legacy row is gone, marked metadata.legacy_deleted_at.",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 1_000_000), default=None, help=runbook.BATCH_SIZE
)
@click.option("--validate", "validate_after", is_flag=True, help="Validate after syncing.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Entities synced at once (default: MAX_CONNECTIONS / 2, at most the CPU count).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Accepted for symmetry with migrate: every sync continues where the last one stopped.",
)
@json_option
def sync(
    selection: str,
    dry_run: bool,
    keep_deleted: bool,
    batch_size: int | None,
    validate_after: bool,
    workers: int | None,
    resume: bool,
    as_json: bool,
) -> None:
    """Bring a migrated phase or entity up to date with the legacy database as it is now.

    New rows are migrated, changed rows updated under their UUID, and rows whose legacy row
    is gone deleted (dependants first, after a copy to migration_backup). Only the key
    buckets whose fingerprint changed on the source are read. Entities that depend on the
    selection are synced too. Ctrl-C or SIGTERM stops after the batch in flight; run the
    same command again to finish.

    Example: mdw-migrate sync all --validate
    """
    del resume  # a sync resumes from the fingerprints: nothing to choose
    _sync(selection, dry_run, keep_deleted, batch_size, validate_after, workers, as_json)


@cli.command()
@click.argument("selection")
@click.option("--keep-deleted", is_flag=True, help="Report as a --keep-deleted sync would.")
@json_option
def diff(selection: str, keep_deleted: bool, as_json: bool) -> None:
    """What `sync` would change, per entity, writing nothing (sync --dry-run).

    Example: mdw-migrate diff all
    """
    _sync(selection, True, keep_deleted, None, False, None, as_json)


def _sync(
    selection: str,
    dry_run: bool,
    keep_deleted: bool,
    batch_size: int | None,
    validate_after: bool,
    workers: int | None,
    as_json: bool,
) -> None:
    with rendered("diff" if dry_run else "sync", as_json, selection) as out:
        stop = _stop_on_signals(out)
        reporter = output.reporter_for(console, as_json)
        with reporter:
            result = out.result = api.sync(
                out.config,
                selection,
                dry_run=dry_run,
                keep_deleted=keep_deleted,
                batch_size=batch_size,
                validate=validate_after,
                workers=workers,
                reporter=reporter,
                should_stop=stop.is_set,
            )
        output.report_migration(console, result, as_json)


class Stop:
    """Set by the first Ctrl-C or SIGTERM; remembers which, for the exit code."""

    def __init__(self, signum: int | None = None) -> None:
        self.event = threading.Event()
        self.signum = signum
        if signum is not None:
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def _stop_on_signals(out: Out) -> Stop:
    """The first Ctrl-C or SIGTERM asks the run to stop after the batch in flight (a clean,
    resumable state); a second one stops at once."""
    stop = out.stop = Stop()

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.signum = signum
        stop.event.set()
        err_console.print(
            "Stopping after the batch in flight (press Ctrl-C again to stop at once)..."
        )

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
    return stop


@cli.command()
@click.argument("selection")
@json_option
def validate(selection: str, as_json: bool) -> None:
    """Validate migrated entities: accounting, counts, references, data quality, money.

    `validate final` covers every entity and the legacy archive, adds the security check
    (nothing of the tool's open to Supabase's anon or authenticated roles) and also writes a
    self-contained HTML report to ./logs/. It ends with one line: `Validation passed: ...`
    or `Validation FAILED: <entity> (<checks>)`, and exits 1 when a check failed.

    \b
    Examples:
      mdw-migrate validate final
      mdw-migrate validate payments --json
    """
    with rendered("validate", as_json, selection) as out:
        result = out.result = api.validate(out.config, selection)
        if as_json:
            for v in result.results:
                output.emit_json(v.to_contract())
            return
        output.print_validation(console, result.results)
        if result.report is not None:
            console.print(f"HTML report: {result.report}")
        console.print(result.verdict, highlight=False)


@cli.group("security")
def security_group() -> None:
    """What Supabase's Data API roles could reach of the tool's objects."""


@security_group.command("check")
@json_option
def security_check(as_json: bool) -> None:
    """Fail on a tool table with row-level security off in an exposed schema, any privilege
    of anon or authenticated on the tool's objects, or a function without a fixed search_path.

    Example: mdw-migrate security check
    """
    with rendered("security check", as_json) as out:
        result = out.result = api.security_check(out.config)
        assert result.result is not None
        if as_json:
            output.emit_json(result.result.to_contract())
            return
        console.print(output.security_table(result.result.checks[0]))
        for line in result.result.recommendations:
            console.print(line, highlight=False)
        console.print(result.verdict, highlight=False)


@cli.command()
@click.argument("selection")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def rollback(selection: str, yes: bool, as_json: bool) -> None:
    """Delete the rows the tool created for a phase or entity (reverse dependency order).

    The entities that depend on the selection go first. Every row is copied to
    migration_backup before it is deleted, and ./backups/ gets a metadata file. It asks
    first, with the row count; --yes (or a non-interactive stdin) does not ask.

    \b
    Examples:
      mdw-migrate rollback orders --yes
      mdw-migrate rollback all
    """

    def confirm(plan: api.RollbackPlan) -> bool:
        console.print(output.rollback_plan_table(plan, console.width))
        entities = sum(1 for n in plan.rows.values() if n)
        return click.confirm(
            f"Delete {plan.total:,} migrated row(s) of {entities} entities? A copy of each"
            f" entity's rows goes to {plan.backup} first, listed in {plan.metadata}"
        )

    with rendered("rollback", as_json, selection) as out:
        result = out.result = api.rollback(
            out.config, selection, yes=yes, confirm=confirm if sys.stdin.isatty() else None
        )
        if result.declined:
            console.print(result.verdict, highlight=False)
        elif as_json:
            output.emit_json(
                {
                    "status": "success",
                    "entity": selection,
                    "removed": result.removed,
                    "backup": str(result.metadata) if result.metadata else None,
                }
            )
        else:
            output.print_rollback(console, result)


@cli.group("audit")
def audit_group() -> None:
    """The audit trail in ./audit/."""


@audit_group.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """Check that no audit record was edited, removed, inserted or reordered.

    Example: mdw-migrate audit verify
    """
    with rendered("audit verify", as_json) as out:
        result = out.result = api.audit_verify(out.config)
        if as_json:
            output.emit_json(
                {
                    "status": "success" if result.ok else "error",
                    "records": result.records,
                    "problems": result.problems,
                }
            )
        elif result.ok:
            console.print(f"{result.verdict}.", highlight=False)
        else:
            err_console.print(f"[bold red]{result.verdict}[/] ({result.records} record(s)):")
            for problem in result.problems:
                err_console.print(f"  {problem}")
            err_console.print(
                "[bold]What to do:[/] keep this copy as evidence, and compare it with"
                " migration.audit_log in the target database"
            )


@cli.command()
@json_option
def status(as_json: bool) -> None:
    """Per entity: state, counts, last checkpoint, and the command that resumes a stopped run.

    Example: mdw-migrate status
    """
    with rendered("status", as_json) as out:
        result = out.result = api.status(out.config)
        if as_json:
            output.emit_json({"status": "success", "entities": result.entities})
        else:
            console.print(output.status_table(result.entities, console.width))
            console.print(result.verdict, highlight=False)


# ---------------------------------------------------------------- demo


@cli.command()
@click.option("--scale", type=SCALE, default=0.01, show_default=True, help=runbook.SCALE)
@click.option("--seed", type=SEED, default=42, show_default=True, help=runbook.SEED)
@click.option(
    "--batch-size", type=click.IntRange(1, 1_000_000), default=None, help=runbook.BATCH_SIZE
)
def demo(scale: float, seed: int, batch_size: int | None) -> None:
    """Embedded PostgreSQL, a synthetic legacy database, schema, migrate all, validate.

    It always runs on the embedded server, whatever SOURCE_DB_*/TARGET_DB_* say. The
    synthetic source is generated again when its scale or seed differ from the last demo's.

    Example: mdw-migrate demo --scale 0.05
    """
    steps = iter(range(1, 5))

    def step(text: str, detail: bool) -> None:
        console.print(f"      {text}" if detail else f"[bold]{next(steps)}/4[/] {text}")

    with rendered("demo", False) as out:
        reporter = output.reporter_for(console, False)
        with reporter:
            result = out.result = api.demo(
                out.config,
                scale=scale,
                seed=seed,
                batch_size=batch_size,
                reporter=reporter,
                step=step,
            )
        assert result.migrated is not None
        output.report_migration(console, result.migrated, False)
        console.print(f"HTML report: {result.report}")
        console.print(
            "Logs: ./logs/   Details of every excluded or rejected row: migration.row_outcomes"
        )


def main(argv: Sequence[str] | None = None) -> None:
    args = normalize_argv(sys.argv[1:] if argv is None else argv)
    cli.main(args=args, prog_name="mdw-migrate")
