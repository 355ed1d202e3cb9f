"""POST /api/cap/inbound/: every msgType path of the sample storm (plans/samples/rainstorm/), duplicates, unmatched,
invalid and outside-the-city warnings, who may post, and expiry ending an activation."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch.models import Incident
from dispatch.services.clients import api_client_add
from plans.management.commands.replay_cap import cap_rebase, sent_of
from plans.models import Activation, ActivationEvent, ActivationTask, CapMessage

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "plans" / "samples" / "rainstorm"
TEXTS = {p.name: p.read_text("utf-8") for p in sorted(SAMPLES.glob("*.xml"))}
ORIGIN = sent_of(TEXTS["01-blue-alert.xml"])


def doc(name: str, *, suffix: str = "", speedup: float = 1.0, now=None) -> bytes:
    """A sample moved in time as if the storm started now (expires stays 6 h after sent)."""
    return cap_rebase(TEXTS[name], origin=ORIGIN, now=now or timezone.now(), speedup=speedup, suffix=suffix).encode()


@pytest.fixture
def source(db, django_capture_on_commit_callbacks):
    """A weather service's client: posts with its key, after-commit work run as in production."""
    _client, key = api_client_add(name="met-service", kind="cap_source")

    class Source:
        def post(self, document: bytes, content_type="application/cap+xml"):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            with django_capture_on_commit_callbacks(execute=True):
                return client.post("/api/cap/inbound/", data=document, content_type=content_type)

        key_value = key

    return Source()


def test_the_sample_storm_activates_raises_lowers_and_ends_the_plan(source, dispatcher):
    steps = [
        ("01-blue-alert.xml", 201, "started", "IV", ["oldtown", "riverside"]),
        ("02-yellow-update.xml", 201, "changed", "III", ["oldtown", "riverside"]),
        ("03-orange-update.xml", 201, "changed", "II", ["harbor", "northgate", "oldtown", "riverside"]),
        ("04-red-update.xml", 201, "changed", "I", None),
        ("05-orange-downgrade.xml", 201, "changed", "II", ["harbor", "oldtown", "riverside"]),
    ]
    ids = set()
    for name, code, outcome, level, districts in steps:
        response = source.post(doc(name, speedup=3600))
        assert response.status_code == code, (name, response.content)
        body = response.json()
        assert body["outcome"] == outcome, name
        activation = body["activation"]
        ids.add(activation["id"])
        assert activation["level"] == level and activation["source"] == "cap", name
        assert activation["cap_identifier"] == "demo-city-met-20260720-rainstorm-01"
        if districts is not None:
            assert activation["districts"] == districts, name
        assert {t["level"] for t in activation["tasks"] if t["state"] == "pending"} == {level}
    assert len(ids) == 1
    response = source.post(doc("06-cancel.xml", speedup=3600))
    assert response.status_code == 201 and response.json()["outcome"] == "ended"
    assert response.json()["activation"]["active"] is False
    assert dispatcher.get("/api/activations/?active=true").json() == []
    assert not ActivationTask.objects.filter(state__in=["pending", "overdue", "escalated"]).exists()
    kinds = list(ActivationEvent.objects.order_by("seq").values_list("kind", flat=True))
    assert [k for k in kinds if k != "hazard_points.reported"] == (
        ["activation.started"] + ["activation.changed"] * 4 + ["activation.ended"])
    # Orange (II) reported the underpasses in its area, red (I) the rest; the downgrade reported none again.
    hazards = Incident.objects.filter(external_id__startswith="plan-")
    assert kinds.count("hazard_points.reported") == 2 and hazards.count() == 4
    assert {i.activation_id for i in hazards} == ids


def test_an_update_lowering_the_level_lowers_it(source):
    source.post(doc("03-orange-update.xml"))  # an update whose references were never seen: a fresh start at II
    assert Activation.objects.get(active=True).level == "II"
    source.post(doc("01-blue-alert.xml"))  # a new alert never lowers an active plan
    assert Activation.objects.get(active=True).level == "II"
    source.post(doc("04-red-update.xml"))
    source.post(doc("05-orange-downgrade.xml"))  # references 04, which changed the activation
    assert Activation.objects.get(active=True).level == "II"


