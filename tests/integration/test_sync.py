"""`sync`: a migrated target brought up to date with a legacy database that kept changing.

The reference is a fresh `migrate all` of the changed source into an empty target with the
same id secret: after a sync, the target equals it table by table (ids, values, id map,
outcomes, issues, archive), the columns that record when the tool ran aside.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mdw_migrate import state
from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine import rollback as rollback_engine
from mdw_migrate.engine.spec import EntitySpec
from mdw_migrate.engine.validate import validate_selection
from mdw_migrate.legacy import churn
from mdw_migrate.legacy.generator import generate

from ..helpers import QuietReporter, fresh_target, rows, run, run_options, scalar, sync

SECRET = "sync-tests-secret-0123456789abcdef"
SCALE = 0.003


@pytest.fixture(autouse=True)
def same_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both targets derive UUIDs with one secret, as two runs of one deployment do."""
    import tests.helpers as helpers_module

    original = run_options
    monkeypatch.setattr(
        helpers_module,
        "run_options",
        lambda *a, **k: original(*a, **{**k, "id_secret_env": SECRET}),
    )


def _state_tables(target: str, entity: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "id_map": rows(
            target,
            "SELECT legacy_id, id FROM migration.id_map WHERE entity = %s ORDER BY 1",
            entity,
        ),
        "outcomes": rows(
            target,
            "SELECT legacy_id, outcome, reason_code, detail FROM migration.row_outcomes"
            " WHERE entity = %s ORDER BY 1",
            entity,
        ),
        "issues": rows(
            target,
            "SELECT legacy_id, kind, column_name FROM migration.quality_issues"
            " WHERE entity = %s ORDER BY 1, 2, 3",
            entity,
        ),
    }


def differences(synced: str, fresh: str) -> list[str]:
    """Every table on which the two targets disagree, with what differs."""
    found = []
    for name, spec in CATALOGUE.entities.items():
        if not isinstance(spec, EntitySpec):
            continue
        columns = ["id", spec.legacy_column, *spec.target_columns(), "metadata"]
        listed = ", ".join(f'"{c}"' for c in columns)
        query = f'SELECT {listed} FROM public."{spec.target}" ORDER BY id'
        a, b = rows(synced, query), rows(fresh, query)
        if a != b:
            found.append(f"{spec.target}: {len(a)} vs {len(b)} rows")
        for table, (x, y) in {
            t: (v, _state_tables(fresh, name)[t]) for t, v in _state_tables(synced, name).items()
        }.items():
            if x != y:
                found.append(f"{name} {table}: {len(x)} vs {len(y)}")
    tables = [
        r["table_name"]
        for r in rows(
            fresh,
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'legacy_archive'",
        )
    ]
    for table in tables:
        query = f'SELECT legacy_id, row FROM legacy_archive."{table}" ORDER BY 1'
        if rows(synced, query) != rows(fresh, query):
            found.append(f"legacy_archive.{table}")
    return found


def assert_counts_are_the_tables(target: str) -> None:
    """Every entity's recorded counts are what its tables hold (a sync keeps the mapped
    count up to date batch by batch instead of counting the table)."""
    recorded = rows(
        target,
        "SELECT entity, migrated, excluded, rejected FROM migration.entity_progress"
        " WHERE entity <> 'legacy_archive' ORDER BY 1",
    )
    outcomes = "SELECT count(*) FROM migration.row_outcomes WHERE entity = %s AND outcome = %s"
    for r in recorded:
        assert (r["migrated"], r["excluded"], r["rejected"]) == (
            scalar(target, "SELECT count(*) FROM migration.id_map WHERE entity = %s", r["entity"]),
            scalar(target, outcomes, r["entity"], "excluded"),
            scalar(target, outcomes, r["entity"], "rejected"),
        ), r["entity"]


def totals(outcome: Any) -> dict[str, int]:
    counts = outcome.counts()
    keys = ("inserted", "updated", "deleted", "kept", "outcomeChanges")
    return {k: sum(c[k] for c in counts.values()) for k in keys}


@pytest.fixture
def legacy(create_database: Callable[[str], str]) -> str:
    conninfo = create_database("sync_src")
    generate(conninfo, scale=SCALE, seed=11)
    return conninfo


