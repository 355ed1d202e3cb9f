"""A citizen's text is text (issue 19): a report titled ``<img src=x onerror=alert(1)>`` (the same in its description
and in a public note), created through the API, is shown as those characters on the console (dispatcher), in the
inbox of the department it was routed to (staff), on the incident's audit page (supervisor) and on the tracking page
(anonymous): no ``img`` element is made of it, no dialog opens, and the page reports no Content-Security-Policy
violation and no error. Then every page a persona works on (console and its tabs, wall, inbox, reports, audit,
routing dry-run, the admin) is walked with zero violations, which proves the vendored libraries (Leaflet,
ECharts) work under the strict policy (dispatch/settings.py, tests/security/test_csp.py for the headers).

``watched_page`` and ``assert_renders_as_text`` are for other pages' tests (the public page ``/public/``)."""

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.walkthrough import PASSWORD, client, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

HOSTILE = "<img src=x onerror=alert(1)>"
DESK = {"width": 1600, "height": 900}
PHONE = {"width": 390, "height": 844}

# Installed before any script of every document of the context: collects the policy's violation reports.
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
                     line: e.lineNumber, sample: e.sample});
});
"""


def watched_page(browser, base: str, username: str | None = None, viewport: dict = DESK, **context_options):
    """A new page (its own context) watched from its first document: ``page.csp_console`` (console messages about
    the Content-Security-Policy), ``page.dialogs`` (dismissed), ``page.js_errors``; ``window.__csp`` in the page
    (violation events). Logged in as ``username`` through the login form if given."""
    context = browser.new_context(viewport=viewport, locale=context_options.pop("locale", "en-US"), **context_options)
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    page.csp_console, page.dialogs, page.js_errors = [], [], []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.csp_console.append(msg.text))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    if username:
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "/login/" not in page.url, f"{username} could not log in"
    return page


def violations(page) -> list:
    """Everything the page reported against the policy so far (events and console messages)."""
    events = page.evaluate("() => window.__csp || []")
    return events + list(getattr(page, "csp_console", []))


def assert_clean(page) -> None:
    """No policy violation, no dialog, no uncaught error on the page so far."""
    assert violations(page) == [], (page.url, violations(page))
    assert getattr(page, "dialogs", []) == [], (page.url, page.dialogs)
    assert getattr(page, "js_errors", []) == [], (page.url, page.js_errors)


def assert_renders_as_text(page, text: str = HOSTILE) -> None:
    """``text`` (markup a citizen typed) is visible on the page as characters, no element was made of it (no
    ``img[src=x]``, no ``onerror`` attribute), and the page is clean (``assert_clean``)."""
    expect(page.get_by_text(text).filter(visible=True).first).to_be_visible(timeout=15000)
    expect(page.locator('img[src="x"]')).to_have_count(0)
    expect(page.locator("[onerror]")).to_have_count(0)
    page.wait_for_timeout(300)  # an image that failed to load would have fired its handler by now
    assert_clean(page)


HOSTILE_SPOT = (31.1870, 121.4080)  # Riverside's south-west corner: no other page test reports here (map clusters)


@pytest.fixture
def hostile_report(pages_server):
    """The hostile report, routed, with a public note: (incident id, tracking token). Cancelled afterwards, so the
    shared pages server's board and map are as the other page tests expect them."""
    dispatcher = client(pages_server, "dispatcher")
    response = dispatcher.post("/api/incidents/", json={
        "event_type": "waterlogging", "title": HOSTILE, "description": HOSTILE, "severity": 3,
        "location": {"lat": HOSTILE_SPOT[0], "lon": HOSTILE_SPOT[1]}, "address": "Riverside south-west",
    })
    assert response.status_code == 201, response.text
    body = response.json()
    try:
        wait_for_orders(dispatcher, body["id"], 1)
        note = dispatcher.post(f"/api/incidents/{body['id']}/notes/", json={"text": HOSTILE, "public": True})
        assert note.status_code == 201, note.text
        yield body["id"], body["tracking_token"]
    finally:
        dispatcher.post(f"/api/incidents/{body['id']}/transitions/",
                        json={"transition": "cancel", "note": "e2e hostile title test: stood down"})