def test_the_same_warning_again_changes_nothing_and_answers_as_before(source):
    first = source.post(doc("01-blue-alert.xml"))
    again = source.post(doc("01-blue-alert.xml"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["repeated"] is True
    assert again.json()["outcome"] == "started"
    assert CapMessage.objects.count() == 1 and Activation.objects.count() == 1
    assert ActivationEvent.objects.count() == 1


def test_an_unmatched_warning_is_stored_and_shown(source, dispatcher, api_as):
    response = source.post(doc("90-unmatched-heat.xml"))
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "unmatched" and body["activation"] is None and "高温" in body["event"] + body["detail"]
    assert not Activation.objects.exists()
    listed = dispatcher.get("/api/cap/inbound/").json()
    assert [m["identifier"] for m in listed] == ["demo-city-met-20260721-heat-01"]
    assert listed[0]["outcome"] == "unmatched" and listed[0]["headline_i18n"].keys() == {"zh", "en"}
    english = dispatcher.get("/api/cap/inbound/?limit=5", HTTP_ACCEPT_LANGUAGE="en").json()[0]["headline"]
    chinese = dispatcher.get("/api/cap/inbound/?limit=5", HTTP_ACCEPT_LANGUAGE="zh-hans").json()[0]["headline"]
    assert english == listed[0]["headline_i18n"]["en"] and chinese == listed[0]["headline_i18n"]["zh"]
    for bad in ("0", "101", "x"):
        response = dispatcher.get(f"/api/cap/inbound/?limit={bad}")
        assert response.status_code == 400 and "limit" in response.json()["errors"]
    assert api_as("transit_lead").get("/api/cap/inbound/").status_code == 403


def test_a_warning_for_an_area_outside_the_city_activates_nothing(source):
    response = source.post(doc("91-outside-city.xml"))
    assert response.status_code == 200 and response.json()["outcome"] == "outside"
    assert response.json()["districts"] == [] and not Activation.objects.exists()


@pytest.mark.parametrize("document, says", [
    (b"", "empty"),
    (b"not xml at all", "line"),
    (b"<?xml version='1.0'?><alert xmlns='urn:oasis:names:tc:emergency:cap:1.1'><identifier>x</identifier></alert>", "1.2"),
    (b"<!DOCTYPE alert [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><alert>&x;</alert>", "DOCTYPE"),
])
def test_invalid_cap_is_a_400_naming_the_problem_and_stores_nothing(source, document, says):
    response = source.post(document)
    assert response.status_code == 400, response.content
    problems = " ".join(response.json()["errors"]["document"])
    assert says.lower() in problems.lower()
    assert not CapMessage.objects.exists()


def test_a_schema_error_names_the_line(source):
    broken = doc("01-blue-alert.xml").replace(b"<severity>Minor</severity>", b"<severity>Huge</severity>", 1)
    response = source.post(broken)
    assert response.status_code == 400
    assert "severity" in response.json()["errors"]["document"][0] and "line" in response.json()["errors"]["document"][0]


def test_who_may_post(api_as, source):
    for persona in ("dispatcher", "supervisor", "traffic_police_lead"):
        assert api_as(persona).client.post("/api/cap/inbound/", data=doc("90-unmatched-heat.xml"),
                                           content_type="application/cap+xml").status_code == 403
    admin = api_as("admin").client.post("/api/cap/inbound/", data=doc("90-unmatched-heat.xml"),
                                        content_type="application/xml")
    assert admin.status_code == 200
    # The CAP source's key is good for nothing else.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {source.key_value}")
    assert other.get("/api/incidents/").status_code == 401
    assert api_as(None).client.post("/api/cap/inbound/", data=b"<x/>", content_type="application/xml").status_code == 401


def test_an_expired_warning_ends_the_activation(source, clock, sweep):
    source.post(doc("01-blue-alert.xml", now=timezone.now()))
    activation = Activation.objects.get(active=True)
    assert activation.ends_at == timezone.now().replace(microsecond=0) + timedelta(hours=6)
    clock.shift(timedelta(hours=6) - timedelta(seconds=1))
    sweep()
    assert Activation.objects.get(pk=activation.pk).active
    clock.shift(timedelta(seconds=1))
    sweep()
    activation.refresh_from_db()
    assert not activation.active and activation.ended_by is None and "expired" in activation.end_reason
    assert not ActivationTask.objects.filter(state="pending").exists()


def test_an_update_extending_the_warning_moves_the_expiry(source, clock, sweep):
    start = timezone.now()
    source.post(doc("01-blue-alert.xml", now=start))  # expires at start + 6 h
    clock.shift(timedelta(hours=1, minutes=30))
    source.post(doc("02-yellow-update.xml", now=start))  # sent at start + 1.5 h, expires 6 h after that
    clock.shift(timedelta(hours=5))
    sweep()
    assert Activation.objects.get().active  # the first warning's expiry no longer ends it
    clock.shift(timedelta(hours=1))
    sweep()
    assert not Activation.objects.get().active


def test_a_warning_that_had_expired_when_it_arrived_does_nothing(source):
    response = source.post(doc("01-blue-alert.xml", now=timezone.now() - timedelta(hours=7)))  # expired 1 h ago
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert not Activation.objects.exists()


def test_the_replay_command_runs_the_sample_storm(db, capsys):
    call_command("replay_cap", str(SAMPLES), "--speedup", "1000000", "--suffix=-test")
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 8
    assert "started" in lines[0] and "level=IV" in lines[0]
    assert "level=I " in lines[3] and "ended" in lines[5]
    assert "unmatched" in lines[6] and "outside" in lines[7]


def test_a_warning_acting_on_an_activation_started_by_hand_is_named_on_it(source, dispatcher):
    dispatcher.post("/api/plans/rainstorm/activate/", {"level": "IV", "districts": ["riverside"], "reason": "watch"})
    response = source.post(doc("02-yellow-update.xml"))  # references a warning never seen: raises the active plan
    assert response.status_code == 201 and response.json()["outcome"] == "changed"
    activation = dispatcher.get("/api/activations/?active=true").json()[0]
    assert activation["source"] == "manual" and activation["level"] == "III"
    assert activation["cap_identifier"] == "demo-city-met-20260720-rainstorm-02"
    assert [w["identifier"] for w in activation["warnings"]] == ["demo-city-met-20260720-rainstorm-02"]
