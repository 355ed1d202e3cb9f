"""Satisfaction (满意率) in the analytics KPIs: citizens' feedback only, counted on the incident that did the work
(a merged report's verdict on its survivor), with its n; equal to the recomputation from the timeline."""

import pytest
from django.test import Client

from analytics.models import IncidentFact
from analytics.services.facts import facts_recompute

pytestmark = pytest.mark.django_db


def feedback(token: str, satisfied: bool, reasons=()):
    return Client().post(
        "/api/public/feedback/",
        {"token": token, "satisfied": satisfied, "reasons": list(reasons)},
        content_type="application/json",
    )


def kpis(api_as, **params) -> list[dict]:
    response = api_as("supervisor").get("/api/analytics/kpis/", params)
    assert response.status_code == 200, response.content
    return response.json()["rows"]


def test_satisfaction_rate_from_citizens_feedback(tracked, closed, api_as, dispatcher):
    happy, happy_token = tracked(title="Pumped out quickly")
    unhappy, unhappy_token = tracked(title="Still flooded")
    silent, _silent_token = tracked(title="Nobody answered the callback")
    survivor, _ = tracked(title="Underpass flooded, the report we kept")
    duplicate, duplicate_token = tracked(title="Same underpass, another caller")
    merged = dispatcher.post(f"/api/incidents/{duplicate['id']}/merge/", {"into": survivor["id"], "note": "same place"})
    assert merged.status_code == 200, merged.content
    for incident in (happy, unhappy, silent, survivor):
        closed(incident)
    assert kpis(api_as)[0]["satisfaction_rate"] is None  # no feedback yet: n/a, not 0
    assert feedback(happy_token, True).status_code == 201
    assert feedback(unhappy_token, False, ["too_slow"]).status_code == 201
    assert feedback(duplicate_token, True).status_code == 201  # the merged report's caller judges the survivor's work

    row = kpis(api_as)[0]
    assert row["feedbacks"] == 3 and row["satisfaction_rate"] == pytest.approx(66.67)
    facts = {f.pk: (f.feedbacks, f.satisfied) for f in IncidentFact.objects.all()}
    assert facts[happy["id"]] == (1, 1) and facts[unhappy["id"]] == (1, 0) and facts[silent["id"]] == (0, 0)
    assert facts[survivor["id"]] == (1, 1)  # counted where the work was done (the merged report is never counted)

    by_department = {r["group"]: r for r in kpis(api_as, group_by="department")}
    assert by_department["city_management"]["feedbacks"] == 3
    assert by_department["city_management"]["satisfaction_rate"] == pytest.approx(66.67)

    # The facts are the fold of the timeline: recomputing them gives the same counts.
    facts_recompute([happy["id"], unhappy["id"], survivor["id"], duplicate["id"]])
    assert {f.pk: (f.feedbacks, f.satisfied) for f in IncidentFact.objects.all()} == facts


def test_drill_down_opens_the_incidents_with_an_unsatisfied_citizen(tracked, closed, api_as):
    happy, happy_token = tracked(title="Fine")
    unhappy, unhappy_token = tracked(title="Not fine")
    for incident in (happy, unhappy):
        closed(incident)
    assert feedback(happy_token, True).status_code == 201
    assert feedback(unhappy_token, False, ["poor_communication"]).status_code == 201
    response = api_as("supervisor").get("/api/analytics/incidents/", {"kpi": "unsatisfied"})
    assert response.status_code == 200, response.content
    assert [r["id"] for r in response.json()["results"]] == [unhappy["id"]]
