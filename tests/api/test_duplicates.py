"""Duplicate reports: candidates at intake and before it, merge and unmerge (with their 409s), auto-attach under a
surge, the citizen of a merged Open311 report kept informed, and the definitions' ``duplicates`` grammar."""

import pytest
import yaml

from departments.models import WorkOrder
from dispatch.core.timeline import timeline_verify
from dispatch.models import Incident, TimelineEvent
from tests.conftest import WATERLOGGING

pytestmark = pytest.mark.django_db

SPOT = {"lat": 31.21, "lon": 121.43}
NEAR = {"lat": 31.2105, "lon": 121.4304}  # about 66 m from SPOT
FAR = {"lat": 31.22, "lon": 121.43}  # about 1.1 km


def open_orders(incident_id: int) -> list[tuple[str, str]]:
    return sorted(WorkOrder.objects.filter(incident_id=incident_id, state__in=WorkOrder.OPEN_STATES)
                  .values_list("department__code", "state"))


def test_the_201_lists_open_incidents_nearby_of_the_same_type_nearest_first(dispatcher, report):
    first = report(location=SPOT)
    report(location=FAR)
    other_type = dispatcher.post("/api/incidents/", {**WATERLOGGING, "event_type": "traffic_accident",
                                                     "location": SPOT}).json()
    response = dispatcher.post("/api/incidents/", {**WATERLOGGING, "location": NEAR})
    assert response.status_code == 201
    candidates = response.json()["duplicate_candidates"]
    assert [c["id"] for c in candidates] == [first["id"]]
    (c,) = candidates
    assert c["number"] == first["number"] and 55 <= c["distance_m"] <= 75 and c["minutes_ago"] == 0
    assert c["state"] == first["state"]
    assert other_type["duplicate_candidates"] == []


def test_closed_merged_and_old_incidents_are_not_candidates(dispatcher, report, time_machine):
    closed = report(location=SPOT)
    dispatcher.post(f"/api/incidents/{closed['id']}/transitions/", {"transition": "cancel", "note": "false alarm"})
    assert dispatcher.get(f"/api/incidents/duplicates/?event_type=waterlogging&lat={NEAR['lat']}&lon={NEAR['lon']}").json() == []
    survivor, merged = report(location=SPOT), report(location=SPOT)
    dispatcher.post(f"/api/incidents/{merged['id']}/merge/", {"into": survivor["id"]})
    found = dispatcher.get(f"/api/incidents/duplicates/?event_type=waterlogging&lat={NEAR['lat']}&lon={NEAR['lon']}").json()
    assert [c["id"] for c in found] == [survivor["id"]]
    time_machine.move_to("2099-01-01")  # beyond waterlogging's 2 h window
    assert dispatcher.get(f"/api/incidents/duplicates/?event_type=waterlogging&lat={NEAR['lat']}&lon={NEAR['lon']}").json() == []


