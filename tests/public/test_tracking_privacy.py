"""Property: the tracking page never shows the reporter's name, phone, address or coordinates, a unit's callsign,
an actor's username or an internal note, whatever the report and however far it went (hypothesis)."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from departments.models import WorkOrder
from tests.public.conftest import order_for

pytestmark = pytest.mark.django_db

# Chinese text of six characters or more: what reporters write, and nothing the page says by itself (its own
# words are English or two characters of Chinese), so any occurrence in the page would be a leak.
words = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=6, max_size=24)
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
lats = st.floats(min_value=31.181, max_value=31.279, allow_nan=False)
lons = st.floats(min_value=121.401, max_value=121.549, allow_nan=False)
# How far the report gets: 0 received, 1 a public and an internal note, 2 on scene, 3 closed, 4 cancelled.
stages = st.integers(min_value=0, max_value=4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=words,
    phone=phones,
    address=words,
    lat=lats,
    lon=lons,
    internal=words,
    public=words,
    stage=stages,
    confidential=st.booleans(),
    severity=st.integers(min_value=1, max_value=5),
)
def test_tracking_page_never_shows_reporter_fields(
    dispatcher,
    act,
    transition,
    waterlogging_payload,
    name,
    phone,
    address,
    lat,
    lon,
    internal,
    public,
    stage,
    confidential,
    severity,
):
    # The published note is shown on purpose: it must not happen to contain what is checked to be absent.
    assume(not any(secret in public for secret in (name, phone, address, internal)))
    response = dispatcher.post(
        "/api/incidents/",
        {
            **waterlogging_payload,
            "address": address,
            "location": {"lat": lat, "lon": lon},
            "severity": severity,
            "reporter": {"name": name, "phone": phone, "confidential": confidential},
            "description": f"caller {name} at {address}",
        },
    )
    assert response.status_code == 201, response.content
    token = response.json()["tracking_token"]
    incident = dispatcher.get(f"/api/incidents/{response.json()['id']}/").json()
    if stage >= 1:
        dispatcher.post(f"/api/incidents/{incident['id']}/notes/", {"text": f"internal {internal} {name}"})
        dispatcher.post(f"/api/incidents/{incident['id']}/notes/", {"text": public, "public": True})
    if stage in (2, 3) and incident["merged_into"] is None:
        order = order_for(incident, "city_management")["id"]
        for action in ("accept", "depart", "arrive") + (("complete",) if stage == 3 else ()):
            assert act("city_management_staff", order, action).status_code == 200
        if stage == 3:
            for step in ("resolve", "close"):
                assert transition("dispatcher", incident["id"], step).status_code == 200
    if stage == 4 and incident["merged_into"] is None:
        assert transition("supervisor", incident["id"], "cancel", note=f"caller {phone} mistaken").status_code == 200
    page = Client().get(f"/track/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    if stage >= 1:
        assert public in html
    secrets = [
        name,
        phone,
        address,
        internal,
        f"{lat:.4f}",
        f"{lon:.4f}",
        repr(lat),
        repr(lon),
        "dispatcher",
        "supervisor",
        "city_management_staff",
    ]
    secrets += [
        c
        for c in WorkOrder.objects.filter(incident_id=incident["id"], unit__isnull=False).values_list(
            "unit__callsign", flat=True
        )
    ]
    leaked = [s for s in secrets if s in html]
    assert not leaked, leaked
