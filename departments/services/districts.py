"""Which district a reported point is in, and what happens to a point outside every district."""

from __future__ import annotations

from django.utils.translation import gettext as _

from departments.models import District
from departments.services.selectors import district_at
from dispatch.core.errors import Invalid
from dispatch.models import Source

# Channels whose reporter cannot confirm a place outside the city: their report is accepted (a report is never
# lost) and waits for a dispatcher to set the location (``Incident.needs_location``).
UNCONFIRMED_CHANNELS = frozenset({Source.OPEN311})


def location_district(
    *, lat: float | None, lon: float | None, source: str, outside_city_confirmed: bool
) -> District | None:
    """The district containing the point (``None`` without a point). A point outside every district is refused
    (400 naming ``location``) unless ``outside_city_confirmed``; citizens' channels are accepted to wait."""
    if lat is None or lon is None:
        return None
    district = district_at(lat=lat, lon=lon)
    if district is None and not outside_city_confirmed and source not in UNCONFIRMED_CHANNELS:
        raise Invalid(
            _("The location is outside every district of the city."),
            {"location": [_("Outside every district of the city: check it, or confirm it with "
                            "location_outside_city: true.")]},
        )
    return district