@pytest.fixture
def migrated(legacy: str, create_database: Callable[[str], str]) -> str:
    target = fresh_target(create_database, "sync_dst")
    run(legacy, target, "all", batch_size=100)
    return target


def _reference(legacy: str, create_database: Callable[[str], str]) -> str:
    fresh = fresh_target(create_database, "sync_ref")
    run(legacy, fresh, "all", batch_size=100)
    return fresh


def test_a_sync_makes_the_target_what_a_fresh_migration_gives(
    legacy: str, migrated: str, create_database: Callable[[str], str]
) -> None:
    done = churn.django_changes(legacy)
    planned = sync(legacy, migrated, "all", batch_size=100, dry_run=True)
    before = scalar(migrated, "SELECT count(*) FROM migration.runs")
    # The dry run wrote nothing, not even its run record.
    assert scalar(migrated, "SELECT count(*) FROM migration.runs") == before
    outcome = sync(legacy, migrated, "all", batch_size=100)
    assert totals(planned) == totals(outcome)
    changed = totals(outcome)
    assert changed["inserted"] >= 12 and changed["updated"] >= 6 and changed["deleted"] >= 12
    by_entity = {r.entity: r for r in outcome.results}
    # Only changed buckets were read for the large entities.
    assert by_entity["system_messages"].pass_kind == "changes"
    assert by_entity["tasks"].pass_kind == "changes"
    assert by_entity["system_messages"].processed < by_entity["system_messages"].migrated / 4
    fresh = _reference(legacy, create_database)
    assert differences(migrated, fresh) == []
    assert_counts_are_the_tables(migrated)
    # The deleted rows went dependants first, and a copy of each is in migration_backup.
    gone = done["deleted"]["dispatch_notification"]
    assert not rows(
        migrated,
        "SELECT 1 FROM public.system_messages WHERE legacy_notification_id = ANY(%s)",
        gone,
    )
    backups = {b.entity: b.rows for b in outcome.backups}
    assert backups["system_messages"] >= len(gone)
    assert scalar(
        migrated,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'migration_backup'",
    ) == len(outcome.backups)
    with psycopg.connect(legacy) as source, psycopg.connect(migrated, autocommit=True) as target:
        results = validate_selection(CATALOGUE, CATALOGUE.resolve("all"), source, target, SECRET)
    assert [v.entity for v in results if not v.passed] == []


def test_rule_5_follows_a_parent_both_ways(legacy: str, migrated: str) -> None:
    """Children of a deleted instruction lose it (optional) or are rejected (required),
    although they did not change; a child waiting for a parent migrates once it exists."""
    done = churn.django_changes(legacy)
    gone = done["deleted"]["dispatch_instruction"][0]
    naming = [
        r["id"]
        for r in rows(
            legacy,
            "SELECT n.id FROM dispatch_notification n JOIN django_content_type ct"
            " ON ct.id = n.item_type_id WHERE ct.model = 'instruction' AND n.item_id = %s",
            gone,
        )
    ]
    sync(legacy, migrated, "all", batch_size=100)
    if naming:
        orders = rows(
            migrated,
            "SELECT order_id FROM public.system_messages WHERE legacy_notification_id = ANY(%s)",
            naming,
        )
        assert orders and all(r["order_id"] is None for r in orders)
    # The deleted instruction's order is gone.
    assert not rows(migrated, "SELECT 1 FROM public.orders WHERE legacy_instruction_id = %s", gone)
    # Now the parent comes back (a restored row): its children migrate again.
    with psycopg.connect(legacy, autocommit=True) as conn:
        patient = scalar(legacy, "SELECT min(id) FROM dispatch_patient")
        course = scalar(legacy, "SELECT min(id) FROM dispatch_course")
        conn.execute(
            "INSERT INTO dispatch_instruction (id, patient_id, course_id, status, deleted,"
            " submitted_at, updated_at, notes, complaint, price, suffix, exports, model,"
            ' "order", scanner, scanner_notes, cbct, conditions, accept_extraction, objective,'
            " comprehensive) VALUES (%s, %s, %s, 1, false, now(), now(), '', '', 10, 'A', '',"
            " 0, 0, 0, '', false, '', false, '', false)",
            [gone, patient, course],
        )
    sync(legacy, migrated, "all", batch_size=100)
    if naming:
        orders = rows(
            migrated,
            "SELECT order_id FROM public.system_messages WHERE legacy_notification_id = ANY(%s)",
            naming,
        )
        assert all(r["order_id"] is not None for r in orders)


