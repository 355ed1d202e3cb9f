"""The parsed form of a workflow definition: constants, the error type and the frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_SECONDS = 30 * 24 * 3600
PRIORITIES = ("low", "normal", "high", "critical")
BASE_ROLES = ("dispatcher", "supervisor", "admin", "staff", "lead")
DEPARTMENT_ROLES = ("staff", "lead")
SOURCES = ("console", "api", "open311", "sensor", "hotline")

TOP_KEYS = {
    "code", "name", "description", "initial_state", "initial_state_by_source", "ack_timeouts", "states", "transitions",
    "duplicates", "sla_composition",
}
# How an incident's clock is composed of its departments' (``GET /api/incidents/<id>/sla/``): ``all`` (on time only
# if every department is; due when the first is due) or ``any`` (one department's work on time is enough).
SLA_COMPOSITIONS = ("all", "any")
DUPLICATES_KEYS = {"radius_m", "window", "related", "auto_attach"}
AUTO_ATTACH_KEYS = {"radius_m", "window"}
MAX_DUPLICATE_RADIUS_M = 5000
STATE_KEYS = {"name", "label", "final", "sla", "sla_seconds", "sla_paused", "dispatch", "stand_down"}
DISPATCH_KEYS = {"department", "priority", "ack_timeout", "ack_timeout_seconds", "max_attempts", "handling",
                 "require_photo"}
DEFAULT_ACK_TIMEOUTS = {"critical": 120, "high": 180, "normal": 300, "low": 600}
DEFAULT_MAX_ATTEMPTS = 3
TRANSITION_KEYS = {"name", "label", "from", "to", "roles", "guard", "destructive", "reopens"}


class DefinitionInvalid(Exception):
    """A definition with problems; ``errors`` lists every one of them."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class DispatchSpec:
    department: str
    priority: str
    ack_timeout_seconds: int
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # offers (to successive units) before the order escalates
    # The department's handling target, acceptance to completion, in seconds: ``{"default": s, "<priority>": s}``
    # (the order's priority picks; ``default`` otherwise). None: the state's ``sla`` is the target.
    handling: dict[str, int] | None = None
    # ``require_photo: complete``: the department completes its order only with a photo on it (attachments/).
    require_photo: bool = False

    def handling_seconds(self, priority: str) -> int | None:
        if not self.handling:
            return None
        return self.handling.get(priority, self.handling.get("default"))


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: dict[str, str]
    final: bool = False
    sla_seconds: int | None = None
    sla_paused: bool = False
    dispatch: tuple[DispatchSpec, ...] = ()
    stand_down: bool = False  # entering it cancels work orders offered and never accepted


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: dict[str, str]
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    guard: str | None = None
    # Hard to undo (cancelling an incident stands its work orders down): pages ask for a confirmation first.
    destructive: bool = False
    # Leaves a final state: a closed case back to work. Fired only by deciding a citizen's reopen request
    # (``public.services.reopen``, which names the department), never offered as a button nor by the transitions API.
    reopens: bool = False


@dataclass(frozen=True)
class AutoAttachSpec:
    """Under a surge: a report within this tighter radius and window of exactly one open incident is created already
    merged into it (no work orders of its own)."""

    radius_m: int
    window_seconds: int


@dataclass(frozen=True)
class DuplicatesSpec:
    """Which open incidents a new report may duplicate: the same event type or a ``related`` one, within ``radius_m``
    metres and reported within ``window_seconds``."""

    radius_m: int = 150
    window_seconds: int = 2 * 3600
    related: tuple[str, ...] = ()
    auto_attach: AutoAttachSpec | None = None


DEFAULT_DUPLICATES = DuplicatesSpec()


@dataclass(frozen=True)
class Definition:
    code: str
    name: dict[str, str]
    description: dict[str, str]
    initial_state: str
    initial_state_by_source: dict[str, str]
    states: dict[str, StateSpec] = field(default_factory=dict)
    transitions: tuple[TransitionSpec, ...] = ()
    ack_timeouts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ACK_TIMEOUTS))  # per priority, seconds
    duplicates: DuplicatesSpec | None = None  # None: the defaults (``DEFAULT_DUPLICATES``)
    sla_composition: str = "all"

    @property
    def duplicate_rules(self) -> DuplicatesSpec:
        return self.duplicates or DEFAULT_DUPLICATES

    def initial_state_for(self, source: str) -> str:
        return self.initial_state_by_source.get(source, self.initial_state)

    def transition(self, name: str) -> TransitionSpec | None:
        return next((t for t in self.transitions if t.name == name), None)

    def transitions_from(self, state: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if state in t.sources]

    def to_normalized(self) -> dict[str, Any]:
        data = asdict(self)
        data["states"] = [asdict(s) for s in self.states.values()]
        for t in data["transitions"]:
            # Written only when true, so that a definition from before the flag keeps its checksum (publishing it
            # again is no new version).
            if not t["destructive"]:
                del t["destructive"]
            if not t["reopens"]:
                del t["reopens"]
        if data["duplicates"] is None:  # likewise: only a definition that says something about duplicates
            del data["duplicates"]
        if data["sla_composition"] == "all":  # and about composing its clock
            del data["sla_composition"]
        for state in data["states"]:
            for target in state["dispatch"]:
                if target["handling"] is None:  # and about handling targets
                    del target["handling"]
                if not target["require_photo"]:  # and about photos
                    del target["require_photo"]
        return data

    @classmethod
    def from_normalized(cls, data: dict[str, Any]) -> Definition:
        states = {
            s["name"]: StateSpec(
                name=s["name"], label=s["label"], final=s["final"], sla_seconds=s["sla_seconds"],
                sla_paused=s["sla_paused"], dispatch=tuple(DispatchSpec(**d) for d in s["dispatch"]),
                stand_down=s.get("stand_down", False),
            )
            for s in data["states"]
        }
        transitions = tuple(
            TransitionSpec(
                name=t["name"], label=t["label"], sources=tuple(t["sources"]), target=t["target"],
                roles=tuple(t["roles"]), guard=t["guard"], destructive=t.get("destructive", False),
                reopens=t.get("reopens", False),
            )
            for t in data["transitions"]
        )
        return cls(
            code=data["code"], name=data["name"], description=data["description"],
            initial_state=data["initial_state"], initial_state_by_source=data["initial_state_by_source"],
            states=states, transitions=transitions, ack_timeouts=data.get("ack_timeouts", dict(DEFAULT_ACK_TIMEOUTS)),
            duplicates=_duplicates_from(data.get("duplicates")), sla_composition=data.get("sla_composition", "all"),
        )


def _duplicates_from(data: dict[str, Any] | None) -> DuplicatesSpec | None:
    if not data:
        return None
    auto = data.get("auto_attach")
    return DuplicatesSpec(
        radius_m=data["radius_m"], window_seconds=data["window_seconds"], related=tuple(data.get("related") or ()),
        auto_attach=AutoAttachSpec(**auto) if auto else None,
    )
