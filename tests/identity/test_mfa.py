"""A second factor at sign-in (issue 21, item 2): with MFA_REQUIRED, dispatchers, supervisors and admins (MFA_ROLES)
sign in with a password and a code from an authenticator app (TOTP) or a recovery code (each once), on the pages and
for API tokens; one who has none sets it up at their next sign-in (a QR code drawn on the server) before reaching any
page; staff and leads are not asked unless they turned it on. Wrong codes are refused, slowed down and counted
towards the account's lock; every step is an audit record. Codes are computed here from the device's secret at a
controlled time, as an authenticator app would."""

import re
from base64 import b32encode
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from identity.services.mfa import recovery_code_stored
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mfa_on(settings, _no_second_factor):
    """As in production: MFA_REQUIRED with the default roles; the login rate limit lifted (what answers is the code
    check, not the limit)."""
    settings.MFA_REQUIRED = True
    settings.MFA_ROLES = ["dispatcher", "supervisor", "admin"]
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "100000/min"}


def code_for(device, at=None) -> str:
    """The code an authenticator app shows for ``device`` at ``at`` (now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = (at or timezone.now()).timestamp()
    return f"{totp.token():0{device.digits}d}"


def enrolled(username: str):
    """``username`` with a confirmed authenticator and ten recovery codes: (device, codes)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dispatch.models import User
    from identity.services import mfa

    user = User.objects.get(username=username)
    device = TOTPDevice.objects.create(user=user, name=mfa.AUTHENTICATOR, confirmed=True)
    return device, mfa._recovery_codes_new(user)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def password_step(client: Client, username="dispatcher", next_url=None):
    body = {"username": username, "password": PASSWORD}
    if next_url:
        body["next"] = next_url
    return client.post("/login/", body)


def api_sign_in(username="dispatcher", password=PASSWORD, **extra):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password, **extra}, format="json")


def audit(event: str) -> list:
    from identity.models import AuditRecord

    return list(AuditRecord.objects.filter(event=event).order_by("id"))


# --- enrolment --------------------------------------------------------------------------------------------


def test_a_role_that_requires_it_enrols_at_sign_in_with_a_qr_code_then_sees_recovery_codes_once():
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    start = timezone.now()
    browser = Client()
    with time_machine.travel(start, tick=False):
        response = password_step(browser, next_url="/audit/")
        assert response.status_code == 302 and response["Location"] == "/login/enrol/"
        assert not signed_in(browser)

        page = browser.get("/login/enrol/")
        assert page.status_code == 200
        html = page.content.decode()
        device = TOTPDevice.objects.get(user__username="dispatcher")
        assert not device.confirmed
        assert re.search(r'<figure class="mfa-qr" data-testid="mfa-qr"><svg [^>]*class="segno"', html)  # inline SVG
        secret = b32encode(device.bin_key).decode()
        assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in html  # for typing in by hand
        assert browser.get("/login/enrol/").content.decode().count(secret[:4]) >= 1
        assert TOTPDevice.objects.filter(user__username="dispatcher").count() == 1  # shown again: the same secret

        wrong = browser.post("/login/enrol/", {"otp": "000000" if code_for(device) != "000000" else "111111"})
        assert wrong.status_code == 400 and 'data-testid="otp-error"' in wrong.content.decode()
        assert not signed_in(browser)

    with time_machine.travel(start + timedelta(seconds=2), tick=False):  # after the 1 s wait a wrong code costs
        done = browser.post("/login/enrol/", {"otp": code_for(device)})
        assert done.status_code == 200 and signed_in(browser)
        codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
        assert len(codes) == 10
        stored = set(StaticToken.objects.filter(device__user__username="dispatcher").values_list("token", flat=True))
        assert stored == {recovery_code_stored(code) for code in codes}  # kept as keyed hashes, never the codes
        assert not stored & set(codes)
        assert 'href="/audit/"' in done.content.decode()  # then where the person was going
        device.refresh_from_db()
        assert device.confirmed

        assert browser.get("/audit/").status_code == 200
        security = browser.get("/account/security/").content.decode()
        assert "10 recovery codes left" in security
        assert not any(code in security for code in codes)  # shown once, never again
        assert browser.get("/login/enrol/")["Location"] == "/"  # signed in: nothing left to do there
    assert [r.username for r in audit("mfa.enrolled")] == ["dispatcher"]
    assert [r.username for r in audit("mfa.code_failed")] == ["dispatcher"]


