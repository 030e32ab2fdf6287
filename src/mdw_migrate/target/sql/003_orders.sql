-- Orders group: courses, products, teams, orders, jaws, cases, order_cases, order_states,
-- projects, treatment_plans, brackets.
DO $$ BEGIN
    CREATE TYPE public.course_type AS ENUM ('main', 'refinement', 'replacement', 'any', 'invoice',
        'merchandise', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.order_status AS ENUM ('no_product', 'submitted', 'approved', 'in_production',
        'shipped', 'cancelled', 'on_hold', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.jaw_type AS ENUM ('upper', 'lower', 'unassigned');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.jaw_replacement_reason AS ENUM ('breakage', 'other', 'complete', 'none',
        'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.order_state_status_name AS ENUM ('review_approval', 'processing',
        'manufacturing', 'shipped', 'delivered', 'completed', 'cancelled', 'on_hold', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.project_type AS ENUM ('stl_upper', 'stl_lower', 'clinical_photo',
        'treatment_plan', 'xray', 'cbct_scan', 'simulation', 'aligner_design', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.project_status AS ENUM ('draft', 'in_progress', 'completed', 'archived',
        'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS public.courses (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    -- By the legacy id (the id is the code, kept in legacy_course_id).
    course_type public.course_type NOT NULL,
    legacy_type integer,
    customization jsonb,
    legacy_course_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.products (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    description text,
    course_id uuid REFERENCES public.courses (id) ON DELETE RESTRICT,
    legacy_course_id bigint,
    is_free boolean,
    is_substitute boolean,
    deleted boolean NOT NULL DEFAULT false,
    legacy_type integer,
    customization jsonb,
    legacy_product_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_course ON public.products (course_id);

CREATE TABLE IF NOT EXISTS public.teams (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    legacy_group_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.orders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_number text NOT NULL UNIQUE,
    patient_id uuid NOT NULL REFERENCES public.patients (id) ON DELETE RESTRICT,
    doctor_id uuid REFERENCES public.doctors (id) ON DELETE RESTRICT,
    legacy_doctor_user_id bigint,
    office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_office_id bigint,
    course_id uuid REFERENCES public.courses (id) ON DELETE RESTRICT,
    legacy_course_id bigint,
    status public.order_status NOT NULL,
    legacy_status smallint,
    amount numeric(10, 2),
    notes text,
    complaint text,
    suffix text,
    exports jsonb,
    clinical jsonb NOT NULL DEFAULT '{}',
    submitted_at timestamptz,
    approved_at timestamptz,
    shipped_at timestamptz,
    deleted boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    -- Jaws point at their order (jaws.order_id); the legacy pointers are kept for tracing.
    legacy_upper_jaw_id bigint,
    legacy_lower_jaw_id bigint,
    legacy_instruction_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS orders_patient ON public.orders (patient_id);
CREATE INDEX IF NOT EXISTS orders_doctor ON public.orders (doctor_id);
CREATE INDEX IF NOT EXISTS orders_office ON public.orders (office_id);
CREATE INDEX IF NOT EXISTS orders_course ON public.orders (course_id);

CREATE TABLE IF NOT EXISTS public.jaws (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id uuid REFERENCES public.orders (id) ON DELETE RESTRICT,
    legacy_instruction_id bigint,
    jaw_type public.jaw_type NOT NULL,
    product_id uuid REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_product_id bigint,
    bond_teeth text,
    extract_teeth text,
    labial boolean,
    replacement_reason public.jaw_replacement_reason NOT NULL,
    legacy_reason smallint,
    legacy_jaw_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jaws_order ON public.jaws (order_id);
CREATE INDEX IF NOT EXISTS jaws_product ON public.jaws (product_id);

CREATE TABLE IF NOT EXISTS public.cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_number text NOT NULL UNIQUE,
    patient_id uuid NOT NULL UNIQUE REFERENCES public.patients (id) ON DELETE RESTRICT,
    doctor_id uuid REFERENCES public.doctors (id) ON DELETE RESTRICT,
    legacy_doctor_user_id bigint,
    office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_office_id bigint,
    status public.patient_status NOT NULL,
    legacy_status smallint,
    legacy_patient_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS cases_doctor ON public.cases (doctor_id);
CREATE INDEX IF NOT EXISTS cases_office ON public.cases (office_id);

CREATE TABLE IF NOT EXISTS public.order_cases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id uuid NOT NULL UNIQUE REFERENCES public.orders (id) ON DELETE RESTRICT,
    case_id uuid NOT NULL REFERENCES public.cases (id) ON DELETE RESTRICT,
    legacy_instruction_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_cases_case ON public.order_cases (case_id);

CREATE TABLE IF NOT EXISTS public.order_states (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id uuid NOT NULL REFERENCES public.orders (id) ON DELETE RESTRICT,
    status_code integer NOT NULL,
    status_name public.order_state_status_name NOT NULL,
    is_active boolean,
    changed_by uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_changed_by_user_id bigint,
    changed_at timestamptz,
    legacy_state_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_states_order ON public.order_states (order_id);
CREATE INDEX IF NOT EXISTS order_states_changed_by ON public.order_states (changed_by);

CREATE TABLE IF NOT EXISTS public.projects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    creator_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_creator_user_id bigint,
    project_type public.project_type NOT NULL,
    legacy_type smallint,
    status public.project_status NOT NULL,
    legacy_status smallint,
    file_uid text,
    file_size_bytes bigint,
    is_public boolean,
    legacy_project_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_creator ON public.projects (creator_id);

CREATE TABLE IF NOT EXISTS public.treatment_plans (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE RESTRICT,
    order_id uuid REFERENCES public.orders (id) ON DELETE RESTRICT,
    legacy_instruction_id bigint,
    plan_number integer,
    plan_name text,
    plan_notes text,
    is_original boolean,
    legacy_plan_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS treatment_plans_project ON public.treatment_plans (project_id);
CREATE INDEX IF NOT EXISTS treatment_plans_order ON public.treatment_plans (order_id);

CREATE TABLE IF NOT EXISTS public.brackets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE RESTRICT,
    name text,
    legacy_type integer,
    legacy_bracket_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS brackets_project ON public.brackets (project_id);