@pytest.mark.parametrize("query, field", [
    ("event_type=nope&lat=31.2&lon=121.4", "event_type"),
    ("event_type=waterlogging&lat=91&lon=121.4", "lat"),
    ("event_type=waterlogging&lat=31.2", "lon"),
])
def test_a_bad_preview_query_names_the_field(dispatcher, query, field):
    response = dispatcher.get(f"/api/incidents/duplicates/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_related_event_types_are_candidates_both_ways(dispatcher):
    spill = dispatcher.post("/api/incidents/", {**WATERLOGGING, "event_type": "hazmat_spill", "location": SPOT}).json()
    fumes = dispatcher.post("/api/incidents/", {**WATERLOGGING, "event_type": "air_pollution", "location": NEAR}).json()
    assert [c["id"] for c in fumes["duplicate_candidates"]] == [spill["id"]]
    response = dispatcher.post(f"/api/incidents/{fumes['id']}/merge/", {"into": spill["id"], "note": "same spill"})
    assert response.status_code == 200, response.content


def test_merge_cancels_the_report_s_orders_and_unmerge_gives_exactly_them_back(dispatcher, report, act):
    survivor, dup = report(location=SPOT), report(location=NEAR)
    # city_management accepted its order on the duplicate; the others are still offered.
    cm = next(o for o in dup["work_orders"] if o["department"] == "city_management")
    assert act("city_management_staff", cm["id"], "accept").status_code == 200
    before = open_orders(dup["id"])
    response = dispatcher.post(f"/api/incidents/{dup['id']}/merge/", {"into": survivor["id"], "note": "same underpass"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == survivor["id"] and body["report_count"] == 2
    assert [r["number"] for r in body["merged_reports"]] == [dup["number"]]
    merged = dispatcher.get(f"/api/incidents/{dup['id']}/").json()
    assert merged["merged_into"] == survivor["id"] and merged["available_transitions"] == []
    assert open_orders(dup["id"]) == []
    reasons = TimelineEvent.objects.filter(incident_id=dup["id"], kind="work_order.cancelled").values_list("data", flat=True)
    assert {r["reason"] for r in reasons} == {f"merged into {survivor['number']}"}
    assert merged["reporter"]["name"] == "张三" and merged["description"] == WATERLOGGING["description"]
    assert open_orders(survivor["id"]) != []  # the survivor keeps its own work
    # Unmerge: open again, and exactly the departments the merge cancelled get orders again.
    response = dispatcher.post(f"/api/incidents/{dup['id']}/unmerge/", {"note": "different underpass after all"})
    assert response.status_code == 200, response.content
    assert response.json()["merged_into"] is None
    assert [d for d, _s in open_orders(dup["id"])] == [d for d, _s in before]
    assert dispatcher.get(f"/api/incidents/{survivor['id']}/").json()["report_count"] == 1
    kinds = [r.kind for r in TimelineEvent.objects.filter(incident_id=survivor["id"]).order_by("seq")]
    assert "incident.report_merged" in kinds and "incident.report_unmerged" in kinds
    assert timeline_verify(dup["id"]) is None and timeline_verify(survivor["id"]) is None


@pytest.mark.parametrize("case", ["itself", "into_merged", "already_merged", "carrier", "unrelated", "closed"])
def test_merges_that_make_no_sense_are_409_with_the_reason(dispatcher, report, case):
    a, b, c = report(location=SPOT), report(location=SPOT), report(location=SPOT)
    if case == "itself":
        into, subject = a, a
    elif case == "into_merged":
        dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]})
        subject, into = c, b
    elif case == "already_merged":
        dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]})
        subject, into = b, c
    elif case == "carrier":
        dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]})
        subject, into = a, c
    elif case == "unrelated":
        subject = dispatcher.post("/api/incidents/", {**WATERLOGGING, "event_type": "traffic_accident"}).json()
        into = a
    else:
        dispatcher.post(f"/api/incidents/{a['id']}/transitions/", {"transition": "cancel", "note": "false alarm"})
        subject, into = b, a
    response = dispatcher.post(f"/api/incidents/{subject['id']}/merge/", {"into": into["id"]})
    assert response.status_code == 409, response.content
    assert response.json()["detail"]
    assert not Incident.objects.filter(pk=subject["id"], merged_into_id=into["id"]).exists() or case == "already_merged"


def test_only_dispatchers_merge_and_unmerge(api_as, report, dispatcher):
    a, b = report(location=SPOT), report(location=SPOT)
    for persona in ("supervisor", "city_management_lead"):
        assert api_as(persona).post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]}).status_code in (403, 404)
    assert dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": 999999}).status_code == 404
    assert dispatcher.post(f"/api/incidents/{b['id']}/merge/", {}).status_code == 400
    assert dispatcher.post(f"/api/incidents/{b['id']}/unmerge/", {}).status_code == 409  # not merged


def test_a_merged_report_cannot_be_transitioned(dispatcher, report):
    a, b = report(location=SPOT), report(location=SPOT)
    dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]})
    response = dispatcher.post(f"/api/incidents/{b['id']}/transitions/", {"transition": "cancel", "note": "x"})
    assert response.status_code == 409


def _publish_auto_attach(api_as, radius=40, window="30m"):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["duplicates"] = {"radius_m": 150, "window": "2h", "auto_attach": {"radius_m": radius, "window": window}}
    response = api_as("admin").post("/api/workflows/", data)
    assert response.status_code == 201, response.content


