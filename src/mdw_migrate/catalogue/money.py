"""Money: sales_orders, purchases, payments, operations, offers, discounts, global_settings.

Every amount is copied as numeric, never through a float; the validator sums each money column
on both sides to the cent (rule 7).
"""

from __future__ import annotations

from ..engine.spec import Col, EntitySpec, Ref, Source, enum_cols
from .core import copied, doctor_ref, office_ref

PAYMENT_AMOUNTS = (
    "tax_rate",
    "tax_value",
    "paid_price",
    "used_credit",
    "custom_price",
    "subtotal_price",
    "additional_price",
    "total_price",
)

sales_orders = EntitySpec(
    name="sales_orders",
    description="sales_orders <- dispatch_order",
    source=Source.table(
        "dispatch_order", ("created_at", "doctor_id", "office_id", "patient_id", "course_id")
    ),
    target="sales_orders",
    legacy_column="legacy_order_id",
    refs=(
        doctor_ref(),
        office_ref(),
        Ref(
            name="patient",
            entity="patients",
            source="patient_id",
            column="patient_id",
            legacy_column="legacy_patient_id",
        ),
        Ref(
            name="course",
            entity="courses",
            source="course_id",
            column="course_id",
            legacy_column="legacy_course_id",
        ),
    ),
    columns=(copied("created_at"),),
)

# public.purchases.total_amount is numeric(14, 2): 12 digits before the point.
TOTAL_AMOUNT_LIMIT = 10**12

purchases = EntitySpec(
    name="purchases",
    description="purchases <- dispatch_purchase",
    source=Source(
        query="SELECT p.id, p.order_id, p.product_id, p.quantity, p.price,"
        " p.quantity * p.price AS total_amount FROM dispatch_purchase p",
        reads={"dispatch_purchase": ("id", "order_id", "product_id", "quantity", "price")},
        rows_of="dispatch_purchase",
    ),
    target="purchases",
    legacy_column="legacy_purchase_id",
    refs=(
        Ref(
            name="sales_order",
            entity="sales_orders",
            source="order_id",
            column="sales_order_id",
            required=True,
        ),
        Ref(
            name="product",
            entity="products",
            source="product_id",
            column="product_id",
            legacy_column="legacy_product_id",
        ),
    ),
    columns=(
        copied("quantity"),
        copied("unit_price", "price"),
        # quantity (int) x price (numeric(10,2)) can need 20 digits; the column has 14. A total
        # that does not fit is NULL with the computed value kept (rule 2), never a reject.
        Col(
            "total_amount",
            f"(CASE WHEN abs(s.total_amount) < {TOTAL_AMOUNT_LIMIT} THEN s.total_amount END)",
            raw="total_amount",
            issue="out_of_range",
        ),
    ),
    money=(("price", "unit_price"), ("total_amount", "total_amount")),
)

payments = EntitySpec(
    name="payments",
    description="payments <- dispatch_payment",
    source=Source.table(
        "dispatch_payment",
        (
            "made_at",
            "free",
            "paid",
            "canceled",
            "netsuite",
            *PAYMENT_AMOUNTS,
            "installments",
            "instruction_id",
            "doctor_id",
            "office_id",
            "order_id",
        ),
    ),
    target="payments",
    legacy_column="legacy_payment_id",
    refs=(
        Ref(
            name="order",
            entity="orders",
            source="instruction_id",
            column="order_id",
            legacy_column="legacy_instruction_id",
        ),
        doctor_ref(),
        office_ref(),
        Ref(
            name="sales_order",
            entity="sales_orders",
            source="order_id",
            column="sales_order_id",
            legacy_column="legacy_order_id",
        ),
    ),
    columns=(
        Col(
            "status",
            "(CASE WHEN s.canceled THEN 'cancelled' WHEN s.paid THEN 'completed'"
            " ELSE 'pending' END)::public.payment_status",
        ),
        copied("is_free", "free"),
        copied("netsuite"),
        *(copied(amount) for amount in PAYMENT_AMOUNTS),
        Col(
            "installments",
            "migration.try_jsonb(s.installments)",
            raw="installments",
            issue="invalid_json",
        ),
        copied("paid_at", "made_at"),
        copied("created_at", "made_at"),
    ),
    # tax_rate is a rate, copied exactly but not money: summing it means nothing.
    money=tuple((amount, amount) for amount in PAYMENT_AMOUNTS if amount != "tax_rate"),
)