def test_a_hostile_title_is_text_on_every_page(pages_server, browser, hostile_report):
    base = pages_server
    incident_id, token = hostile_report
    department = next(o["department"] for o in client(base, "dispatcher").get(f"/api/incidents/{incident_id}/")
                      .json()["work_orders"])

    # The console: in the board's row, then in the detail (title and description).
    console = watched_page(browser, base, "dispatcher")
    if not console.url.endswith("/console/"):
        console.goto(f"{base}/console/")
    expect(console.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)  # ws: under 'self'
    row = console.locator(f"[data-testid=incident-row][data-id='{incident_id}']")
    expect(row).to_contain_text(HOSTILE, timeout=15000)
    # Opened from the keyboard (Enter on the focused row, as the console's keys document): the board of the pages
    # server holds every earlier test's incidents, and under load their live updates keep moving the rows, so a
    # pointer click met the sticky header, the filters or the board in turn until it timed out.
    row.press("Enter")
    expect(console.locator("[data-testid=incident-detail]")).to_contain_text(HOSTILE, timeout=15000)
    expect(console.locator("[data-testid=incident-detail] dd.desc")).to_have_text(HOSTILE)
    assert_renders_as_text(console)

    # The inbox of a department it was routed to.
    inbox = watched_page(browser, base, f"{department}_staff", PHONE)
    if not inbox.url.endswith("/inbox/"):
        inbox.goto(f"{base}/inbox/")
    expect(inbox.locator("#live-status")).to_have_attribute("data-state", "live", timeout=30000)
    card = inbox.locator(f"[data-testid=work-order][data-incident='{incident_id}']").first
    expect(card).to_contain_text(HOSTILE, timeout=30000)  # the machine is shared: the first load may be slow
    assert_renders_as_text(inbox)

    # The incident's audit page (its title, and the note in the timeline).
    audit = watched_page(browser, base, "supervisor")
    audit.goto(f"{base}/audit/incidents/{incident_id}/")
    expect(audit.locator("#incident-title")).to_have_text(HOSTILE)
    assert_renders_as_text(audit)

    # The citizen's tracking page (the public note).
    track = watched_page(browser, base, None, PHONE)
    track.goto(f"{base}/track/{token}/")
    expect(track.locator("[data-testid=notes]")).to_contain_text(HOSTILE)
    assert_renders_as_text(track)


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


DRAWN = """() => {
  const chart = window.echarts && echarts.getInstanceByDom(document.getElementById("chart-department"));
  return !!chart && (chart.getOption().series[0] || {data: []}).data.length > 0;
}"""


def _show_a_chart_tooltip(page, base: str) -> None:
    """The reports page with a bar drawn (the facts are folded after the change: reload until they are), and the
    pointer over it: ECharts' tooltip (built as elements by reports.js) with its marker coloured."""
    for _attempt in range(20):
        _visit(page, f"{base}/reports/?period=today")
        expect(page.locator("#reports")).to_have_attribute("data-state", "ready", timeout=20000)
        if page.evaluate(DRAWN):
            break
        page.wait_for_timeout(500)
    else:
        raise AssertionError("no bar on the reports page")
    box = page.locator("#chart-department").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.6)
    tip = page.locator("#chart-department .chart-tip")
    expect(tip).to_be_visible(timeout=5000)
    colour = tip.locator(".tip-marker").first.evaluate("(node) => getComputedStyle(node).backgroundColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)", "transparent"), colour


