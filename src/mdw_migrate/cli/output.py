"""What a person or a machine sees: rich progress bars and tables, or the contract's JSON lines.

Everything printed here is ids, counts, codes and timings.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import psutil
from rich import box
from rich.console import Console, Group, RenderableType
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
from rich.text import Text

from ..api import (
    ACCURACY_THRESHOLD,
    SECURITY,
    SECURITY_LISTS,
    BatchStats,
    Check,
    EntityResult,
    EntityValidation,
    GenerationReport,
    Migrated,
    Plan,
    RollbackPlan,
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

    def run_started(self, estimates: dict[str, int]) -> None:
        if estimates:
            self._line(
                f"run: {len(estimates)} entities, about {sum(estimates.values()):,} source rows"
            )

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
            TextColumn("[bold]{task.fields[entity]:<21}"),
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
        # The whole phase: its total starts as the planner's estimates and becomes exact as
        # each entity counts its rows.
        self.overall: TaskID | None = None
        self.estimates: dict[str, int] = {}
        self.run_began = 0.0
        self.run_done = 0

    def run_started(self, estimates: dict[str, int]) -> None:
        if not estimates:
            return
        self.estimates = dict(estimates)
        self.run_began = time.perf_counter()
        self.overall = self.progress.add_task(
            "all",
            total=max(sum(estimates.values()), 1),
            entity=f"all {len(estimates)} entities",
            rate="-",
        )

    def _overall(self, rows: int = 0, entity: str | None = None, counted: int = 0) -> None:
        if self.overall is None:
            return
        self.run_done += rows
        if entity is not None and entity in self.estimates:
            self.estimates[entity] = counted
        elapsed = time.perf_counter() - self.run_began
        self.progress.update(
            self.overall,
            total=max(sum(self.estimates.values()), self.run_done, 1),
            completed=self.run_done,
            rate=f"{self.run_done / elapsed:,.0f}" if elapsed > 0 else "-",
        )

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
        self._overall(entity=entity, counted=total_rows)

    def batch_done(self, stats: BatchStats) -> None:
        task = self.tasks[stats.entity]
        elapsed = time.perf_counter() - self.started[stats.entity]
        done = self.progress.tasks[task].completed + stats.rows
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "-"
        self.progress.update(task, advance=stats.rows, rate=rate)
        self._overall(stats.rows)

    def entity_done(self, result: EntityResult) -> None:
        task = self.tasks[result.entity]
        # A finished entity leaves the screen (the summary lists it), so that the phase's bar
        # and the running entities stay in view on a terminal of any height.
        self.progress.update(
            task,
            completed=max(result.source_rows, 1),
            rate=f"{result.rows_per_second:,.0f}",
            visible=self.overall is None,
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

    def run_started(self, estimates: dict[str, int]) -> None:
        return None  # the contract's progress object is per entity

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


Cell = str | Text


def fitted(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    left: int = 1,
    optional: Sequence[str] = (),
) -> RenderableType:
    """A table whose cells are never cut: numbers, names and money are shown whole. When it is
    wider than `width`, the `optional` (decorative) columns go first, in order; when it still
    does not fit, each row becomes a line of `header value` pairs that wraps between pairs."""
    shown = list(range(len(headers)))
    droppable = [headers.index(h) for h in optional]
    while True:
        table = Table(
            title=title,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            collapse_padding=True,
            title_justify="left",
        )
        for i in shown:
            table.add_column(headers[i], justify="left" if i < left else "right", no_wrap=True)
        for row in rows:
            table.add_row(*(row[i] for i in shown))
        if _measure(table) <= width:
            return table
        if not droppable:
            break
        shown.remove(droppable.pop(0))
    lines: list[RenderableType] = [Text(title, style="italic")]
    for row in rows:
        lines.append(Text.assemble(*(_text(row[i]) + " " for i in range(left)), style="bold"))
        pairs = Text("  ")
        for i in shown[left:]:
            pairs.append(headers[i] + " ", style="dim")
            pairs.append_text(_text(row[i]) + "  ")
        lines.append(pairs)
    return Group(*lines)


def _text(cell: Cell) -> Text:
    return Text(cell) if isinstance(cell, str) else cell


def _measure(renderable: RenderableType) -> int:
    return Console(width=10_000).measure(renderable).maximum


def _ok(text: str = "ok") -> Text:
    return Text(text, style="green")


def _bad(text: str) -> Text:
    return Text(text, style="bold red")


def summary_table(outcome: RunOutcome, width: int = 80) -> RenderableType:
    title = "Migration summary" + (" (dry run: nothing was written)" if outcome.dry_run else "")
    outcomes = ("migrated", "excluded", "rejected")
    if outcome.dry_run:
        outcomes = ("would migrate", "would exclude", "would reject")
    headers = ("entity", "source", *outcomes, "batch", "duration", "rows/s")
    rows = [
        (
            r.entity,
            f"{r.source_rows:,}",
            f"{r.migrated:,}",
            f"{r.excluded:,}",
            f"{r.rejected:,}",
            f"{r.batch_size:,}",
            human_duration(r.seconds),
            f"{r.rows_per_second:,.0f}",
        )
        for r in outcome.results
    ]
    return fitted(title, headers, rows, width, optional=("rows/s", "batch", "duration"))


def changes_table(outcome: RunOutcome, width: int = 80) -> RenderableType:
    """What the run changed in the target, per entity."""
    verb = "would change" if outcome.dry_run else "changed"
    headers = ("entity", "pass", "inserted", "updated", "unchanged", "deleted", "outcome Δ")
    rows = [
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
    return fitted(f"What the run {verb} in the target", headers, rows, width, left=2)


def reasons_table(outcome: RunOutcome, width: int = 80) -> RenderableType | None:
    rows = [(r.entity, code, f"{n:,}") for r in outcome.results for code, n in r.reasons.items()]
    if not rows:
        return None
    where = "a dry run keeps none" if outcome.dry_run else "details: migration.row_outcomes"
    title = f"Excluded and rejected rows by rule ({where})"
    return fitted(title, ("entity", "rule / reason", "rows"), rows, width, left=2)


def _migrated(v: EntityValidation) -> int | None:
    """Rows migrated, from the accounting check (None for the archive and security)."""
    check = next((c for c in v.checks if c.type == "accounting"), None)
    if check is None or "migrated" not in check.details:
        return None
    return int(check.details["migrated"])


def _check_cell(v: EntityValidation, kind: str) -> Cell:
    checks = [c for c in v.checks if c.type == kind]
    if not checks:
        return "-"
    if any(c.status != "passed" for c in checks):
        return _bad("FAILED")
    if kind != "accounting" and _migrated(v) == 0:
        # Nothing migrated: nothing was checked, which is not the same as ok.
        return Text("empty", style="yellow")
    if kind == "data_quality":
        d = checks[0].details
        return _ok(f"{d.get('accuracy')}%")
    return _ok(f"ok ({len(checks)})" if len(checks) > 1 else "ok")


def validation_table(results: list[EntityValidation], width: int = 80) -> RenderableType:
    """One row per entity with each check's status; what failed, with its numbers, is listed
    under it by `validation_failures`, where no column can cut it."""
    headers = ("entity", "rows", "count", "refs", "quality", "money", "status")
    kinds = ("accounting", "record_count", "referential_integrity", "data_quality", "money")
    rows = []
    for v in results:
        if v.entity == SECURITY:
            continue
        state = _ok("passed") if v.passed else _bad("FAILED")
        if v.passed and _migrated(v) == 0:
            state = Text("empty", style="yellow")
        rows.append((v.entity, *(_check_cell(v, k) for k in kinds), state))
    title = (
        "Validation: rows = accounting, quality = accuracy of a re-mapped sample"
        f" (min {ACCURACY_THRESHOLD:g}%); full JSON in ./logs/validation-*.json"
    )
    return fitted(title, headers, rows, width, left=1)


def _failure_line(entity: str, check: Check) -> str:
    d = check.details
    match check.type:
        case "money":
            return (
                f"{entity} money {d['column']}: source {_amount(d['sourceSum'])}"
                f" ≠ target {_amount(d['targetSum'])} + rejected {_amount(d['rejectedSum'])}"
                f" + excluded {_amount(d['excludedSum'])} + kept raw {_amount(d['keptRawSum'])}"
                f"; difference {_amount(d['difference'])}"
            )
        case "accounting" | "record_count":
            parts = ", ".join(
                f"{k} {v:,}" for k, v in d.items() if isinstance(v, int) and k != "tolerance"
            )
            return f"{entity} {check.type}: {parts}"
        case "data_quality":
            return (
                f"{entity} data_quality: accuracy {d.get('accuracy')}% of {d.get('sampled')}"
                f" sampled rows (min {ACCURACY_THRESHOLD:g}%); differing legacy ids"
                f" {', '.join(map(str, d.get('differingLegacyIds', [])))}"
            )
    numbers = ", ".join(f"{k} {v}" for k, v in d.items() if isinstance(v, int | str))
    return f"{entity} {check.type}: {numbers}"


def validation_failures(results: list[EntityValidation]) -> list[str]:
    return [
        _failure_line(v.entity, c)
        for v in results
        if v.entity != SECURITY
        for c in v.checks
        if c.status != "passed"
    ]


def _amount(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,}"
    except InvalidOperation:
        return str(value)


def _zero(cell: Cell) -> bool:
    return isinstance(cell, str) and Decimal(cell.replace(",", "")) == 0


def money_table(results: list[EntityValidation], width: int = 80) -> RenderableType | None:
    """Every money column reconciled: source = target + rejected + excluded (+ kept raw)."""
    rows: list[Sequence[Cell]] = []
    for v in results:
        for c in v.checks:
            if c.type != "money":
                continue
            d = c.details
            rows.append(
                (
                    f"{v.entity}.{d['column']}",
                    _amount(d["sourceSum"]),
                    _amount(d["targetSum"]),
                    _amount(d["rejectedSum"]),
                    _amount(d["excludedSum"]),
                    _amount(d["keptRawSum"]),
                    _ok(_amount(d["difference"]))
                    if c.status == "passed"
                    else _bad(_amount(d["difference"])),
                )
            )
    if not rows:
        return None
    headers = ("money column", "source", "target", "rejected", "excluded", "kept raw", "Δ")
    title = "Money: source = target + rejected + excluded + kept raw, to the cent"
    # A column of zeros says nothing at 80 columns: the title still names it.
    zeros = [h for i, h in enumerate(headers) if i in (4, 5) and all(_zero(r[i]) for r in rows)]
    return fitted(title, headers, rows, width, optional=zeros)


def print_validation(console: Console, results: list[EntityValidation]) -> None:
    """The checks, what failed with its numbers, and the money; the caller prints the verdict."""
    console.print(validation_table(results, console.width))
    money = money_table(results, console.width)
    if money is not None:
        console.print(money)
    security = next((v for v in results if v.entity == SECURITY), None)
    if security is not None:
        console.print(security_table(security.checks[0]))
    for line in validation_failures(results):
        console.print(Text(line, style="red"), highlight=False)


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
    console.print(summary_table(outcome, console.width))
    if outcome.incremental or any(r.updated or r.deleted or r.unchanged for r in outcome.results):
        console.print(changes_table(outcome, console.width))
    reasons = reasons_table(outcome, console.width)
    if reasons is not None:
        console.print(reasons)
    if result.validations:
        print_validation(console, result.validations)
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


def rollback_plan_table(plan: RollbackPlan, width: int = 80) -> RenderableType:
    rows = [(entity, f"{n:,}") for entity, n in plan.rows.items() if n]
    return fitted("Rows the rollback would remove, in this order", ("entity", "rows"), rows, width)


def print_rollback(console: Console, result: RolledBack) -> None:
    for backup in result.backups:
        more = len(backup.restorable_copy) - 1
        console.print(
            f"{backup.entity}: {backup.rows:,} row(s) removed;"
            f" copy kept in {', '.join(backup.restorable_copy[:1])}"
            + (f" (+{more} more)" if more > 0 else ""),
            highlight=False,
        )
    console.print(result.verdict, highlight=False)


def status_table(items: list[dict[str, Any]], width: int = 80) -> RenderableType:
    headers = ("entity", "state", "source", "migrated", "excluded", "rejected", "checkpoint",
               "last run")  # fmt: skip
    rows = []
    for item in items:
        run = item["lastRun"]
        last = f"{run['startedAt'][:19]} {run['status']}" if isinstance(run, dict) else "-"
        numbers = [
            f"{item[k]:,}" if isinstance(item[k], int) else "-"
            for k in ("sourceRows", "migrated", "excluded", "rejected", "lastCheckpoint")
        ]
        rows.append((item["entity"], item["state"], *numbers, last))
    return fitted("Migration status", headers, rows, width, left=2, optional=("last run",))