operations = EntitySpec(
    name="operations",
    description="operations <- dispatch_operation",
    source=Source.table(
        "dispatch_operation",
        (
            "type",
            "made_at",
            "price",
            "sq_order_id",
            "sq_payment_id",
            "sq_refund_id",
            "card_brand",
            "card_bin",
            "card_last",
            "office_card",
            "payment_id",
            "attempts",
        ),
    ),
    target="operations",
    legacy_column="legacy_operation_id",
    refs=(
        Ref(
            name="payment",
            entity="payments",
            source="payment_id",
            column="payment_id",
            required=True,
        ),
    ),
    columns=(
        *enum_cols(
            "operation_type",
            "public.operation_type",
            "type",
            {1: "payment", 2: "refund"},
            legacy_column="legacy_type",
        ),
        copied("amount", "price"),
        copied("square_order_id", "sq_order_id"),
        copied("square_payment_id", "sq_payment_id"),
        copied("square_refund_id", "sq_refund_id"),
        copied("card_brand"),
        copied("card_bin"),
        copied("card_last_four", "card_last"),
        copied("office_card"),
        copied("attempts"),
        copied("processed_at", "made_at"),
        copied("created_at", "made_at"),
    ),
    money=(("price", "amount"),),
)

offers = EntitySpec(
    name="offers",
    description="offers <- dispatch_offer",
    source=Source.table(
        "dispatch_offer", ("doctor_id", "product_id", "price_both", "price_upper", "price_lower")
    ),
    target="offers",
    legacy_column="legacy_offer_id",
    refs=(
        Ref(name="doctor", entity="doctors", source="doctor_id", column="doctor_id", required=True),
        Ref(
            name="product",
            entity="products",
            source="product_id",
            column="product_id",
            legacy_column="legacy_product_id",
        ),
    ),
    columns=(copied("price_both"), copied("price_upper"), copied("price_lower")),
    money=(
        ("price_both", "price_both"),
        ("price_upper", "price_upper"),
        ("price_lower", "price_lower"),
    ),
)

discounts = EntitySpec(
    name="discounts",
    description="discounts <- dispatch_discount",
    source=Source.table(
        "dispatch_discount",
        ("offer_id", "percent", "reason", "count", "used", "start", "finish", "total"),
    ),
    target="discounts",
    legacy_column="legacy_discount_id",
    refs=(Ref(name="offer", entity="offers", source="offer_id", column="offer_id", required=True),),
    columns=(
        copied("percent"),
        copied("reason"),
        copied("max_uses", "count"),
        copied("used"),
        copied("valid_from", "start"),
        copied("valid_until", "finish"),
        copied("applies_to_total", "total"),
    ),
)

global_settings = EntitySpec(
    name="global_settings",
    description="global_settings <- dispatch_globalsetting",
    source=Source.table(
        "dispatch_globalsetting", ("setting", "version", "created_at", "updated_at")
    ),
    target="global_settings",
    legacy_column="legacy_globalsetting_id",
    columns=(
        Col("setting", "migration.try_jsonb(s.setting)", raw="setting", issue="invalid_json"),
        copied("version"),
        copied("created_at"),
        copied("updated_at"),
    ),
)

ENTITIES: tuple[EntitySpec, ...] = (
    sales_orders,
    purchases,
    payments,
    operations,
    offers,
    discounts,
    global_settings,
)
