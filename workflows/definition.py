"""Workflow definitions: parsing and validation (pure; no database access).

A definition is data (YAML or JSON, see ``workflows/definitions/*.yaml`` and README "Workflow
definitions"). ``parse_definition`` checks everything at once and raises ``DefinitionInvalid`` with
every problem found, each prefixed by where it is (``states.reported.sla: ...``).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import asdict, dataclass, field

import yaml

from .guards import GUARDS

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION_SECONDS = 30 * 24 * 3600
PRIORITIES = ("low", "normal", "high", "critical")
BASE_ROLES = ("dispatcher", "supervisor", "admin", "staff", "lead")
DEPARTMENT_ROLES = ("staff", "lead")
SOURCES = ("console", "api", "open311", "sensor", "hotline")

TOP_KEYS = {
    "code", "name", "description", "initial_state", "initial_state_by_source", "ack_timeouts", "states", "transitions",
}
STATE_KEYS = {"name", "label", "final", "sla", "sla_seconds", "sla_paused", "dispatch", "stand_down"}
DISPATCH_KEYS = {"department", "priority", "ack_timeout", "ack_timeout_seconds", "max_attempts"}
DEFAULT_ACK_TIMEOUTS = {"critical": 120, "high": 180, "normal": 300, "low": 600}
DEFAULT_MAX_ATTEMPTS = 3
TRANSITION_KEYS = {"name", "label", "from", "to", "roles", "guard"}


class DefinitionInvalid(Exception):
    """A definition with problems; ``errors`` lists every one of them."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class DispatchSpec:
    department: str
    priority: str
    ack_timeout_seconds: int
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # offers (to successive units) before the order escalates


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: dict
    final: bool = False
    sla_seconds: int | None = None
    sla_paused: bool = False
    dispatch: tuple[DispatchSpec, ...] = ()
    stand_down: bool = False  # entering it cancels work orders offered and never accepted


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: dict
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    guard: str | None = None


@dataclass(frozen=True)
class Definition:
    code: str
    name: dict
    description: dict
    initial_state: str
    initial_state_by_source: dict
    states: dict[str, StateSpec] = field(default_factory=dict)
    transitions: tuple[TransitionSpec, ...] = ()
    ack_timeouts: dict = field(default_factory=lambda: dict(DEFAULT_ACK_TIMEOUTS))  # per priority, seconds

    def initial_state_for(self, source: str) -> str:
        return self.initial_state_by_source.get(source, self.initial_state)

    def transition(self, name: str) -> TransitionSpec | None:
        return next((t for t in self.transitions if t.name == name), None)

    def transitions_from(self, state: str) -> list[TransitionSpec]:
        return [t for t in self.transitions if state in t.sources]

    def to_normalized(self) -> dict:
        data = asdict(self)
        data["states"] = [asdict(s) for s in self.states.values()]
        return data

    @classmethod
    def from_normalized(cls, data: dict) -> Definition:
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
                roles=tuple(t["roles"]), guard=t["guard"],
            )
            for t in data["transitions"]
        )
        return cls(
            code=data["code"], name=data["name"], description=data["description"],
            initial_state=data["initial_state"], initial_state_by_source=data["initial_state_by_source"],
            states=states, transitions=transitions, ack_timeouts=data.get("ack_timeouts", dict(DEFAULT_ACK_TIMEOUTS)),
        )


