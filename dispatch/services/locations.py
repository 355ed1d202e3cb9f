"""Setting where an incident is, after intake: a dispatcher gives a point or a district to a report that came
without one (or from outside the city), and the orders that were waiting for it are offered to units."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from departments.models import District
from departments.services.districts import location_district
from departments.services.offers import work_orders_offer_waiting
from dispatch import access
from dispatch.core.changes import record_change
from dispatch.core.errors import Forbidden, Invalid
from dispatch.models import Incident, Source
from dispatch.services.incidents import incident_lock_visible


def incident_locate(
    *, actor, incident_id: int, lat: float | None = None, lon: float | None = None, district: str | None = None,
    address: str | None = None, outside_city: bool = False,
) -> Incident:
    """Set the incident's point and/or district. 404 unseen, 403 role, 400 neither given, an unknown district or a
    point outside every district not confirmed with ``outside_city``. A district given wins over the point's."""
    with transaction.atomic():
        incident = incident_lock_visible(actor=actor, incident_id=incident_id)
        if not access.may_locate_incident(actor):
            raise Forbidden(_("Only dispatchers may set an incident's location."))
        if lat is None and not district:
            raise Invalid(_("Give a location or a district."), {"location": [_("This field is required.")]})
        chosen = None
        if district:
            chosen = District.objects.filter(code=district).first()
            if chosen is None:
                raise Invalid(_("Unknown district."), {"district": [_("Not a district of the city.")]})
        if lat is not None:
            at = location_district(lat=lat, lon=lon, source=Source.CONSOLE, outside_city_confirmed=outside_city)
            incident.lat, incident.lon = lat, lon
            chosen = chosen or at
        incident.district = chosen
        incident.location_outside_city = chosen is None
        if address is not None:
            incident.address = address
        incident.updated_at = timezone.now()
        incident.save(update_fields=["lat", "lon", "district", "location_outside_city", "address", "updated_at"])
        record_change(
            incident=incident, kind="incident.located", actor=actor, live="incident.located",
            data={
                "location": {"lat": incident.lat, "lon": incident.lon} if incident.lat is not None else None,
                "district": chosen.code if chosen is not None else None, "address": incident.address,
                **({"location_outside_city": True} if incident.location_outside_city else {}),
            },
            consequences=lambda: work_orders_offer_waiting(incident=incident, actor=actor),
        )
    return incident
