"""Publishing response plans as new immutable versions (``plan_publish``) and loading the shipped ones.

Whether departments, event types and hazard points exist is checked at publish time against the database;
a published version keeps what it said even if a department is renamed later.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from departments.models import Department
from departments.services.selectors import district_at
from dispatch.core.errors import Forbidden, Invalid
from dispatch.models import Role
from plans.definition import DefinitionInvalid, PlanSpec, load_yaml, parse_plan
from plans.models import PlanVersion, ResponsePlan
from workflows.models import EventType

if TYPE_CHECKING:
    from dispatch.models import User

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"


def plan_checksum(spec: PlanSpec) -> str:
    body = json.dumps(spec.to_normalized(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


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
    checksum = plan_checksum(spec)
    with transaction.atomic():
        plan, _created = ResponsePlan.objects.select_for_update().get_or_create(
            code=spec.code, defaults={"name": spec.name}
        )
        active = plan.active_version
        if active is not None and active.checksum == checksum:
            return active, False
        number = (plan.versions.aggregate(n=Max("version"))["n"] or 0) + 1
        version = PlanVersion.objects.create(
            plan=plan, version=number, spec=spec.to_normalized(),
            source=source or json.dumps(data, ensure_ascii=False, indent=2), checksum=checksum,
            created_by=actor if actor is not None and actor.pk else None,
        )
        plan.active_version = version
        plan.name = spec.name
        plan.save(update_fields=["active_version", "name"])
    return version, True


def plans_load_directory(*, directory: Path = DEFINITIONS_DIR) -> list[tuple[str, int, bool]]:
    """Publish every ``*.yaml`` in ``directory``; returns ``(code, version, created)`` for each.

    All files are validated before any is published, so a bad file leaves the database untouched.
    """
    problems: list[str] = []
    texts: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        try:
            spec = plan_parse(load_yaml(text))
        except DefinitionInvalid as exc:
            problems.extend(f"{path.name}: {e}" for e in exc.errors)
            continue
        if spec.code != path.stem:
            problems.append(f"{path.name}: code {spec.code!r} does not match the file name")
        texts.append(text)
    if problems:
        raise Invalid(_("Invalid response plans."), {"definition": problems})
    results = []
    with transaction.atomic():
        for text in texts:
            version, created = plan_publish(actor=None, raw=text)
            results.append((version.plan.code, version.version, created))
    return results
