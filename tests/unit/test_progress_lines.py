"""Progress where stdout is not a terminal (CI, nohup, a log file): plain lines, at least one
per interval for every entity still running, with rows done of total, rows/s and ETA."""

from __future__ import annotations

import io
import time

from rich.console import Console

from mdw_migrate.cli import output
from mdw_migrate.engine.context import BatchStats, EntityResult


def test_a_running_entity_gets_a_line_every_interval_without_any_batch_ending() -> None:
    text = io.StringIO()
    console = Console(file=text, width=80)
    assert not console.is_terminal
    assert isinstance(output.reporter_for(console, False), output.PlainReporter)
    reporter = output.PlainReporter(console, interval=0.05)
    with reporter:
        reporter.entity_started("system_messages", 1_000_000, 50_000)
        reporter.batch_done(BatchStats("system_messages", 1, 250_000, 250_000, 0, 0, 1, 0.1))
        # A long batch: nothing ends, yet lines keep coming.
        time.sleep(0.3)
        reporter.entity_done(EntityResult("system_messages", 1_000_000, processed=1_000_000))
    lines = text.getvalue().splitlines()
    progress = [line for line in lines if "of 1,000,000 rows" in line]
    assert len(progress) >= 3, lines
    assert "250,000 of 1,000,000 rows (25 %)" in progress[0]
    assert "rows/s" in progress[0] and "ETA" in progress[0] and "elapsed" in progress[0]
    assert lines[0].startswith("system_messages: started, 1,000,000 rows")
    assert lines[-1].startswith("system_messages: completed, 1,000,000 rows read")
    # Nothing is cut at 80 columns: numbers are whole.
    assert all("…" not in line for line in lines)