def test_a_user_not_enrolled_reaches_nothing_before_enrolling():
    browser = Client()
    assert password_step(browser, "supervisor")["Location"] == "/login/enrol/"
    assert browser.get("/console/")["Location"].startswith("/login/")
    assert browser.get("/api/event-types/").status_code == 401
    assert browser.post("/api/auth/ws-ticket/").status_code == 401
    assert browser.get("/login/code/")["Location"] == "/login/enrol/"  # no code to give yet
    assert not signed_in(browser)


def test_a_pending_sign_in_expires():
    start = timezone.now()
    browser = Client()
    with time_machine.travel(start, tick=False):
        password_step(browser)
    with time_machine.travel(start + timedelta(minutes=5, seconds=1), tick=False):
        page = browser.get("/login/enrol/", follow=True)
        assert page.redirect_chain[-1][0] == "/login/"
        assert "took too long" in page.content.decode()


# --- signing in with a code -------------------------------------------------------------------------------


def test_password_then_code_signs_in_under_a_new_session_key():
    device, _codes = enrolled("dispatcher")
    browser = Client()
    browser.get("/login/")
    response = password_step(browser, next_url="/audit/")
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert not signed_in(browser)
    pending_key = browser.session.session_key
    assert browser.get("/login/code/").status_code == 200

    done = browser.post("/login/code/", {"otp": code_for(device)})
    assert done.status_code == 302 and done["Location"] == "/audit/"
    assert signed_in(browser) and browser.session.session_key != pending_key
    assert browser.get("/console/").status_code == 200
    assert [r.username for r in audit("auth.login")] == ["dispatcher"]  # one sign-in: after the code


def test_a_wrong_code_is_refused_and_nobody_is_signed_in():
    from axes.models import AccessAttempt

    device, _codes = enrolled("dispatcher")
    browser = Client(REMOTE_ADDR="203.0.113.5")
    password_step(browser)
    right = code_for(device)
    wrong = browser.post("/login/code/", {"otp": "123456" if right != "123456" else "654321"})
    assert wrong.status_code == 400
    assert "Wrong code" in wrong.content.decode()
    assert not signed_in(browser)
    assert browser.get("/api/event-types/").status_code == 401
    assert browser.get("/console/")["Location"].startswith("/login/")
    assert browser.post("/login/code/", {"otp": ""}).status_code in (400, 429)
    assert AccessAttempt.objects.get(username="dispatcher").failures_since_start == 1  # counted for the lock
    failed = audit("mfa.code_failed")
    assert [(r.username, r.address, r.data["kind"]) for r in failed] == [("dispatcher", "203.0.113.5", "totp")]


def test_a_code_works_once():
    device, _codes = enrolled("dispatcher")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        code = code_for(device)
        first = Client()
        password_step(first)
        assert first.post("/login/code/", {"otp": code}).status_code == 302
        second = Client()
        password_step(second)
        replay = second.post("/login/code/", {"otp": code})
        assert replay.status_code == 400 and not signed_in(second)


def test_a_recovery_code_signs_in_once():
    _device, codes = enrolled("supervisor")
    browser = Client()
    password_step(browser, "supervisor")
    done = browser.post("/login/code/", {"otp": codes[3].upper()[:4] + " " + codes[3][4:]}, follow=True)
    assert signed_in(browser)
    assert "9 left" in done.content.decode()
    used = audit("mfa.recovery_code_used")
    assert [(r.username, r.data["codes_left"]) for r in used] == [("supervisor", 9)]

    again = Client()
    password_step(again, "supervisor")
    refused = again.post("/login/code/", {"otp": codes[3]})
    assert refused.status_code == 400 and not signed_in(again)


