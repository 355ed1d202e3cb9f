"""``parse_definition``: the whole document, section by section, then the checks across sections."""

from __future__ import annotations

from collections import deque
from typing import Any

from ..guards import GUARDS
from .fields import (
    check_name,
    check_roles,
    parse_ack_timeouts,
    parse_dispatch,
    parse_duration,
    parse_flag,
    parse_label,
    unknown_keys,
)
from .spec import (
    AUTO_ATTACH_KEYS,
    DEFAULT_DUPLICATES,
    DUPLICATES_KEYS,
    MAX_DUPLICATE_RADIUS_M,
    SLA_COMPOSITIONS,
    SOURCES,
    STATE_KEYS,
    TOP_KEYS,
    TRANSITION_KEYS,
    AutoAttachSpec,
    Definition,
    DefinitionInvalid,
    DuplicatesSpec,
    StateSpec,
    TransitionSpec,
)


def parse_definition(raw: dict[str, Any], *, departments: set[str]) -> Definition:
    """Validate ``raw`` (a loaded YAML/JSON document) and return the normalized ``Definition``."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise DefinitionInvalid(["the definition must be a mapping"])
    code, name, description = _parse_header(raw, errors)
    ack_timeouts = parse_ack_timeouts(raw.get("ack_timeouts"), errors)
    states = _parse_states(raw.get("states"), departments, ack_timeouts, errors)
    initial, by_source = _parse_initial_states(raw, states, errors)
    transitions = _parse_transitions(raw.get("transitions"), states, departments, errors)
    _check_graph(initial, by_source, states, transitions, errors)
    duplicates = _parse_duplicates(raw.get("duplicates"), code, errors)
    composition = raw.get("sla_composition", "all")
    if composition not in SLA_COMPOSITIONS:
        errors.append(f"sla_composition: one of {', '.join(SLA_COMPOSITIONS)}")
    if errors:
        raise DefinitionInvalid(errors)
    return Definition(
        code=code, name=name, description=description, initial_state=initial,
        initial_state_by_source=dict(by_source), states=states, transitions=tuple(transitions),
        ack_timeouts=ack_timeouts, duplicates=duplicates, sla_composition=str(composition),
    )


def _parse_duplicates(raw: object, code: object, errors: list[str]) -> DuplicatesSpec | None:
    """``duplicates: {radius_m, window, related: [event types], auto_attach: {radius_m, window}}`` (all optional)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.append("duplicates: must be a mapping")
        return None
    unknown_keys(raw, DUPLICATES_KEYS, "duplicates", errors)
    radius = _radius(raw.get("radius_m", DEFAULT_DUPLICATES.radius_m), "duplicates.radius_m", errors)
    window = _window(raw.get("window", DEFAULT_DUPLICATES.window_seconds), "duplicates.window", errors)
    related = raw.get("related") or []
    if not isinstance(related, list):
        errors.append("duplicates.related: must be a list of event type codes")
        related = []
    for i, other in enumerate(related):
        if check_name(other, f"duplicates.related[{i}]", errors) and other == code:
            errors.append(f"duplicates.related[{i}]: the definition's own event type")
    auto = None
    raw_auto = raw.get("auto_attach")
    if raw_auto is not None:
        if not isinstance(raw_auto, dict):
            errors.append("duplicates.auto_attach: must be a mapping")
        else:
            unknown_keys(raw_auto, AUTO_ATTACH_KEYS, "duplicates.auto_attach", errors)
            auto_radius = _radius(raw_auto.get("radius_m"), "duplicates.auto_attach.radius_m", errors)
            auto_window = _window(raw_auto.get("window"), "duplicates.auto_attach.window", errors)
            if auto_radius and radius and auto_radius > radius:
                errors.append("duplicates.auto_attach.radius_m: larger than duplicates.radius_m")
            if auto_window and window and auto_window > window:
                errors.append("duplicates.auto_attach.window: longer than duplicates.window")
            if auto_radius and auto_window:
                auto = AutoAttachSpec(radius_m=auto_radius, window_seconds=auto_window)
    if not radius or not window:
        return None
    return DuplicatesSpec(radius_m=radius, window_seconds=window, related=tuple(str(r) for r in related),
                          auto_attach=auto)


