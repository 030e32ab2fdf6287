-- Core phase: offices, profiles, doctors, doctor_offices, patients.
DO $$ BEGIN
    CREATE TYPE public.profile_type AS ENUM ('patient', 'doctor', 'technician', 'admin', 'master', 'other');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.doctor_status AS ENUM ('active', 'inactive');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.patient_sex AS ENUM ('male', 'female', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.patient_status AS ENUM ('active', 'on_hold', 'in_treatment', 'retention',
        'completed', 'cancelled', 'transferred', 'consultation', 'archived', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS public.offices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    address text,
    apartment text,
    city text,
    state text,
    zip_code text,
    country char(2),
    phone text,
    tax_rate numeric(6, 4),
    is_active boolean,
    email_notifications boolean,
    square_customer_id text,
    legacy_office_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_type public.profile_type NOT NULL,
    email text,
    username text,
    first_name text,
    last_name text,
    is_active boolean,
    is_staff boolean,
    is_superuser boolean,
    password_hash text,
    last_login_at timestamptz,
    legacy_user_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS profiles_email ON public.profiles (email);

CREATE TABLE IF NOT EXISTS public.doctors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE RESTRICT,
    doctor_number text NOT NULL UNIQUE,
    primary_office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_primary_office_id bigint,
    status public.doctor_status NOT NULL,
    clinical_preferences text,
    square_customer_id text,
    credit numeric(10, 2),
    promised_payment boolean,
    installment_payments boolean,
    company_account boolean,
    tier_type integer,
    tier_finish date,
    baa_agreed_at timestamptz,
    eula_agreed_at timestamptz,
    legacy_user_id bigint NOT NULL UNIQUE,
    legacy_doctorsetting_id bigint UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS doctors_primary_office ON public.doctors (primary_office_id);

CREATE TABLE IF NOT EXISTS public.doctor_offices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    doctor_id uuid NOT NULL REFERENCES public.doctors (id) ON DELETE RESTRICT,
    office_id uuid NOT NULL REFERENCES public.offices (id) ON DELETE RESTRICT,
    is_primary boolean NOT NULL DEFAULT false,
    legacy_office_doctors_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (doctor_id, office_id)
);
CREATE INDEX IF NOT EXISTS doctor_offices_office ON public.doctor_offices (office_id);

CREATE TABLE IF NOT EXISTS public.patients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE RESTRICT,
    patient_number text NOT NULL UNIQUE,
    doctor_id uuid REFERENCES public.doctors (id) ON DELETE RESTRICT,
    legacy_doctor_user_id bigint,
    office_id uuid REFERENCES public.offices (id) ON DELETE RESTRICT,
    legacy_office_id bigint,
    date_of_birth date,
    sex public.patient_sex NOT NULL,
    legacy_sex smallint,
    suffix text,
    status public.patient_status NOT NULL,
    legacy_status smallint,
    archived boolean NOT NULL DEFAULT false,
    suspended boolean NOT NULL DEFAULT false,
    schemes jsonb,
    enrolled_at timestamptz,
    legacy_patient_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS patients_doctor ON public.patients (doctor_id);
CREATE INDEX IF NOT EXISTS patients_office ON public.patients (office_id);
