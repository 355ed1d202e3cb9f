"""Passwords and locked accounts (issue 21, item 4): Django's validators wherever a password is set; an account locked
after LOGIN_FAILURE_LIMIT failed sign-ins from anywhere, and an address after as many for any accounts (django-axes);
unlocked after LOGIN_LOCKOUT_MINUTES or by an administrator; every step an audit record. The per-address-and-username
rate limit is lifted here so that what answers is the lock, not the limit."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = 10


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "100000/min"}


def api_sign_in(username: str, password: str, address: str = "198.51.100.7"):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=address)


def audit_events(caplog) -> list[dict]:
    return [r.__dict__ for r in caplog.records if r.name == "liandong.audit"]


def test_an_account_is_locked_after_the_limit_and_then_refuses_its_own_password(caplog):
    caplog.set_level(logging.INFO, logger="liandong.audit")
    statuses = [api_sign_in("dispatcher", "wrong-password", address=f"203.0.113.{n}").status_code
                for n in range(LIMIT)]
    assert statuses == [400] * (LIMIT - 1) + [429]  # from ten addresses: the account is what is locked

    refused = api_sign_in("dispatcher", PASSWORD, address="192.0.2.50")  # the right password, from elsewhere
    assert refused.status_code == 429
    assert set(refused.json()) == {"detail", "errors"} and "username" in refused.json()["errors"]
    assert refused["Retry-After"] == str(15 * 60)
    assert "token" not in refused.json()
    assert api_sign_in("supervisor", PASSWORD, address="192.0.2.50").status_code == 200  # others are not

    locked = [e for e in audit_events(caplog) if e.get("event") == "auth.locked_out"]
    assert locked and locked[0]["username"] == "dispatcher"


def test_an_address_is_locked_after_the_limit_for_any_accounts():
    for n in range(LIMIT):
        api_sign_in(f"nobody-{n}", "wrong-password", address="198.51.100.66")
    assert api_sign_in("supervisor", PASSWORD, address="198.51.100.66").status_code == 429
    assert api_sign_in("supervisor", PASSWORD, address="198.51.100.67").status_code == 200


def test_a_success_clears_the_accounts_count():
    for _ in range(LIMIT - 1):
        assert api_sign_in("dispatcher", "wrong-password", address="203.0.113.1").status_code == 400
    assert api_sign_in("dispatcher", PASSWORD, address="203.0.113.2").status_code == 200
    for _ in range(LIMIT - 1):
        assert api_sign_in("dispatcher", "wrong-password", address="203.0.113.3").status_code == 400
    assert api_sign_in("dispatcher", PASSWORD, address="203.0.113.4").status_code == 200


def test_the_lock_ends_after_the_delay():
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(LIMIT):
            api_sign_in("dispatcher", "wrong-password", address=f"203.0.113.{n}")
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert api_sign_in("dispatcher", PASSWORD).status_code == 429
    # that attempt during the lock started the delay again
    with time_machine.travel(start + timedelta(minutes=14 + 15, seconds=1), tick=False):
        assert api_sign_in("dispatcher", PASSWORD).status_code == 200


def test_an_administrator_unlocks_an_account(caplog):
    caplog.set_level(logging.INFO, logger="liandong.audit")
    for n in range(LIMIT):
        api_sign_in("dispatcher", "wrong-password", address=f"203.0.113.{n}")
    assert api_sign_in("dispatcher", PASSWORD).status_code == 429

    call_command("axes_reset_username", "dispatcher", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert api_sign_in("dispatcher", PASSWORD).status_code == 200
    cleared = [e for e in audit_events(caplog) if e.get("event") == "auth.failures_cleared"]
    assert {e["username"] for e in cleared} == {"dispatcher"}


def test_the_admin_lists_and_clears_locks():
    from axes.models import AccessAttempt

    from dispatch.models import User

    for n in range(LIMIT):
        api_sign_in("transit_staff", "wrong-password", address=f"203.0.113.{n}")
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    page = admin.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "transit_staff" in page.content.decode()
    ids = list(AccessAttempt.objects.filter(username="transit_staff").values_list("pk", flat=True))
    response = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids,
                                                          "post": "yes"})
    assert response.status_code == 302
    assert api_sign_in("transit_staff", PASSWORD).status_code == 200


def test_the_login_page_says_the_account_is_locked():
    browser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(LIMIT - 1):
        assert browser.post("/login/", {"username": "supervisor", "password": "wrong-password"}).status_code == 200
    locked = browser.post("/login/", {"username": "supervisor", "password": "wrong-password"})
    assert locked.status_code == 429
    assert "locked for 15 minutes" in locked.content.decode()
    again = browser.post("/login/", {"username": "supervisor", "password": PASSWORD})
    assert again.status_code == 429 and "_auth_user_id" not in browser.session


@pytest.mark.parametrize(("password", "message"), [
    ("short-1", "too short"),
    ("password123", "too common"),
    ("83726150948", "entirely numeric"),
    ("new_officer_1", "too similar"),
])
def test_a_weak_password_is_refused_and_nothing_is_stored(password, message):
    from dispatch.models import User

    with pytest.raises(CommandError, match=message):
        call_command("add_user", "new_officer_1", "--role", "dispatcher", "--password", password)
    assert not User.objects.filter(username="new_officer_1").exists()


def test_a_change_of_password_role_or_activity_is_an_audit_record(caplog):
    from dispatch.models import User

    caplog.set_level(logging.INFO, logger="liandong.audit")
    user = User.objects.get(username="transit_staff")
    user.set_password("a-better-pass-55")
    user.role = "lead"
    user.save()
    user.is_active = False
    user.save()
    changed = [e for e in audit_events(caplog) if e.get("event") == "auth.account_changed"]
    assert [e["changes"] for e in changed] == [["password", "role"], ["is_active"]]
    assert all("a-better-pass-55" not in str(e) and user.password not in str(e) for e in audit_events(caplog))
