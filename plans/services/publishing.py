"""Publishing response plans as new immutable versions (``plan_publish``) and loading the shipped ones.

Whether departments, event types and hazard points exist is checked at publish time against the database;
a published version keeps what it said even if a department is renamed later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from departments.models import Department
from departments.services.selectors import district_at
from dispatch.core.definitions import directory_publish, version_publish
from dispatch.core.errors import Forbidden, Invalid
from dispatch.models import Role
from plans.definition import DefinitionInvalid, PlanSpec, load_yaml, parse_plan
from plans.models import PlanVersion, ResponsePlan
from workflows.models import EventType

if TYPE_CHECKING:
    from dispatch.models import User

DEFINITIONS_DIR = Path(__file__).resolve().parent.parent / "definitions"


def _in_city(lat: float, lon: float) -> bool:
    return district_at(lat=lat, lon=lon) is not None


def plan_parse(data: object) -> PlanSpec:
    """Validate a loaded plan against what exists now (departments, event types, districts)."""
    return parse_plan(
        data,
        departments=set(Department.objects.values_list("code", flat=True)),
        event_types=set(EventType.objects.values_list("code", flat=True)),
        in_city=_in_city,
    )


def plan_publish(*, actor: User | None, raw: dict | str, source: str = "") -> tuple[PlanVersion, bool]:
    """Validate and publish a plan (YAML text or a loaded mapping) as its active version (admins; ``actor=None``
    is the system, e.g. ``load_plans``).

    Returns ``(version, created)``; a plan identical to the active version publishes nothing. Raises ``Invalid``
    listing every problem (nothing is written), ``Forbidden`` for anyone but an admin.
    """
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden(_("Only an administrator publishes response plans."))
    try:
        data = load_yaml(raw) if isinstance(raw, str) else raw
        spec = plan_parse(data)
    except DefinitionInvalid as exc:
        raise Invalid(_("The response plan is invalid."), {"definition": exc.errors}) from exc
    if isinstance(raw, str):
        source = source or raw
    return version_publish(
        owners=ResponsePlan, versions=PlanVersion, owner_field="plan", content_field="spec",
        code=spec.code, name=spec.name, normalized=spec.to_normalized(),
        source=source or json.dumps(data, ensure_ascii=False, indent=2), actor=actor,
    )


def plans_load_directory(*, directory: Path = DEFINITIONS_DIR) -> list[tuple[str, int, bool]]:
    """Publish every ``*.yaml`` in ``directory``, all or nothing; returns ``(code, version, created)`` for each."""

    def check(text: str) -> tuple[str | None, list[str]]:
        try:
            return plan_parse(load_yaml(text)).code, []
        except DefinitionInvalid as exc:
            return None, exc.errors

    def publish(text: str) -> tuple[str, int, bool]:
        version, created = plan_publish(actor=None, raw=text)
        return version.plan.code, version.version, created

    return directory_publish(directory=directory, check=check, publish=publish, invalid=_("Invalid response plans."))
