-- Workflow group: team_members, technicians, roles, role_permissions, technician_roles,
-- categories, templates, template_roles, template_view_groups, template_products,
-- template_predecessors, product_roles, product_successors.
-- public.teams and public.products come from step 003, public.profiles from step 002.
DO $$ BEGIN
    CREATE TYPE public.technician_status AS ENUM ('active', 'inactive');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.technician_role_type AS ENUM ('designing', 'manufacturing', 'sectioning',
        'remote', 'master', 'quality_control', 'unknown');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE public.template_role_access AS ENUM ('edit', 'view');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS public.team_members (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES public.teams (id) ON DELETE RESTRICT,
    profile_id uuid NOT NULL REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_user_groups_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, profile_id)
);
CREATE INDEX IF NOT EXISTS team_members_profile ON public.team_members (profile_id);

CREATE TABLE IF NOT EXISTS public.technicians (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    profile_id uuid NOT NULL UNIQUE REFERENCES public.profiles (id) ON DELETE RESTRICT,
    -- The legacy username, unique there.
    employee_id text NOT NULL UNIQUE,
    status public.technician_status NOT NULL,
    -- The auth_user_groups row (group Technician) the technician comes from.
    legacy_user_groups_id bigint,
    legacy_user_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    abbreviation text,
    legacy_type integer,
    sort_order integer,
    team_id uuid REFERENCES public.teams (id) ON DELETE RESTRICT,
    legacy_group_id bigint,
    user_id uuid REFERENCES public.profiles (id) ON DELETE RESTRICT,
    legacy_user_id bigint,
    legacy_role_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS roles_team ON public.roles (team_id);
CREATE INDEX IF NOT EXISTS roles_user ON public.roles (user_id);

-- auth_permission itself is archived (legacy_archive.auth_permission); its name and codename
-- are copied here, with the legacy permission id.
CREATE TABLE IF NOT EXISTS public.role_permissions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id uuid NOT NULL REFERENCES public.roles (id) ON DELETE RESTRICT,
    permission_name text NOT NULL,
    codename text NOT NULL,
    legacy_permission_id bigint NOT NULL,
    legacy_role_permissions_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (role_id, legacy_permission_id)
);

CREATE TABLE IF NOT EXISTS public.technician_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id uuid NOT NULL UNIQUE REFERENCES public.roles (id) ON DELETE RESTRICT,
    -- The role's user when that user is in group Technician, else NULL.
    technician_id uuid REFERENCES public.technicians (id) ON DELETE RESTRICT,
    legacy_technician_user_id bigint,
    role_type public.technician_role_type NOT NULL,
    legacy_role_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS technician_roles_technician ON public.technician_roles (technician_id);

-- parent_id is resolved after the last batch (a parent may have a higher legacy id).
CREATE TABLE IF NOT EXISTS public.categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    parent_id uuid REFERENCES public.categories (id) ON DELETE RESTRICT,
    legacy_parent_id bigint,
    legacy_category_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS categories_parent ON public.categories (parent_id);

CREATE TABLE IF NOT EXISTS public.templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text,
    action_name text,
    category_id uuid REFERENCES public.categories (id) ON DELETE RESTRICT,
    legacy_category_id bigint,
    is_active boolean NOT NULL,
    estimated_duration_minutes integer,
    legacy_template_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS templates_category ON public.templates (category_id);

-- One table for dispatch_template_edit_roles and dispatch_template_view_roles, whose ids
-- overlap: legacy_access names the legacy table (dispatch_template_<legacy_access>_roles),
-- legacy_template_roles_id the row in it, and legacy_template_roles_key is the migration key
-- (the id for edit roles, 2^32 + the id for view roles).
CREATE TABLE IF NOT EXISTS public.template_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    role_id uuid NOT NULL REFERENCES public.roles (id) ON DELETE RESTRICT,
    access public.template_role_access NOT NULL,
    legacy_access text NOT NULL CHECK (legacy_access IN ('edit', 'view')),
    legacy_template_roles_id bigint NOT NULL,
    legacy_template_roles_key bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (template_id, role_id, access),
    UNIQUE (legacy_access, legacy_template_roles_id)
);
CREATE INDEX IF NOT EXISTS template_roles_role ON public.template_roles (role_id);

CREATE TABLE IF NOT EXISTS public.template_view_groups (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    team_id uuid NOT NULL REFERENCES public.teams (id) ON DELETE RESTRICT,
    legacy_template_view_groups_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (template_id, team_id)
);
CREATE INDEX IF NOT EXISTS template_view_groups_team ON public.template_view_groups (team_id);

CREATE TABLE IF NOT EXISTS public.template_products (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_template_products_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (template_id, product_id)
);
CREATE INDEX IF NOT EXISTS template_products_product ON public.template_products (product_id);

CREATE TABLE IF NOT EXISTS public.template_predecessors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    from_template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    to_template_id uuid NOT NULL REFERENCES public.templates (id) ON DELETE RESTRICT,
    legacy_template_predecessors_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (from_template_id, to_template_id)
);
CREATE INDEX IF NOT EXISTS template_predecessors_to
    ON public.template_predecessors (to_template_id);

CREATE TABLE IF NOT EXISTS public.product_roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
    role_id uuid NOT NULL REFERENCES public.roles (id) ON DELETE RESTRICT,
    legacy_product_roles_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, role_id)
);
CREATE INDEX IF NOT EXISTS product_roles_role ON public.product_roles (role_id);

CREATE TABLE IF NOT EXISTS public.product_successors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    from_product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
    to_product_id uuid NOT NULL REFERENCES public.products (id) ON DELETE RESTRICT,
    legacy_product_successors_id bigint NOT NULL UNIQUE,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (from_product_id, to_product_id)
);
CREATE INDEX IF NOT EXISTS product_successors_to ON public.product_successors (to_product_id);
