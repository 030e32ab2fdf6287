"""Orders entities by their dependencies and resolves what a command names."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..errors import Code, UsageError, dependency_not_met
from .archive import ArchiveSpec
from .spec import EntitySpec

# A unit of work the planner orders: an entity, or the legacy archive.
Unit = EntitySpec | ArchiveSpec


@dataclass(frozen=True)
class Catalogue:
    """Entities (in catalogue order), named phases, and aliases for groups of entities."""

    entities: Mapping[str, Unit]
    phases: Mapping[str, Sequence[str]]
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.entities.values():
            unknown = [d for d in spec.deps if d not in self.entities]
            if unknown:
                raise ValueError(f"entity {spec.name} depends on unknown {unknown}")
        self.order(self.entities)  # fails on a cycle
        bound = {name: self.bind(s) if isinstance(s, EntitySpec) else s
                 for name, s in self.entities.items()}  # fmt: skip
        object.__setattr__(self, "entities", bound)

    def bind(self, spec: EntitySpec) -> EntitySpec:
        """`spec` with each reference pointing at its parent's target table and legacy-id
        column, where the parent's UUIDs are (the target tables are the id map)."""
        refs = []
        for ref in spec.refs:
            parent = self.entities.get(ref.entity)
            if isinstance(parent, EntitySpec):
                ref = replace(ref, parent_target=parent.target, parent_legacy=parent.legacy_column)
            refs.append(ref)
        return replace(spec, refs=tuple(refs))

    def rows_entity(self, name: str) -> EntitySpec:
        spec = self.entities[name]
        if not isinstance(spec, EntitySpec):
            raise TypeError(f"{name} is not a row entity")
        return spec

    def order(self, names: Iterable[str]) -> list[str]:
        """Dependency order of `names`; ties keep the catalogue's order, so plans are stable."""
        wanted = set(names)
        position = {name: i for i, name in enumerate(self.entities)}
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for name in wanted:
            sorter.add(name, *[d for d in self.entities[name].deps if d in wanted])
        sorter.prepare()
        ordered: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            ordered.extend(ready)
            sorter.done(*ready)
        return ordered

    def critical_paths(self, names: Sequence[str], weights: Mapping[str, int]) -> dict[str, int]:
        """For each of `names`, its weight plus the heaviest chain of dependants after it
        within `names`: how much work cannot start until it is done. Starting the entity with
        the longest such chain first keeps the largest one off the end of a parallel run."""
        wanted = set(names)
        paths: dict[str, int] = {}
        for name in reversed(self.order(names)):
            after = [paths[d] for d in wanted if name in self.entities[d].deps and d in paths]
            paths[name] = max(weights.get(name, 0), 0) + max(after, default=0)
        return paths

    def resolve(self, selection: str) -> list[str]:
        """A phase, an entity, or an alias -> the entities to run, in dependency order."""
        key = selection.strip().lower().replace("_", "-")
        if key in self.phases:
            return self.order(self.phases[key])
        if key in self.aliases:
            return self.order(self.aliases[key])
        for name in self.entities:
            if name.replace("_", "-") == key:
                return [name]
        raise UsageError(
            code=Code.UNKNOWN_ENTITY,
            message=f"{selection!r} is neither a phase nor an entity",
            details={"phases": list(self.phases), "entities": list(self.entities)},
            suggestion="Run 'mdw-migrate plan' to see the phases and entities",
        )

    def check_dependencies(self, names: Sequence[str], states: Mapping[str, str]) -> None:
        """Every dependency outside the selection must have been migrated to completion."""
        selected = set(names)
        for name in names:
            missing = [
                dep
                for dep in self.entities[name].deps
                if dep not in selected and states.get(dep) != "completed"
            ]
            if missing:
                ordered = [
                    n for n in self.order(self.closure(missing)) if states.get(n) != "completed"
                ]
                raise dependency_not_met(name, ordered, dict(states))

    def closure(self, names: Iterable[str]) -> set[str]:
        """`names` and everything they depend on."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(self.entities[name].deps)
        return seen

    def with_dependents(self, names: Iterable[str], present: Iterable[str]) -> list[str]:
        """`names` and the entities of `present` that depend on them, in dependency order:
        what a sync of `names` must bring up to date (a parent's change can change a
        dependant's outcome)."""
        chosen = list(names)
        have = set(present)
        return self.order([*chosen, *(d for d in self.dependents(chosen) if d in have)])

    def dependents(self, names: Iterable[str]) -> set[str]:
        """Entities that depend, directly or not, on any of `names`."""
        wanted = set(names)
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for spec in self.entities.values():
                if spec.name not in found and wanted.union(found).intersection(spec.deps):
                    found.add(spec.name)
                    changed = True
        return found - wanted