# --- YAML -----------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise DefinitionInvalid([f"line {key_node.start_mark.line + 1}: a key must be a plain name"]) from None
        if key in seen:
            raise DefinitionInvalid([f"line {key_node.start_mark.line + 1}: duplicate name {key!r}"])
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> dict:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise DefinitionInvalid([f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise DefinitionInvalid(["the definition must be a mapping"])
    return data


# --- Validation -----------------------------------------------------------------------------------


def parse_duration(value) -> int:
    """Seconds from ``90``, ``"90s"``, ``"2m"``, ``"1h30m"``; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, str) and (m := DURATION_RE.match(value.strip())) and any(m.groups()):
        h, mi, s = (int(g or 0) for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    else:
        raise ValueError(f"bad duration {value!r} (use seconds or e.g. 90s, 5m, 1h30m)")
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"bad duration {value!r} (must be more than 0 and at most 30 days)")
    return seconds


def _label(value, where: str, errors: list[str], default: str) -> dict:
    if value is None:
        return {"en": default}
    if isinstance(value, str) and value.strip():
        return {"en": value}
    if isinstance(value, dict) and value and all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        return dict(value)
    errors.append(f"{where}: a label is a non-empty text or a mapping of language to text")
    return {"en": default}


def _unknown_keys(obj: dict, allowed: set[str], where: str, errors: list[str]):
    for key in sorted(set(obj) - allowed, key=str):
        errors.append(f"{where}: unknown key {key!r}")


def _check_name(name, where: str, errors: list[str]) -> bool:
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append(f"{where}: bad name {name!r} (lower-case letters, digits and _; starts with a letter)")
        return False
    return True


def _state_items(raw_states, errors: list[str]) -> list[tuple[str, dict]]:
    """Accept ``{name: {...}}`` (YAML style) or ``[{"name": ..., ...}]`` (the API's style)."""
    if isinstance(raw_states, dict):
        items = list(raw_states.items())
    elif isinstance(raw_states, list):
        items = []
        for i, s in enumerate(raw_states):
            if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                errors.append(f"states[{i}]: each state needs a name")
                continue
            items.append((s["name"], s))
    else:
        errors.append("states: required, a mapping of state name to state")
        return []
    seen, unique = set(), []
    for name, body in items:
        if name in seen:
            errors.append(f"states.{name}: duplicate state name")
            continue
        seen.add(name)
        unique.append((name, body if isinstance(body, dict) else {}))
        if not isinstance(body, dict):
            errors.append(f"states.{name}: must be a mapping")
    return unique


def _parse_ack_timeouts(raw, errors: list[str]) -> dict:
    out = dict(DEFAULT_ACK_TIMEOUTS)
    if raw is None:
        return out
    if not isinstance(raw, dict):
        errors.append("ack_timeouts: a mapping of priority to duration")
        return out
    for priority, value in raw.items():
        if priority not in PRIORITIES:
            errors.append(f"ack_timeouts.{priority}: unknown priority (one of {', '.join(PRIORITIES)})")
            continue
        try:
            out[priority] = parse_duration(value)
        except ValueError as exc:
            errors.append(f"ack_timeouts.{priority}: {exc}")
    return out


def _parse_dispatch(
    raw, where: str, departments: set[str], errors: list[str], ack_timeouts: dict
) -> tuple[DispatchSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list")
        return ()
    out, seen = [], set()
    for i, d in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(d, dict):
            errors.append(f"{w}: must be a mapping")
            continue
        _unknown_keys(d, DISPATCH_KEYS, w, errors)
        dept = d.get("department")
        if not isinstance(dept, str) or dept not in departments:
            errors.append(f"{w}.department: unknown department {dept!r}")
        elif dept in seen:
            errors.append(f"{w}.department: duplicate department {dept!r} in one state")
        seen.add(dept)
        priority = d.get("priority", "normal")
        if priority not in PRIORITIES:
            errors.append(f"{w}.priority: unknown priority {priority!r} (one of {', '.join(PRIORITIES)})")
        ack = d.get("ack_timeout", d.get("ack_timeout_seconds"))
        try:
            ack_seconds = parse_duration(ack) if ack is not None else ack_timeouts.get(priority, 300)
        except ValueError as exc:
            errors.append(f"{w}.ack_timeout: {exc}")
            ack_seconds = 0
        attempts = d.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
            errors.append(f"{w}.max_attempts: a whole number from 1 to 20")
            attempts = DEFAULT_MAX_ATTEMPTS
        out.append(DispatchSpec(department=str(dept), priority=str(priority), ack_timeout_seconds=ack_seconds,
                                max_attempts=attempts))
    return tuple(out)


def _check_roles(raw, where: str, departments: set[str], errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(f"{where}: a non-empty list of roles")
        return ()
    for role in raw:
        base, at, dept = str(role).partition("@")
        if not isinstance(role, str) or base not in BASE_ROLES:
            errors.append(f"{where}: unknown role {role!r} (one of {', '.join(BASE_ROLES)})")
        elif at and not dept:
            errors.append(f"{where}: role {role!r} names no department after @")
        elif dept and base not in DEPARTMENT_ROLES:
            errors.append(f"{where}: only staff and lead can be qualified by a department ({role!r})")
        elif dept and dept not in departments:
            errors.append(f"{where}: unknown department {dept!r} in role {role!r}")
    return tuple(str(r) for r in raw)


def parse_definition(raw: dict, *, departments: set[str]) -> Definition:
    """Validate ``raw`` (a loaded YAML/JSON document) and return the normalized ``Definition``."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise DefinitionInvalid(["the definition must be a mapping"])
    _unknown_keys(raw, TOP_KEYS, "definition", errors)
    code = raw.get("code")
    if code is None:
        errors.append("code: required")
    else:
        _check_name(code, "code", errors)
    name = _label(raw.get("name"), "name", errors, str(code))
    description = _label(raw.get("description"), "description", errors, "") if raw.get("description") else {}

    ack_timeouts = _parse_ack_timeouts(raw.get("ack_timeouts"), errors)
    states: dict[str, StateSpec] = {}
    for sname, body in _state_items(raw.get("states"), errors):
        where = f"states.{sname}"
        if not _check_name(sname, where, errors):
            continue
        _unknown_keys(body, STATE_KEYS, where, errors)
        final = body.get("final", False)
        if not isinstance(final, bool):
            errors.append(f"{where}.final: must be true or false")
            final = False
        sla = body.get("sla", body.get("sla_seconds"))
        sla_seconds = None
        if sla is not None:
            try:
                sla_seconds = parse_duration(sla)
            except ValueError as exc:
                errors.append(f"{where}.sla: {exc}")
        if final and sla is not None:
            errors.append(f"{where}.sla: a final state has no SLA")
        paused = body.get("sla_paused", False)
        if not isinstance(paused, bool):
            errors.append(f"{where}.sla_paused: must be true or false")
            paused = False
        stand_down = body.get("stand_down", False)
        if not isinstance(stand_down, bool):
            errors.append(f"{where}.stand_down: must be true or false")
            stand_down = False
        dispatch = _parse_dispatch(body.get("dispatch"), f"{where}.dispatch", departments, errors, ack_timeouts)
        if final and dispatch:
            errors.append(f"{where}.dispatch: a final state dispatches nothing")
        states[sname] = StateSpec(
            name=sname, label=_label(body.get("label"), f"{where}.label", errors, sname), final=final,
            sla_seconds=sla_seconds, sla_paused=paused, dispatch=dispatch, stand_down=stand_down,
        )
    if states and not any(s.final for s in states.values()):
        errors.append("states: no final state")

    initial = raw.get("initial_state")
    if initial is None:
        errors.append("initial_state: required")
    elif not isinstance(initial, str) or initial not in states:
        errors.append(f"initial_state: unknown state {initial!r}")
    by_source = raw.get("initial_state_by_source") or {}
    if not isinstance(by_source, dict):
        errors.append("initial_state_by_source: must be a mapping of source to state")
        by_source = {}
    for source, state in by_source.items():
        if source not in SOURCES:
            errors.append(f"initial_state_by_source.{source}: unknown source (one of {', '.join(SOURCES)})")
        if not isinstance(state, str) or state not in states:
            errors.append(f"initial_state_by_source.{source}: unknown state {state!r}")

    transitions: list[TransitionSpec] = []
    raw_transitions = raw.get("transitions")
    if not isinstance(raw_transitions, list) or not raw_transitions:
        errors.append("transitions: required, a non-empty list")
        raw_transitions = []
    seen_names = set()
    for i, t in enumerate(raw_transitions):
        if not isinstance(t, dict):
            errors.append(f"transitions[{i}]: must be a mapping")
            continue
        tname = t.get("name")
        where = f"transitions.{tname}" if isinstance(tname, str) else f"transitions[{i}]"
        _unknown_keys(t, TRANSITION_KEYS, where, errors)
        if not _check_name(tname, f"{where}.name", errors):
            tname = f"#{i}"
        elif tname in seen_names:
            errors.append(f"{where}: duplicate transition name")
        seen_names.add(tname)
        sources = t.get("from")
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not sources:
            errors.append(f"{where}.from: a non-empty list of states")
            sources = []
        for s in sources:
            if not isinstance(s, str) or s not in states:
                errors.append(f"{where}.from: unknown state {s!r}")
            elif states[s].final:
                errors.append(f"{where}.from: final state {s!r} has no way out")
        target = t.get("to")
        if not isinstance(target, str) or target not in states:
            errors.append(f"{where}.to: unknown state {target!r}")
        roles = _check_roles(t.get("roles"), f"{where}.roles", departments, errors)
        guard = t.get("guard")
        if guard is not None and (not isinstance(guard, str) or guard not in GUARDS):
            errors.append(f"{where}.guard: unknown guard {guard!r} (one of {', '.join(sorted(GUARDS))})")
        transitions.append(
            TransitionSpec(
                name=str(tname), label=_label(t.get("label"), f"{where}.label", errors, str(tname)),
                sources=tuple(str(s) for s in sources), target=str(target), roles=roles, guard=guard,
            )
        )

    if isinstance(initial, str) and initial in states:
        starts = {initial, *[s for s in by_source.values() if isinstance(s, str) and s in states]}
        reachable = _reachable(starts, transitions)
        for sname in states:
            if sname not in reachable:
                errors.append(f"states.{sname}: unreachable from the initial state")
        for sname, spec in states.items():
            if not spec.final and not any(sname in t.sources for t in transitions):
                errors.append(f"states.{sname}: not final and no transition leaves it")

    if errors:
        raise DefinitionInvalid(errors)
    return Definition(
        code=code, name=name, description=description, initial_state=initial,
        initial_state_by_source=dict(by_source), states=states, transitions=tuple(transitions),
        ack_timeouts=ack_timeouts,
    )


def _reachable(start: set[str], transitions: list[TransitionSpec]) -> set[str]:
    seen, queue = set(start), deque(start)
    while queue:
        state = queue.popleft()
        for t in transitions:
            if state in t.sources and t.target not in seen:
                seen.add(t.target)
                queue.append(t.target)
    return seen
