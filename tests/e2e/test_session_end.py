"""A page session ending in a real browser (issue 21, item 3): the console warns before the idle timeout with a
countdown, says that unsent text is kept, goes to the login page saying why, and after signing in again puts the
report the dispatcher was typing back into the form; "Stay signed in" keeps the session. On a server of its own
with a 30-second idle timeout (20 s of warning)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.embedded]


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory):
    from benchmarks.stack import demo_server

    with demo_server(tmp_path_factory.mktemp("sessions"), PASSWORD, SESSION_IDLE_MINUTES="0.5",
                     SESSION_WARN_SECONDS="20", RATE_LIMIT_LOGIN="1000/min") as (base, _server):
        yield base


def test_the_console_warns_ends_the_session_and_keeps_the_unsent_report(short_sessions, browser, report_figures):
    base = short_sessions
    page = login(browser, base, "dispatcher", WALL)
    assert page.url.endswith("/console/")
    form = page.locator("#new-incident")
    form.locator("input[name=title]").fill("Draft: water over the kerb at the school gate")
    form.locator("textarea[name=description]").fill("Caller says 40 cm and rising")

    warning = page.get_by_test_id("session-warning")
    expect(warning).to_be_visible(timeout=20000)
    expect(page.get_by_test_id("session-warning-text")).to_contain_text("signed out in 0:")
    expect(page.get_by_test_id("session-warning-unsaved")).to_contain_text("stays in this browser")
    shot(page, "session-warning")

    page.wait_for_url(f"{base}/login/**", timeout=30000)
    expect(page.get_by_test_id("login-message")).to_contain_text("signed out after 0.5 minutes without activity")

    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/", timeout=15000)
    expect(form.locator("input[name=title]")).to_have_value("Draft: water over the kerb at the school gate")
    expect(form.locator("textarea[name=description]")).to_have_value("Caller says 40 cm and rising")
    expect(page.get_by_test_id("session-restored")).to_be_visible()

    # The warning again: "Stay signed in" keeps the session past the first deadline.
    expect(warning).to_be_visible(timeout=20000)
    before = page.evaluate("fetch('/api/auth/session/', {headers: {'X-Liandong-Background': '1'}}).then(r => r.json())")
    page.get_by_test_id("session-stay").click()
    expect(warning).to_be_hidden(timeout=5000)
    after = page.evaluate("fetch('/api/auth/session/', {headers: {'X-Liandong-Background': '1'}}).then(r => r.json())")
    assert after["idle_expires_at"] > before["idle_expires_at"]
    assert page.url.endswith("/console/")
    assert not page.js_errors, page.js_errors
    report_figures("[sessions] warned 20 s before the 30 s idle end, signed out to the login page, the unsent report "
                   "restored after signing in again; 'Stay signed in' moved the deadline")
