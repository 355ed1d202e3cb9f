"""The public page ``/public/`` in a real browser, on a phone in Chinese and on a desktop in English: the map with its
grid squares, the tables and the footnote, no JavaScript error and no Content-Security-Policy violation, nothing wider
than the phone."""

import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import PHONE, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 900}
SPOT = {"lat": 31.2502, "lon": 121.5003}  # a place of the demo city no other test reports at


@pytest.fixture(scope="module")
def five_reports(pages_server):
    """Five waterlogging reports a few metres apart (one grid square): enough for the map to show the square."""
    dispatcher = client(pages_server, "dispatcher")
    for n in range(5):
        response = dispatcher.post("/api/incidents/", json={
            "event_type": "waterlogging", "title": f"Public page probe {n}", "severity": 2,
            "location": {"lat": SPOT["lat"] + n * 0.00005, "lon": SPOT["lon"]},
            "reporter": {"name": "王五", "phone": "13700001234"},
        })
        assert response.status_code == 201, response.text
    # The figures are one cached entry (recomputed every second on this server): wait until they include the five.
    deadline = time.monotonic() + 20
    while max((c["count"] for c in httpx.get(f"{pages_server}/public/figures.json").json()["cells"]), default=0) < 5:
        assert time.monotonic() < deadline, "the public figures never showed the five reports"
        time.sleep(0.5)
    return pages_server


@pytest.mark.parametrize(("viewport", "locale", "lang", "name"), [
    (PHONE, "zh-CN", "zh-hans", "public-zh"),
    (DESKTOP, "en-US", "en", "public-en"),
])
def test_public_page_shows_map_and_tables(five_reports, browser, viewport, locale, lang, name):
    phone = viewport is PHONE
    context = browser.new_context(viewport=viewport, locale=locale, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    errors, csp = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and csp.append(msg.text))
    response = page.goto(f"{five_reports}/public/")
    assert response.status == 200
    assert "private" in response.headers["cache-control"]  # the page sets the CSRF cookie: no shared cache
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("[data-testid=public-map].leaflet-container")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-testid=public-map]")).to_be_visible()
    cells = page.locator("[data-testid=cell]")
    expect(cells.first).to_be_visible()
    assert max(int(cells.nth(i).get_attribute("data-count")) for i in range(cells.count())) >= 5
    for table in ("by-district", "by-event-type"):
        expect(page.locator(f"[data-testid={table}]")).to_be_visible()
        expect(page.locator(f"[data-testid={table}] tbody tr").first).to_be_visible()
    expect(page.locator("[data-testid=by-event-type]")).to_contain_text("城市内涝" if phone else "Waterlogging")
    expect(page.locator("[data-testid=footnote]")).to_be_visible()
    body = page.locator("body")
    for secret in ("王五", "13700001234", "Public page probe"):
        expect(body).not_to_contain_text(secret)
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.wait_for_load_state("networkidle")  # the city's layers drawn
    shot(page, name)
    assert errors == [] and csp == []  # the page keeps to the strict policy (no inline script or style)
    context.close()
