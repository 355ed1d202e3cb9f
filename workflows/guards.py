"""Named guards a workflow transition may require (``guard:`` in a definition).

Each guard takes the incident and the caller's note and returns ``None`` when the transition may go
ahead, or the reason it may not. Guards read; they never write. A guard that needs another app's data is
registered by that app (``register_guard`` in its ``AppConfig.ready``: ``departments.services.guards``), so
this app imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

Guard = Callable[[Any, str], str | None]  # (incident, note) -> reason for refusal, or None
GUARDS: dict[str, Guard] = {}


def register_guard(name: str) -> Callable[[Guard], Guard]:
    """Make the decorated function the guard ``name`` (definitions name it in ``guard:``)."""
    def register(guard: Guard) -> Guard:
        GUARDS[name] = guard
        return guard
    return register


@register_guard("note_required")
def note_required(incident: Any, note: str) -> str | None:
    if not (note or "").strip():
        return _("A note giving the reason is required.")
    return None
