"""Entities of mapping.md, group 'activity' (filled in by issue 3)."""

from __future__ import annotations

from ..engine.spec import EntitySpec

ENTITIES: tuple[EntitySpec, ...] = ()
