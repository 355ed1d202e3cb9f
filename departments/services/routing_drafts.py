"""Draft routing changes, as an admin writes them before publishing: routing rules in the shape of the routing-rule
admin (codes for event type, districts and department), checked all at once with errors naming ``rules[i].field``,
and a workflow definition checked as publishing checks it. Read by the routing dry-run (``dry_run``); nothing here
writes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from departments.models import PRIORITY_CHOICES, Department, District, RoutingRule
from departments.services.selection import Rule
from dispatch.core.errors import Invalid
from workflows.definition import MAX_DURATION_SECONDS, Definition, DefinitionInvalid, load_yaml, parse_definition
from workflows.models import EventType
from workflows.services import known_departments

MAX_DRAFT_RULES = 1000
RULE_FIELDS = (
    "id",
    "position",
    "event_type",
    "state",
    "min_severity",
    "max_severity",
    "districts",
    "department",
    "action",
    "priority",
    "ack_timeout_seconds",
    "note",
)
PRIORITIES = tuple(code for code, _label in PRIORITY_CHOICES)


def routing_rules_draft() -> list[dict[str, Any]]:
    """The current routing rules in the draft shape (the admin's fields; codes for event type, districts and
    department): a draft starts from these, and replaying them unchanged changes nothing."""
    rules = RoutingRule.objects.select_related("event_type", "department").prefetch_related("districts")
    return [
        {
            "id": r.pk,
            "position": r.position,
            "event_type": r.event_type.code if r.event_type is not None else None,
            "state": r.state,
            "min_severity": r.min_severity,
            "max_severity": r.max_severity,
            "districts": sorted(d.code for d in r.districts.all()),
            "department": r.department.code,
            "action": r.action,
            "priority": r.priority,
            "ack_timeout_seconds": r.ack_timeout_seconds,
        }
        for r in rules
    ]


def head_position(rules: list[dict[str, Any]]) -> int:
    """The position for new rules put at the head of the draft ``rules`` so that they come first in routing order:
    one below the smallest position, or 0 when a rule is at 0 already (then being first in the list breaks the tie,
    as ``draft_rules_parse`` orders; a published rule at 0 keeps its place before new rows, ordered by id)."""
    return max(0, min((rule["position"] for rule in rules), default=1) - 1)


def _whole(value: object, *, low: int, high: int) -> int | None:
    """``value`` when it is a whole number in [low, high] (a boolean is not a number), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def draft_rules_parse(raw: object) -> tuple[list[Rule], dict[int, int | None]]:
    """Draft routing rules (a list of the admin's rule fields, codes for event type, districts and department) as
    ``Rule`` values in routing order (``position``, then their order in the list, as ``position``, then id, orders
    the table), and the draft's own ``id`` of each by its index in the list. Every problem at once: ``Invalid``
    naming ``rules[i].field``."""
    if not isinstance(raw, list):
        raise Invalid(_("The draft routing rules are invalid."), {"rules": [_("A list of routing rules.")]})
    if len(raw) > MAX_DRAFT_RULES:
        raise Invalid(
            _("The draft routing rules are invalid."), {"rules": [_("At most %(n)d rules.") % {"n": MAX_DRAFT_RULES}]}
        )
    event_types = set(EventType.objects.values_list("code", flat=True))
    departments = set(Department.objects.values_list("code", flat=True))
    districts = dict(District.objects.values_list("code", "pk"))
    errors: dict[str, list[str]] = {}
    parsed: list[tuple[int, int, Rule]] = []
    ids: dict[int, int | None] = {}
    for index, item in enumerate(raw):
        at = f"rules[{index}]"

        def fail(name: str, message: str, at: str = at) -> None:
            errors.setdefault(f"{at}.{name}", []).append(message)

        if not isinstance(item, dict):
            errors[at] = [_("A routing rule is an object.")]
            continue
        for name in sorted(set(item) - set(RULE_FIELDS), key=str):
            fail(str(name), _("Unknown field."))
        rule_id = item.get("id")
        if rule_id is not None and _whole(rule_id, low=1, high=2**63 - 1) is None:
            fail("id", _("A positive whole number, or null."))
        position = _whole(item.get("position", 0), low=0, high=2**31 - 1)
        if position is None:
            fail("position", _("A whole number, 0 or more."))
        department = item.get("department")
        if not isinstance(department, str) or not department:
            fail("department", _("This field is required."))
        elif department not in departments:
            fail("department", _("No department %(code)s.") % {"code": department})
        event_type = item.get("event_type") or None
        if event_type is not None and (not isinstance(event_type, str) or event_type not in event_types):
            fail("event_type", _("No event type %(code)s.") % {"code": event_type})
        state = item.get("state") or ""
        if not isinstance(state, str) or len(state) > 64:
            fail("state", _("A state name (at most 64 characters), or blank for every dispatching state."))
        low = _whole(item.get("min_severity", 1), low=1, high=5)
        high = _whole(item.get("max_severity", 5), low=1, high=5)
        if low is None:
            fail("min_severity", _("A severity from 1 to 5."))
        if high is None:
            fail("max_severity", _("A severity from 1 to 5."))
        elif low is not None and low > high:
            fail("max_severity", _("At least min_severity."))
        codes = item.get("districts") or []
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            fail("districts", _("A list of district codes."))
            codes = []
        for code in codes:
            if code not in districts:
                fail("districts", _("No district %(code)s.") % {"code": code})
        action = item.get("action", RoutingRule.Action.DISPATCH)
        if action not in RoutingRule.Action.values:
            fail("action", _("dispatch or skip."))
        priority = item.get("priority") or ""
        if priority and priority not in PRIORITIES:
            fail("priority", _("One of %(choices)s, or blank.") % {"choices": ", ".join(PRIORITIES)})
        ack = item.get("ack_timeout_seconds")
        if ack is not None and _whole(ack, low=1, high=MAX_DURATION_SECONDS) is None:
            fail("ack_timeout_seconds", _("Seconds (at least 1, at most 30 days), or null."))
        if any(key.startswith(at + ".") for key in errors):
            continue
        ids[index] = rule_id
        parsed.append(
            (
                position or 0,
                index,
                Rule(
                    id=index,
                    event_type=event_type,
                    state=state,
                    min_severity=low or 1,
                    max_severity=high or 5,
                    district_ids=frozenset(districts[c] for c in codes),
                    department=str(department),
                    action=str(action),
                    priority=str(priority),
                    ack_timeout_seconds=ack,
                ),
            )
        )
    if errors:
        raise Invalid(_("The draft routing rules are invalid."), errors)
    return [rule for _position, _index, rule in sorted(parsed, key=lambda p: (p[0], p[1]))], ids


def draft_definition_parse(raw: dict[str, Any] | str) -> Definition:
    """A draft workflow definition (YAML text or a loaded mapping), validated as publishing validates it, of an
    event type that exists (else there is nothing to replay). ``Invalid`` naming ``definition`` with every problem."""
    try:
        data = load_yaml(raw) if isinstance(raw, str) else raw
        definition = parse_definition(data, departments=known_departments())
    except DefinitionInvalid as exc:
        raise Invalid(_("The draft workflow definition is invalid."), {"definition": exc.errors}) from exc
    if not EventType.objects.filter(code=definition.code).exists():
        raise Invalid(
            _("The draft workflow definition is invalid."),
            {"definition": [_("No event type %(code)s: no incident to replay.") % {"code": definition.code}]},
        )
    return definition
