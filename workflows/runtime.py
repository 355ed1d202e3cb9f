"""Firing a workflow transition: which transitions a caller may fire, and whether one may fire now.

The incident engine (``dispatch.services.incidents``) asks here before it moves an incident: the
definition pinned by the incident decides the transition's sources, target, roles and guard. Who holds
a role is the caller's question (``role_allows``), so this module knows no user model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from dispatch.core.errors import Conflict, Forbidden, Invalid
from workflows.definition import Definition, TransitionSpec
from workflows.guards import GUARDS

RoleCheck = Callable[[tuple[str, ...]], bool]  # does the caller hold one of these roles?


def transitions_available(*, spec: Definition, state: str, role_allows: RoleCheck) -> list[str]:
    """Names of the transitions the caller may fire from ``state`` (role and source; guards are checked on
    firing)."""
    return [t.name for t in spec.transitions_from(state) if not t.reopens and role_allows(t.roles)]


def transition_check(
    *, spec: Definition, subject: Any, name: str, note: str, role_allows: RoleCheck, expected_state: str | None = None,
    reopening: bool = False,
) -> TransitionSpec:
    """The transition ``name`` if it may fire now on ``subject`` (an incident: ``state`` and whatever its
    guard reads). Raises 400 unknown name, 409 stale ``expected_state``, 403 role, 409 wrong state or guard."""
    t = spec.transition(name)
    if t is None:
        raise Invalid(
            _("Unknown transition."),
            {"transition": [_("%(name)s is not a transition of this workflow.") % {"name": name}]},
        )
    if expected_state and expected_state != subject.state:
        raise Conflict(
            _("The incident is no longer in state %(expected)s (now %(state)s).")
            % {"expected": expected_state, "state": subject.state},
            {"expected_state": [_("No longer holds.")]},
        )
    if not role_allows(t.roles):
        raise Forbidden(_("Your role may not fire %(name)s.") % {"name": t.name})
    if t.reopens and not reopening:
        raise Conflict(
            _("A closed case is reopened by deciding the citizen's reopen request, which names the department."),
            {"transition": [_("Decide the reopen request instead.")]},
        )
    if subject.state not in t.sources:
        raise Conflict(
            _("%(name)s is not available from state %(state)s.") % {"name": t.name, "state": subject.state},
            {"transition": [_("Not available now.")]},
        )
    if t.guard:
        refusal = GUARDS[t.guard](subject, note)
        if refusal:
            raise Conflict(refusal, {"note": [refusal]} if t.guard == "note_required" else None)
    return t
