"""Response plan definitions (预案): parsing and validation (pure; no database access).

A plan is data (YAML or JSON, see ``plans/definitions/*.yaml`` and README "Response plans"). ``parse_plan``
checks everything at once and raises ``DefinitionInvalid`` with every problem found, each prefixed by where it
is (``levels.II.tasks[0].ack_timeout: ...``), like workflow definitions, whose loader and field checks it reuses.
What exists in the database (departments, event types, the city's districts) is passed in by the caller.
"""

from workflows.definition import DefinitionInvalid, load_yaml

from .parse import parse_plan
from .spec import (
    LEVELS,
    SEVERITIES,
    HazardPointSpec,
    LevelSpec,
    MajorEventSpec,
    OverridesSpec,
    PlanSpec,
    TaskSpec,
    TriggerSpec,
)

__all__ = [
    "LEVELS",
    "SEVERITIES",
    "DefinitionInvalid",
    "HazardPointSpec",
    "LevelSpec",
    "MajorEventSpec",
    "OverridesSpec",
    "PlanSpec",
    "TaskSpec",
    "TriggerSpec",
    "load_yaml",
    "parse_plan",
]
