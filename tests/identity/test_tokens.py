"""People's API tokens (issue 21, item 1): stored hashed, per device, expiring and renewed on use, revoked on
sign-out, by their owner, and on a change of the user's password, activity, role or department."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(username="dispatcher", device=None, **extra):
    body = {"username": username, "password": PASSWORD}
    if device is not None:
        body["device"] = device
    response = APIClient().post("/api/auth/token/", body, format="json", **extra)
    assert response.status_code == 200, response.content
    return response.json()


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def works(token: str) -> bool:
    status = client_with(token).get("/api/event-types/").status_code
    assert status in (200, 401), status
    return status == 200


def test_the_database_holds_no_usable_token():
    from identity.models import DeviceToken

    token = sign_in()["token"]
    assert token.startswith("ldt_") and len(token) == 4 + 64

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM identity_devicetoken")
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1
    stored = dict(zip(columns, rows[0], strict=True))
    assert token not in [str(value) for value in stored.values()]
    assert stored["digest"] == hashlib.sha512(token.encode()).hexdigest()  # SHA-512 of the token: not reversible
    assert token.startswith(stored["token_key"]) and len(stored["token_key"]) == 15  # 11 of its 64 random hex digits
    assert DeviceToken.objects.get().device == ""  # no User-Agent, no device named
    assert "authtoken_token" not in connection.introspection.table_names()  # DRF's clear tokens are gone


def test_a_token_answer_says_when_it_expires(settings):
    before = timezone.now()
    answer = sign_in(device="Pixel 8, inbox")
    expires_at = parse_datetime(answer["expires_at"])
    assert set(answer) == {"token", "expires_at"}
    assert before + timedelta(hours=12) <= expires_at <= timezone.now() + timedelta(hours=12)


def test_each_sign_in_is_a_token_of_its_own():
    first, second = sign_in(device="desk")["token"], sign_in(device="phone")["token"]
    assert first != second and works(first) and works(second)


def test_an_unused_token_expires_and_use_renews_it():
    from identity.models import DeviceToken

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = sign_in()["token"]
    with time_machine.travel(start + timedelta(hours=11), tick=False):
        assert works(token)  # used within its 12 hours: renewed to 12 hours from now
        assert DeviceToken.objects.get().expiry == start + timedelta(hours=23)
    with time_machine.travel(start + timedelta(hours=22), tick=False):
        assert works(token)
    with time_machine.travel(start + timedelta(hours=34, seconds=1), tick=False):
        assert not works(token)  # 12 hours and a second unused


def test_renewal_writes_at_most_once_a_minute():
    from identity.models import DeviceToken

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = sign_in()["token"]
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert works(token)
        assert DeviceToken.objects.get().last_used_at is None  # within the minute: no write
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert works(token)
        assert DeviceToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_renewal_stops_at_the_maximum_lifetime(settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = sign_in()["token"]
    for hours in range(10, 7 * 24, 10):  # used every 10 hours for a week
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            assert works(token), hours
    with time_machine.travel(start + timedelta(hours=7 * 24, seconds=1), tick=False):
        assert not works(token)


def test_signing_out_revokes_that_token_only():
    desk, phone = sign_in(device="desk")["token"], sign_in(device="phone")["token"]
    assert client_with(desk).post("/api/auth/logout/").status_code == 204
    assert not works(desk)
    assert works(phone)


def test_a_user_lists_and_revokes_their_own_tokens():
    desk = sign_in(device="desk")["token"]
    phone = sign_in(device="phone")["token"]
    other = sign_in("supervisor", device="other")["token"]

    listed = client_with(desk).get("/api/auth/tokens/").json()
    assert [t["device"] for t in listed] == ["phone", "desk"]
    assert [t["current"] for t in listed] == [False, True]
    assert set(listed[0]) == {"id", "device", "created_at", "last_used_at", "expires_at", "current"}
    assert phone.startswith(listed[0]["id"])

    other_id = client_with(other).get("/api/auth/tokens/").json()[0]["id"]
    assert client_with(desk).delete(f"/api/auth/tokens/{other_id}/").status_code == 404  # not theirs
    assert works(other)

    assert client_with(desk).delete(f"/api/auth/tokens/{listed[0]['id']}/").status_code == 204
    assert not works(phone) and works(desk)

    sign_in(device="tablet")
    assert client_with(desk).delete("/api/auth/tokens/").status_code == 204  # signed out everywhere
    assert not works(desk)
    assert client_with(other).get("/api/auth/tokens/").status_code == 200


def test_the_device_defaults_to_the_user_agent():
    sign_in(HTTP_USER_AGENT="LiandongInbox/2.1 (Android 14)")
    from identity.models import DeviceToken

    assert DeviceToken.objects.get().device == "LiandongInbox/2.1 (Android 14)"


def _change(username, **changes):
    from departments.models import Department
    from dispatch.models import User

    user = User.objects.get(username=username)
    for field, value in changes.items():
        if field == "password":
            user.set_password(value)
        elif field == "department":
            user.department = Department.objects.exclude(pk=user.department_id).first()
        else:
            setattr(user, field, value)
    user.save()


@pytest.mark.parametrize(("username", "changes"), [
    ("dispatcher", {"password": "a-new-pass-77"}),
    ("dispatcher", {"is_active": False}),
    ("dispatcher", {"role": "supervisor"}),
    ("transit_staff", {"department": True}),
], ids=["password", "deactivated", "role", "department"])
def test_a_change_of_standing_revokes_every_token_of_the_user(username, changes):
    tokens = [sign_in(username, device=d)["token"] for d in ("desk", "phone")]
    bystander = sign_in("supervisor")["token"]
    _change(username, **changes)
    assert not any(works(t) for t in tokens)
    assert works(bystander)


def test_other_changes_and_signing_in_leave_tokens_alone():
    from dispatch.models import User

    token = sign_in()["token"]
    _change("dispatcher", first_name="Li", email="li@example.org")
    sign_in()  # updates last_login
    user = User.objects.get(username="dispatcher")
    user.is_active = True
    user.save()  # already active
    assert works(token)


def test_expired_tokens_are_purged_by_beats_job():
    from identity.models import DeviceToken
    from identity.tasks import purge_expired_tokens_task

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = sign_in(device="old")["token"]
    with time_machine.travel(start + timedelta(hours=11), tick=False):
        fresh = sign_in(device="fresh")["token"]
    with time_machine.travel(start + timedelta(hours=13), tick=False):
        assert purge_expired_tokens_task.delay().get() == 1
        assert list(DeviceToken.objects.values_list("device", flat=True)) == ["fresh"]
        assert works(fresh) and not works(old)


def test_a_department_systems_key_may_expire(settings):
    from dispatch.services.clients import api_client_add

    client, key = api_client_add(name="transit-ops", kind="department", department_code="transit",
                                 expires_at=timezone.now() + timedelta(days=30))
    assert works(key)
    assert client.__class__.objects.get(pk=client.pk).last_used_at is not None
    with time_machine.travel(timezone.now() + timedelta(days=30, seconds=1), tick=False):
        response = client_with(key).get("/api/event-types/")
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


def test_the_admin_lists_tokens_without_their_secret(client):
    from dispatch.models import User

    token = sign_in(device="desk")["token"]
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/admin/identity/devicetoken/")
    assert page.status_code == 200
    html = page.content.decode()
    assert token[:15] in html and token not in html
