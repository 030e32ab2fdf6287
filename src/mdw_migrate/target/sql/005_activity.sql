-- Activity: files, order_files, case_files, tasks, messages, team_communications,
-- message_attachments, message_roles, treatment_discussions, customer_feedback, doctor_notes,
-- system_messages. Runs after 003_orders and 004_workflow (it references their tables).
DO $$ BEGIN
    CREATE TYPE public.order_file_category AS ENUM ('scan', 'image', 'document', 'package', 'other');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.case_file_purpose AS ENUM ('photos', 'models', 'treatment_plan',
        'instruction_files', 'other');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.task_status AS ENUM ('pending', 'in_progress', 'completed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
-- One map of dispatch_record.type, shared by messages and team_communications.
DO $$ BEGIN
    CREATE TYPE public.message_type AS ENUM ('support', 'clinical_note', 'notification',
        'status_update', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.message_attachment_source AS ENUM ('record_attachments', 'file_record_id');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.feedback_type AS ENUM ('complaint', 'question', 'praise', 'other');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.feedback_severity AS ENUM ('low', 'high', 'critical');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- Every dispatch_file row.
CREATE TABLE IF NOT EXISTS public.files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_uid text,
    filename text,
    file_type text,
    mime_type text NOT NULL,
    size_bytes bigint,
    legacy_type integer,
    status integer,
    order_id uuid REFERENCES public.orders (id) ON DELETE RESTRICT,
    legacy_instruction_id bigint,
    product_id uuid REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_product_id bigint,
    parameters jsonb,
    description text,
    uploaded_at timestamptz,
    -- dispatch_file.record_id: the message the file is attached to (see message_attachments).
    legacy_record_id bigint,
    legacy_file_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS files_order ON public.files (order_id);
CREATE INDEX IF NOT EXISTS files_product ON public.files (product_id);

-- One row per file that has an order (derived from files: legacy_file_id).
CREATE TABLE IF NOT EXISTS public.order_files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id uuid NOT NULL UNIQUE REFERENCES public.files (id) ON DELETE RESTRICT,
    order_id uuid NOT NULL REFERENCES public.orders (id) ON DELETE RESTRICT,
    category public.order_file_category NOT NULL,
    legacy_type integer,
    legacy_file_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_files_order ON public.order_files (order_id);

-- One row per file whose order's patient has a case (derived from files: legacy_file_id).
CREATE TABLE IF NOT EXISTS public.case_files (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_id uuid NOT NULL UNIQUE REFERENCES public.files (id) ON DELETE RESTRICT,
    case_id uuid NOT NULL REFERENCES public.cases (id) ON DELETE RESTRICT,
    file_purpose public.case_file_purpose NOT NULL,
    legacy_type integer,
    legacy_file_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS case_files_case ON public.case_files (case_id);

CREATE TABLE IF NOT EXISTS public.tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id uuid NOT NULL REFERENCES public.orders (id) ON DELETE RESTRICT,
    template_id uuid REFERENCES public.templates (id) ON DELETE RESTRICT,
    legacy_template_id bigint,
    assigned_to uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_assigned_user_id bigint,
    file_id uuid REFERENCES public.files (id) ON DELETE RESTRICT,
    legacy_file_id bigint,
    treatment_plan_id uuid REFERENCES public.treatment_plans (id) ON DELETE RESTRICT,
    legacy_plan_id bigint,
    description text,
    status public.task_status NOT NULL,
    checked boolean,
    completed_at timestamptz,
    jaw integer,
    legacy_task_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tasks_order ON public.tasks (order_id);
CREATE INDEX IF NOT EXISTS tasks_template ON public.tasks (template_id);
CREATE INDEX IF NOT EXISTS tasks_assigned_to ON public.tasks (assigned_to);
CREATE INDEX IF NOT EXISTS tasks_file ON public.tasks (file_id);
CREATE INDEX IF NOT EXISTS tasks_treatment_plan ON public.tasks (treatment_plan_id);

-- dispatch_record aimed at a patient (content type dispatch.patient).
CREATE TABLE IF NOT EXISTS public.messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id uuid NOT NULL REFERENCES public.patients (id) ON DELETE RESTRICT,
    author_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_author_user_id bigint,
    message_type public.message_type NOT NULL,
    legacy_type smallint,
    body text,
    is_public boolean,
    -- dispatch_record.group_id: the spec gives messages no team, the legacy id is kept.
    legacy_group_id bigint,
    legacy_record_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_patient ON public.messages (patient_id);
CREATE INDEX IF NOT EXISTS messages_author ON public.messages (author_id);

-- Every other dispatch_record: aimed at a user, at any other content type, or at none.
CREATE TABLE IF NOT EXISTS public.team_communications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recipient_profile_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_recipient_user_id bigint,
    -- 'app_label.model' of the record's content type (NULL when it has none, or when its id is
    -- not in django_content_type: that id is then kept in metadata.legacy_raw.target_type_id).
    legacy_target_type text,
    legacy_target_id bigint,
    team_id uuid REFERENCES public.teams (id) ON DELETE RESTRICT,
    legacy_group_id bigint,
    author_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_author_user_id bigint,
    message_type public.message_type NOT NULL,
    legacy_type smallint,
    body text,
    is_public boolean,
    legacy_record_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS team_communications_recipient
    ON public.team_communications (recipient_profile_id);
CREATE INDEX IF NOT EXISTS team_communications_team ON public.team_communications (team_id);
CREATE INDEX IF NOT EXISTS team_communications_author ON public.team_communications (author_id);

-- dispatch_record_attachments UNION dispatch_file.record_id: one row per (record, file).
-- legacy_attachment_id is the union's key: dispatch_record_attachments.id, or
-- 4294967296 + dispatch_file.id for a link held only by dispatch_file.record_id.
CREATE TABLE IF NOT EXISTS public.message_attachments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid REFERENCES public.messages (id) ON DELETE RESTRICT,
    team_communication_id uuid REFERENCES public.team_communications (id) ON DELETE RESTRICT,
    file_id uuid NOT NULL REFERENCES public.files (id) ON DELETE RESTRICT,
    link_source public.message_attachment_source NOT NULL,
    legacy_record_id bigint NOT NULL,
    legacy_file_id bigint NOT NULL,
    legacy_attachment_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT message_attachments_one_holder
        CHECK (num_nonnulls(message_id, team_communication_id) = 1),
    UNIQUE (message_id, file_id),
    UNIQUE (team_communication_id, file_id)
);
CREATE INDEX IF NOT EXISTS message_attachments_team_communication
    ON public.message_attachments (team_communication_id);
CREATE INDEX IF NOT EXISTS message_attachments_file ON public.message_attachments (file_id);

CREATE TABLE IF NOT EXISTS public.message_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id uuid REFERENCES public.messages (id) ON DELETE RESTRICT,
    team_communication_id uuid REFERENCES public.team_communications (id) ON DELETE RESTRICT,
    role_id uuid NOT NULL REFERENCES public.roles (id) ON DELETE RESTRICT,
    legacy_record_id bigint NOT NULL,
    legacy_record_roles_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT message_roles_one_holder
        CHECK (num_nonnulls(message_id, team_communication_id) = 1),
    UNIQUE (message_id, role_id),
    UNIQUE (team_communication_id, role_id)
);
CREATE INDEX IF NOT EXISTS message_roles_team_communication
    ON public.message_roles (team_communication_id);