def test_the_pages_and_their_libraries_raise_no_violation(pages_server, browser, hostile_report):
    base = pages_server
    incident_id, _token = hostile_report
    staff_api = client(base, "city_management_staff")  # an accepted offer: a bar on the reports page
    for _attempt in range(100):
        mine = staff_api.get("/api/work-orders/", params={"incident": incident_id}).json()["results"]
        if mine:
            break
        time.sleep(0.1)
    order = mine[0]
    assert staff_api.post(f"/api/work-orders/{order['id']}/actions/", json={"action": "accept"}).status_code == 200

    # Anonymous: the login page and the admin's.
    anonymous = watched_page(browser, base)
    for path in ("/login/", "/admin/login/"):
        _visit(anonymous, base + path)
    assert_clean(anonymous)
    public = anonymous.goto(f"{base}/public/")  # the public page (issue 19), once it exists
    if public.status != 404:
        anonymous.wait_for_load_state("networkidle")
        assert_clean(anonymous)

    # The dispatcher's console: the Leaflet map, the Units tab, the plan activation form; the wall.
    console = watched_page(browser, base, "dispatcher", {"width": 1920, "height": 1080})
    _visit(console, f"{base}/console/")
    expect(console.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    expect(console.locator(".leaflet-container")).to_have_count(1, timeout=15000)
    console.locator(f"[data-testid=incident-row][data-id='{incident_id}']").click()
    expect(console.locator("[data-testid=incident-detail]")).to_contain_text(HOSTILE, timeout=15000)
    console.locator("[data-testid=tab-units]").click()
    expect(console.locator("#unit-board")).to_be_visible()
    activate = console.locator("[data-testid=plan-activate-open]")
    if activate.count():
        activate.click()
        expect(console.locator("[data-testid=plan-activate-form]")).to_be_visible()
    console.mouse.wheel(0, -300)  # zoom the map: Leaflet moves its panes with element.style (allowed)
    console.wait_for_timeout(500)
    assert_clean(console)
    _visit(console, f"{base}/console/wall/")
    expect(console.locator(".leaflet-container")).to_have_count(1, timeout=15000)
    assert_clean(console)

    # The supervisor: audit list and page, reports (ECharts, with a tooltip shown), the language menu.
    supervisor = watched_page(browser, base, "supervisor")
    _visit(supervisor, f"{base}/audit/")
    _visit(supervisor, f"{base}/audit/incidents/{incident_id}/")
    _show_a_chart_tooltip(supervisor, base)
    assert_clean(supervisor)
    supervisor.select_option("header.topbar form.lang select[name=language]", "zh-hans")  # boot.js submits it
    supervisor.wait_for_load_state("networkidle")
    expect(supervisor.locator("html")).to_have_attribute("lang", "zh-hans")
    assert supervisor.evaluate("() => window.LIANDONG.lang") == "zh-hans"
    supervisor.select_option("header.topbar form.lang select[name=language]", "en")
    supervisor.wait_for_load_state("networkidle")
    assert_clean(supervisor)

    # Staff: the inbox.
    staff = watched_page(browser, base, "city_management_staff", PHONE)
    _visit(staff, f"{base}/inbox/")
    expect(staff.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    assert staff.evaluate("() => window.LIANDONG.user") == {
        "username": "city_management_staff", "role": "staff", "department": "city_management",
        "unit": staff.evaluate("() => window.LIANDONG.user.unit"),
    }
    assert_clean(staff)

    # The admin: routing dry-run, the admin's index and a change list and change form; an error page's "Go back".
    admin = watched_page(browser, base, "admin")
    for path in ("/routing/dry-run/", "/admin/", "/admin/dispatch/incident/", f"/admin/dispatch/incident/{incident_id}/change/"):
        _visit(admin, base + path)
        assert_clean(admin)
    _visit(admin, f"{base}/api/docs/")  # Swagger UI: its start-up script a file, its styles in files
    expect(admin.locator(".swagger-ui .info .title")).to_contain_text("Liandong", timeout=15000)
    assert_clean(admin)
    _visit(admin, f"{base}/no-such-page/")
    admin.locator("[data-testid=error-back]").click()
    admin.wait_for_url(f"{base}/api/docs/")  # history.back() from liandong/error-page.js
    assert_clean(admin)
