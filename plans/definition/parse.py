"""``parse_plan``: the whole document, section by section, every problem listed with its path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.definition import PRIORITIES, DefinitionInvalid, parse_duration
from workflows.definition.fields import check_name, unknown_keys

from .spec import (
    HAZARD_KEYS,
    LANGUAGES,
    LEVEL_KEYS,
    LEVELS,
    MAJOR_EVENT_KEYS,
    OVERRIDE_KEYS,
    SEVERITIES,
    TASK_KEYS,
    TOP_KEYS,
    TRIGGER_KEYS,
    HazardPointSpec,
    LevelSpec,
    MajorEventSpec,
    OverridesSpec,
    PlanSpec,
    TaskSpec,
    TriggerSpec,
)

InCity = Callable[[float, float], bool]  # (lat, lon) -> inside one of the city's districts


def parse_plan(
    raw: object, *, departments: set[str], event_types: set[str], in_city: InCity
) -> PlanSpec:
    """Validate ``raw`` (a loaded YAML/JSON document) and return the normalized ``PlanSpec``."""
    if not isinstance(raw, dict):
        raise DefinitionInvalid(["the plan must be a mapping"])
    errors: list[str] = []
    unknown_keys(raw, TOP_KEYS, "plan", errors)
    code = raw.get("code")
    if code is None:
        errors.append("code: required")
    else:
        check_name(code, "code", errors)
    name = _text(raw.get("name"), "name", errors)
    description = _text(raw["description"], "description", errors) if "description" in raw else {}
    levels = _parse_levels(raw.get("levels"), departments, event_types, in_city, errors)
    triggers = _parse_triggers(raw.get("triggers"), set(levels), errors)
    if errors:
        raise DefinitionInvalid(errors)
    return PlanSpec(code=str(code), name=name, description=description, triggers=triggers, levels=levels)


def _text(value: object, where: str, errors: list[str]) -> dict[str, str]:
    """A text in both languages: ``{en: ..., zh: ...}``."""
    if not isinstance(value, dict):
        errors.append(f"{where}: required, a mapping with en and zh texts")
        return {}
    unknown_keys(value, set(LANGUAGES), where, errors)
    out = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}.{lang}: required, a non-empty text")
        else:
            out[lang] = text.strip()
    return out


def _duration(value: object, where: str, errors: list[str]) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        errors.append(f"{where}: {exc}")
        return 0


# --- triggers -------------------------------------------------------------------------------------------


def _parse_triggers(raw: object, levels: set[str], errors: list[str]) -> tuple[TriggerSpec, ...]:
    """``triggers: [{events, severities}]``; ``[]`` makes a plan that only the command center activates."""
    if not isinstance(raw, list):
        errors.append("triggers: required, a list (empty for a plan activated by hand only)")
        return ()
    out = []
    for i, trigger in enumerate(raw):
        where = f"triggers[{i}]"
        if not isinstance(trigger, dict):
            errors.append(f"{where}: must be a mapping")
            continue
        unknown_keys(trigger, TRIGGER_KEYS, where, errors)
        out.append(TriggerSpec(
            events=_parse_events(trigger.get("events"), f"{where}.events", errors),
            severities=_parse_severities(trigger.get("severities"), f"{where}.severities", levels, errors),
        ))
    return tuple(out)


def _parse_events(raw: object, where: str, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(f"{where}: a non-empty list of CAP event names")
        return ()
    events: list[str] = []
    for j, event in enumerate(raw):
        if not isinstance(event, str) or not event.strip():
            errors.append(f"{where}[{j}]: an event name is a non-empty text")
        elif event.strip() in events:
            errors.append(f"{where}[{j}]: duplicate event {event!r}")
        else:
            events.append(event.strip())
    return tuple(events)


def _parse_severities(raw: object, where: str, levels: set[str], errors: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        errors.append(f"{where}: a non-empty mapping of CAP severity ({'|'.join(SEVERITIES)}) to level")
        return {}
    out = {}
    for severity, level in raw.items():
        if severity not in SEVERITIES:
            errors.append(f"{where}.{severity}: unknown severity (one of {', '.join(SEVERITIES)})")
        elif level not in LEVELS:
            errors.append(f"{where}.{severity}: unknown level {level!r} (one of {', '.join(LEVELS)})")
        elif level not in levels:
            errors.append(f"{where}.{severity}: level {level} is not defined under levels")
        else:
            out[str(severity)] = str(level)
    return {s: out[s] for s in SEVERITIES if s in out}


# --- levels ---------------------------------------------------------------------------------------------


def _parse_levels(
    raw: object, departments: set[str], event_types: set[str], in_city: InCity, errors: list[str]
) -> dict[str, LevelSpec]:
    if not isinstance(raw, dict) or not raw:
        errors.append(f"levels: required, a mapping of level ({', '.join(LEVELS)}) to what it orders")
        return {}
    parsed: dict[str, LevelSpec] = {}
    for name, body in raw.items():
        where = f"levels.{name}"
        if name not in LEVELS:
            errors.append(f"{where}: unknown level (one of {', '.join(LEVELS)})")
            continue
        if not isinstance(body, dict):
            errors.append(f"{where}: must be a mapping")
            continue
        unknown_keys(body, LEVEL_KEYS, where, errors)
        parsed[name] = LevelSpec(
            tasks=_parse_tasks(body.get("tasks"), f"{where}.tasks", departments, errors),
            overrides=_parse_overrides(body.get("overrides"), f"{where}.overrides", departments, event_types, errors),
            hazard_points=_parse_hazard_points(body.get("hazard_points"), f"{where}.hazard_points", event_types,
                                               in_city, errors),
            major_event=_parse_major_event(body.get("major_event"), f"{where}.major_event", event_types, errors),
        )
    return {level: parsed[level] for level in LEVELS if level in parsed}


def _parse_tasks(raw: object, where: str, departments: set[str], errors: list[str]) -> tuple[TaskSpec, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(f"{where}: a non-empty list of department tasks")
        return ()
    out, seen = [], set()
    for i, task in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(task, dict):
            errors.append(f"{w}: must be a mapping")
            continue
        unknown_keys(task, TASK_KEYS, w, errors)
        dept = task.get("department")
        if not isinstance(dept, str) or dept not in departments:
            errors.append(f"{w}.department: unknown department {dept!r}")
        elif dept in seen:
            errors.append(f"{w}.department: duplicate department {dept!r} in one level")
        seen.add(dept)
        ack = task.get("ack_timeout")
        ack_seconds = _duration(ack, f"{w}.ack_timeout", errors) if ack is not None else 0
        if ack is None:
            errors.append(f"{w}.ack_timeout: required, a duration such as 10m")
        out.append(TaskSpec(department=str(dept), task=_text(task.get("task"), f"{w}.task", errors),
                            ack_timeout_seconds=ack_seconds))
    return tuple(out)


def _parse_overrides(
    raw: object, where: str, departments: set[str], event_types: set[str], errors: list[str]
) -> OverridesSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.append(f"{where}: must be a mapping")
        return None
    unknown_keys(raw, OVERRIDE_KEYS, where, errors)
    ack = raw.get("ack_timeout")
    ack_seconds = _duration(ack, f"{where}.ack_timeout", errors) if ack is not None else None
    priority = raw.get("priority")
    if priority is not None and priority not in PRIORITIES:
        errors.append(f"{where}.priority: unknown priority {priority!r} (one of {', '.join(PRIORITIES)})")
    extra: dict[str, tuple[str, ...]] = {}
    raw_extra = raw.get("extra_departments", {})
    if not isinstance(raw_extra, dict):
        errors.append(f"{where}.extra_departments: a mapping of event type to a list of departments")
        raw_extra = {}
    for event_type, depts in raw_extra.items():
        w = f"{where}.extra_departments.{event_type}"
        if event_type not in event_types:
            errors.append(f"{w}: unknown event type {event_type!r}")
        if not isinstance(depts, list) or not depts:
            errors.append(f"{w}: a non-empty list of departments")
            continue
        for j, dept in enumerate(depts):
            if not isinstance(dept, str) or dept not in departments:
                errors.append(f"{w}[{j}]: unknown department {dept!r}")
        extra[str(event_type)] = tuple(str(d) for d in depts)
    return OverridesSpec(ack_timeout_seconds=ack_seconds, priority=None if priority is None else str(priority),
                         extra_departments=extra)


def _parse_hazard_points(
    raw: object, where: str, event_types: set[str], in_city: InCity, errors: list[str]
) -> tuple[HazardPointSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list")
        return ()
    out = []
    for i, point in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(point, dict):
            errors.append(f"{w}: must be a mapping")
            continue
        unknown_keys(point, HAZARD_KEYS, w, errors)
        event_type = point.get("event_type")
        if not isinstance(event_type, str) or event_type not in event_types:
            errors.append(f"{w}.event_type: unknown event type {event_type!r}")
        severity = point.get("severity")
        if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
            errors.append(f"{w}.severity: a whole number from 1 to 5")
            severity = 0
        lat, lon = _coordinate(point, "lat", 90, w, errors), _coordinate(point, "lon", 180, w, errors)
        if lat is not None and lon is not None and not in_city(lat, lon):
            errors.append(f"{w}: the point ({lat}, {lon}) is outside every district of the city")
        out.append(HazardPointSpec(title=_text(point.get("title"), f"{w}.title", errors), event_type=str(event_type),
                                   severity=severity, lat=lat or 0.0, lon=lon or 0.0))
    return tuple(out)


def _parse_major_event(raw: object, where: str, event_types: set[str], errors: list[str]) -> MajorEventSpec | None:
    if raw is None or raw is False:
        return None
    if not isinstance(raw, dict):
        errors.append(f"{where}: a mapping with a title (en, zh) and optionally event_types")
        return None
    unknown_keys(raw, MAJOR_EVENT_KEYS, where, errors)
    types = raw.get("event_types", [])
    if not isinstance(types, list):
        errors.append(f"{where}.event_types: a list of event types (empty or absent: every type)")
        types = []
    for i, code in enumerate(types):
        if not isinstance(code, str) or code not in event_types:
            errors.append(f"{where}.event_types[{i}]: unknown event type {code!r}")
    return MajorEventSpec(title=_text(raw.get("title"), f"{where}.title", errors),
                          event_types=tuple(str(t) for t in types))


def _coordinate(point: dict[str, Any], key: str, limit: int, where: str, errors: list[str]) -> float | None:
    value = point.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        errors.append(f"{where}.{key}: required, a number from {-limit} to {limit}")
        return None
    return float(value)