def test_a_second_sync_changes_nothing(legacy: str, migrated: str) -> None:
    churn.django_changes(legacy)
    sync(legacy, migrated, "all", batch_size=100)
    snapshot = rows(migrated, "SELECT id, updated_at FROM public.system_messages ORDER BY id")
    again = sync(legacy, migrated, "all", batch_size=100)
    assert totals(again) == dict.fromkeys(totals(again), 0)
    assert all(r.pass_kind == "changes" or r.entity == "legacy_archive" for r in again.results)
    # Nothing was rewritten: not even the time a row was last written by the tool.
    assert rows(migrated, "SELECT id, updated_at FROM public.system_messages ORDER BY id") == (
        snapshot
    )
    # And nothing of the large tables was read again.
    by_entity = {r.entity: r for r in again.results}
    assert by_entity["system_messages"].processed == 0
    # The counts are kept, not recounted, and they are what the tables hold.
    outcomes = "SELECT count(*) FROM migration.row_outcomes WHERE entity = %s AND outcome = %s"
    for r in again.results:
        if r.entity == "legacy_archive":
            continue
        assert (r.migrated, r.excluded, r.rejected) == (
            scalar(migrated, "SELECT count(*) FROM migration.id_map WHERE entity = %s", r.entity),
            scalar(migrated, outcomes, r.entity, "excluded"),
            scalar(migrated, outcomes, r.entity, "rejected"),
        ), r.entity


def test_a_rerun_of_migrate_reports_what_changed(legacy: str, migrated: str) -> None:
    again = run(legacy, migrated, "all", batch_size=100)
    assert totals(again)["inserted"] == 0 and totals(again)["updated"] == 0
    assert sum(r.unchanged for r in again.results) == sum(r.migrated for r in again.results)


def test_keep_deleted_keeps_the_rows_marked_and_validation_explains_them(
    legacy: str, migrated: str
) -> None:
    done = churn.django_changes(legacy)
    gone = done["deleted"]["dispatch_notification"]
    outcome = sync(legacy, migrated, "all", batch_size=100, keep_deleted=True)
    assert {r.entity: r.kept for r in outcome.results}["system_messages"] == len(gone)
    kept = rows(
        migrated,
        "SELECT metadata FROM public.system_messages WHERE legacy_notification_id = ANY(%s)",
        gone,
    )
    assert len(kept) == len(gone) and all("legacy_deleted_at" in r["metadata"] for r in kept)
    with psycopg.connect(legacy) as source, psycopg.connect(migrated, autocommit=True) as target:
        results = validate_selection(CATALOGUE, ["system_messages"], source, target, SECRET)
    accounting = next(c for c in results[0].checks if c.type == "accounting")
    assert results[0].passed, results[0].to_contract()
    assert accounting.details["keptDeleted"] == len(gone)
    assert "keep-deleted" in str(accounting.details["explanation"])
    # A rollback would remove every row of the entity in the target, the kept ones once.
    with psycopg.connect(migrated, autocommit=True) as target:
        planned = rollback_engine.rows_to_remove(CATALOGUE, ["system_messages"], target, SECRET)
    assert planned == {"system_messages": scalar(migrated, "SELECT count(*) FROM system_messages")}
    # A later sync without the option deletes them.
    later = sync(legacy, migrated, "all", batch_size=100)
    assert {r.entity: r.deleted for r in later.results}["system_messages"] == len(gone)
    assert_counts_are_the_tables(migrated)
    assert not rows(
        migrated,
        "SELECT 1 FROM public.system_messages WHERE legacy_notification_id = ANY(%s)",
        gone,
    )


def test_an_interrupted_sync_run_again_ends_in_the_same_target(
    legacy: str, migrated: str, create_database: Callable[[str], str]
) -> None:
    churn.django_changes(legacy)
    churn.churn(legacy, 0.02, seed=3)
    counted = QuietReporter()
    stopped = sync(
        legacy,
        migrated,
        "all",
        batch_size=20,
        should_stop=lambda: len(counted.batches) >= 3,
        reporter=counted,
    )
    assert stopped.interrupted
    sync(legacy, migrated, "all", batch_size=20)
    assert differences(migrated, _reference(legacy, create_database)) == []
    assert_counts_are_the_tables(migrated)


