"""Duplicate reports on the console, in a real browser on the suite's profile (issue 16, item 5): while the dispatcher
places a new report its possible duplicates are listed under the form; a report merged into another incident leaves
the board, its survivor shows "×2" and the merged one's detail says where it went; "Unmerge" gives it back, work
orders included; the server's reason for a refused merge is shown beside the control; a surge's report attached
automatically is listed under "Merged automatically" and one click makes it a normal incident again.

Figure (printed): the last keystroke of the location -> the candidate in the DOM (the page's own input events and
MutationObserver, one clock).

``LIANDONG_SCREENSHOTS=docs`` saves ``console-duplicates.png``.
"""

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WATERLOGGING = Path(__file__).resolve().parents[2] / "workflows" / "definitions" / "waterlogging.yaml"
# Places no other page test reports at (waterlogging suggests duplicates within 150 m: the spots are kilometres apart).
MERGE_SPOT = (31.2445, 121.4755)
REFUSED_SPOT = (31.2335, 121.4125)
SURGE_SPOT = (31.2555, 121.4625)
METRES_PER_DEGREE = 111_195.0
OPEN_ORDER_STATES = {"offered", "accepted", "en_route", "on_scene"}

# Notes in the page when the location was last typed into and when a candidate first shows after that.
WATCH_CANDIDATES = """() => {
  window.__dup = {typed: null, shown: null};
  const form = document.getElementById("new-incident"), box = document.getElementById("dup-candidates");
  form.addEventListener("input", (ev) => {
    if (ev.target.name === "lat" || ev.target.name === "lon") { window.__dup.typed = Date.now(); window.__dup.shown = null; }
  });
  const look = () => {
    if (window.__dup.typed !== null && window.__dup.shown === null && !box.hidden
        && box.querySelector("[data-testid=dup-candidate]")) window.__dup.shown = Date.now();
  };
  new MutationObserver(look).observe(box, {subtree: true, childList: true, attributes: true});
}"""


def _console(browser, base):
    page = login(browser, base, "dispatcher", WALL)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    page.wait_for_function("() => document.querySelector('#board-count').textContent !== ''", timeout=15000)
    return page


def _report(api: httpx.Client, event_type: str, title: str, lat: float, lon: float) -> dict:
    response = api.post("/api/incidents/", json={"event_type": event_type, "title": title, "severity": 3,
                                                 "location": {"lat": lat, "lon": lon}})
    assert response.status_code == 201, response.text
    return response.json()


def _orders(api: httpx.Client, incident_id: int, want, timeout: float = 30) -> list[dict]:
    """The incident's work orders once ``want(orders)`` holds."""
    started = time.monotonic()
    while True:
        orders = api.get(f"/api/incidents/{incident_id}/").json()["work_orders"]
        if want(orders):
            return orders
        assert time.monotonic() - started < timeout, orders
        time.sleep(0.3)


def _open_departments(orders: list[dict]) -> set[str]:
    return {o["department"] for o in orders if o["state"] in OPEN_ORDER_STATES}


def _row(page, incident_id: int):
    return page.locator(f"[data-testid=incident-row][data-id='{incident_id}']")


