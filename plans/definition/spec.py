"""The parsed form of a response plan: constants and the frozen dataclasses.

Levels follow the Chinese emergency-plan grading: IV (blue, lowest) .. I (red, highest). CAP severities map to
levels per trigger. The normalized form (``PlanSpec.to_normalized``) is what a ``PlanVersion`` stores and what
activation (issue 15) reads: durations in seconds, levels in order IV..I.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LEVELS = ("IV", "III", "II", "I")  # lowest first
SEVERITIES = ("Minor", "Moderate", "Severe", "Extreme")  # CAP 1.2 <severity> (Unknown never triggers)
LANGUAGES = ("en", "zh")

TOP_KEYS = {"code", "name", "description", "triggers", "levels"}
TRIGGER_KEYS = {"events", "severities"}
LEVEL_KEYS = {"tasks", "overrides", "hazard_points", "major_event"}
TASK_KEYS = {"department", "task", "ack_timeout"}
OVERRIDE_KEYS = {"ack_timeout", "priority", "extra_departments"}
HAZARD_KEYS = {"title", "event_type", "severity", "lat", "lon"}
MAJOR_EVENT_KEYS = {"title", "event_types"}


@dataclass(frozen=True)
class TriggerSpec:
    events: tuple[str, ...]  # as CAP <event> carries them ("Rainstorm", "暴雨")
    severities: dict[str, str]  # CAP severity -> level


@dataclass(frozen=True)
class TaskSpec:
    department: str
    task: dict[str, str]  # {"en", "zh"}
    ack_timeout_seconds: int


@dataclass(frozen=True)
class OverridesSpec:
    """What changes for new incidents inside the area while the plan is active at this level."""

    ack_timeout_seconds: int | None = None
    priority: str | None = None
    extra_departments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # event type -> departments


@dataclass(frozen=True)
class HazardPointSpec:
    """A known hazard point (a low-lying underpass ...): an incident to pre-create when the level is active."""

    title: dict[str, str]
    event_type: str
    severity: int
    lat: float
    lon: float


@dataclass(frozen=True)
class MajorEventSpec:
    """The level opens a major event (重大事件) for the activation's area: incidents reported there while it is active
    join it (those of ``event_types``, every type when empty), as do those already open there."""

    title: dict[str, str]
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class LevelSpec:
    tasks: tuple[TaskSpec, ...]
    overrides: OverridesSpec | None = None
    hazard_points: tuple[HazardPointSpec, ...] = ()
    major_event: MajorEventSpec | None = None


@dataclass(frozen=True)
class PlanSpec:
    code: str
    name: dict[str, str]
    description: dict[str, str]
    triggers: tuple[TriggerSpec, ...]
    levels: dict[str, LevelSpec]

    def to_normalized(self) -> dict[str, Any]:
        data = asdict(self)
        data["triggers"] = [{"events": list(t.events), "severities": dict(t.severities)} for t in self.triggers]
        data["levels"] = {
            name: {
                "tasks": [asdict(t) for t in level.tasks],
                "overrides": None if level.overrides is None else {
                    "ack_timeout_seconds": level.overrides.ack_timeout_seconds,
                    "priority": level.overrides.priority,
                    "extra_departments": {k: list(v) for k, v in level.overrides.extra_departments.items()},
                },
                "hazard_points": [asdict(h) for h in level.hazard_points],
                "major_event": None if level.major_event is None else {
                    "title": dict(level.major_event.title), "event_types": list(level.major_event.event_types),
                },
            }
            for name, level in self.levels.items()
        }
        return data
