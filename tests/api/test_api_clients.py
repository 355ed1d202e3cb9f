"""API clients: add_api_client, keys stored only hashed, department systems on /api/, Open311 keys refused
there, and idempotent work-order actions (``Idempotency-Key``)."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.api.conftest import order_for
from tests.conftest import Api

pytestmark = pytest.mark.django_db


def add(name: str, *args: str) -> tuple[str, str]:
    out = io.StringIO()
    call_command("add_api_client", name, *args, stdout=out)
    text = out.getvalue()
    key = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("key: "))
    return key, text


@pytest.fixture
def as_key(django_capture_on_commit_callbacks):
    def make(key: str) -> Api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return Api(client, django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def cm_system(as_key):
    key, _ = add("cm-system", "--kind", "department", "--department", "city_management")
    return as_key(key)


def test_add_api_client_prints_the_key_once_and_stores_only_its_hash():
    from dispatch.models import ApiClient

    key, text = add("hotline-12345", "--kind", "open311")
    assert key.startswith("ldk_") and len(key) >= 40
    assert text.count(key) == 1 and "not shown again" in text
    client = ApiClient.objects.get(name="hotline-12345")
    assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert client.key_prefix == key[:12] and len(client.key_prefix) < len(key) // 3
    stored = [getattr(client, f.attname) for f in ApiClient._meta.concrete_fields]
    assert key not in [str(v) for v in stored]
    assert client.kind == "open311" and client.department is None and client.active
    assert client.user.username == "api.hotline-12345" and not client.user.has_usable_password()


def test_admin_never_shows_the_key_hash(client):
    from dispatch.models import ApiClient, User

    add("cm-admin-probe", "--kind", "department", "--department", "city_management")
    client.force_login(User.objects.get(username="admin"))
    api_client = ApiClient.objects.get(name="cm-admin-probe")
    page = client.get(f"/admin/dispatch/apiclient/{api_client.pk}/change/")
    assert page.status_code == 200
    assert api_client.key_hash not in page.content.decode() and api_client.key_prefix in page.content.decode()


@pytest.mark.parametrize(("args", "message"), [
    (("x", "--kind", "department"), "department"),
    (("x", "--kind", "department", "--department", "nowhere"), "Unknown department"),
    (("x", "--kind", "open311", "--department", "transit"), "Only department clients"),
    (("bad name!", "--kind", "open311"), "name"),
])
def test_add_api_client_bad_input(args, message):
    from dispatch.models import ApiClient

    with pytest.raises(CommandError, match=message):
        call_command("add_api_client", *args, stdout=io.StringIO())
    assert not ApiClient.objects.exists()


def test_add_api_client_refuses_a_duplicate_name():
    add("twice", "--kind", "open311")
    with pytest.raises(CommandError, match="exists"):
        add("twice", "--kind", "open311")


def test_add_api_client_refuses_an_unknown_kind():
    with pytest.raises(CommandError):
        call_command("add_api_client", "x", "--kind", "robot", stdout=io.StringIO(), stderr=io.StringIO())


# --- keys on /api/ ------------------------------------------------------------------------------------------


def test_department_key_acts_as_its_department_staff(cm_system, reported_incident):
    own = order_for(reported_incident, "city_management")
    other = order_for(reported_incident, "traffic_police")
    assert cm_system.get(f"/api/work-orders/{own['id']}/").status_code == 200
    assert cm_system.get(f"/api/work-orders/{other['id']}/").status_code == 404
    assert cm_system.post(f"/api/work-orders/{other['id']}/actions/", {"action": "accept"}).status_code == 404
    listed = {wo["department"] for wo in cm_system.get("/api/work-orders/", {"page_size": 500}).json()["results"]}
    assert listed == {"city_management"}
    assert cm_system.get(f"/api/incidents/{reported_incident['id']}/").json()["reporter"]["phone"] == "138****1234"
    assert cm_system.get("/api/stats/").status_code == 403


def test_department_system_reports_incidents(cm_system, waterlogging_payload):
    response = cm_system.post("/api/incidents/", {**waterlogging_payload, "source": "api", "external_id": "cm-1"})
    assert response.status_code == 201, response.content
    from dispatch.models import TimelineEvent

    first = TimelineEvent.objects.get(incident_id=response.json()["id"], seq=1)
    assert first.actor_label == "api.cm-system"


def test_open311_key_is_refused_on_the_api(as_key, reported_incident):
    key, _ = add("citizen-app", "--kind", "open311")
    for path in ("/api/incidents/", f"/api/incidents/{reported_incident['id']}/", "/api/work-orders/"):
        response = as_key(key).get(path)
        assert response.status_code == 401, (path, response.content)
    assert as_key(key).post("/api/incidents/", {"event_type": "waterlogging", "title": "x"}).status_code == 401


def test_inactive_and_unknown_keys_are_401(as_key, reported_incident):
    from dispatch.models import ApiClient

    key, _ = add("old-system", "--kind", "department", "--department", "city_management")
    assert as_key(key).get("/api/work-orders/").status_code == 200
    ApiClient.objects.filter(name="old-system").update(active=False)
    response = as_key(key).get("/api/work-orders/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert as_key("ldk_" + "x" * 43).get("/api/work-orders/").status_code == 401
    assert as_key(key[:-1] + ("A" if key[-1] != "A" else "B")).get("/api/work-orders/").status_code == 401


def test_last_used_is_recorded(cm_system):
    from dispatch.models import ApiClient

    assert ApiClient.objects.get(name="cm-system").last_used_at is None
    cm_system.get("/api/work-orders/")
    assert ApiClient.objects.get(name="cm-system").last_used_at is not None


# --- idempotent work-order actions -------------------------------------------------------------------------


def _rows(work_order_id: int, kind: str) -> int:
    from dispatch.models import TimelineEvent

    return TimelineEvent.objects.filter(work_order_id=work_order_id, kind=kind).count()


def test_same_idempotency_key_twice_acts_once(cm_system, reported_incident):
    order = order_for(reported_incident, "city_management")
    path = f"/api/work-orders/{order['id']}/actions/"
    first = cm_system.post(path, {"action": "accept", "note": "on our way"}, HTTP_IDEMPOTENCY_KEY="cb-1")
    again = cm_system.post(path, {"action": "accept", "note": "on our way"}, HTTP_IDEMPOTENCY_KEY="cb-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["state"] == "accepted"
    assert _rows(order["id"], "work_order.accepted") == 1
    conflict = cm_system.post(path, {"action": "accept", "note": "changed"}, HTTP_IDEMPOTENCY_KEY="cb-1")
    assert conflict.status_code == 409
    # Without a key a repeat is a real second attempt: not available any more.
    assert cm_system.post(path, {"action": "accept"}).status_code == 409
    assert _rows(order["id"], "work_order.accepted") == 1


def test_callbacks_walk_the_order_to_completed(cm_system, reported_incident):
    order = order_for(reported_incident, "city_management")
    path = f"/api/work-orders/{order['id']}/actions/"
    for step, action in enumerate(("accept", "depart", "arrive", "complete")):
        for _attempt in range(2):  # every callback delivered twice
            response = cm_system.post(path, {"action": action}, HTTP_IDEMPOTENCY_KEY=f"wo-{order['id']}-{step}")
            assert response.status_code == 200, (action, response.content)
    assert response.json()["state"] == "completed"
    from dispatch.models import TimelineEvent

    kinds = list(TimelineEvent.objects.filter(work_order_id=order["id"]).exclude(kind="work_order.offered")
                 .order_by("seq").values_list("kind", "actor_label"))
    assert kinds == [("work_order.accepted", "api.cm-system"), ("work_order.departed", "api.cm-system"),
                     ("work_order.arrived", "api.cm-system"), ("work_order.completed", "api.cm-system")]


def test_decline_by_callback(cm_system, reported_incident):
    order = order_for(reported_incident, "city_management")
    path = f"/api/work-orders/{order['id']}/actions/"
    body = {"action": "decline", "reason": "no pump free"}
    assert cm_system.post(path, body, HTTP_IDEMPOTENCY_KEY="d-1").status_code == 200
    assert cm_system.post(path, body, HTTP_IDEMPOTENCY_KEY="d-1").status_code == 200
    assert _rows(order["id"], "work_order.declined") == 1


def test_idempotency_keys_are_per_caller(act, api_as, reported_incident, cm_system):
    order = order_for(reported_incident, "city_management")
    path = f"/api/work-orders/{order['id']}/actions/"
    assert cm_system.post(path, {"action": "accept"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 200
    # Another caller with the same key is another request: it really runs (and depart is available).
    staff = api_as("city_management_staff")
    assert staff.post(path, {"action": "depart"}, HTTP_IDEMPOTENCY_KEY="same").status_code == 200
    assert _rows(order["id"], "work_order.departed") == 1


def test_idempotency_key_too_long(cm_system, reported_incident):
    order = order_for(reported_incident, "city_management")
    response = cm_system.post(f"/api/work-orders/{order['id']}/actions/", {"action": "accept"},
                              HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]


def test_a_key_made_to_expire_is_refused_after_its_day_everywhere(as_key):
    """``--expires-days``: the department system's key on /api/ (401 naming the expiry), an Open311 key as GeoReport's
    api_key (403), a CAP source's key on its one path (401); each works the day before."""
    from datetime import timedelta

    import time_machine
    from django.test import Client
    from django.utils import timezone

    from dispatch.models import ApiClient

    department, text = add("cm-expiring", "--kind", "department", "--department", "city_management",
                           "--expires-days", "30")
    assert "expires: " in text
    open311, _ = add("app-expiring", "--kind", "open311", "--expires-days", "30")
    cap, _ = add("cma-expiring", "--kind", "cap_source", "--expires-days", "30")
    expires = ApiClient.objects.get(name="cm-expiring").expires_at
    assert timedelta(days=29, hours=23) < expires - timezone.now() <= timedelta(days=30)

    def open311_status() -> int:
        return Client().post("/open311/v2/requests.json", {"api_key": open311, "service_code": "waterlogging",
                                                           "address_string": "Riverside Rd underpass"},
                             content_type="application/json").status_code

    def cap_status() -> int:
        return as_key(cap).client.post("/api/cap/inbound/", "<not-cap/>", content_type="application/cap+xml").status_code

    with time_machine.travel(expires - timedelta(minutes=1), tick=False):
        assert as_key(department).get("/api/work-orders/").status_code == 200
        assert open311_status() == 201
        assert cap_status() == 400  # accepted as the source, refused as a document
    with time_machine.travel(expires + timedelta(seconds=1), tick=False):
        refused = as_key(department).get("/api/work-orders/")
        assert refused.status_code == 401 and "expired" in refused.json()["detail"]
        assert open311_status() == 403
        assert cap_status() == 401


def test_an_expiry_of_less_than_a_day_is_refused():
    from dispatch.models import ApiClient

    with pytest.raises(CommandError, match="--expires-days"):
        add("cm-never", "--kind", "department", "--department", "city_management", "--expires-days", "0")
    assert not ApiClient.objects.filter(name="cm-never").exists()