def test_a_duplicate_is_suggested_merged_and_unmerged_on_the_console(pages_server, browser, report_figures):
    base = pages_server
    api = client(base, "dispatcher")
    tag = uuid.uuid4().hex[:6]
    existing = _report(api, "waterlogging", f"Dup {tag}: water over the kerb", *MERGE_SPOT)
    console = _console(browser, base)
    expect(_row(console, existing["id"])).to_have_count(1, timeout=10000)

    # The dispatcher picks the event type and types a place about 60 m north of it.
    form = console.locator("#new-incident")
    form.locator("select[name=event_type]").select_option("waterlogging")
    form.locator("input[name=title]").fill(f"Dup {tag}: caller says the street is flooded")
    console.evaluate(WATCH_CANDIDATES)
    lat = MERGE_SPOT[0] + 60 / METRES_PER_DEGREE
    form.locator("input[name=lat]").press_sequentially(f"{lat:.5f}", delay=40)
    form.locator("input[name=lon]").press_sequentially(f"{MERGE_SPOT[1]:.4f}", delay=40)
    candidate = console.locator(f"[data-testid=dup-candidates] [data-testid=dup-candidate][data-id='{existing['id']}']")
    expect(candidate).to_contain_text(existing["number"], timeout=5000)
    expect(candidate.locator(".dup-dist")).to_have_text(re.compile(r"^(5\d|6\d) m$"))
    console.wait_for_function("() => window.__dup.shown !== null", timeout=5000)
    seen = console.evaluate("() => window.__dup")
    report_figures(
        f"[duplicates] last keystroke of the location -> candidate shown: {seen['shown'] - seen['typed']} ms "
        f"(300 ms of it the debounce)"
    )

    # Created: the 201 named the existing incident; the detail offers to merge into it.
    console.locator("[data-testid=create-incident]").click()
    expect(console.locator("#toast")).to_contain_text(existing["number"], timeout=5000)
    expect(console.locator("[data-testid=dup-candidates]")).to_be_hidden()   # the form was cleared
    detail = console.locator("[data-testid=incident-detail]")
    expect(detail.locator("[data-testid=dup-merge-into]")).to_have_attribute("data-into", str(existing["id"]), timeout=5000)
    new_id = int(detail.get_attribute("data-id"))
    assert new_id != existing["id"]
    routed = _open_departments(_orders(api, new_id, lambda orders: len(_open_departments(orders)) >= 3))

    # Merged through the detail's merge control (its candidates: the existing incident, nearest first).
    merge = detail.locator("[data-testid=merge-form]")
    option = merge.locator(f"[data-testid=merge-target] option[value='{existing['id']}']")
    expect(option).to_have_count(1, timeout=5000)
    merge.locator("[data-testid=merge-target]").select_option(str(existing["id"]))
    merge.locator("[data-testid=merge-submit]").click()
    banner = detail.locator("[data-testid=merged-banner]")
    expect(banner).to_contain_text(existing["number"], timeout=5000)
    expect(banner).to_have_attribute("data-automatic", "false")
    expect(_row(console, new_id)).to_have_count(0, timeout=5000)
    expect(_row(console, existing["id"]).locator("[data-testid=report-count]")).to_have_text("×2", timeout=5000)
    assert _open_departments(_orders(api, new_id, lambda orders: not _open_departments(orders))) == set()
    shot(console, "console-duplicates")

    # The survivor lists the merged report.
    banner.locator("[data-testid=merged-into]").click()
    expect(detail).to_have_attribute("data-id", str(existing["id"]), timeout=5000)
    expect(detail.locator("[data-testid=report-count]")).to_contain_text("2 reports", timeout=5000)
    expect(detail.locator(f"[data-testid=merged-report][data-id='{new_id}']")).to_contain_text("caller says")

    # Unmerged from the merged report's banner: back on the board, "×2" gone, its work orders back.
    # The survivor's detail is drawn again on each live update of it (the merge's cancelled orders arrive now, later
    # under load): a redraw between the press and the release replaces the button and the click is lost. Click again
    # then (seen once in the services e2e pass); the detail must end on the merged report.
    for _ in range(3):
        console.locator(f"[data-testid=merged-report][data-id='{new_id}'] button.link").click()
        try:
            expect(detail).to_have_attribute("data-id", str(new_id), timeout=5000)
            break
        except AssertionError:
            continue
    expect(detail).to_have_attribute("data-id", str(new_id), timeout=5000)
    detail.locator("[data-testid=unmerge-note]").fill("different street after all")
    detail.locator("[data-testid=merged-banner] [data-testid=unmerge]").click()
    expect(detail.locator("[data-testid=merged-banner]")).to_have_count(0, timeout=5000)
    expect(_row(console, new_id)).to_have_count(1, timeout=5000)
    expect(_row(console, existing["id"]).locator("[data-testid=report-count]")).to_have_count(0, timeout=5000)
    again = _orders(api, new_id, lambda orders: _open_departments(orders) >= routed)
    assert _open_departments(again) == routed
    restored = api.get(f"/api/incidents/{new_id}/").json()
    assert restored["merged_into"] is None and restored["available_transitions"]
    assert api.get(f"/api/incidents/{existing['id']}/").json()["report_count"] == 1
    assert console.js_errors == []
    console.context.close()


