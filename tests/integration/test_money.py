"""Money entities end to end: every amount to the cent, statuses, optional and required parents."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest

from mdw_migrate.catalogue import CATALOGUE
from mdw_migrate.catalogue.money import PAYMENT_AMOUNTS
from mdw_migrate.engine.validate import validate
from mdw_migrate.legacy.generator import GenerationReport, generate
from mdw_migrate.target import schema

from ..helpers import by_key, rows, run, scalar, uuids

MONEY = ["sales_orders", "purchases", "payments", "operations", "offers", "discounts",
         "global_settings"]  # fmt: skip


@pytest.fixture(scope="module")
def migrated(create_database: Callable[[str], str]) -> tuple[str, str, GenerationReport]:
    source = create_database("money_src")
    report = generate(source, scale=0.01, seed=21)
    target = create_database("money_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    for selection in ["orders-with-deps", "products", *MONEY]:
        run(source, target, selection, batch_size=500)
    return source, target, report


def test_every_money_entity_validates(migrated: tuple[str, str, GenerationReport]) -> None:
    source, target, _ = migrated
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        for name in MONEY:
            result = validate(CATALOGUE, name, s, t)
            assert result.passed, (name, [c for c in result.checks if c.status != "passed"])
            money = [c for c in result.checks if c.type == "money"]
            if name in {"payments", "purchases", "operations", "offers"}:
                assert money, name


def test_payments_field_by_field(migrated: tuple[str, str, GenerationReport]) -> None:
    source, target, report = migrated
    legacy = rows(source, "SELECT * FROM dispatch_payment")
    migrated_rows = by_key(rows(target, "SELECT * FROM payments"), "legacy_payment_id")
    orders = uuids(target, "orders", "legacy_instruction_id")
    doctors = uuids(target, "doctors", "legacy_user_id")
    sales = uuids(target, "sales_orders", "legacy_order_id")
    missing_order = 0
    for p in legacy:
        t = migrated_rows[p["id"]]
        for amount in PAYMENT_AMOUNTS:
            assert t[amount] == p[amount] and isinstance(t[amount], Decimal), (p["id"], amount)
        expected = "cancelled" if p["canceled"] else "completed" if p["paid"] else "pending"
        assert t["status"] == expected
        assert (t["is_free"], t["netsuite"], t["paid_at"]) == (
            p["free"],
            p["netsuite"],
            p["made_at"],
        )
        assert t["order_id"] == orders.get(p["instruction_id"])
        assert t["legacy_instruction_id"] == p["instruction_id"]
        missing_order += p["instruction_id"] is not None and t["order_id"] is None
        assert t["doctor_id"] == doctors.get(p["doctor_id"])
        assert t["sales_order_id"] == sales.get(p["order_id"])
    # A payment whose instruction is dangling keeps its legacy id and is not rejected.
    assert missing_order >= report.quirks["payment_instruction_missing"] >= 1
    for amount in PAYMENT_AMOUNTS:
        assert scalar(source, f"SELECT sum({amount}) FROM dispatch_payment") == scalar(
            target, f"SELECT sum({amount}) FROM payments"
        )


def test_purchases_totals_and_operations(migrated: tuple[str, str, GenerationReport]) -> None:
    source, target, _ = migrated
    purchases = by_key(rows(target, "SELECT * FROM purchases"), "legacy_purchase_id")
    outcomes = {
        r["legacy_id"]: r["reason_code"]
        for r in rows(target, "SELECT legacy_id, reason_code FROM migration.row_outcomes"
                      " WHERE entity = 'purchases'")
    }  # fmt: skip
    for p in rows(source, "SELECT * FROM dispatch_purchase"):
        if p["id"] in outcomes:
            assert outcomes[p["id"]] == "ORPHAN_SALES_ORDER"
            continue
        t = purchases[p["id"]]
        assert (t["quantity"], t["unit_price"]) == (p["quantity"], p["price"])
        assert t["total_amount"] == p["quantity"] * p["price"]
    operations = by_key(rows(target, "SELECT * FROM operations"), "legacy_operation_id")
    unknown = 0
    for o in rows(source, "SELECT * FROM dispatch_operation"):
        t = operations[o["id"]]
        assert t["amount"] == o["price"] and t["legacy_type"] == o["type"]
        assert t["operation_type"] == {1: "payment", 2: "refund"}.get(o["type"], "unknown")
        if o["type"] not in (1, 2):
            unknown += 1
            assert t["metadata"]["legacy_raw"]["type"] == o["type"]
        assert (t["card_brand"], t["card_bin"], t["card_last_four"]) == (
            o["card_brand"], o["card_bin"], o["card_last"],
        )  # fmt: skip
    assert unknown >= 1


def test_offers_and_discounts(migrated: tuple[str, str, GenerationReport]) -> None:
    source, target, _ = migrated
    offers = by_key(rows(target, "SELECT * FROM offers"), "legacy_offer_id")
    for o in rows(source, "SELECT * FROM dispatch_offer"):
        t = offers.get(o["id"])
        if t is None:
            assert (
                scalar(
                    target,
                    "SELECT reason_code FROM migration.row_outcomes"
                    " WHERE entity = 'offers' AND legacy_id = %s",
                    o["id"],
                )
                == "ORPHAN_DOCTOR"
            )
            continue
        assert (t["price_both"], t["price_upper"], t["price_lower"]) == (
            o["price_both"], o["price_upper"], o["price_lower"],
        )  # fmt: skip
    discounts = by_key(rows(target, "SELECT * FROM discounts"), "legacy_discount_id")
    for d in rows(source, "SELECT * FROM dispatch_discount"):
        t = discounts.get(d["id"])
        if t is None:
            continue
        assert (t["percent"], t["max_uses"], t["used"], t["valid_from"], t["valid_until"]) == (
            d["percent"], d["count"], d["used"], d["start"], d["finish"],
        )  # fmt: skip
        assert t["applies_to_total"] is d["total"] and t["reason"] == d["reason"]
    assert len(discounts) + scalar(
        target, "SELECT count(*) FROM migration.row_outcomes WHERE entity = 'discounts'"
    ) == scalar(source, "SELECT count(*) FROM dispatch_discount")


def test_a_total_too_large_for_its_column_is_null_with_the_value_kept(
    create_database: Callable[[str], str],
) -> None:
    """quantity x price can need 20 digits: a total that does not fit numeric(14, 2) migrates
    as NULL with the computed value kept (rule 2), and the purchase is not rejected."""
    source = create_database("overflow_src")
    generate(source, scale=0.002, seed=4)
    with psycopg.connect(source, autocommit=True) as conn:
        big = conn.execute(
            "INSERT INTO dispatch_purchase (order_id, product_id, quantity, price)"
            " SELECT order_id, product_id, 2000000000, 99999999.99 FROM dispatch_purchase"
            " WHERE id = (SELECT min(id) FROM dispatch_purchase) RETURNING id"
        ).fetchone()
        # A purchase of an order that does not exist: rejected, and its money must show.
        conn.execute(
            "INSERT INTO dispatch_purchase (order_id, product_id, quantity, price)"
            " VALUES (999999999, NULL, 3, 1000000.01)"
        )
    assert big is not None
    target = create_database("overflow_dst")
    with psycopg.connect(target, autocommit=True) as conn:
        schema.apply(conn)
    for selection in ["orders-with-deps", "products", "sales_orders", "purchases"]:
        run(source, target, selection, batch_size=500)
    row = rows(target, "SELECT * FROM purchases WHERE legacy_purchase_id = %s", big[0])
    assert row, "the purchase was rejected"
    assert row[0]["total_amount"] is None
    assert row[0]["unit_price"] == Decimal("99999999.99")
    kept = row[0]["metadata"]["legacy_raw"]["total_amount"]
    assert Decimal(str(kept)) == Decimal(2000000000) * Decimal("99999999.99")
    assert (
        scalar(
            target,
            "SELECT count(*) FROM migration.quality_issues WHERE entity = 'purchases'"
            " AND legacy_id = %s AND kind = 'out_of_range' AND column_name = 'total_amount'",
            big[0],
        )
        == 1
    )
    assert not rows(
        target,
        "SELECT 1 FROM migration.row_outcomes WHERE entity = 'purchases' AND legacy_id = %s",
        big[0],
    )
    # Reconciliation: source = target + rejected + excluded + kept raw, to the cent.
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        result = validate(CATALOGUE, "purchases", s, t)
    money = {c.details["column"]: c for c in result.checks if c.type == "money"}
    total = money["total_amount"]
    assert total.status == "passed", total.details
    assert Decimal(total.details["keptRawSum"]) == Decimal(kept)
    assert Decimal(total.details["rejectedSum"]) == Decimal("3000000.03")
    assert total.details["rejectedRows"] == 1
    assert Decimal(total.details["sourceSum"]) == Decimal(
        scalar(source, "SELECT sum(quantity * price) FROM dispatch_purchase")
    )
    assert Decimal(money["unit_price"].details["rejectedSum"]) == Decimal("1000000.01")
    assert total.details["difference"] == "0.00"

    # Money gone from a migrated row does not hide behind the rejected row's.
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            "UPDATE purchases SET unit_price = unit_price - 0.01"
            " WHERE id = (SELECT id FROM purchases ORDER BY id LIMIT 1)"
        )
    with psycopg.connect(source) as s, psycopg.connect(target, autocommit=True) as t:
        damaged = validate(CATALOGUE, "purchases", s, t)
    price = next(c for c in damaged.checks if c.details.get("column") == "unit_price")
    assert price.status == "failed" and price.details["difference"] == "-0.01"
