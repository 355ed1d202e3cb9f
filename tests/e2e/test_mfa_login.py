"""Two-step sign-in in a real browser (issue 21, item 2), on a server of its own with MFA_REQUIRED=true: the
dispatcher's first sign-in sets up an authenticator app from the QR code's page (the code computed here from the
secret the page shows, as an app would), sees the recovery codes once and reaches the console; the next sign-in asks
for a code after the password, refuses a wrong one, and takes the right one; the API token needs the code too."""

import time
from base64 import b32decode

import httpx
import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.e2e.browser import WALL, shot
from tests.e2e.walkthrough import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.embedded]


@pytest.fixture(scope="module")
def mfa_server(tmp_path_factory):
    from benchmarks.stack import demo_server

    with demo_server(tmp_path_factory.mktemp("mfa"), PASSWORD, MFA_REQUIRED="true",
                     RATE_LIMIT_LOGIN="1000/min") as (base, _server):
        yield base


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for ``secret`` (the page's base32 text) now, or ``steps_ahead`` 30-second steps
    later (the server takes the next step's code too, and never one twice)."""
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def password_step(page, base: str, username: str = "dispatcher"):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_enrol_then_sign_in_with_a_code(mfa_server, browser, report_figures):
    base = mfa_server
    context = browser.new_context(viewport=WALL, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # First sign-in: the role requires a second factor, so the password leads to the set-up, not the console.
    password_step(page, base)
    page.wait_for_url(f"{base}/login/enrol/")
    expect(page.get_by_test_id("mfa-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("mfa-secret").inner_text().strip()
    assert len(secret.replace(" ", "")) == 32
    assert page.goto(f"{base}/console/").url.startswith(f"{base}/login/")  # nothing before the set-up
    page.goto(f"{base}/login/enrol/")
    assert page.get_by_test_id("mfa-secret").inner_text().strip() == secret  # the same secret when shown again
    shot(page, "mfa-enrol")

    page.fill("input[name=otp]", app_code(secret))
    page.click("button[type=submit]")
    codes = page.get_by_test_id("recovery-codes").locator("li code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    page.get_by_test_id("recovery-codes-continue").click()
    page.wait_for_url(f"{base}/console/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)

    # Sign out; the next sign-in asks for a code after the password.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login/")
    password_step(page, base)
    page.wait_for_url(f"{base}/login/code/")
    page.fill("input[name=otp]", "000000" if app_code(secret, 1) != "000000" else "111111")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("otp-error")).to_contain_text("Wrong code")
    assert page.goto(f"{base}/console/").url.startswith(f"{base}/login/")
    page.goto(f"{base}/login/code/")
    time.sleep(1.1)  # a wrong code makes the next try wait a second
    page.fill("input[name=otp]", app_code(secret, 1))  # the enrolment used this step's code
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")
    assert not errors, errors

    # The API token asks for the code as well; a recovery code works once.
    body = {"username": "dispatcher", "password": PASSWORD}
    missing = httpx.post(f"{base}/api/auth/token/", json=body, timeout=10)
    assert missing.status_code == 400 and "otp" in missing.json()["errors"]
    ok = httpx.post(f"{base}/api/auth/token/", json={**body, "otp": codes[0]}, timeout=10)
    assert ok.status_code == 200 and ok.json()["token"].startswith("ldt_")
    again = httpx.post(f"{base}/api/auth/token/", json={**body, "otp": codes[0]}, timeout=10)
    assert again.status_code == 400
    context.close()
    report_figures("[mfa] enrolled from the QR code's page, recovery codes shown once, signed in with a computed TOTP "
                   "code after the password; a wrong code refused; the API token took a recovery code once")