def test_a_sync_killed_by_sigkill_then_run_again_ends_in_the_same_target(
    legacy: str, migrated: str, create_database: Callable[[str], str], tmp_path: Path
) -> None:
    churn.django_changes(legacy)
    churn.churn(legacy, 0.05, seed=4)
    script = tmp_path / "sync.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {os.getcwd()!r})\n"
        "import tests.helpers as h\n"
        "original = h.run_options\n"
        f"h.run_options = lambda *a, **k: original(*a, **{{**k, 'id_secret_env': {SECRET!r}}})\n"
        f"h.sync({legacy!r}, {migrated!r}, 'all', batch_size=5)\n"
    )
    child = subprocess.Popen([sys.executable, str(script)])
    # Kill it once it has committed a few batches of the sync.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        n = scalar(
            migrated,
            "SELECT count(*) FROM migration.entity_progress p JOIN migration.runs r"
            " ON r.id = p.run_id WHERE r.command LIKE 'sync%%' AND p.batches > 0",
        )
        if (n and n >= 3) or child.poll() is not None:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    # Killed, not finished: the test would prove nothing otherwise.
    assert child.wait() == -signal.SIGKILL
    sync(legacy, migrated, "all", batch_size=50)
    assert differences(migrated, _reference(legacy, create_database)) == []
    assert state.deletions.entities(psycopg.connect(migrated, autocommit=True)) == {}
    # The killed run's committed batches counted their mappings: the counts still hold.
    assert_counts_are_the_tables(migrated)


def test_a_parent_that_arrives_brings_its_whole_line_of_dependants(
    legacy: str, migrated: str, create_database: Callable[[str], str]
) -> None:
    """An order whose patient did not exist was rejected, and its states with it. When the
    patient arrives, the order migrates (a fresh key: never mapped), and so do its states."""
    patient = scalar(legacy, "SELECT max(id) FROM dispatch_patient") + 100
    instruction = scalar(
        legacy,
        "SELECT min(i.id) FROM dispatch_instruction i WHERE EXISTS (SELECT 1 FROM"
        " dispatch_state s WHERE s.instruction_id = i.id)",
    )
    with psycopg.connect(legacy, autocommit=True) as conn:
        conn.execute(
            "UPDATE dispatch_instruction SET patient_id = %s WHERE id = %s", [patient, instruction]
        )
    sync(legacy, migrated, "all", batch_size=100)
    rejected = rows(
        migrated,
        "SELECT reason_code FROM migration.row_outcomes WHERE entity = 'orders' AND legacy_id = %s",
        instruction,
    )
    assert rejected == [{"reason_code": "ORPHAN_PATIENT"}]
    some = scalar(legacy, "SELECT min(id) FROM dispatch_patient")
    some_user = scalar(legacy, "SELECT user_id FROM dispatch_patient WHERE id = %s", some)
    with psycopg.connect(legacy, autocommit=True) as conn:
        user = churn.clone(
            conn, "auth_user", some_user, username="arriving.patient", email="ap@example.com"
        )
        added = churn.clone(conn, "dispatch_patient", some, user_id=user)
        conn.execute("UPDATE dispatch_patient SET id = %s WHERE id = %s", [patient, added])
    sync(legacy, migrated, "all", batch_size=100)
    states = scalar(
        legacy, "SELECT count(*) FROM dispatch_state WHERE instruction_id = %s", instruction
    )
    assert (
        states
        and scalar(
            migrated,
            "SELECT count(*) FROM public.order_states s JOIN public.orders o ON o.id = s.order_id"
            " WHERE o.legacy_instruction_id = %s",
            instruction,
        )
        == states
    )
    assert differences(migrated, _reference(legacy, create_database)) == []


