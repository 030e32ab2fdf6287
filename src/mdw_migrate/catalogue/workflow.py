"""Workflow: team members, technicians, roles and their permissions, technician roles,
categories, templates and the template and product junctions.

Each entity follows `../shared/spec/mapping.md` ("Entity rules"); decisions the spec leaves
open are written in docs/DECISIONS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..engine.spec import Col, EntitySpec, Issue, Ref, Rule, SelfRef, Source, computed

# -- Technician role classification ----------------------------------------------------------


@dataclass(frozen=True)
class RoleTypeRule:
    """One role type and the whole words that name it.

    `abbreviations` are read in the role's abbreviation only (two letters such as 'ST' would
    be too ambiguous in a name); `words` are read in the role's name. Matching is
    case-insensitive and whole-word: 'master' matches 'Master Technician', not 'Mastercard'
    or 'remaster'. A word may be a phrase ('quality control'): any run of spaces matches.
    """

    role_type: str
    abbreviations: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


# First match wins: every abbreviation rule, in this order, then every name rule, in this
# order. An abbreviation is a deliberate code, so it outranks the name; among names, 'remote'
# outranks the kind of work ('Remote Design Technician' is remote, as DTR says).
ROLE_TYPE_RULES: tuple[RoleTypeRule, ...] = (
    RoleTypeRule("remote", abbreviations=("RT", "DTR"), words=("remote",)),
    RoleTypeRule("quality_control", abbreviations=("QC",), words=("quality control", "qc")),
    RoleTypeRule("master", abbreviations=("master",), words=("master",)),
    RoleTypeRule(
        "designing",
        abbreviations=("DT",),
        words=("design", "designs", "designer", "designers", "designing"),
    ),
    RoleTypeRule(
        "manufacturing",
        abbreviations=("MT",),
        words=("manufacturing", "manufacture", "manufacturer", "manufacturers"),
    ),
    RoleTypeRule(
        "sectioning",
        abbreviations=("ST", "IDB"),
        words=("sectioning", "section", "sections", "sectioner", "idb"),
    ),
)
# The members of public.technician_role_type, in the order of the DDL.
ROLE_TYPES: tuple[str, ...] = (
    "designing",
    "manufacturing",
    "sectioning",
    "remote",
    "master",
    "quality_control",
    "unknown",
)
_KEYWORD = re.compile(r"[A-Za-z0-9]+( [A-Za-z0-9]+)*")


def _whole_words(keywords: tuple[str, ...]) -> str:
    """A PostgreSQL regular expression (ARE) matching any keyword as a whole word."""
    for keyword in keywords:
        # Letters, digits and single spaces only: nothing to escape, in SQL or in the regex.
        if not _KEYWORD.fullmatch(keyword):
            raise ValueError(f"role keyword {keyword!r}: letters, digits and spaces only")
    alternatives = "|".join(k.lower().replace(" ", r"\s+") for k in keywords)
    return rf"\m({alternatives})\M"


def role_type_sql(abbreviation: str, name: str) -> str:
    """One CASE over two SQL text expressions giving the role type (as text), set-based.

    `~*` is case-insensitive; `\\m` and `\\M` anchor at the start and end of a word (a word
    being letters, digits and underscores), so 'DT-N' holds the word DT and 'Mastercard'
    does not hold 'master'. NULL text matches nothing.
    """
    whens = []
    for source, attribute in ((abbreviation, "abbreviations"), (name, "words")):
        for rule in ROLE_TYPE_RULES:
            keywords: tuple[str, ...] = getattr(rule, attribute)
            if keywords:
                whens.append(
                    f"WHEN ({source}) ~* '{_whole_words(keywords)}' THEN '{rule.role_type}'"
                )
    return "(CASE " + " ".join(whens) + " ELSE 'unknown' END)"


# -- Shared pieces ---------------------------------------------------------------------------


@dataclass(frozen=True)
class End:
    """One key of a junction: the legacy column, the parent entity, the target column."""

    ref: str
    entity: str
    source: str
    column: str


def _duplicate_of_lower_id(table: str, alias: str, columns: tuple[str, ...]) -> str:
    """EXISTS a row of `table` with the same values in `columns` and a lower id (indexed)."""
    if alias == "earlier":
        raise ValueError("the outer alias must differ from the subquery's")
    same = " AND ".join(f"earlier.{c} = {alias}.{c}" for c in columns)
    return f"EXISTS (SELECT 1 FROM {table} earlier WHERE {same} AND earlier.id < {alias}.id)"


def junction(
    name: str, table: str, target: str, legacy_column: str, left: End, right: End
) -> EntitySpec:
    """A two-key junction: both keys required (ORPHAN_<ref> otherwise), one target row per
    pair; a later row repeating a pair is excluded as DUPLICATE_LINK."""
    pair = (left.source, right.source)
    return EntitySpec(
        name=name,
        description=f"{target} <- {table}",
        source=Source(
            query=f"""
            SELECT j.id, j.{left.source}, j.{right.source},
                   {_duplicate_of_lower_id(table, "j", pair)} AS is_duplicate
              FROM {table} j""",
            reads={table: ("id", *pair)},
        ),
        target=target,
        legacy_column=legacy_column,
        refs=(
            Ref(
                name=left.ref,
                entity=left.entity,
                source=left.source,
                column=left.column,
                required=True,
            ),
            Ref(
                name=right.ref,
                entity=right.entity,
                source=right.source,
                column=right.column,
                required=True,
            ),
        ),
        columns=(),
        rules=(Rule("DUPLICATE_LINK", "s.is_duplicate"),),
    )


# -- Teams and people ------------------------------------------------------------------------

team_members = EntitySpec(
    name="team_members",
    description="team_members <- auth_user_groups",
    source=Source(
        query=f"""
        SELECT ug.id, ug.user_id, ug.group_id,
               {_duplicate_of_lower_id("auth_user_groups", "ug", ("user_id", "group_id"))}
                   AS is_duplicate
          FROM auth_user_groups ug""",
        reads={"auth_user_groups": ("id", "user_id", "group_id")},
    ),
    target="team_members",
    legacy_column="legacy_user_groups_id",
    refs=(
        Ref(name="team", entity="teams", source="group_id", column="team_id", required=True),
        Ref(
            name="profile", entity="profiles", source="user_id", column="profile_id", required=True
        ),
    ),
    columns=(),
    # auth_user_groups is unique (user, group) in Django; a database without the constraint
    # could repeat a pair, and team_members is unique (team, profile).
    rules=(Rule("DUPLICATE_LINK", "s.is_duplicate"),),
)

TECHNICIAN_GROUP = "Technician"

# One row per membership of group Technician (unique per user): a membership whose user does
# not exist is rejected ORPHAN_PROFILE, so every technician membership is accounted for.
technicians = EntitySpec(
    name="technicians",
    description="technicians <- users of group Technician",
    source=Source(
        query=f"""
        SELECT ug.user_id, ug.id AS user_groups_id, u.username, u.is_active
          FROM auth_user_groups ug
          JOIN auth_group g ON g.id = ug.group_id AND g.name = '{TECHNICIAN_GROUP}'
          LEFT JOIN auth_user u ON u.id = ug.user_id""",
        key="user_id",
        reads={
            "auth_user_groups": ("id", "user_id", "group_id"),
            "auth_group": ("id", "name"),
            "auth_user": ("id", "username", "is_active"),
        },
    ),
    target="technicians",
    legacy_column="legacy_user_id",
    refs=(
        Ref(
            name="profile", entity="profiles", source="user_id", column="profile_id", required=True
        ),
    ),
    columns=(
        Col("employee_id", "s.username"),
        Col(
            "status",
            "(CASE WHEN s.is_active THEN 'active' ELSE 'inactive' END)::public.technician_status",
        ),
        Col("legacy_user_groups_id", "s.user_groups_id"),
    ),
)

roles = EntitySpec(
    name="roles",
    description="roles <- dispatch_role",
    source=Source.table(
        "dispatch_role", ("name", "abbrev", "type", "order", "user_id", "group_id")
    ),
    target="roles",
    legacy_column="legacy_role_id",
    refs=(
        Ref(
            name="team",
            entity="teams",
            source="group_id",
            column="team_id",
            legacy_column="legacy_group_id",
        ),
        Ref(
            name="user",
            entity="profiles",
            source="user_id",
            column="user_id",
            legacy_column="legacy_user_id",
        ),
    ),
    columns=(
        Col("name", "s.name"),
        Col("abbreviation", "s.abbrev"),
        Col("legacy_type", "s.type"),
        Col("sort_order", 's."order"'),
    ),
)

_ROLE_PERMISSION_DUPLICATE = _duplicate_of_lower_id(
    "dispatch_role_permissions", "rp", ("role_id", "permission_id")
)

role_permissions = EntitySpec(
    name="role_permissions",
    description="role_permissions <- dispatch_role_permissions + auth_permission",
    source=Source(
        query=f"""
        SELECT rp.id, rp.role_id, rp.permission_id, p.id IS NOT NULL AS permission_exists,
               p.name AS permission_name, p.codename, ct.app_label, ct.model,
               {_ROLE_PERMISSION_DUPLICATE} AS is_duplicate
          FROM dispatch_role_permissions rp
          LEFT JOIN auth_permission p ON p.id = rp.permission_id
          LEFT JOIN django_content_type ct ON ct.id = p.content_type_id""",
        reads={
            "dispatch_role_permissions": ("id", "role_id", "permission_id"),
            "auth_permission": ("id", "name", "codename", "content_type_id"),
            "django_content_type": ("id", "app_label", "model"),
        },
    ),
    target="role_permissions",
    legacy_column="legacy_role_permissions_id",
    refs=(Ref(name="role", entity="roles", source="role_id", column="role_id", required=True),),
    columns=(
        Col("permission_name", "s.permission_name"),
        Col("codename", "s.codename"),
        Col("legacy_permission_id", "s.permission_id"),
    ),
    rules=(
        # Both keys are required; auth_permission is no entity, so the rule checks it.
        Rule("ORPHAN_PERMISSION", "NOT s.permission_exists", outcome="rejected"),
        Rule("DUPLICATE_LINK", "s.is_duplicate"),
    ),
    # Django names a permission by app label and codename: keep the content type with it.
    metadata="jsonb_strip_nulls(jsonb_build_object('app_label', s.app_label, 'model', s.model))",
)

technician_roles = EntitySpec(
    name="technician_roles",
    description="technician_roles <- dispatch_role of group Technician",
    source=Source(
        query=f"""
        SELECT r.id, r.name, r.abbrev, r.user_id,
               CASE WHEN EXISTS (SELECT 1 FROM auth_user_groups ug
                                  WHERE ug.user_id = r.user_id AND ug.group_id = g.id)
                    THEN r.user_id END AS technician_user_id
          FROM dispatch_role r
          JOIN auth_group g ON g.id = r.group_id AND g.name = '{TECHNICIAN_GROUP}'""",
        reads={
            "dispatch_role": ("id", "name", "abbrev", "user_id", "group_id"),
            "auth_group": ("id", "name"),
            "auth_user_groups": ("user_id", "group_id"),
        },
    ),
    target="technician_roles",
    legacy_column="legacy_role_id",
    refs=(
        Ref(name="role", entity="roles", source="id", column="role_id", required=True),
        # Only a user of group Technician is looked up; another user (an administrator)
        # leaves technician_id NULL by the rule, without an issue. A technician that did
        # not migrate is a missing optional parent (rule 5).
        Ref(
            name="technician",
            entity="technicians",
            source="technician_user_id",
            column="technician_id",
            legacy_column="legacy_technician_user_id",
        ),
    ),
    columns=(
        Col(
            "role_type",
            f"{role_type_sql('s.abbrev', 's.name')}::public.technician_role_type",
        ),
    ),
    issues=(Issue("unclassified_role", "role_type", f"{computed('role_type')} = 'unknown'"),),
)

# -- Categories and templates ----------------------------------------------------------------

categories = EntitySpec(
    name="categories",
    description="categories <- dispatch_category (self-reference)",
    source=Source.table("dispatch_category", ("name", "parent_id")),
    target="categories",
    legacy_column="legacy_category_id",
    columns=(
        Col("name", "s.name"),
        Col("legacy_parent_id", "s.parent_id"),
    ),
    # A parent may come later in key order, in a later batch.
    self_refs=(SelfRef(column="parent_id", legacy_column="legacy_parent_id"),),
)


def _blank(expr: str) -> str:
    return f"coalesce(migration.clean_text({expr}), '') = ''"


templates = EntitySpec(
    name="templates",
    description="templates <- dispatch_template",
    source=Source.table(
        "dispatch_template",
        (
            "task_name",
            "action_name",
            "function",
            "status",
            "duration",
            "category_id",
            "predefined",
            "read_only",
            "text_name",
            "extensions",
            "alerts",
            "separate",
        ),
    ),
    target="templates",
    legacy_column="legacy_template_id",
    refs=(
        Ref(
            name="category",
            entity="categories",
            source="category_id",
            column="category_id",
            legacy_column="legacy_category_id",
        ),
    ),
    columns=(
        Col(
            "name",
            f"(CASE WHEN NOT {_blank('s.task_name')} THEN s.task_name"
            f" WHEN NOT {_blank('s.text_name')} THEN s.text_name END)",
        ),
        Col("action_name", "s.action_name"),
        Col("is_active", "coalesce(s.status = 1, false)"),
        Col("estimated_duration_minutes", "s.duration"),
    ),
    issues=(
        Issue("missing_name", "name", f"({_blank('s.task_name')} AND {_blank('s.text_name')})"),
    ),
    # Everything else of the legacy row, under its legacy column name, raw.
    metadata="""jsonb_build_object('function', s."function", 'status', s.status,
        'predefined', s.predefined, 'read_only', s.read_only, 'text_name', s.text_name,
        'extensions', s.extensions, 'alerts', s.alerts, 'separate', s.separate)""",
)

# Edit and view roles are one entity; their ids overlap, so the key of a view role is shifted
# by 2^32 (Django ids are 32-bit integers): unique, stable and readable back.
VIEW_ROLE_KEY_OFFSET = 4294967296


def _role_duplicate(access: str, alias: str) -> str:
    table = f"dispatch_template_{access}_roles"
    return _duplicate_of_lower_id(table, alias, ("template_id", "role_id"))


template_roles = EntitySpec(
    name="template_roles",
    description="template_roles <- dispatch_template_edit_roles + dispatch_template_view_roles",
    source=Source(
        query=f"""
        SELECT e.id::bigint AS union_key, e.id AS row_id, 'edit' AS access,
               e.template_id, e.role_id, {_role_duplicate("edit", "e")} AS is_duplicate
          FROM dispatch_template_edit_roles e
        UNION ALL
        SELECT {VIEW_ROLE_KEY_OFFSET} + v.id, v.id, 'view',
               v.template_id, v.role_id, {_role_duplicate("view", "v")}
          FROM dispatch_template_view_roles v""",
        key="union_key",
        reads={
            "dispatch_template_edit_roles": ("id", "template_id", "role_id"),
            "dispatch_template_view_roles": ("id", "template_id", "role_id"),
        },
    ),
    target="template_roles",
    legacy_column="legacy_template_roles_key",
    refs=(
        Ref(
            name="template",
            entity="templates",
            source="template_id",
            column="template_id",
            required=True,
        ),
        Ref(name="role", entity="roles", source="role_id", column="role_id", required=True),
    ),
    columns=(
        Col("access", "s.access::public.template_role_access"),
        Col("legacy_access", "s.access"),
        Col("legacy_template_roles_id", "s.row_id"),
    ),
    # The same (template, role) in both tables is two rows, one per access.
    rules=(Rule("DUPLICATE_LINK", "s.is_duplicate"),),
)

template_view_groups = junction(
    "template_view_groups",
    "dispatch_template_view_groups",
    "template_view_groups",
    "legacy_template_view_groups_id",
    End("template", "templates", "template_id", "template_id"),
    End("team", "teams", "group_id", "team_id"),
)
template_products = junction(
    "template_products",
    "dispatch_template_products",
    "template_products",
    "legacy_template_products_id",
    End("template", "templates", "template_id", "template_id"),
    End("product", "products", "product_id", "product_id"),
)
template_predecessors = junction(
    "template_predecessors",
    "dispatch_template_predecessors",
    "template_predecessors",
    "legacy_template_predecessors_id",
    End("from_template", "templates", "from_template_id", "from_template_id"),
    End("to_template", "templates", "to_template_id", "to_template_id"),
)
product_roles = junction(
    "product_roles",
    "dispatch_product_roles",
    "product_roles",
    "legacy_product_roles_id",
    End("product", "products", "product_id", "product_id"),
    End("role", "roles", "role_id", "role_id"),
)
product_successors = junction(
    "product_successors",
    "dispatch_product_successors",
    "product_successors",
    "legacy_product_successors_id",
    End("from_product", "products", "from_product_id", "from_product_id"),
    End("to_product", "products", "to_product_id", "to_product_id"),
)

ENTITIES = (
    team_members,
    technicians,
    roles,
    role_permissions,
    technician_roles,
    categories,
    templates,
    template_roles,
    template_view_groups,
    template_products,
    template_predecessors,
    product_roles,
    product_successors,
)
