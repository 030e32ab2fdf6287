"""Changes to a legacy database made the way its Django app makes them, for the tests and the
benchmark of `sync`: rows inserted through the tables' own sequences, updated in place, and
deleted children first (Django's cascade), while the app keeps running.

`django_changes` is one fixed, deterministic set of changes that touches every kind of rule
(new parents and children, a changed status, price and payment, JSON that no longer parses,
a renamed country, an email's case, a user moved into group Doctor, cascaded deletions);
`churn` changes a share of the rows of the large tables, spread over their key ranges.
"""

from __future__ import annotations

import random
from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[Any]

# The large tables, and for each a change the app could make to a row.
LARGE_TABLES: dict[str, str] = {
    "dispatch_notification": "read = NOT read",
    "dispatch_task": "checked = NOT checked",
    "dispatch_file": "name = name || ' (v2)'",
    "dispatch_plan": "notes = notes || ' (revised)'",
    "dispatch_project": "name = name || ' (v2)'",
    "dispatch_record": "text = text || ' (edited)'",
    "dispatch_jaw": "labial = NOT labial",
}


def _columns(conn: Conn, table: str) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def clone(conn: Conn, table: str, row_id: int, **values: object) -> int:
    """Inserts a copy of row `row_id` under a new id from the table's sequence, with
    `values` replacing columns; returns the new id."""
    new = clone_many(conn, table, [row_id], **values)
    assert new, f"{table} has no row {row_id}"
    return new[0]


def clone_many(conn: Conn, table: str, row_ids: list[int], **values: object) -> list[int]:
    """Copies of the rows `row_ids` that exist, under new ids; returns the new ids."""
    columns = _columns(conn, table)
    picks = [sql.Placeholder(c) if c in values else sql.Identifier(c) for c in columns]
    query = sql.SQL(
        "INSERT INTO {t} ({cols}) SELECT {picks} FROM {t} WHERE id = ANY({ids}) ORDER BY id"
        " RETURNING id"
    )
    rows = conn.execute(
        query.format(
            t=sql.Identifier(table),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            picks=sql.SQL(", ").join(picks),
            ids=sql.Placeholder("ids"),
        ),
        {**values, "ids": row_ids},
    ).fetchall()
    return [int(r[0]) for r in rows]


def _first(conn: Conn, query: str, *params: object) -> int:
    row = conn.execute(query.encode(), params).fetchone()
    assert row is not None and row[0] is not None, query
    return int(row[0])


