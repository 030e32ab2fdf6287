"""The help texts that make `--help` a runbook: the steps of a migration with examples, the
settings and their defaults, the phase and entity names, the contract's spellings, the exit
codes. Built from the settings model and the catalogue, so they cannot drift from them."""

from __future__ import annotations

from .. import api
from ..config import variables_help
from ..engine.context import LARGE_BATCH_SIZE, LARGE_ENTITY_ROWS
from ..errors import EXIT_CODES_HELP

STEPS = """\b
A migration, step by step (each command's --help has more):
  mdw-migrate demo                        everything below, on an embedded server
  mdw-migrate schema apply                create the target schema (idempotent)
  mdw-migrate migrate all --validate      the initial load, then every check
  mdw-migrate sync all                    catch up while the old system runs (repeat)
  mdw-migrate validate final              all checks, security, HTML report in ./logs
  mdw-migrate status                      where each entity stands; how to resume
  mdw-migrate rollback all                remove what the tool wrote (backup first)"""

ALIASES = """\b
The contract's spellings are accepted too:
  migrate:doctors               = migrate doctors
  migrate:doctors validate      = migrate doctors --validate
  migrate:patients rollback     = rollback patients
  validate:core, validate:final = validate core, validate final
  rollback:all                  = rollback all
  migrate-tasks --batch-size=1000 and the other script names of mapping.md
  (migrate-cases, migrate-purchases, ...; -fixed/-optimized/-complete suffixes)"""

BATCH_SIZE = (
    "Rows per batch, for every entity of the run. Without it, BATCH_SIZE applies (default"
    f" 5000), and entities of {LARGE_ENTITY_ROWS:,} rows or more use at least"
    f" {LARGE_BATCH_SIZE:,}; the summary's `batch` column shows the size each entity used."
)

SCALE = "Size of the synthetic database: 1.0 is about 6.9 million rows; 0.01 takes seconds."
SEED = "Seed of the synthetic data: the same seed gives the same rows."


def _settings() -> str:
    width = max(len(name) for name, _ in variables_help())
    lines = [f"  {name:<{width}}  {default}" for name, default in variables_help()]
    return "\b\nSettings (environment or ./.env), with their defaults:\n" + "\n".join(lines)


def _names() -> str:
    plan = api.plan()
    phases = ", ".join(plan.phases)
    entities = ", ".join(name for name, _, _ in plan.order)
    return (
        f"Selections: a phase ({phases}) or one of the {len(plan.order)} entities, in"
        f" dependency order: {entities}. `mdw-migrate plan` shows what each one migrates."
    )


def epilog() -> str:
    return "\n\n".join([STEPS, _settings(), _names(), ALIASES, EXIT_CODES_HELP])
