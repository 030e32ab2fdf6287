"""The generator's volume plan, without a database: the spec's volume table
(shared/spec/legacy-schema.md), scaled tables against fixed ones, and bad arguments."""

from __future__ import annotations

import math

import pytest

from mdw_migrate.legacy.generator import generate, row_counts
from mdw_migrate.legacy.tables import LEGACY_TABLES

# The volume table of the spec (rows at scale 1.0) and which tables it scales.
SPEC_VOLUMES: dict[str, tuple[int, bool]] = {
    "auth_user": (9839, True),
    "auth_group": (10, False),
    "auth_user_groups": (10400, True),
    "auth_permission": (400, False),
    "django_content_type": (60, False),
    "dispatch_office": (897, True),
    "dispatch_office_doctors": (600, True),
    "dispatch_doctorsetting": (1200, True),
    "dispatch_patient": (8488, True),
    "dispatch_course": (8, False),
    "dispatch_product": (40, False),
    "dispatch_instruction": (25012, True),
    "dispatch_jaw": (43458, True),
    "dispatch_project": (72155, True),
    "dispatch_plan": (209241, True),
    "dispatch_bracket": (1720, True),
    "dispatch_template": (169, False),
    "dispatch_role": (48, False),
    "dispatch_ware": (16552, True),
    "dispatch_task": (953000, True),
    "dispatch_file": (327771, True),
    "dispatch_record": (70742, True),
    "dispatch_record_attachments": (8703, True),
    "dispatch_record_roles": (1200, True),
    "dispatch_notification": (5102536, True),
    "dispatch_comment": (16312, True),
    "dispatch_note": (963, True),
    "dispatch_state": (5547, True),
    "dispatch_payment": (17235, True),
    "dispatch_operation": (3720, True),
    "dispatch_order": (12000, True),
    "dispatch_purchase": (15000, True),
    "dispatch_offer": (788, True),
    "dispatch_discount": (151, True),
    "dispatch_category": (44, False),
    "dispatch_role_permissions": (1346, False),
}


TEMPLATE_JUNCTIONS = (
    "dispatch_template_edit_roles",
    "dispatch_template_view_roles",
    "dispatch_template_view_groups",
    "dispatch_template_products",
    "dispatch_template_predecessors",
)


def test_volumes_at_scale_one_match_the_spec() -> None:
    counts = row_counts(1.0)
    assert set(counts) == set(LEGACY_TABLES)
    for table, (volume, _) in SPEC_VOLUMES.items():
        if table == "auth_group":
            continue  # the spec's table says 10 rows, its list names 11 groups: we keep 11
        assert counts[table] == volume, table
    assert counts["auth_group"] == 11
    assert 2250 <= sum(counts[t] for t in TEMPLATE_JUNCTIONS) <= 2350
    small = set(LEGACY_TABLES) - set(SPEC_VOLUMES) - set(TEMPLATE_JUNCTIONS)
    assert all(counts[t] < 100 for t in small), {t: counts[t] for t in small}
    assert 6_850_000 <= sum(counts.values()) <= 6_950_000
    assert counts["dispatch_notification"] / sum(counts.values()) > 0.7


@pytest.mark.parametrize("scale", [0.001, 0.002, 0.05, 0.5, 2.0])
def test_catalogue_tables_keep_their_size_and_scaled_ones_scale(scale: float) -> None:
    counts, full = row_counts(scale), row_counts(1.0)
    for table, (volume, scaled) in SPEC_VOLUMES.items():
        if not scaled:
            assert counts[table] == full[table], table
        else:
            assert counts[table] >= max(1, math.floor(volume * scale + 0.5)), table
            assert counts[table] >= 1


@pytest.mark.parametrize(
    ("scale", "seed"), [(0, 42), (-1, 42), (float("nan"), 42), (0.01, -1), (0.01, True)]
)
def test_rejects_bad_arguments(scale: float, seed: int) -> None:
    with pytest.raises(ValueError):
        generate("host=/nonexistent dbname=none", scale=scale, seed=seed)
