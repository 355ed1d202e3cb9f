"""Tracking tokens at intake: in the intake's answer (console and department systems), the same on a replay, long
and random, only their hash stored, never in later reads."""

import hashlib

import pytest

from dispatch.models import Incident
from tests.api.test_api_clients import add, as_key  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_console_intake_answers_a_long_random_token_stored_only_hashed(dispatcher, waterlogging_payload):
    first = dispatcher.post("/api/incidents/", waterlogging_payload).json()
    second = dispatcher.post("/api/incidents/", {**waterlogging_payload, "title": "Another"}).json()
    token = first["tracking_token"]
    assert len(token) >= 32 and token != second["tracking_token"]
    row = Incident.objects.get(pk=first["id"])
    assert row.tracking_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.tracking_salt, row.tracking_token_hash}
    # Reads of the incident never carry it: whoever reads it later is not its reporter.
    assert "tracking_token" not in dispatcher.get(f"/api/incidents/{first['id']}/").json()


def test_idempotent_replay_answers_the_same_token(dispatcher, waterlogging_payload):
    first = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="replay-1")
    again = dispatcher.post("/api/incidents/", waterlogging_payload, HTTP_IDEMPOTENCY_KEY="replay-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["tracking_token"] == first.json()["tracking_token"]


def test_department_system_intake_answers_a_token(as_key, waterlogging_payload):  # noqa: F811 - the fixture
    key, _ = add("cm-system", "--kind", "department", "--department", "city_management")
    response = as_key(key).post("/api/incidents/", {**waterlogging_payload, "source": "api", "external_id": "cm-7"})
    assert response.status_code == 201, response.content
    token = response.json()["tracking_token"]
    assert Incident.objects.filter(tracking_token_hash=hashlib.sha256(token.encode()).hexdigest()).exists()