def test_wrong_codes_make_the_next_try_wait():
    device, _codes = enrolled("dispatcher")
    start = timezone.now()
    browser = Client()
    with time_machine.travel(start, tick=False):
        password_step(browser)
        assert browser.post("/login/code/", {"otp": "000001"}).status_code == 400  # first wrong: wait 1 s
    with time_machine.travel(start + timedelta(seconds=1, milliseconds=500), tick=False):
        password_step(browser)
        assert browser.post("/login/code/", {"otp": "000002"}).status_code == 400  # second wrong: wait 2 s
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        throttled = browser.post("/login/code/", {"otp": code_for(device)})  # even the right code waits
        assert throttled.status_code == 429 and throttled["Retry-After"] == "2"
        assert "try again in 2 seconds" in throttled.content.decode() and not signed_in(browser)
        api = api_sign_in(otp=code_for(device))
        assert api.status_code == 429 and "otp" in api.json()["errors"]
    with time_machine.travel(start + timedelta(seconds=4), tick=False):
        assert browser.post("/login/code/", {"otp": code_for(device)}).status_code == 302
        assert signed_in(browser)


def test_wrong_codes_lock_the_account_like_wrong_passwords(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no waiting between tries: what answers is the lock
    device, _codes = enrolled("dispatcher")
    browser = Client(REMOTE_ADDR="203.0.113.8")
    password_step(browser)
    statuses = [browser.post("/login/code/", {"otp": f"{n:06d}"}).status_code for n in range(10)]
    assert statuses == [400] * 9 + [429]
    assert audit("auth.locked_out")[-1].username == "dispatcher"
    locked = browser.post("/login/code/", {"otp": code_for(device)})
    assert locked.status_code in (302, 429) and not signed_in(browser)  # the pending sign-in is gone
    assert api_sign_in(otp=code_for(device)).status_code == 429


# --- the API token --------------------------------------------------------------------------------------------


def test_the_api_asks_for_the_code_after_the_password():
    device, codes = enrolled("dispatcher")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bad_password = api_sign_in(password="wrong-password", otp="123456")
        assert bad_password.status_code == 400 and "otp" not in bad_password.json()["errors"]  # credentials first

        missing = api_sign_in()
        assert missing.status_code == 400
        assert list(missing.json()["errors"]) == ["otp"]
        assert "authenticator app" in missing.json()["errors"]["otp"][0]

        right = code_for(device)
        wrong = api_sign_in(otp="123456" if right != "123456" else "654321")
        assert wrong.status_code == 400 and list(wrong.json()["errors"]) == ["otp"]
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        ok = api_sign_in(otp=code_for(device), device="desk")
        assert ok.status_code == 200 and set(ok.json()) == {"token", "expires_at"}
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {ok.json()['token']}")
        assert client.get("/api/event-types/").status_code == 200

        assert api_sign_in(otp=codes[0]).status_code == 200  # a recovery code, once
        assert api_sign_in(otp=codes[0]).status_code == 400


def test_the_api_sends_a_user_who_must_enrol_to_the_web():
    refused = api_sign_in("admin", otp="123456")
    assert refused.status_code == 400
    assert "sign in on the web first" in refused.json()["errors"]["otp"][0]


def test_roles_outside_mfa_roles_are_not_asked(settings):
    browser = Client()
    response = password_step(browser, "city_management_staff")
    assert response.status_code == 302 and response["Location"] == "/" and signed_in(browser)
    assert api_sign_in("city_management_staff").status_code == 200

    settings.MFA_ROLES = [*settings.MFA_ROLES, "staff"]  # a city that asks it of staff too
    assert password_step(Client(), "city_management_staff")["Location"] == "/login/enrol/"
    assert api_sign_in("city_management_staff").status_code == 400


def test_mfa_required_off_asks_nobody_who_has_not_turned_it_on(settings):
    settings.MFA_REQUIRED = False
    assert password_step(Client(), "dispatcher")["Location"] == "/"
    assert api_sign_in("dispatcher").status_code == 200
    enrolled("supervisor")
    assert password_step(Client(), "supervisor")["Location"] == "/login/code/"  # turned on: asked whatever
    assert api_sign_in("supervisor").status_code == 400


# --- the account page, the admin ---------------------------------------------------------------------------


def test_staff_turn_it_on_and_off_for_themselves():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    start = timezone.now()
    browser = Client()
    with time_machine.travel(start, tick=False):
        password_step(browser, "transit_staff")
        assert "Two-step sign-in is off" in browser.get("/account/security/").content.decode()
        page = browser.get("/account/security/enrol/")
        assert page.status_code == 200 and 'class="segno"' in page.content.decode()
        device = TOTPDevice.objects.get(user__username="transit_staff")
        done = browser.post("/account/security/enrol/", {"otp": code_for(device)})
        assert done.status_code == 200 and len(re.findall(r"<li><code>", done.content.decode())) == 10
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert password_step(Client(), "transit_staff")["Location"] == "/login/code/"  # asked from now on
        assert browser.post("/account/security/", {"action": "disable", "otp": "12"}).status_code == 400
    with time_machine.travel(start + timedelta(seconds=62), tick=False):
        off = browser.post("/account/security/", {"action": "disable", "otp": code_for(device)})
        assert off.status_code == 302
        assert not TOTPDevice.objects.filter(user__username="transit_staff").exists()
        assert password_step(Client(), "transit_staff")["Location"] == "/"
    assert [r.data["device"] for r in audit("mfa.device_removed")] == ["authenticator", "recovery_codes"]
    assert [r.username for r in audit("mfa.disabled")] == ["transit_staff"]


def test_recovery_codes_are_renewed_with_a_current_code_and_the_old_ones_stop_working():
    device, old = enrolled("dispatcher")
    start = timezone.now()
    browser = Client()
    with time_machine.travel(start, tick=False):
        password_step(browser)
        browser.post("/login/code/", {"otp": code_for(device)})
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        missing = browser.post("/account/security/", {"action": "regenerate", "otp": ""})
        assert missing.status_code == 400 and 'data-testid="otp-error"' in missing.content.decode()
        renewed = browser.post("/account/security/", {"action": "regenerate", "otp": code_for(device)})
        assert renewed.status_code == 200
        new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", renewed.content.decode())
        assert len(new) == 10 and not set(new) & set(old)
        refused = browser.post("/account/security/", {"action": "disable", "otp": code_for(device)})
        assert refused.status_code == 400  # the role requires it
        assert browser.post("/account/security/", {"action": "other"}).status_code == 400
    with time_machine.travel(start + timedelta(seconds=62), tick=False):
        assert api_sign_in(otp=old[0]).status_code == 400
    with time_machine.travel(start + timedelta(seconds=64), tick=False):
        assert api_sign_in(otp=new[0]).status_code == 200
    assert [r.username for r in audit("mfa.recovery_codes_regenerated")] == ["dispatcher"]


def test_an_admin_removes_a_lost_phone_and_the_user_enrols_again():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from dispatch.models import User

    device, _codes = enrolled("supervisor")
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    listing = admin.get("/admin/otp_totp/totpdevice/")
    assert listing.status_code == 200 and "supervisor" in listing.content.decode()
    assert device.key not in admin.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    response = admin.post("/admin/otp_totp/totpdevice/", {"action": "delete_selected", "_selected_action": [device.pk],
                                                          "post": "yes"})
    assert response.status_code == 302 and not TOTPDevice.objects.filter(pk=device.pk).exists()
    removed = audit("mfa.device_removed")
    assert [(r.username, r.data["device"]) for r in removed] == [("supervisor", "authenticator")]
    assert audit("admin.action")[-1].data["model"] == "otp_totp.totpdevice"
    assert password_step(Client(), "supervisor")["Location"] == "/login/enrol/"


def test_the_admins_login_page_is_the_sign_in_page():
    response = Client().get("/admin/login/?next=/admin/otp_totp/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=%2Fadmin%2Fotp_totp%2F"
    assert Client().get("/admin/")["Location"].startswith("/admin/login/")
    device, _codes = enrolled("admin")
    browser = Client()
    password_step(browser, "admin", next_url="/admin/")
    assert browser.post("/login/code/", {"otp": code_for(device)})["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_an_unknown_role_in_mfa_roles_is_refused_at_start(settings):
    from identity.checks import mfa_roles_check

    assert mfa_roles_check(None) == []
    settings.MFA_ROLES = ["dispatcher", "supervisors"]  # a typo would exempt the supervisors
    errors = mfa_roles_check(None)
    assert [e.id for e in errors] == ["identity.E001"] and "supervisors" in errors[0].msg
