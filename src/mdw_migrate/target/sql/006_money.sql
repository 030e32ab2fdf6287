-- Money: sales_orders, purchases, payments, operations, offers, discounts, global_settings.
-- Every amount is numeric end to end (rule 7).
DO $$ BEGIN
    CREATE TYPE public.payment_status AS ENUM ('pending', 'completed', 'cancelled');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.operation_type AS ENUM ('payment', 'refund', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS public.sales_orders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    doctor_id uuid REFERENCES public.doctors (id) ON DELETE RESTRICT,
    legacy_doctor_user_id bigint,
    office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_office_id bigint,
    patient_id uuid REFERENCES public.patients (id) ON DELETE RESTRICT,
    legacy_patient_id bigint,
    course_id uuid REFERENCES public.courses (id) ON DELETE RESTRICT,
    legacy_course_id bigint,
    legacy_order_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sales_orders_doctor ON public.sales_orders (doctor_id);
CREATE INDEX IF NOT EXISTS sales_orders_office ON public.sales_orders (office_id);
CREATE INDEX IF NOT EXISTS sales_orders_patient ON public.sales_orders (patient_id);
CREATE INDEX IF NOT EXISTS sales_orders_course ON public.sales_orders (course_id);

CREATE TABLE IF NOT EXISTS public.purchases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sales_order_id uuid NOT NULL REFERENCES public.sales_orders (id) ON DELETE RESTRICT,
    product_id uuid REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_product_id bigint,
    quantity integer,
    unit_price numeric(10, 2),
    -- quantity x unit_price: wider than one price, so a large quantity cannot overflow it.
    total_amount numeric(14, 2),
    legacy_purchase_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS purchases_sales_order ON public.purchases (sales_order_id);
CREATE INDEX IF NOT EXISTS purchases_product ON public.purchases (product_id);

CREATE TABLE IF NOT EXISTS public.payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id uuid REFERENCES public.orders (id) ON DELETE RESTRICT,
    legacy_instruction_id bigint,
    doctor_id uuid REFERENCES public.doctors (id) ON DELETE RESTRICT,
    legacy_doctor_user_id bigint,
    office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_office_id bigint,
    sales_order_id uuid REFERENCES public.sales_orders (id) ON DELETE RESTRICT,
    legacy_order_id bigint,
    status public.payment_status NOT NULL,
    is_free boolean,
    netsuite boolean,
    tax_rate numeric(6, 4),
    tax_value numeric(10, 2),
    paid_price numeric(10, 2),
    used_credit numeric(10, 2),
    custom_price numeric(10, 2),
    subtotal_price numeric(10, 2),
    additional_price numeric(10, 2),
    total_price numeric(10, 2),
    installments jsonb,
    paid_at timestamptz,
    legacy_payment_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_order ON public.payments (order_id);
CREATE INDEX IF NOT EXISTS payments_doctor ON public.payments (doctor_id);
CREATE INDEX IF NOT EXISTS payments_office ON public.payments (office_id);
CREATE INDEX IF NOT EXISTS payments_sales_order ON public.payments (sales_order_id);

CREATE TABLE IF NOT EXISTS public.operations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id uuid NOT NULL REFERENCES public.payments (id) ON DELETE RESTRICT,
    operation_type public.operation_type NOT NULL,
    legacy_type smallint,
    amount numeric(10, 2),
    square_order_id text,
    square_payment_id text,
    square_refund_id text,
    card_brand text,
    card_bin text,
    card_last_four text,
    office_card boolean,
    attempts integer,
    processed_at timestamptz,
    legacy_operation_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS operations_payment ON public.operations (payment_id);

CREATE TABLE IF NOT EXISTS public.offers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    doctor_id uuid NOT NULL REFERENCES public.doctors (id) ON DELETE RESTRICT,
    product_id uuid REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_product_id bigint,
    price_both numeric(10, 2),
    price_upper numeric(10, 2),
    price_lower numeric(10, 2),
    legacy_offer_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS offers_doctor ON public.offers (doctor_id);
CREATE INDEX IF NOT EXISTS offers_product ON public.offers (product_id);

CREATE TABLE IF NOT EXISTS public.discounts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offer_id uuid NOT NULL REFERENCES public.offers (id) ON DELETE RESTRICT,
    percent numeric(5, 2),
    reason text,
    max_uses integer,
    used integer,
    valid_from date,
    valid_until date,
    applies_to_total boolean,
    legacy_discount_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS discounts_offer ON public.discounts (offer_id);

CREATE TABLE IF NOT EXISTS public.global_settings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    setting jsonb,
    version integer,
    legacy_globalsetting_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz
);
