"""Routing rules suggested by upheld returns (issue 17, item 5): when the command center keeps upholding returns of
one kind of incident from one department to another, the routing rules are wrong there, and a rule can say so.

An upheld return is a work order with ``replaced_by`` set (``returns``): it went to ``from`` (its department) and the
work went to ``to`` (the replacing order's department). They are counted by (event type, district, from, to) of
the incident in one grouped query, with the reason codes given and when the last was returned. Each group with a
district suggests two draft rules limited to its event type and district, a ``skip`` for ``from`` and a
``dispatch`` for ``to``, placed before every current rule (``routing_drafts.head_position``): for each department
the first matching rule wins (``selection.first_matching_rules``), so the suggestion decides for both. ``draft`` is
the current rules (``routing_drafts.routing_rules_draft``) with the suggestion at their head, ready for
``POST /api/routing/dry-run/``. Pure reads; admins only, as the dry-run (``dry_run.dry_run_check``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Max

from departments.models import RoutingRule, WorkOrder
from departments.services.dry_run import dry_run_check
from departments.services.routing_drafts import head_position, routing_rules_draft

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from dispatch.models import User

DEFAULT_MIN_COUNT = 2


@dataclass
class _Group:
    """The upheld returns of one (event type, district, from, to)."""

    last_seen: datetime
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def suggested_rules(*, event_type: str, district: str, from_: str, to: str, position: int) -> list[dict[str, Any]]:
    """The two draft rules (in ``routing_rules_draft``'s shape, no id: new rules) that send the work of
    ``event_type`` in ``district`` to ``to`` instead of ``from_``, in every dispatching state and at every severity."""
    base = {
        "id": None,
        "position": position,
        "event_type": event_type,
        "state": "",
        "min_severity": 1,
        "max_severity": 5,
        "districts": [district],
        "priority": "",
        "ack_timeout_seconds": None,
    }
    return [
        {**base, "department": from_, "action": RoutingRule.Action.SKIP.value},
        {**base, "department": to, "action": RoutingRule.Action.DISPATCH.value},
    ]


def routing_suggestions(
    *, actor: User | AnonymousUser, since: datetime | None = None, min_count: int = DEFAULT_MIN_COUNT
) -> list[dict[str, Any]]:
    """Upheld returns (returned at or after ``since``, when given) grouped by the incident's event type and district
    and the departments the work went from and to, the groups of at least ``min_count``, most returns first:
    ``[{event_type, district, from, to, count, reasons: {reason code: n}, last_seen, suggested_rules, draft}]``.
    An incident without a district gives no rule to suggest (``suggested_rules`` empty, ``draft`` null): one for
    every district would reach incidents nobody returned. Admins; 403 otherwise."""
    dry_run_check(actor)
    upheld = WorkOrder.objects.filter(replaced_by__isnull=False)
    if since is not None:
        upheld = upheld.filter(returned_at__gte=since)
    rows = (
        upheld.values(
            event_type=F("incident__event_type__code"),
            district=F("incident__district__code"),
            from_=F("department__code"),
            to=F("replaced_by__department__code"),
            reason=F("return_reason"),
        )
        .annotate(n=Count("pk"), last=Max("returned_at"))
        .order_by()
    )
    groups: dict[tuple[str, str | None, str, str], _Group] = {}
    for row in rows:  # one row per reason code of a group
        key = (row["event_type"], row["district"], row["from_"], row["to"])
        group = groups.setdefault(key, _Group(last_seen=row["last"]))
        group.count += row["n"]
        group.reasons[row["reason"]] += row["n"]
        group.last_seen = max(group.last_seen, row["last"])
    kept = sorted(
        ((key, group) for key, group in groups.items() if group.count >= min_count),
        key=lambda item: (-item[1].count, -item[1].last_seen.timestamp(), [part or "" for part in item[0]]),
    )
    current = routing_rules_draft() if kept else []
    position = head_position(current)
    out = []
    for (event_type, district, from_, to), group in kept:
        rules = (
            suggested_rules(event_type=event_type, district=district, from_=from_, to=to, position=position)
            if district is not None
            else []
        )
        out.append(
            {
                "event_type": event_type,
                "district": district,
                "from": from_,
                "to": to,
                "count": group.count,
                "reasons": dict(sorted(group.reasons.items(), key=lambda item: (-item[1], item[0]))),
                "last_seen": group.last_seen,
                "suggested_rules": rules,
                "draft": [*rules, *current] if rules else None,
            }
        )
    return out
