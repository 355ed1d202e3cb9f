"""Known hazard points of a response plan (the city's low-lying underpasses ...) reported as incidents when the plan
reaches a level that names them, those inside its area (the ``plan.hazard_points`` outbox job, recorded with the activation or its level
change): each is routed like any report, with the level's overrides, so units are sent to close and watch it before
a citizen has to call. Idempotent: a point already reported under the activation is not reported again (its
``external_id`` names the activation and the point)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from departments.services.selectors import district_at
from dispatch.core.outbox import outbox_handler
from dispatch.models import Incident, Source
from dispatch.services.incidents import incident_report
from plans.models import Activation
from plans.services.activations import activation_hazards_reported

HAZARD_DESCRIPTION = gettext_lazy("Known hazard point, reported by response plan %(plan)s at level %(level)s.")


def hazard_external_id(activation_id: int, point: dict) -> str:
    return f"plan-{activation_id}-{point['lat']:.5f},{point['lon']:.5f}"


@outbox_handler("plan.hazard_points")
def hazard_points_report(*, activation_id: int, level: str) -> list[Incident]:
    activation = Activation.objects.select_related("plan", "version").filter(pk=activation_id, active=True).first()
    if activation is None or activation.level != level:
        return []  # ended, or moved to another level whose own job reports its points
    area = set(activation.districts.values_list("pk", flat=True))
    points = [p for p in activation.level_spec().get("hazard_points") or []
              if (district := district_at(lat=p["lat"], lon=p["lon"])) is not None and district.pk in area]
    known = set(Incident.objects.filter(source=Source.CONSOLE, external_id__startswith=f"plan-{activation_id}-")
                .values_list("external_id", flat=True))
    made = []
    for point in points:
        external_id = hazard_external_id(activation_id, point)
        if external_id in known:
            continue
        title = point["title"]
        incident, _created = incident_report(actor=None, data={
            "event_type": point["event_type"], "severity": point["severity"], "source": Source.CONSOLE,
            "title": (" · ".join(t for t in (title.get("zh"), title.get("en")) if t))[:200],
            "description": str(HAZARD_DESCRIPTION % {"plan": activation.plan.code, "level": level}),
            "location": {"lat": point["lat"], "lon": point["lon"]}, "external_id": external_id,
        })
        made.append(incident)
    if made:
        activation_hazards_reported(activation_id=activation_id, incidents=made)
    return made