def django_changes(conninfo: str) -> dict[str, Any]:
    """Applies the fixed set of changes; returns the ids it touched, by what was done."""
    done: dict[str, Any] = {}
    with psycopg.connect(conninfo, autocommit=False) as conn, conn.transaction():
        doctor_group = _first(conn, "SELECT id FROM auth_group WHERE name = 'Doctor'")
        # Inserts: a doctor-to-be user, a patient user, a patient, two instructions and
        # their notifications, tasks, a file and a payment.
        some_user = _first(conn, "SELECT min(id) FROM auth_user WHERE is_active")
        user = clone(conn, "auth_user", some_user, username="new.user.1", email="New1@Example.com")
        patient_user = clone(
            conn, "auth_user", some_user, username="new.patient.1", email="np1@example.com"
        )
        some_patient = _first(
            conn,
            "SELECT min(p.id) FROM dispatch_patient p WHERE EXISTS (SELECT 1 FROM"
            " dispatch_instruction i WHERE i.patient_id = p.id)",
        )
        patient = clone(conn, "dispatch_patient", some_patient, user_id=patient_user)
        some_instruction = _first(
            conn, "SELECT min(id) FROM dispatch_instruction WHERE patient_id = %s", some_patient
        )
        instructions = [
            clone(conn, "dispatch_instruction", some_instruction, patient_id=patient)
            for _ in range(2)
        ]
        instruction_type = _first(
            conn,
            "SELECT id FROM django_content_type WHERE app_label = 'dispatch'"
            " AND model = 'instruction'",
        )
        some_notification = _first(conn, "SELECT min(id) FROM dispatch_notification")
        notifications = [
            clone(
                conn,
                "dispatch_notification",
                some_notification,
                item_id=i,
                item_type_id=instruction_type,
            )
            for i in instructions
        ]
        some_task = _first(conn, "SELECT min(id) FROM dispatch_task")
        tasks = [
            clone(conn, "dispatch_task", some_task, instruction_id=i, file_id=None, plan_id=None)
            for i in instructions
        ]
        some_file = _first(
            conn, "SELECT min(id) FROM dispatch_file WHERE instruction_id IS NOT NULL"
        )
        new_file = clone(conn, "dispatch_file", some_file, instruction_id=instructions[0])
        some_payment = _first(conn, "SELECT min(id) FROM dispatch_payment")
        payment = clone(conn, "dispatch_payment", some_payment, instruction_id=instructions[0])
        done["inserted"] = {
            "auth_user": [user, patient_user],
            "dispatch_patient": [patient],
            "dispatch_instruction": instructions,
            "dispatch_notification": notifications,
            "dispatch_task": tasks,
            "dispatch_file": [new_file],
            "dispatch_payment": [payment],
        }
        # Updates.
        status_of = _first(conn, "SELECT max(id) FROM dispatch_instruction WHERE NOT deleted")
        conn.execute(
            "UPDATE dispatch_instruction SET status = (status + 1) %% 5, price = price + 10.01"
            " WHERE id = %s",
            [status_of],
        )
        paid = _first(conn, "SELECT max(id) FROM dispatch_payment WHERE NOT paid")
        conn.execute(
            "UPDATE dispatch_payment SET total_price = total_price + 123.45, paid = true"
            " WHERE id = %s",
            [paid],
        )
        bad_json = _first(conn, "SELECT max(id) FROM dispatch_notification")
        conn.execute(
            "UPDATE dispatch_notification SET template_context = '{\"order\": ' WHERE id = %s",
            [bad_json],
        )
        office = _first(conn, "SELECT max(id) FROM dispatch_office WHERE country IS NOT NULL")
        conn.execute("UPDATE dispatch_office SET country = 'Deutschland' WHERE id = %s", [office])
        emailed = _first(conn, "SELECT max(id) FROM auth_user WHERE email <> upper(email)")
        conn.execute("UPDATE auth_user SET email = upper(email) WHERE id = %s", [emailed])
        # A user moved into group Doctor: the membership row now names that group.
        moved = _first(
            conn,
            "SELECT max(ug.user_id) FROM auth_user_groups ug WHERE ug.group_id <> %s AND NOT"
            " EXISTS (SELECT 1 FROM auth_user_groups d WHERE d.user_id = ug.user_id"
            " AND d.group_id = %s)",
            doctor_group,
            doctor_group,
        )
        conn.execute(
            "UPDATE auth_user_groups SET group_id = %s WHERE id = (SELECT min(id) FROM"
            " auth_user_groups WHERE user_id = %s)",
            [doctor_group, moved],
        )
        conn.execute(
            "INSERT INTO auth_user_groups (user_id, group_id) VALUES (%s, %s)",
            [user, doctor_group],
        )
        done["updated"] = {
            "dispatch_instruction": [status_of],
            "dispatch_payment": [paid],
            "dispatch_notification": [bad_json],
            "dispatch_office": [office],
            "auth_user": [emailed],
            "moved_to_doctor": [moved],
        }
        # Deletions, children first as Django's cascade does them.
        gone_notifications = [
            int(r[0])
            for r in conn.execute(
                "DELETE FROM dispatch_notification WHERE id IN (SELECT id FROM"
                " dispatch_notification WHERE id % 97 = 5 ORDER BY id LIMIT 5) RETURNING id"
            ).fetchall()
        ]
        gone_tasks = [
            int(r[0])
            for r in conn.execute(
                "DELETE FROM dispatch_task WHERE id IN (SELECT id FROM dispatch_task"
                " WHERE id % 89 = 3 ORDER BY id LIMIT 5) RETURNING id"
            ).fetchall()
        ]
        gone_file = _first(
            conn,
            "SELECT max(f.id) FROM dispatch_file f WHERE EXISTS (SELECT 1 FROM"
            " dispatch_record_attachments a WHERE a.file_id = f.id)",
        )
        conn.execute("DELETE FROM dispatch_record_attachments WHERE file_id = %s", [gone_file])
        conn.execute("UPDATE dispatch_task SET file_id = NULL WHERE file_id = %s", [gone_file])
        conn.execute("DELETE FROM dispatch_file WHERE id = %s", [gone_file])
        # An instruction with its states and tasks. Rows that name it elsewhere stay, as the
        # legacy data's orphans do: notifications lose their order (an optional reference),
        # the rows that require it (its order_files, say) are rejected.
        gone_instruction = _first(
            conn,
            "SELECT max(i.id) FROM dispatch_instruction i WHERE i.id < %s"
            " AND EXISTS (SELECT 1 FROM dispatch_state s WHERE s.instruction_id = i.id)"
            " AND EXISTS (SELECT 1 FROM dispatch_task t WHERE t.instruction_id = i.id)",
            instructions[0],
        )
        conn.execute("DELETE FROM dispatch_state WHERE instruction_id = %s", [gone_instruction])
        conn.execute("DELETE FROM dispatch_task WHERE instruction_id = %s", [gone_instruction])
        conn.execute("DELETE FROM dispatch_instruction WHERE id = %s", [gone_instruction])
        done["deleted"] = {
            "dispatch_notification": gone_notifications,
            "dispatch_task": gone_tasks,
            "dispatch_file": [gone_file],
            "dispatch_instruction": [gone_instruction],
        }
    return done


def churn(conninfo: str, share: float, seed: int = 1) -> dict[str, dict[str, int]]:
    """Changes `share` of the rows of each large table, spread over its key range: a third
    updated, a third deleted, a third inserted (copies of random rows). Returns the counts."""
    rng = random.Random(seed)
    counts: dict[str, dict[str, int]] = {}
    with psycopg.connect(conninfo, autocommit=False) as conn, conn.transaction():
        for table, change in LARGE_TABLES.items():
            ident = sql.Identifier(table)
            row = conn.execute(sql.SQL("SELECT count(*), max(id) FROM {}").format(ident))
            total, top = row.fetchone() or (0, 0)
            each = max(1, round(total * share / 3))
            picks = rng.sample(range(1, int(top) + 1), min(int(top), 2 * each))
            updated, deleted = picks[:each], picks[each:]
            conn.execute(
                sql.SQL("UPDATE {} SET {} WHERE id = ANY(%s)").format(ident, sql.SQL(change)),
                [updated],
            )
            conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(ident), [deleted])
            inserted = clone_many(conn, table, rng.sample(range(1, int(top) + 1), each))
            counts[table] = {
                "updated": len(updated),
                "deleted": len(deleted),
                "inserted": len(inserted),
            }
    return counts
