"""Authentication: token endpoint, 401 without credentials on every /api/ endpoint, session auth."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD


@pytest.fixture
def password_for(db):
    """The persona's password as seeded (with the test run's fast hasher)."""
    return lambda username: PASSWORD


def test_token_endpoint_returns_a_token_for_good_credentials(password_for):
    password = password_for("dispatcher")
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "dispatcher", "password": password}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert isinstance(token, str) and len(token) >= 20

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/incidents/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "dispatcher", "password": "wrong-password"},
        {"username": "nobody-here", "password": PASSWORD},
        {"username": "dispatcher"},
        {},
    ],
    ids=["wrong-password", "unknown-user", "no-password", "empty"],
)
def test_token_endpoint_refuses_bad_credentials_with_400(password_for, body):
    password_for("dispatcher")
    response = APIClient().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert "token" not in payload
    assert set(payload) == {"detail", "errors"}


ENDPOINTS = [
    ("get", "/api/incidents/"),
    ("post", "/api/incidents/"),
    ("get", "/api/incidents/{incident}/"),
    ("post", "/api/incidents/{incident}/transitions/"),
    ("get", "/api/incidents/{incident}/timeline/"),
    ("post", "/api/incidents/{incident}/notes/"),
    ("get", "/api/work-orders/"),
    ("get", "/api/work-orders/{work_order}/"),
    ("post", "/api/work-orders/{work_order}/actions/"),
    ("get", "/api/departments/"),
    ("get", "/api/departments/{department}/"),
    ("get", "/api/units/"),
    ("get", "/api/units/{unit}/"),
    ("patch", "/api/units/{unit}/"),
    ("get", "/api/districts/"),
    ("get", "/api/event-types/"),
    ("post", "/api/workflows/"),
    ("get", "/api/workflows/waterlogging/versions/"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_every_api_endpoint_without_credentials_is_401(api_as, reported_incident, method, path):
    from departments.models import Department, Unit

    url = path.format(
        incident=reported_incident["id"], work_order=reported_incident["work_orders"][0]["id"],
        department=Department.objects.get(code="transit").pk, unit=Unit.objects.get(callsign="TR-01").pk,
    )
    anonymous = api_as(None)
    response = getattr(anonymous, method)(url, {})
    assert response.status_code == 401, (method, url, response.content)
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert response.has_header("WWW-Authenticate")


def test_a_bad_token_is_401(api_as, reported_incident):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/incidents/").status_code == 401
    assert client.get(f"/api/incidents/{reported_incident['id']}/").status_code == 401


def test_nothing_happens_for_an_anonymous_write(api_as, waterlogging_payload):
    from dispatch.models import Incident

    before = Incident.objects.count()
    assert api_as(None).post("/api/incidents/", waterlogging_payload).status_code == 401
    assert Incident.objects.count() == before


def test_session_authentication_works(password_for, reported_incident, waterlogging_payload):
    password = password_for("dispatcher")
    client = APIClient(enforce_csrf_checks=False)
    assert client.login(username="dispatcher", password=password)
    response = client.get("/api/incidents/")
    assert response.status_code == 200
    assert reported_incident["id"] in [i["id"] for i in response.json()["results"]]
    detail = client.get(f"/api/incidents/{reported_incident['id']}/")
    assert detail.status_code == 200
    assert detail.json()["reporter"]["phone"] == waterlogging_payload["reporter"]["phone"]

    client.logout()
    assert client.get("/api/incidents/").status_code == 401


def test_session_authentication_respects_the_role(password_for, reported_incident):
    password = password_for("environment_staff")
    client = APIClient()
    assert client.login(username="environment_staff", password=password)
    # environment has no order on a severity-3 waterlogging incident: outside its department.
    assert client.get(f"/api/incidents/{reported_incident['id']}/").status_code == 404
    assert client.get("/api/work-orders/").json()["count"] == 0
