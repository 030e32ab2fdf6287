"""What a person or a machine sees: rich progress bars and tables, or the contract's JSON lines.

Everything printed here is ids, counts, codes and timings.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import psutil
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..api import (
    SECURITY_LISTS,
    BatchStats,
    Check,
    EntityResult,
    EntityValidation,
    GenerationReport,
    Migrated,
    Plan,
    RolledBack,
    RunOutcome,
)


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1_048_576


def human_duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


_EMIT = threading.Lock()


def emit_json(obj: dict[str, Any]) -> None:
    line = json.dumps(obj, default=str) + "\n"
    with _EMIT:  # parallel workers report at once; one whole line at a time
        sys.stdout.write(line)
        sys.stdout.flush()


def reporter_for(console: Console, as_json: bool) -> JsonReporter | RichReporter | PlainReporter:
    """The contract's JSON lines; bars on a terminal; plain lines anywhere else (CI, nohup,
    a log file), where bars would only appear at the end."""
    if as_json:
        return JsonReporter()
    if console.is_terminal:
        return RichReporter(console)
    return PlainReporter(console)


class PlainReporter:
    """A line per entity when it starts and ends, and for every entity still running a line
    at least every `interval` seconds: rows done of total, rows/s, ETA."""

    def __init__(self, console: Console, interval: float = 10.0) -> None:
        self.console = console
        self.interval = interval
        self.lock = threading.Lock()
        # entity -> [started, rows done, total]
        self.running: dict[str, list[float]] = {}
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="mdw-progress", daemon=True)

    def __enter__(self) -> PlainReporter:
        self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.ticker.join(timeout=1)

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        with self.lock:
            self.running[entity] = [time.perf_counter(), 0, total_rows]
        self._line(f"{entity}: started, {total_rows:,} rows, batches of {batch_size:,}")

    def batch_done(self, stats: BatchStats) -> None:
        with self.lock:
            if stats.entity in self.running:
                self.running[stats.entity][1] += stats.rows

    def entity_done(self, result: EntityResult) -> None:
        with self.lock:
            self.running.pop(result.entity, None)
        self._line(
            f"{result.entity}: {result.status}, {result.processed:,} rows read in"
            f" {human_duration(result.seconds)} ({result.rows_per_second:,.0f} rows/s)"
        )

    def _tick(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.lock:
                snapshot = {e: list(v) for e, v in self.running.items()}
            now = time.perf_counter()
            for entity, (started, done, total) in snapshot.items():
                elapsed = now - started
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = human_duration((total - done) / rate) if rate > 0 and total > done else "-"
                share = f" ({100 * done / total:.0f} %)" if total else ""
                self._line(
                    f"{entity}: {int(done):,} of {int(total):,} rows{share}, {rate:,.0f} rows/s,"
                    f" elapsed {human_duration(elapsed)}, ETA {eta}"
                )

    def _line(self, text: str) -> None:
        with _EMIT:
            self.console.print(text, highlight=False, soft_wrap=True)


class RichReporter:
    """One progress bar per entity: rows, rate, time elapsed and remaining."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.fields[entity]:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>10} rows/s"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        self.started[entity] = time.perf_counter()
        self.tasks[entity] = self.progress.add_task(
            entity, total=max(total_rows, 1), entity=entity, rate="-"
        )

    def batch_done(self, stats: BatchStats) -> None:
        task = self.tasks[stats.entity]
        elapsed = time.perf_counter() - self.started[stats.entity]
        done = self.progress.tasks[task].completed + stats.rows
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
        self.progress.update(task, advance=stats.rows, rate=rate)

    def entity_done(self, result: EntityResult) -> None:
        task = self.tasks[result.entity]
        self.progress.update(
            task,
            completed=max(result.source_rows, 1),
            rate=f"{result.rows_per_second:,.0f}",
        )


