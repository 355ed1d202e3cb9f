"""Checks of single fields of a definition: durations, names, labels, roles, dispatch targets.

Each check appends what is wrong to ``errors`` (prefixed by ``where``) and returns a usable value
anyway, so that validation goes on and reports every problem at once.
"""

from __future__ import annotations

from typing import Any

from .spec import (
    BASE_ROLES,
    DEFAULT_ACK_TIMEOUTS,
    DEFAULT_MAX_ATTEMPTS,
    DEPARTMENT_ROLES,
    DISPATCH_KEYS,
    DURATION_RE,
    MAX_DURATION_SECONDS,
    NAME_RE,
    PRIORITIES,
    DispatchSpec,
)


def parse_duration(value: object) -> int:
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


def parse_label(value: object, where: str, errors: list[str], default: str) -> dict[str, str]:
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


def unknown_keys(obj: dict[Any, Any], allowed: set[str], where: str, errors: list[str]) -> None:
    for key in sorted(set(obj) - allowed, key=str):
        errors.append(f"{where}: unknown key {key!r}")


def check_name(name: object, where: str, errors: list[str]) -> bool:
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append(f"{where}: bad name {name!r} (lower-case letters, digits and _; starts with a letter)")
        return False
    return True


def parse_flag(body: dict[str, Any], key: str, where: str, errors: list[str]) -> bool:
    """``body[key]`` as a boolean (``False`` when absent or not a boolean)."""
    value = body.get(key, False)
    if not isinstance(value, bool):
        errors.append(f"{where}.{key}: must be true or false")
        return False
    return value


def parse_ack_timeouts(raw: object, errors: list[str]) -> dict[str, int]:
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


def parse_dispatch(
    raw: object, where: str, departments: set[str], errors: list[str], ack_timeouts: dict[str, int]
) -> tuple[DispatchSpec, ...]:
    """A state's ``dispatch:`` list: which departments get a work order on entering it."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.append(f"{where}: must be a list")
        return ()
    out: list[DispatchSpec] = []
    seen: set[Any] = set()
    for i, d in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(d, dict):
            errors.append(f"{w}: must be a mapping")
            continue
        out.append(_dispatch_target(d, w, departments, seen, errors, ack_timeouts))
    return tuple(out)


def _dispatch_target(
    d: dict[str, Any], w: str, departments: set[str], seen: set[Any], errors: list[str], ack_timeouts: dict[str, int]
) -> DispatchSpec:
    unknown_keys(d, DISPATCH_KEYS, w, errors)
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
    return DispatchSpec(department=str(dept), priority=str(priority), ack_timeout_seconds=ack_seconds,
                        max_attempts=attempts, handling=_handling(d.get("handling"), f"{w}.handling", errors),
                        require_photo=_require_photo(d.get("require_photo"), f"{w}.require_photo", errors))


def _require_photo(raw: object, where: str, errors: list[str]) -> bool:
    """``require_photo: complete`` (or ``true``): completing the order needs a photo on it; absent or ``false``: not."""
    if raw is None or raw is False:
        return False
    if raw is True or raw == "complete":
        return True
    errors.append(f"{where}: complete, true or false")
    return False


def _handling(raw: object, where: str, errors: list[str]) -> dict[str, int] | None:
    """``handling: 2h``, or per priority ``handling: {default: 2h, high: 1h, critical: 30m}``."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        try:
            return {"default": parse_duration(raw)}
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
            return None
    out: dict[str, int] = {}
    for key, value in raw.items():
        if key != "default" and key not in PRIORITIES:
            errors.append(f"{where}.{key}: unknown priority (default or one of {', '.join(PRIORITIES)})")
            continue
        try:
            out[str(key)] = parse_duration(value)
        except ValueError as exc:
            errors.append(f"{where}.{key}: {exc}")
    if "default" not in raw:
        errors.append(f"{where}.default: required beside the priorities")
    return out or None


def check_roles(raw: object, where: str, departments: set[str], errors: list[str]) -> tuple[str, ...]:
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