def test_auto_attach_creates_a_surge_duplicate_merged_with_no_orders_and_one_click_undoes_it(api_as, dispatcher, report):
    _publish_auto_attach(api_as)
    survivor = report(location=SPOT)
    response = dispatcher.post("/api/incidents/", {**WATERLOGGING, "location": {"lat": 31.2101, "lon": 121.4301}})
    assert response.status_code == 201
    dup = response.json()
    assert dup["merged_into"] == survivor["id"] and dup["merged_automatically"] is True
    assert [c["id"] for c in dup["duplicate_candidates"]] == [survivor["id"]]
    assert WorkOrder.objects.filter(incident_id=dup["id"]).count() == 0
    assert dispatcher.get(f"/api/incidents/{survivor['id']}/").json()["report_count"] == 2
    # Beyond the auto radius (but within the suggestion radius): a normal incident, with candidates.
    apart = dispatcher.post("/api/incidents/", {**WATERLOGGING, "location": NEAR}).json()
    assert apart["merged_into"] is None and survivor["id"] in [c["id"] for c in apart["duplicate_candidates"]]
    # Two open incidents within the auto radius: ambiguous, a dispatcher decides.
    twice = dispatcher.post("/api/incidents/", {**WATERLOGGING, "location": {"lat": 31.21005, "lon": 121.43005}}).json()
    assert twice["merged_into"] == survivor["id"]  # apart is 66 m away: only survivor is within 40 m
    response = dispatcher.post(f"/api/incidents/{dup['id']}/unmerge/", {})
    assert response.status_code == 200
    assert sorted(WorkOrder.objects.filter(incident_id=dup["id"]).values_list("department__code", flat=True)) == [
        "city_management", "traffic_police", "transit"]


def test_the_citizen_of_a_merged_open311_request_sees_the_survivor_handled(api_as, dispatcher, report, client):
    from dispatch.services.clients import api_client_add

    survivor = report(location=SPOT)
    _c, key = api_client_add(name="citizen-app", kind="open311")
    posted = client.post("/open311/v2/requests.json", {
        "api_key": key, "service_code": "waterlogging", "lat": NEAR["lat"], "long": NEAR["lon"],
        "description": "Water over the kerb at the underpass", "address_string": "Riverside Rd",
    })
    assert posted.status_code == 201, posted.content
    number = posted.json()[0]["service_request_id"]
    assert posted.json()[0]["service_notice"] is None  # the console's report is not public: not named to citizens
    again = client.post("/open311/v2/requests.json", {
        "api_key": key, "service_code": "waterlogging", "lat": NEAR["lat"], "long": NEAR["lon"],
        "description": "Same here", "address_string": "Riverside Rd",
    })
    assert again.json()[0]["service_notice"] == f"Possibly reported already nearby: {number}."
    citizen_report = Incident.objects.get(number=number)
    dispatcher.post(f"/api/incidents/{citizen_report.pk}/merge/", {"into": survivor["id"], "note": "same underpass"})
    dispatcher.post(f"/api/incidents/{survivor['id']}/notes/", {"text": "Pumps on site, road closed", "public": True})
    (view,) = client.get(f"/open311/v2/requests/{number}.json").json()
    assert view["status_notes"] == "Pumps on site, road closed"
    assert view["service_notice"] and view["description"] == "Water over the kerb at the underpass"
    assert "City" in view["agency_responsible"] or view["agency_responsible"]
    dispatcher.post(f"/api/incidents/{survivor['id']}/transitions/", {"transition": "cancel", "note": "done"})
    (view,) = client.get(f"/open311/v2/requests/{number}.json").json()
    assert view["status"] == "closed"


@pytest.mark.parametrize("duplicates, problem", [
    ({"radius_m": 0, "window": "2h"}, "duplicates.radius_m"),
    ({"radius_m": 100, "window": "forever"}, "duplicates.window"),
    ({"radius_m": 100, "window": "1h", "related": ["waterlogging"]}, "duplicates.related[0]"),
    ({"radius_m": 100, "window": "1h", "auto_attach": {"radius_m": 200, "window": "10m"}}, "duplicates.auto_attach.radius_m"),
    ({"radius_m": 100, "window": "1h", "colour": "red"}, "duplicates"),
])
def test_the_duplicates_grammar_is_checked(api_as, duplicates, problem):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml").read_text("utf-8")
    data = {**yaml.safe_load(text), "duplicates": duplicates}
    response = api_as("admin").post("/api/workflows/", data)
    assert response.status_code == 400
    assert any(problem in e for e in response.json()["errors"]["definition"]), response.json()


def test_the_console_figures_count_a_merged_report_once(dispatcher, report):
    a, b = report(location=SPOT), report(location=SPOT)
    before = dispatcher.get("/api/stats/").json()
    dispatcher.post(f"/api/incidents/{b['id']}/merge/", {"into": a["id"]})
    after = dispatcher.get("/api/stats/").json()
    assert after["open_incidents"] == before["open_incidents"] - 1 and after["merged_reports"] == 1


def test_an_incident_is_found_by_its_exact_number(dispatcher, report):
    a = report(location=SPOT)
    report(location=SPOT)
    found = dispatcher.get(f"/api/incidents/?number={a['number']}").json()["results"]
    assert [i["id"] for i in found] == [a["id"]]
    assert dispatcher.get(f"/api/incidents/?number={a['number'][:-1]}").json()["results"] == []
