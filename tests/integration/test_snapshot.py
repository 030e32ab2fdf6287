"""The legacy system keeps taking orders during a run: the run reads one snapshot, shared by
its parallel workers, so the target stays referentially consistent; the next run picks the new
rows up."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.engine.context import BatchStats
from mdw_migrate.engine.migrate import RunOptions, migrate
from mdw_migrate.legacy.generator import generate
from mdw_migrate.target import schema

from ..helpers import QuietReporter, _open_source, run_options, scalar


class WriteDuringRun(QuietReporter):
    """After the first batch, the legacy application writes: a new user, patient and order,
    and deletes an office that patients point at."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.written: dict[str, int] = {}
        self.lock = threading.Lock()  # batches of parallel workers report at once

    def batch_done(self, stats: BatchStats) -> None:
        super().batch_done(stats)
        with self.lock:
            if not self.written:
                self._write()

    def _write(self) -> None:
        with psycopg.connect(self.source, autocommit=True) as app, app.transaction():
            user = app.execute(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
                " email, is_staff, is_active, date_joined) SELECT password, false,"
                " 'late-' || id, first_name, last_name, email, false, true, now()"
                " FROM auth_user ORDER BY id LIMIT 1 RETURNING id"
            ).fetchone()
            assert user is not None
            patient = app.execute(
                "INSERT INTO dispatch_patient (user_id, doctor_id, office_id, archived, suspended,"
                " status, submitted_at, updated_at) SELECT %s, doctor_id, office_id, false, false,"
                " 1, now(), now() FROM dispatch_patient ORDER BY id LIMIT 1 RETURNING id",
                [user[0]],
            ).fetchone()
            assert patient is not None
            order = app.execute(
                "INSERT INTO dispatch_instruction (patient_id, course_id, status, deleted,"
                ' submitted_at, updated_at, notes, complaint, suffix, exports, model, "order",'
                " scanner, scanner_notes, cbct, conditions, accept_extraction, objective,"
                " comprehensive) SELECT %s, course_id, 1, false, now(), now(), notes, complaint,"
                ' suffix, exports, model, "order", scanner, scanner_notes, cbct, conditions,'
                " accept_extraction, objective, comprehensive FROM dispatch_instruction"
                " ORDER BY id LIMIT 1 RETURNING id",
                [patient[0]],
            ).fetchone()
            assert order is not None
            office = app.execute(
                "DELETE FROM dispatch_office WHERE id = (SELECT office_id FROM dispatch_patient"
                " WHERE office_id IS NOT NULL ORDER BY id LIMIT 1) RETURNING id"
            ).fetchone()
            assert office is not None
        self.written = {
            "user": user[0],
            "patient": patient[0],
            "order": order[0],
            "office": office[0],
        }


def test_a_run_reads_one_snapshot_while_the_source_changes(
    create_database: Callable[[str], str],
) -> None:
    source = create_database("snap_src")
    generate(source, scale=0.005, seed=51)
    target = create_database("snap_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    names = CATALOGUE.resolve("orders-with-deps")
    writer = WriteDuringRun(source)
    options = run_options(
        20,
        max_retry_attempts=1,
        workers=2,
        open_source=lambda: _open_source(source),
        open_target=lambda: psycopg.connect(target, autocommit=True),
    )
    with _open_source(source) as s, psycopg.connect(target, autocommit=True) as t:
        outcome = migrate(CATALOGUE, names, s, t, options, writer)
    assert writer.written, "the legacy application wrote during the run"
    written = writer.written
    # Nothing written after the snapshot reached the target; what was deleted after it did.
    assert (
        scalar(target, "SELECT count(*) FROM profiles WHERE legacy_user_id = %s", written["user"])
        == 0
    )
    assert (
        scalar(
            target, "SELECT count(*) FROM orders WHERE legacy_instruction_id = %s", written["order"]
        )
        == 0
    )
    assert (
        scalar(
            target, "SELECT count(*) FROM offices WHERE legacy_office_id = %s", written["office"]
        )
        == 1
    )
    # Every entity accounted for against the same snapshot, and no order lost its patient.
    assert all(r.accounted and r.status == "completed" for r in outcome.results)
    assert (
        scalar(
            target,
            "SELECT count(*) FROM orders o LEFT JOIN patients p ON p.id = o.patient_id"
            " WHERE p.id IS NULL",
        )
        == 0
    )

    # The next run sees the new rows and the deletion (the deleted office stays, as migrated).
    options = RunOptions(**{**options.__dict__, "workers": 1})
    with _open_source(source) as s, psycopg.connect(target, autocommit=True) as t:
        migrate(CATALOGUE, names, s, t, options, QuietReporter())
    assert (
        scalar(
            target, "SELECT count(*) FROM orders WHERE legacy_instruction_id = %s", written["order"]
        )
        == 1
    )
