"""Benchmark: the tool against the raw COPY pipe of the same legacy tables, in the same run.

    ./dev bench --scale 0.1 --phase core-with-patients --repeat 3

For each repeat: a fresh target, `mdw-migrate migrate <phase> --json` in a child process (its
peak RSS is measured by the OS), and the raw pipe `COPY <table> TO STDOUT | COPY ... FROM STDIN`
(binary) of every legacy table the phase migrates, into plain tables of another database.
Reports medians, rows/s per entity and the ratio tool / raw pipe. The machine is shared and
noisy: read the ratios, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer
from psycopg.pq import ExecStatus

from mdw_migrate import embedded
from mdw_migrate.catalogue import CATALOGUE, LEGACY_TABLES
from mdw_migrate.legacy import churn
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

HERE = Path(__file__).resolve().parent


def pin(server: embedded.EmbeddedServer, cpus: int | None) -> str:
    """Runs the server (its postmaster and every process it has forked, and those it forks
    later, which inherit it), this process and the tool's child on the first `cpus` CPUs, or
    on all of them: the server outlives a run, so a pinned run would otherwise leave the next
    one pinned. Linux only; elsewhere the run is not pinned and says so."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    every = sorted(os.sched_getaffinity(0) | set(range(os.cpu_count() or 1)))
    chosen = set(every[:cpus] if cpus else every)
    postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    family = {postmaster}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that ended meanwhile
        if int(fields[1]) == postmaster:
            family.add(int(stat.parent.name))
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, chosen)
    os.sched_setaffinity(0, chosen)
    return f"{len(chosen)} of {len(every)} CPUs"


def reset(server: embedded.EmbeddedServer, dbname: str) -> str:
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return server.admin_conninfo(dbname)


def drop(server: embedded.EmbeddedServer, dbname: str) -> None:
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def quiesce(server: embedded.EmbeddedServer, *vacuum: str) -> None:
    """Each measured part starts with no dirty buffers to write out (a checkpoint) and, for
    the databases named, no autovacuum due: it vacuumed the 5 M freshly loaded notifications
    during the first syncs after a migration, which made the 1 % sync take 20 to 42 s."""
    for dbname in vacuum:
        with psycopg.connect(server.admin_conninfo(dbname), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def messages(conn: psycopg.Connection[Any], out: psycopg.Copy) -> Iterator[Buffer]:
    """The rows of a `COPY ... TO STDOUT`: taken from libpq without waiting while it holds
    them, and through psycopg's `Copy.read` when it holds none."""
    pgconn = conn.pgconn
    while True:
        size, message = pgconn.get_copy_data(1)
        if size > 0:
            yield message
        elif size == 0:
            if not (data := out.read()):
                return
            yield data
        else:
            # The end, met here: its final result is read here too.
            while pgconn.is_busy():
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
            results = list(iter(pgconn.get_result, None))
            if not results or results[0].status != ExecStatus.COMMAND_OK:
                raise SystemExit(f"the raw pipe's COPY failed: {pgconn.error_message!r}")
            return


def raw_pipe(source: str, target: str, tables: list[str]) -> tuple[float, int, float | None]:
    """Seconds, rows and the machine's CPU seconds for the plain binary COPY pipe of
    `tables`, source -> target."""
    with psycopg.connect(source) as src, psycopg.connect(target, autocommit=True) as dst:
        definitions: dict[str, str] = {}
        for table in tables:
            columns = src.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                " ORDER BY a.attnum",
                [table],
            ).fetchall()
            definitions[table] = ", ".join(f'"{name}" {sqltype}' for name, sqltype in columns)
        for table, cols in definitions.items():
            # No autovacuum: it would otherwise run on these tables during the tool's time.
            dst.execute(f"CREATE TABLE {table} ({cols}) WITH (autovacuum_enabled = false)".encode())
        cpu_start = busy_cpu_seconds()
        started = time.perf_counter()
        rows = 0
        for table in tables:
            with src.cursor() as sc, dst.cursor() as dc:
                with (
                    sc.copy(f"COPY {table} TO STDOUT (FORMAT BINARY)".encode()) as out,
                    dc.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)".encode()) as into,
                ):
                    # Read from libpq while it holds messages and gathered into large writes,
                    # as the tool's pipe does (staging.SourceCopy and staging.forward; written
                    # out here so the baseline is the same for any tool version).
                    gathered = bytearray()
                    for chunk in messages(src, out):
                        gathered += chunk
                        if len(gathered) >= 1 << 17:
                            into.write(gathered)
                            gathered = bytearray()
                    into.write(gathered)
                rows += max(dc.rowcount, 0)
        return time.perf_counter() - started, rows, cpu_since(cpu_start)