CREATE INDEX IF NOT EXISTS message_roles_role ON public.message_roles (role_id);

CREATE TABLE IF NOT EXISTS public.treatment_discussions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    treatment_plan_id uuid NOT NULL REFERENCES public.treatment_plans (id) ON DELETE RESTRICT,
    author_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_author_user_id bigint,
    -- The case of the plan's order's patient; legacy_patient_id is that patient's legacy id.
    case_id uuid REFERENCES public.cases (id) ON DELETE RESTRICT,
    legacy_patient_id bigint,
    body text,
    legacy_comment_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS treatment_discussions_plan
    ON public.treatment_discussions (treatment_plan_id);
CREATE INDEX IF NOT EXISTS treatment_discussions_author ON public.treatment_discussions (author_id);
CREATE INDEX IF NOT EXISTS treatment_discussions_case ON public.treatment_discussions (case_id);

-- Derived from the discussions written by doctors (legacy_comment_id); the text stays in
-- treatment_discussions.body.
CREATE TABLE IF NOT EXISTS public.customer_feedback (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    discussion_id uuid NOT NULL UNIQUE REFERENCES public.treatment_discussions (id)
        ON DELETE RESTRICT,
    doctor_id uuid NOT NULL REFERENCES public.doctors (id) ON DELETE RESTRICT,
    feedback_type public.feedback_type NOT NULL,
    severity public.feedback_severity NOT NULL,
    legacy_comment_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customer_feedback_doctor ON public.customer_feedback (doctor_id);

CREATE TABLE IF NOT EXISTS public.doctor_notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    doctor_id uuid NOT NULL REFERENCES public.doctors (id) ON DELETE RESTRICT,
    author_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_author_user_id bigint,
    body text,
    legacy_note_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS doctor_notes_doctor ON public.doctor_notes (doctor_id);
CREATE INDEX IF NOT EXISTS doctor_notes_author ON public.doctor_notes (author_id);

-- Every dispatch_notification row, sent or not.
CREATE TABLE IF NOT EXISTS public.system_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    recipient_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_recipient_user_id bigint,
    template_name text,
    sender text,
    context jsonb,
    -- Set when the item is an instruction (content type dispatch.instruction) that migrated.
    order_id uuid REFERENCES public.orders (id) ON DELETE RESTRICT,
    -- 'app_label.model' of the item's content type (NULL when it has none, or when its id is
    -- not in django_content_type: that id is then kept in metadata.legacy_raw.item_type_id).
    legacy_item_type text,
    legacy_item_id bigint,
    is_read boolean,
    sent boolean,
    send boolean,
    legacy_notification_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS system_messages_recipient ON public.system_messages (recipient_id);
CREATE INDEX IF NOT EXISTS system_messages_order ON public.system_messages (order_id);