def test_a_split_pass_owns_the_keys_below_todays_smallest(
    legacy: str, create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The legacy system purged its oldest rows: a re-run split over workers removes them."""
    from mdw_migrate.engine import context
    from mdw_migrate.state import fingerprints

    monkeypatch.setattr(context, "LARGE_ENTITY_ROWS", 1)
    monkeypatch.setattr(fingerprints, "BUCKET_BITS", 0)
    monkeypatch.setattr(fingerprints, "BUCKET_WIDTH", 1)
    target = fresh_target(create_database, "purge_dst")
    run(legacy, target, "offices", batch_size=3, workers=3)
    with psycopg.connect(legacy, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM dispatch_office WHERE id IN (SELECT id FROM dispatch_office"
            " ORDER BY id LIMIT 3)"
        )
    again = run(legacy, target, "offices", batch_size=3, workers=3)
    assert {r.entity: r.deleted for r in again.results}["offices"] == 3
    assert scalar(target, "SELECT count(*) FROM public.offices") == scalar(
        legacy, "SELECT count(*) FROM dispatch_office"
    )


def test_a_change_below_a_resumed_checkpoint_still_reaches_the_next_sync(
    legacy: str, create_database: Callable[[str], str]
) -> None:
    """A migration stopped in the middle of a bucket and resumed in a newer snapshot does not
    vouch for that bucket: a row of it changed in between is brought up to date by a sync."""
    target = fresh_target(create_database, "mid_dst")
    counted = QuietReporter()
    first = run(
        legacy,
        target,
        "offices",
        batch_size=5,
        should_stop=lambda: len(counted.batches) >= 1,
        reporter=counted,
    )
    assert first.interrupted
    changed = scalar(legacy, "SELECT min(id) FROM dispatch_office")
    with psycopg.connect(legacy, autocommit=True) as conn:
        conn.execute("UPDATE dispatch_office SET city = 'Resumed City' WHERE id = %s", [changed])
    run(legacy, target, "offices", batch_size=5, resume=True)
    sync(legacy, target, "offices", batch_size=5)
    assert (
        scalar(target, "SELECT city FROM public.offices WHERE legacy_office_id = %s", changed)
        == "Resumed City"
    )


def _sync_explaining(
    legacy: str,
    migrated: str,
    monkeypatch: pytest.MonkeyPatch,
    chosen: Callable[[str], bool],
    seed: int,
) -> tuple[dict[str, int], list[str]]:
    """Changes 5 % of the large tables and syncs in batches of 100; returns the sync's
    totals and the plans of its statements that `chosen` picks (each is also run)."""
    plans: list[str] = []
    real = psycopg.Connection.execute

    def explained(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query.decode() if isinstance(query, bytes) else str(query)
        if chosen(text):
            plan = real(self, ("EXPLAIN " + text).encode(), params).fetchall()
            plans.append("\n".join(str(r[0]) for r in plan))
        return real(self, query, params, **kwargs)

    churn.churn(legacy, 0.05, seed=seed)
    monkeypatch.setattr(psycopg.Connection, "execute", explained)
    outcome = sync(legacy, migrated, "all", batch_size=100)
    monkeypatch.undo()
    return totals(outcome), plans


def test_parents_are_looked_up_not_anti_joined_whole(
    legacy: str, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch resolves its references by joining the parent's table and the deletion queue
    to its own rows. Written as the parent's mapped rows (`NOT EXISTS` on the queue) inside
    the outer join, every batch's plan anti-joined the whole parent table with the queue
    before its rows met it: each sync batch of order files read every file (decision 109)."""
    counted, plans = _sync_explaining(
        legacy,
        migrated,
        monkeypatch,
        lambda text: (
            text.startswith("INSERT INTO pg_temp.mdw_work SELECT") and "LEFT JOIN public." in text
        ),
        seed=9,
    )
    assert counted["updated"] > 0
    assert len(plans) > 10
    assert not [p for p in plans if "Anti Join" in p]
    assert_counts_are_the_tables(migrated)


def test_deletions_are_queued_and_settled_by_hashing(
    legacy: str, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pending_deletions` fills during a pass, after its statistics were taken: planned
    from those, the statements that queue and settle a batch's deletions looped over every
    queued row of the entity for each key (decision 107). Their plans hash instead."""
    counted, plans = _sync_explaining(
        legacy,
        migrated,
        monkeypatch,
        lambda text: text.startswith(
            ("INSERT INTO migration.pending_deletions", "DELETE FROM migration.pending_deletions")
        ),
        seed=5,
    )
    assert counted["deleted"] > 0
    assert len(plans) > 10
    assert not [p for p in plans if "Nested Loop" in p]
    assert_counts_are_the_tables(migrated)