def _radius(value: object, where: str, errors: list[str]) -> int | None:
    if value is None:
        errors.append(f"{where}: required, metres (1..{MAX_DUPLICATE_RADIUS_M})")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DUPLICATE_RADIUS_M:
        errors.append(f"{where}: metres as a whole number from 1 to {MAX_DUPLICATE_RADIUS_M}, not {value!r}")
        return None
    return value


def _window(value: object, where: str, errors: list[str]) -> int | None:
    if value is None:
        errors.append(f"{where}: required, a duration such as 30m")
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        errors.append(f"{where}: {exc}")
        return None


# --- Sections -------------------------------------------------------------------------------------


def _parse_header(raw: dict[str, Any], errors: list[str]) -> tuple[Any, dict[str, str], dict[str, str]]:
    """Unknown top-level keys, ``code``, ``name`` and ``description``."""
    unknown_keys(raw, TOP_KEYS, "definition", errors)
    code = raw.get("code")
    if code is None:
        errors.append("code: required")
    else:
        check_name(code, "code", errors)
    name = parse_label(raw.get("name"), "name", errors, str(code))
    description = parse_label(raw.get("description"), "description", errors, "") if raw.get("description") else {}
    return code, name, description


def _parse_states(
    raw_states: object, departments: set[str], ack_timeouts: dict[str, int], errors: list[str]
) -> dict[str, StateSpec]:
    states: dict[str, StateSpec] = {}
    for sname, body in _state_items(raw_states, errors):
        if check_name(sname, f"states.{sname}", errors):
            states[sname] = _parse_state(sname, body, departments, ack_timeouts, errors)
    if states and not any(s.final for s in states.values()):
        errors.append("states: no final state")
    return states


def _state_items(raw_states: object, errors: list[str]) -> list[tuple[Any, dict[str, Any]]]:
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


def _parse_state(
    sname: str, body: dict[str, Any], departments: set[str], ack_timeouts: dict[str, int], errors: list[str]
) -> StateSpec:
    where = f"states.{sname}"
    unknown_keys(body, STATE_KEYS, where, errors)
    final = parse_flag(body, "final", where, errors)
    sla_seconds = _parse_sla(body, final, where, errors)
    paused = parse_flag(body, "sla_paused", where, errors)
    stand_down = parse_flag(body, "stand_down", where, errors)
    dispatch = parse_dispatch(body.get("dispatch"), f"{where}.dispatch", departments, errors, ack_timeouts)
    if final and dispatch:
        errors.append(f"{where}.dispatch: a final state dispatches nothing")
    return StateSpec(
        name=sname, label=parse_label(body.get("label"), f"{where}.label", errors, sname), final=final,
        sla_seconds=sla_seconds, sla_paused=paused, dispatch=dispatch, stand_down=stand_down,
    )


def _parse_sla(body: dict[str, Any], final: bool, where: str, errors: list[str]) -> int | None:
    sla = body.get("sla", body.get("sla_seconds"))
    sla_seconds = None
    if sla is not None:
        try:
            sla_seconds = parse_duration(sla)
        except ValueError as exc:
            errors.append(f"{where}.sla: {exc}")
    if final and sla is not None:
        errors.append(f"{where}.sla: a final state has no SLA")
    return sla_seconds


def _parse_initial_states(
    raw: dict[str, Any], states: dict[str, StateSpec], errors: list[str]
) -> tuple[Any, dict[Any, Any]]:
    """``initial_state`` and ``initial_state_by_source`` (the start state per incident source)."""
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
    return initial, by_source