# WAL the server wrote during the last tool run (source and target share the server; the
# source is only read).
LAST_WAL_BYTES = 0
# CPU seconds the machine used during the last tool run (None where /proc/stat is absent).
LAST_CPU_SECONDS: float | None = None


def busy_cpu_seconds() -> float | None:
    """CPU seconds every process of the machine has used so far, from Linux's /proc/stat
    (user, nice, system, irq, softirq; not idle, I/O wait or steal), or None elsewhere.
    The server, the tool and the raw pipe are all on this machine, so the difference over a
    run is what that run cost in CPU: on a shared machine it moves less than the seconds."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cpu_since(start: float | None) -> float | None:
    now = busy_cpu_seconds()
    return None if start is None or now is None else now - start


def wal_position(server: embedded.EmbeddedServer) -> str:
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def wal_bytes_since(server: embedded.EmbeddedServer, start: str) -> int:
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)::bigint", [start]
        ).fetchone()
    assert row is not None
    return int(row[0])


def tool_run(
    server: embedded.EmbeddedServer,
    source_db: str,
    target_db: str,
    phase: str,
    batch: int | None,
    workers: int | None = None,
    command: str = "migrate",
) -> tuple[float, dict[str, Any], float]:
    """Runs the CLI in a child process; returns seconds, per-entity results, child peak RSS."""
    env = dict(os.environ)
    for side, db in (("SOURCE", source_db), ("TARGET", target_db)):
        env[f"{side}_DB_HOST"] = server.socket_dir
        env[f"{side}_DB_PORT"] = str(server.port)
        env[f"{side}_DB_USER"] = "postgres"
        env[f"{side}_DB_NAME"] = db
    args = [sys.executable, "-m", "mdw_migrate", command, phase, "--json"]
    if batch:
        args += ["--batch-size", str(batch)]
    if workers:
        args += ["--workers", str(workers)]
    wal_start = wal_position(server)
    cpu_start = busy_cpu_seconds()
    started = time.perf_counter()
    # The child's own peak RSS, from its own rusage: RUSAGE_CHILDREN is the largest child of
    # this process so far, and survives `exec`, so `./dev bench` right after `./dev` installed
    # the venv reported pip's 116 MB.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True, cwd=HERE)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    seconds = time.perf_counter() - started
    global LAST_WAL_BYTES, LAST_CPU_SECONDS
    LAST_CPU_SECONDS = cpu_since(cpu_start)
    LAST_WAL_BYTES = wal_bytes_since(server, wal_start)
    if child.returncode != 0:
        raise SystemExit(
            f"{command} failed ({child.returncode}):\n{stdout[-2000:]}{stderr[-2000:]}"
        )
    results = {}
    for line in stdout.splitlines():
        obj = json.loads(line)
        # The per-entity success objects; the closing summary has no entity.
        if obj.get("status") == "success" and "entity" in obj:
            results[obj["entity"]] = obj
    return seconds, results, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--phase", default="core-with-patients")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="default: the tool's own")
    parser.add_argument(
        "--cpus",
        type=int,
        default=None,
        help="run the server, the tool and the raw pipe on this many CPUs (Linux; default:"
        " all): how the ratio moves with the cores",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", type=Path, default=HERE / ".work")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="the live cut-over: migrate, migrate again unchanged, then syncs after 0, 0.01,"
        " 0.1 and 1 %% of changes",
    )
    args = parser.parse_args()

    server = embedded.start(args.home)
    cpus = pin(server, args.cpus)
    print(f"server, tool and raw pipe on {cpus}")
    source = reset(server, "bench_source")
    started = time.perf_counter()
    report = generate(source, scale=args.scale, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"generated scale {args.scale}: {sum(report.tables.values()):,} rows in {elapsed:.1f}s")

    if args.sync:
        sync_bench(server, source, args)
        return
    names = CATALOGUE.resolve(args.phase)
    owner = {t: ("legacy_archive" if e == "archive" else e) for t, e in LEGACY_TABLES.items()}
    tables = sorted(t for t, entity in owner.items() if entity in names)
    raw_times, tool_times, engine_times, peaks, wal = [], [], [], [], []
    raw_cpu: list[float] = []
    tool_cpu: list[float] = []
    per_entity: dict[str, list[float]] = {}
    raw_rows = 0
    for i in range(args.repeat):
        # The previous repeat's target goes first: its autovacuum, and the checkpoint of its
        # gigabytes of WAL, ran into the raw pipe (6.4 to 8.5 s for the same pipe).
        drop(server, "bench_target")
        raw_target = reset(server, "bench_raw")
        quiesce(server)
        raw_seconds, raw_rows, raw_cpu_seconds = raw_pipe(source, raw_target, tables)
        drop(server, "bench_raw")  # nothing of it may run (autovacuum) while the tool does
        target = reset(server, "bench_target")
        with psycopg.connect(target, autocommit=True) as conn:
            schema.apply(conn)
        quiesce(server)
        seconds, results, peak = tool_run(
            server, "bench_source", "bench_target", args.phase, args.batch_size, args.workers
        )
        raw_times.append(raw_seconds)
        tool_times.append(seconds)
        engine_times.append(sum(o["execution"]["durationSeconds"] for o in results.values()))
        peaks.append(peak)
        wal.append(LAST_WAL_BYTES)
        cpu_note = ""
        if raw_cpu_seconds is not None and LAST_CPU_SECONDS is not None:
            raw_cpu.append(raw_cpu_seconds)
            tool_cpu.append(LAST_CPU_SECONDS)
            cpu_note = f", CPU tool {LAST_CPU_SECONDS:.1f}s raw {raw_cpu_seconds:.1f}s"
        for entity, obj in results.items():
            rows = obj["results"]["totalRecords"]
            duration = obj["execution"]["durationSeconds"]
            per_entity.setdefault(entity, []).append(rows / duration if duration else 0.0)
        print(
            f"repeat {i + 1}: tool {seconds:.2f}s, raw {raw_seconds:.2f}s,"
            f" ratio {seconds / raw_seconds:.2f}, RSS {peak:.0f} MB,"
            f" WAL {LAST_WAL_BYTES / 1e6:,.0f} MB{cpu_note}"
        )

    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "scale": args.scale,
        "phase": args.phase,
        "workers": args.workers or "default",
        "cpus": cpus,
        "repeats": args.repeat,
        "source_rows_of_phase_tables": raw_rows,
        # Whole command (process start, imports, connections) and the entities' own time.
        "tool_seconds_median": round(statistics.median(tool_times), 3),
        "tool_entities_seconds_median": round(statistics.median(engine_times), 3),
        "raw_pipe_seconds_median": round(statistics.median(raw_times), 3),
        "ratio_tool_to_raw_median": round(
            statistics.median(t / r for t, r in zip(tool_times, raw_times, strict=True)), 2
        ),
        "ratio_entities_to_raw_median": round(
            statistics.median(t / r for t, r in zip(engine_times, raw_times, strict=True)), 2
        ),
        # The machine's CPU seconds in each (server, tool, raw pipe): the cost in CPU.
        "tool_cpu_seconds_median": round(statistics.median(tool_cpu), 1) if tool_cpu else None,
        "raw_pipe_cpu_seconds_median": round(statistics.median(raw_cpu), 1) if raw_cpu else None,
        "cpu_ratio_tool_to_raw_median": (
            round(statistics.median(t / r for t, r in zip(tool_cpu, raw_cpu, strict=True)), 2)
            if raw_cpu
            else None
        ),
        "peak_rss_mb_max": round(max(peaks), 1),
        "wal_bytes_median": round(statistics.median(wal)),
        "wal_bytes_per_source_row_median": round(statistics.median(wal) / max(raw_rows, 1)),
        "rows_per_second_median": {e: round(statistics.median(v)) for e, v in per_entity.items()},
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    pinned = f"-c{args.cpus}" if args.cpus else ""
    path = out / f"{args.phase}-scale{args.scale}-w{args.workers or 'default'}{pinned}-{stamp}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"written to {path}")


# Shares of the large tables' rows changed before each sync (0: a sync with no change).
SYNC_SHARES = (0.0, 0.0001, 0.001, 0.01)


def sync_bench(server: embedded.EmbeddedServer, source: str, args: argparse.Namespace) -> None:
    """Per repeat: a fresh target, the initial `migrate`, the same `migrate` again with
    nothing changed, then for each share a change of that share of the large tables' rows
    (new, changed, deleted, spread over their keys) and a `sync` of the phase. Reports each
    run's time as a share of the initial run's."""
    initial: list[float] = []
    reruns: list[float] = []
    syncs: dict[float, list[float]] = {share: [] for share in SYNC_SHARES}
    read: dict[float, list[int]] = {share: [] for share in SYNC_SHARES}
    peaks: list[float] = []
    for i in range(args.repeat):
        target = reset(server, "bench_target")
        with psycopg.connect(target, autocommit=True) as conn:
            schema.apply(conn)
        quiesce(server)
        seconds, _, peak = tool_run(
            server, "bench_source", "bench_target", args.phase, args.batch_size, args.workers
        )
        initial.append(seconds)
        peaks.append(peak)
        print(f"repeat {i + 1}: migrate {seconds:.2f}s, RSS {peak:.0f} MB")
        # The same `migrate` again, nothing changed: a full pass that upserts every row
        # (the thorough reconcile an operator may run before cut-over), unlike a sync.
        quiesce(server, "bench_source", "bench_target")
        seconds, _, peak = tool_run(
            server, "bench_source", "bench_target", args.phase, args.batch_size, args.workers
        )
        reruns.append(seconds)
        peaks.append(peak)
        print(
            f"  migrate again, nothing changed: {seconds:.2f}s"
            f" ({seconds / initial[-1] * 100:.1f} % of the first), RSS {peak:.0f} MB"
        )
        for share in SYNC_SHARES:
            if share:
                churn.churn(source, share, seed=1000 * i + int(share * 1e6))
            # What a sync costs, not what the server's background work costs beside it: in a
            # real cut-over the initial load is days old and autovacuum has been through it.
            quiesce(server, "bench_source", "bench_target")
            seconds, results, peak = tool_run(
                server,
                "bench_source",
                "bench_target",
                args.phase,
                args.batch_size,
                args.workers,
                command="sync",
            )
            changes = sum(
                o["changes"]["inserted"] + o["changes"]["updated"] + o["changes"]["deleted"]
                for o in results.values()
            )
            syncs[share].append(seconds)
            read[share].append(changes)
            peaks.append(peak)
            print(
                f"  sync after {share * 100:g} % changed: {seconds:.2f}s"
                f" ({seconds / initial[-1] * 100:.1f} % of the migrate), {changes:,} rows"
                f" written or deleted, RSS {peak:.0f} MB"
            )
    migrate_median = statistics.median(initial)
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "scale": args.scale,
        "phase": args.phase,
        "repeats": args.repeat,
        "migrate_seconds_median": round(migrate_median, 2),
        "migrate_again_unchanged": {
            "seconds_median": round(statistics.median(reruns), 2),
            "share_of_migrate_median": round(
                statistics.median(r / m for r, m in zip(reruns, initial, strict=True)), 4
            ),
        },
        "sync": {
            f"{share * 100:g}%": {
                "seconds_median": round(statistics.median(syncs[share]), 2),
                "share_of_migrate_median": round(
                    statistics.median(s / m for s, m in zip(syncs[share], initial, strict=True)),
                    4,
                ),
                "rows_changed_median": round(statistics.median(read[share])),
            }
            for share in SYNC_SHARES
        },
        "peak_rss_mb_max": round(max(peaks), 1),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"sync-{args.phase}-scale{args.scale}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