class JsonReporter:
    """The contract's progress object, one JSON line per batch."""

    def __init__(self) -> None:
        self.totals: dict[str, tuple[int, int]] = {}
        self.started: dict[str, float] = {}
        self.processed: dict[str, int] = {}
        self.batches: dict[str, int] = {}
        # Workers of a split entity report batches of the same entity at once.
        self.lock = threading.Lock()

    def __enter__(self) -> JsonReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def entity_started(self, entity: str, total_rows: int, batch_size: int) -> None:
        self.totals[entity] = (total_rows, max(1, -(-total_rows // batch_size)))
        self.started[entity] = time.perf_counter()
        self.processed[entity] = 0

    def batch_done(self, stats: BatchStats) -> None:
        total, batches = self.totals[stats.entity]
        with self.lock:
            self.processed[stats.entity] += stats.rows
            self.batches[stats.entity] = self.batches.get(stats.entity, 0) + 1
            done = self.processed[stats.entity]
            current = self.batches[stats.entity]
        elapsed = time.perf_counter() - self.started[stats.entity]
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = max(total - done, 0)
        emit_json(
            {
                "status": "in_progress",
                "entity": stats.entity,
                "progress": {
                    "currentBatch": current,
                    "totalBatches": max(batches, current),
                    "percentComplete": round(100.0 * done / total, 1) if total else 100.0,
                    "recordsProcessed": done,
                    "recordsRemaining": remaining,
                    "estimatedTimeRemaining": human_duration(remaining / rate if rate else 0),
                },
                "performance": {
                    "recordsPerSecond": round(rate),
                    "averageBatchTime": f"{elapsed / current:.2f}s",
                    "memoryUsage": f"{rss_mb():.0f}MB",
                },
            }
        )

    def entity_done(self, result: EntityResult) -> None:
        return None


def success_object(
    result: EntityResult, outcome: RunOutcome, validation: EntityValidation | None
) -> dict[str, Any]:
    eligible = result.source_rows - result.excluded
    rate = 100.0 if eligible <= 0 else round(100.0 * result.migrated / eligible, 2)
    checks = {c.type: c for c in validation.checks} if validation else {}
    return {
        "status": "success" if result.status == "completed" else result.status,
        "entity": result.entity,
        "dryRun": outcome.dry_run,
        "execution": {
            "startTime": outcome.started_at.isoformat(),
            "endTime": (outcome.ended_at or outcome.started_at).isoformat(),
            "duration": human_duration(result.seconds),
            "durationSeconds": round(result.seconds, 3),
        },
        "results": {
            "totalRecords": result.source_rows,
            "successful": result.migrated,
            "excluded": result.excluded,
            "failed": result.rejected,
            "successRate": rate,
            "reasons": result.reasons,
        },
        "validation": {
            "recordCountMatch": result.accounted
            and (checks["record_count"].status == "passed" if "record_count" in checks else True),
            "referentialIntegrity": checks["referential_integrity"].status == "passed"
            if "referential_integrity" in checks
            else None,
            "dataQuality": checks["data_quality"].details.get("completeness")
            if "data_quality" in checks
            else None,
        },
        "mappings": {"legacyIdsPreserved": result.migrated, "uuidsGenerated": result.migrated},
        "changes": {
            "pass": result.pass_kind,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "deleted": result.deleted,
            "kept": result.kept,
            "outcomeChanges": result.outcome_changes,
        },
    }


def summary_table(outcome: RunOutcome) -> Table:
    title = "Migration summary" + (" (dry run: nothing was written)" if outcome.dry_run else "")
    table = Table(title=title)
    outcomes = ("migrated", "excluded", "rejected")
    if outcome.dry_run:
        outcomes = ("would migrate", "would exclude", "would reject")
    for header in ("entity", "source", *outcomes, "duration", "rows/s"):
        table.add_column(
            header, justify="left" if header == "entity" else "right", no_wrap=header == "entity"
        )
    for r in outcome.results:
        table.add_row(
            r.entity,
            f"{r.source_rows:,}",
            f"{r.migrated:,}",
            f"{r.excluded:,}",
            f"{r.rejected:,}",
            human_duration(r.seconds),
            f"{r.rows_per_second:,.0f}",
        )
    return table


def changes_table(outcome: RunOutcome) -> Table:
    """What the run changed in the target, per entity."""
    verb = "would change" if outcome.dry_run else "changed"
    headers = ("entity", "pass", "inserted", "updated", "unchanged", "deleted", "outcome Δ")
    cells = [
        (
            r.entity,
            r.pass_kind,
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"{r.unchanged:,}",
            f"{r.deleted:,}" + (f" (+{r.kept:,} kept)" if r.kept else ""),
            f"{r.outcome_changes:,}",
        )
        for r in outcome.results
    ]
    # Compact, each column as wide as its longest cell: at 80 columns nothing is cut.
    table = Table(
        title=f"What the run {verb} in the target",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=0,
    )
    for i, header in enumerate(headers):
        table.add_column(
            header,
            justify="left" if i < 2 else "right",
            no_wrap=True,
            width=max([len(header), *(len(row[i]) for row in cells)]),
        )
    for row in cells:
        table.add_row(*row)
    return table


def reasons_table(outcome: RunOutcome) -> Table | None:
    rows = [(r.entity, code, n) for r in outcome.results for code, n in r.reasons.items()]
    if not rows:
        return None
    where = "a dry run keeps none" if outcome.dry_run else "details: migration.row_outcomes"
    table = Table(title=f"Excluded and rejected rows by rule ({where})")
    for header in ("entity", "rule / reason", "rows"):
        table.add_column(header, justify="right" if header == "rows" else "left")
    for entity, code, n in rows:
        table.add_row(entity, code, f"{n:,}")
    return table


def validation_table(results: list[EntityValidation]) -> Table:
    """One row per entity: each check's status, with the numbers that explain a failure."""
    table = Table(title="Validation (full JSON: ./logs/validation-*.json)")
    for header in (
        "entity",
        "accounting",
        "record count",
        "references",
        "data quality",
        "money",
        "status",
    ):
        table.add_column(header, no_wrap=header == "entity")
    for v in results:
        by_type: dict[str, list[Check]] = {}
        for c in v.checks:
            by_type.setdefault(c.type, []).append(c)

        def cell(kind: str, by_type: dict[str, list[Check]] = by_type) -> str:
            checks = by_type.get(kind, [])
            if not checks:
                return "-"
            failed = [c for c in checks if c.status != "passed"]
            if kind == "data_quality":
                return f"{checks[0].details.get('completeness')}%"
            if not failed:
                return f"[green]ok[/] ({len(checks)})" if kind == "money" else "[green]ok[/]"
            first = failed[0].details
            label = f" {first['column']}" if "column" in first else ""
            return f"[bold red]failed{label}[/]: {first.get('expected')} vs {first.get('actual')}"

        status = "[green]passed[/]" if v.passed else "[bold red]failed[/]"
        table.add_row(
            v.entity,
            cell("accounting"),
            cell("record_count"),
            cell("referential_integrity"),
            cell("data_quality"),
            cell("money"),
            status,
        )
    return table


def security_table(check: Check) -> Table:
    """The security check: what was looked at, and every object that is open."""
    d = check.details
    table = Table(title="Security (Supabase Data API roles: anon, authenticated)")
    table.add_column("what", no_wrap=True)
    table.add_column("result", overflow="fold")
    table.add_row("tables checked", f"{d['tablesChecked']:,}")
    table.add_row("functions checked", f"{d['functionsChecked']:,}")
    table.add_row("API roles present", ", ".join(d["apiRoles"]) or "none (plain PostgreSQL)")
    table.add_row("exposed schemas", ", ".join(d["exposedSchemas"]))
    for key, label in SECURITY_LISTS:
        items = d[key]
        table.add_row(label, "[green]none[/]" if not items else f"[bold red]{', '.join(items)}[/]")
    return table


# ---------------------------------------------------------------- per command


def report_migration(console: Console, result: Migrated, as_json: bool) -> None:
    """A migration's success objects and validations (JSON), or its tables and verdict."""
    outcome = result.outcome
    assert outcome is not None
    by_entity = {v.entity: v for v in result.validations}
    if as_json:
        for entity in outcome.results:
            emit_json(success_object(entity, outcome, by_entity.get(entity.entity)))
        for v in result.validations:
            emit_json(v.to_contract())
        return
    console.print(summary_table(outcome))
    if outcome.incremental or any(r.updated or r.deleted or r.unchanged for r in outcome.results):
        console.print(changes_table(outcome))
    reasons = reasons_table(outcome)
    if reasons is not None:
        console.print(reasons)
    if result.validations:
        console.print(validation_table(result.validations))
    if outcome.interrupted:
        console.print(
            "[bold yellow]Stopped after the batch in flight; everything up to it is committed."
            f"[/] Continue with: {result.resume}"
        )
    console.print(result.verdict, highlight=False)


def print_generated(console: Console, report: GenerationReport, scale: float, seed: int) -> None:
    table = Table(title=f"Synthetic legacy database (scale {scale}, seed {seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in sorted(report.tables.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
    quirks = Table(title="Quirks (known numbers)")
    quirks.add_column("quirk")
    quirks.add_column("count", justify="right")
    for name, count in sorted(report.quirks.items()):
        quirks.add_row(name, f"{count:,}")
    console.print(quirks)
    console.print(f"{sum(report.tables.values()):,} rows in {report.seconds:.1f}s")


def print_plan(console: Console, plan: Plan) -> None:
    table = Table(title="Dependency order")
    for header in ("#", "entity", "target <- legacy", "depends on"):
        table.add_column(header)
    for i, (name, deps, description) in enumerate(plan.order, 1):
        table.add_row(str(i), name, description, ", ".join(deps) or "-")
    console.print(table)
    fates = plan.legacy_tables
    done = sum(fate["state"] == "implemented" for fate in fates.values())
    tables = Table(title=f"Legacy tables: {done} of {len(fates)} accounted for")
    for header in ("legacy table", "entity", "state"):
        tables.add_column(header)
    for name, fate in fates.items():
        tables.add_row(name, fate["entity"], fate["state"])
    console.print(tables)


def print_rollback(console: Console, result: RolledBack) -> None:
    for backup in result.backups:
        more = len(backup.restorable_copy) - 1
        console.print(
            f"{backup.entity}: {backup.rows:,} row(s) removed;"
            f" copy kept in {', '.join(backup.restorable_copy[:1])}"
            + (f" (+{more} more)" if more > 0 else "")
        )
    console.print(f"Backup metadata: {result.metadata}")


def status_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Migration status")
    headers = ("entity", "state", "source", "migrated", "excluded", "rejected", "checkpoint",
               "last run")  # fmt: skip
    for header in headers:
        table.add_column(header, no_wrap=header == "entity")
    keys = ("entity", "state", "sourceRows", "migrated", "excluded", "rejected", "lastCheckpoint")
    for item in items:
        run = item["lastRun"]
        last = f"{run['startedAt'][:19]} {run['status']}" if isinstance(run, dict) else "-"
        table.add_row(*[str(item[k]) if item[k] is not None else "-" for k in keys], last)
    return table