def _parse_transitions(
    raw_transitions: object, states: dict[str, StateSpec], departments: set[str], errors: list[str]
) -> list[TransitionSpec]:
    if not isinstance(raw_transitions, list) or not raw_transitions:
        errors.append("transitions: required, a non-empty list")
        raw_transitions = []
    transitions: list[TransitionSpec] = []
    seen_names: set[Any] = set()
    for i, t in enumerate(raw_transitions):
        if not isinstance(t, dict):
            errors.append(f"transitions[{i}]: must be a mapping")
            continue
        transitions.append(_parse_transition(i, t, states, departments, seen_names, errors))
    return transitions


def _parse_transition(
    i: int, t: dict[str, Any], states: dict[str, StateSpec], departments: set[str], seen_names: set[Any],
    errors: list[str],
) -> TransitionSpec:
    tname = t.get("name")
    where = f"transitions.{tname}" if isinstance(tname, str) else f"transitions[{i}]"
    unknown_keys(t, TRANSITION_KEYS, where, errors)
    if not check_name(tname, f"{where}.name", errors):
        tname = f"#{i}"
    elif tname in seen_names:
        errors.append(f"{where}: duplicate transition name")
    seen_names.add(tname)
    reopens = parse_flag(t, "reopens", where, errors)
    sources = _transition_sources(t.get("from"), where, states, errors, reopens=reopens)
    target = t.get("to")
    if not isinstance(target, str) or target not in states:
        errors.append(f"{where}.to: unknown state {target!r}")
    elif reopens and states[target].final:
        errors.append(f"{where}.to: a transition that reopens goes back to a working state, not final {target!r}")
    roles = check_roles(t.get("roles"), f"{where}.roles", departments, errors)
    guard = t.get("guard")
    if guard is not None and (not isinstance(guard, str) or guard not in GUARDS):
        errors.append(f"{where}.guard: unknown guard {guard!r} (one of {', '.join(sorted(GUARDS))})")
    destructive = parse_flag(t, "destructive", where, errors)
    return TransitionSpec(
        name=str(tname), label=parse_label(t.get("label"), f"{where}.label", errors, str(tname)),
        sources=tuple(str(s) for s in sources), target=str(target), roles=roles, guard=guard, destructive=destructive,
        reopens=reopens,
    )


def _transition_sources(
    raw: object, where: str, states: dict[str, StateSpec], errors: list[str], *, reopens: bool = False
) -> list[Any]:
    """A transition's ``from``: one state name or a list of them, none of them final; all of them final for one
    that ``reopens`` (a closed case back to work)."""
    sources = [raw] if isinstance(raw, str) else raw
    if not isinstance(sources, list) or not sources:
        errors.append(f"{where}.from: a non-empty list of states")
        return []
    for s in sources:
        if not isinstance(s, str) or s not in states:
            errors.append(f"{where}.from: unknown state {s!r}")
        elif states[s].final and not reopens:
            errors.append(f"{where}.from: final state {s!r} has no way out (only a transition with reopens: true)")
        elif reopens and not states[s].final:
            errors.append(f"{where}.from: a transition that reopens leaves final states only, not {s!r}")
    return sources


# --- Checks across sections -----------------------------------------------------------------------


def _check_graph(
    initial: object, by_source: dict[Any, Any], states: dict[str, StateSpec], transitions: list[TransitionSpec],
    errors: list[str],
) -> None:
    """Every state is reachable from a start state, and every state but the final ones has a way out."""
    if not (isinstance(initial, str) and initial in states):
        return
    starts = {initial, *[s for s in by_source.values() if isinstance(s, str) and s in states]}
    reachable = _reachable(starts, transitions)
    for sname in states:
        if sname not in reachable:
            errors.append(f"states.{sname}: unreachable from the initial state")
    for sname, spec in states.items():
        if not spec.final and not any(sname in t.sources for t in transitions):
            errors.append(f"states.{sname}: not final and no transition leaves it")


def _reachable(start: set[str], transitions: list[TransitionSpec]) -> set[str]:
    seen, queue = set(start), deque(start)
    while queue:
        state = queue.popleft()
        for t in transitions:
            if state in t.sources and t.target not in seen:
                seen.add(t.target)
                queue.append(t.target)
    return seen