def test_a_refused_merge_shows_the_servers_reason(pages_server, browser):
    base = pages_server
    api = client(base, "dispatcher")
    tag = uuid.uuid4().hex[:6]
    survivor = _report(api, "waterlogging", f"Refused {tag}: survivor", *REFUSED_SPOT)
    merged = _report(api, "waterlogging", f"Refused {tag}: merged", REFUSED_SPOT[0] + 0.0002, REFUSED_SPOT[1])
    assert api.post(f"/api/incidents/{merged['id']}/merge/", json={"into": survivor["id"]}).status_code == 200
    third = _report(api, "waterlogging", f"Refused {tag}: third", REFUSED_SPOT[0] - 0.0002, REFUSED_SPOT[1])

    console = _console(browser, base)
    _row(console, third["id"]).click()
    detail = console.locator("[data-testid=incident-detail]")
    expect(detail).to_have_attribute("data-id", str(third["id"]), timeout=5000)
    merge = detail.locator("[data-testid=merge-form]")
    # Its candidates: the survivor, not itself, not the merged report.
    expect(merge.locator(f"[data-testid=merge-target] option[value='{survivor['id']}']")).to_have_count(1, timeout=5000)
    expect(merge.locator(f"[data-testid=merge-target] option[value='{third['id']}']")).to_have_count(0)
    expect(merge.locator(f"[data-testid=merge-target] option[value='{merged['id']}']")).to_have_count(0)

    error = merge.locator("[data-testid=merge-error]")
    merge.locator("[data-testid=merge-number]").fill(third["number"])
    merge.locator("[data-testid=merge-submit]").click()
    expect(error).to_contain_text("cannot be merged into itself", timeout=5000)

    merge = detail.locator("[data-testid=merge-form]")
    merge.locator("[data-testid=merge-number]").fill(merged["number"])
    merge.locator("[data-testid=merge-submit]").click()
    expect(error).to_contain_text(f"{merged['number']} is itself merged into another incident", timeout=5000)
    assert api.get(f"/api/incidents/{third['id']}/").json()["merged_into"] is None
    assert console.js_errors == []
    console.context.close()


def test_a_report_attached_automatically_is_one_click_from_a_board_row(pages_server, browser):
    base = pages_server
    # A type of its own (the page server is shared: no other test's reports are attached automatically).
    definition = yaml.safe_load(WATERLOGGING.read_text())
    definition.update(code="e2e_flood", name={"en": "E2E flood", "zh": "端到端内涝"},
                      duplicates={"radius_m": 150, "window": "2h", "auto_attach": {"radius_m": 40, "window": "30m"}})
    published = client(base, "admin").post("/api/workflows/", json=definition)
    assert published.status_code in (200, 201), published.text

    console = _console(browser, base)
    api = client(base, "dispatcher")
    tag = uuid.uuid4().hex[:6]
    first = _report(api, "e2e_flood", f"Surge {tag}: underpass under water", *SURGE_SPOT)
    second = _report(api, "e2e_flood", f"Surge {tag}: same underpass, another caller", SURGE_SPOT[0] + 0.0001, SURGE_SPOT[1])
    assert second["merged_into"] == first["id"] and second["merged_automatically"] is True
    assert second["work_orders"] == []

    item = console.locator(f"[data-testid=auto-merged] [data-testid=auto-merged-item][data-id='{second['id']}']")
    expect(item).to_contain_text(first["number"], timeout=10000)
    expect(_row(console, second["id"])).to_have_count(0)
    expect(_row(console, first["id"]).locator("[data-testid=report-count]")).to_have_text("×2", timeout=5000)

    item.locator("[data-testid=auto-unmerge]").click()
    expect(item).to_have_count(0, timeout=5000)
    expect(_row(console, second["id"])).to_have_count(1, timeout=5000)
    expect(_row(console, first["id"]).locator("[data-testid=report-count]")).to_have_count(0, timeout=5000)
    restored = api.get(f"/api/incidents/{second['id']}/").json()
    assert restored["merged_into"] is None and restored["merged_automatically"] is False
    assert console.js_errors == []
    console.context.close()
