"""Major events (重大事件) on the console, in a real browser on the suite's profile (issue 16, item 5): the dispatcher
marks two reported incidents on the board and opens a major event with them; it is one row on the board with its
roll-up, its incidents leave the flat board (a search still finds them, badged); expanded, it lists its incidents and
draws its area on the map; a handoff changes the commander shown; closing while an incident is open shows the
server's reason beside the control; an incident added through the API shows up in the expanded row without a reload;
once its incidents are closed it closes and leaves the board. A warning (CAP) that starts a response plan opens a
major event nobody commands: its row says so, "Take command" makes the dispatcher its commander, and a report in the
area joins it at intake and shows up in the expanded row live.

Figure (printed): the API's answer to adding an incident -> the incident in the expanded row (the live notice).

``LIANDONG_SCREENSHOTS=docs`` saves ``console-major-event.png``.
"""

import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from plans.management.commands.replay_cap import cap_rebase, sent_of
from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Places no other page test reports at (the harbour district: kilometres from test_duplicates_console.py's spots, 2 km
# and more from the map's and the browser test's), some 300 m apart: beyond waterlogging's duplicate radius (150 m).
FIRST_SPOT = (31.2180, 121.5280)
SECOND_SPOT = (31.2200, 121.5305)
ADDED_SPOT = (31.2158, 121.5252)
PLAN_SPOT = (31.1880, 121.5440)  # the harbour's south-east corner, a warning's area (the second test)
BLUE_ALERT = Path(__file__).resolve().parents[2] / "plans" / "samples" / "rainstorm" / "01-blue-alert.xml"


def _console(browser, base):
    page = login(browser, base, "dispatcher", WALL)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    page.wait_for_function("() => document.querySelector('#board-count').textContent !== ''", timeout=15000)
    return page


def _report(api: httpx.Client, title: str, lat: float, lon: float) -> dict:
    response = api.post(
        "/api/incidents/",
        json={"event_type": "waterlogging", "title": title, "severity": 3, "location": {"lat": lat, "lon": lon}},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _routed(api: httpx.Client, incident_id: int, timeout: float = 30) -> dict:
    """The incident once routing has offered its work orders."""
    started = time.monotonic()
    while True:
        incident = api.get(f"/api/incidents/{incident_id}/").json()
        if incident["work_orders"]:
            return incident
        assert time.monotonic() - started < timeout, incident
        time.sleep(0.3)


def _row(page, incident_id: int):
    return page.locator(f"[data-testid=incident-row][data-id='{incident_id}']")


def test_a_major_event_is_opened_expanded_handed_over_and_followed_live(pages_server, browser, report_figures):
    base = pages_server
    api = client(base, "dispatcher")
    tag = uuid.uuid4().hex[:6]
    first = _report(api, f"Major {tag}: harbour underpass flooded", *FIRST_SPOT)
    second = _report(api, f"Major {tag}: quay road under water", *SECOND_SPOT)
    first, second = _routed(api, first["id"]), _routed(api, second["id"])
    console = _console(browser, base)

    # Marked on the board, then opened through the toolbar's dialog: the commander is the dispatcher unless changed.
    for incident in (first, second):
        expect(_row(console, incident["id"])).to_have_count(1, timeout=10000)
        _row(console, incident["id"]).locator("[data-testid=mark]").check()
    expect(console.locator("[data-testid=major-marked-count]")).to_have_text("2 incidents marked")
    console.locator("[data-testid=major-open]").click()
    dialog = console.locator("[data-testid=major-open-form]")
    expect(dialog.locator("[data-testid=major-open-commander]")).to_have_value("dispatcher")
    expect(dialog.locator("[data-testid=major-open-incident]")).to_have_count(2)
    title = f"Major {tag}: harbour flooding"
    dialog.locator("[data-testid=major-open-title]").fill(title)
    dialog.locator("[data-testid=major-open-submit]").click()
    expect(dialog).to_be_hidden(timeout=5000)

    row = console.locator("[data-testid=major-row]", has_text=title)
    expect(row).to_have_count(1, timeout=5000)
    major_id = int(row.get_attribute("data-id"))
    served = api.get(f"/api/major-events/{major_id}/").json()
    assert served["incidents"] == sorted([first["id"], second["id"]]) and served["commander"] == "dispatcher"
    assert console.locator("[data-testid=major-marked-count]").is_hidden()  # the marks went into it

    # The row's roll-up: what the server rolls up.
    rollup = served["rollup"]
    expect(row.locator("[data-testid=major-title]")).to_have_text(title)
    expect(row.locator("[data-testid=major-commander]")).to_have_attribute("data-commander", "dispatcher")
    expect(row.locator("[data-testid=major-count]")).to_have_attribute("data-count", "2")
    expect(row.locator("[data-testid=major-reports]")).to_have_attribute("data-count", "2")
    for state, n in rollup["incidents_by_state"].items():
        expect(row.locator(f"[data-testid=major-state][data-state='{state}']")).to_have_attribute("data-count", str(n))
    assert rollup["open_orders_by_department"]["city_management"] == 2
    for department, n in rollup["open_orders_by_department"].items():
        expect(row.locator(f"[data-testid=major-orders][data-department='{department}']")).to_have_attribute(
            "data-count", str(n)
        )
    expect(row.locator("[data-testid=major-breaches]")).to_have_attribute("data-count", str(rollup["breaches"]))
    expect(row.locator("[data-testid=major-units]")).to_have_attribute("data-count", str(rollup["units_committed"]))

    # Its incidents are grouped under it: off the flat board (still on the map), found by a search with a badge.
    for incident in (first, second):
        expect(_row(console, incident["id"])).to_have_count(0, timeout=5000)
    search = console.locator("[data-testid=board-search]")
    search.fill(first["number"])
    expect(_row(console, first["id"]).locator("[data-testid=major-badge]")).to_have_text(f"⚑ {title}", timeout=5000)
    search.fill("")
    expect(_row(console, first["id"])).to_have_count(0, timeout=5000)

    # Folded and not hovered, no area; hovered, its area; expanded: its incidents, and its area on the map (the padded
    # hull, its district tinted) until folded again.
    area = console.locator(f"#map [data-testid=major-event-area][data-major-event='{major_id}']")
    detail = console.locator(f"[data-testid=major-detail][data-id='{major_id}']")
    if detail.count():  # opened by this page: it is shown expanded at once
        row.locator("[data-testid=major-title]").click()
    expect(detail).to_have_count(0, timeout=5000)
    console.mouse.move(1, 1)
    expect(area).to_have_count(0, timeout=5000)
    row.hover()
    expect(area).to_have_count(1, timeout=5000)
    row.locator("[data-testid=major-title]").click()
    expect(detail).to_have_count(1, timeout=5000)
    expect(row).to_have_attribute("aria-expanded", "true")
    members = detail.locator("[data-testid=major-member]")
    expect(members).to_have_count(2)
    for incident in (first, second):
        expect(detail.locator(f"[data-testid=major-member][data-id='{incident['id']}']")).to_contain_text(
            incident["number"]
        )
    console.mouse.move(1, 1)
    expect(area).to_have_count(1, timeout=5000)
    assert area.evaluate("node => node.tagName.toLowerCase()") == "path"
    expect(console.locator("#map [data-testid=major-event-district][data-district='harbor']")).to_have_count(1)

    # A member opens in the detail the way the board opens an incident.
    detail.locator(f"[data-testid=major-member][data-id='{first['id']}'] [data-testid=major-member-open]").click()
    expect(console.locator("[data-testid=incident-detail]")).to_have_attribute(
        "data-id", str(first["id"]), timeout=5000
    )
    expect(console.locator("[data-testid=incident-detail] [data-testid=major-badge]")).to_have_attribute(
        "data-major-event", str(major_id)
    )

    # Handed over through the row: the commander shown changes.
    detail.locator("[data-testid=major-handoff-user]").fill("supervisor")
    detail.locator("[data-testid=major-handoff-note]").fill("night shift")
    detail.locator("[data-testid=major-handoff]").click()
    expect(row.locator("[data-testid=major-commander]")).to_have_attribute("data-commander", "supervisor", timeout=5000)
    expect(row.locator("[data-testid=major-commander]")).to_contain_text("supervisor")
    assert api.get(f"/api/major-events/{major_id}/").json()["commander"] == "supervisor"

    # Closing while its incidents are open: refused, and the server's reason is shown beside the control.
    detail.locator("[data-testid=major-close]").click()
    error = detail.locator("[data-testid=major-close-error]")
    expect(error).to_contain_text("Incidents still open", timeout=5000)
    expect(error).to_contain_text(first["number"])
    assert api.get(f"/api/major-events/{major_id}/").json()["state"] == "open"

    # An incident added through the API shows up in the expanded row, live (no reload), and on the roll-up.
    added = _routed(api, _report(api, f"Major {tag}: pumping station alarm", *ADDED_SPOT)["id"])
    response = api.post(f"/api/major-events/{major_id}/incidents/", json={"add": [added["id"]]})
    assert response.status_code == 200, response.text
    answered = time.monotonic()
    expect(detail.locator(f"[data-testid=major-member][data-id='{added['id']}']")).to_contain_text(
        added["number"], timeout=5000
    )
    shown = time.monotonic()
    expect(row.locator("[data-testid=major-count]")).to_have_attribute("data-count", "3")
    expect(row.locator("[data-testid=major-reports]")).to_have_attribute("data-count", "3")
    expect(_row(console, added["id"])).to_have_count(0, timeout=5000)
    expect(area).to_have_count(1)
    report_figures(
        f"[major events] incident added through the API -> in the expanded row: {1000 * (shown - answered):.0f} ms"
    )
    # Folded and expanded again: the area, now of three incidents, is brought into view.
    row.locator("[data-testid=major-title]").click()
    expect(detail).to_have_count(0, timeout=5000)
    row.locator("[data-testid=major-title]").click()
    expect(detail.locator("[data-testid=major-member]")).to_have_count(3, timeout=5000)
    console.mouse.move(1, 1)
    expect(area).to_have_count(1)
    assert console.evaluate(
        """(id) => {
      const box = document.querySelector(`#map [data-testid=major-event-area][data-major-event="${id}"]`).getBoundingClientRect();
      const map = document.getElementById("map").getBoundingClientRect();
      return box.left >= map.left && box.right <= map.right && box.top >= map.top && box.bottom <= map.bottom;
    }""",
        major_id,
    ), "the expanded major event's area is in view on the map"
    shot(console, "console-major-event")

    # Its incidents closed, it closes: the row leaves the board, its area the map, its incidents are rows again.
    for incident in (first, second, added):
        cancelled = api.post(
            f"/api/incidents/{incident['id']}/transitions/",
            json={"transition": "cancel", "note": "major events e2e: water gone"},
        )
        assert cancelled.status_code == 200, cancelled.text
    detail.locator("[data-testid=major-close-note]").fill("water gone")
    detail.locator("[data-testid=major-close]").click()
    expect(row).to_have_count(0, timeout=5000)
    expect(area).to_have_count(0, timeout=5000)
    assert api.get(f"/api/major-events/{major_id}/").json()["state"] == "closed"
    expect(_row(console, added["id"])).to_have_count(1, timeout=5000)

    assert console.js_errors == []
    console.context.close()


def _end_every_activation(base: str) -> None:
    api = client(base, "supervisor")
    for activation in api.get("/api/activations/", params={"active": "true"}).json():
        api.post(f"/api/activations/{activation['id']}/end/", json={"reason": "end-to-end test clean-up"})


def _severe_warning_over_harbor(suffix: str) -> str:
    """The sample blue alert turned into a severe (orange: level II) one over the harbour district only, sent now."""
    document = BLUE_ALERT.read_text("utf-8").replace("<severity>Minor</severity>", "<severity>Severe</severity>")
    document = re.sub(r"\s*<polygon>[^<]*</polygon>", "", document)
    document = re.sub(
        r"\s*<geocode>\s*<valueName>district</valueName>\s*<value>oldtown</value>\s*</geocode>", "", document
    )
    document = document.replace("<value>riverside</value>", "<value>harbor</value>")
    return cap_rebase(document, origin=sent_of(document), now=datetime.now(UTC), suffix=suffix)


@pytest.fixture
def warning_over_harbor(pages_server):
    """A rainstorm warning in force over the harbour (its level opens a major event); afterwards the activation is
    ended and the major event it opened emptied and closed: the pages server is shared by the suite."""
    _end_every_activation(pages_server)
    posted = client(pages_server, "admin").post(
        "/api/cap/inbound/",
        content=_severe_warning_over_harbor(f"-major{int(time.time() * 1000)}").encode(),
        headers={"Content-Type": "application/cap+xml"},
    )
    assert posted.status_code == 201 and posted.json()["outcome"] == "started", posted.text
    activation = posted.json()["activation"]
    assert activation["level"] == "II" and activation["districts"] == ["harbor"]
    yield activation
    _end_every_activation(pages_server)
    api = client(pages_server, "dispatcher")
    for major in api.get("/api/major-events/", params={"state": "open"}).json():
        if major["activation"] != activation["id"]:
            continue
        if major["commander"] is None:
            api.post(f"/api/major-events/{major['id']}/handoff/", json={"commander": "dispatcher"})
        api.post(f"/api/major-events/{major['id']}/incidents/", json={"remove": major["incidents"]})
        assert api.post(f"/api/major-events/{major['id']}/close/", json={"note": "e2e clean-up"}).status_code == 200


def test_a_major_event_a_warning_opened_is_taken_command_of_and_followed_live(
    pages_server, warning_over_harbor, browser
):
    base = pages_server
    api = client(base, "dispatcher")
    console = _console(browser, base)

    # The warning's level opened a major event (the plan's outbox job): nobody commands it yet, and the row says so.
    started = time.monotonic()
    while True:
        opened = [
            m
            for m in api.get("/api/major-events/", params={"state": "open"}).json()
            if m["activation"] == warning_over_harbor["id"]
        ]
        if opened:
            break
        assert time.monotonic() - started < 30, "the plan opened no major event"
        time.sleep(0.3)
    major = opened[0]
    assert major["commander"] is None
    row = console.locator(f"[data-testid=major-row][data-id='{major['id']}']")
    expect(row.locator("[data-testid=major-title]")).to_have_text(major["title"], timeout=10000)
    commander = row.locator("[data-testid=major-commander]")
    expect(commander).to_have_attribute("data-commander", "")
    expect(commander).to_contain_text("No commander")

    # "Take command": the dispatcher commands it (the handoff, with the user's own name).
    row.locator("[data-testid=major-take-command]").click()
    expect(commander).to_have_attribute("data-commander", "dispatcher", timeout=5000)
    expect(row.locator("[data-testid=major-take-command]")).to_have_count(0)
    assert api.get(f"/api/major-events/{major['id']}/").json()["commander"] == "dispatcher"

    # Expanded, then a report in the area: it joins at intake and shows up in the row, live.
    row.locator("[data-testid=major-title]").click()
    detail = console.locator(f"[data-testid=major-detail][data-id='{major['id']}']")
    expect(detail).to_have_count(1, timeout=5000)
    before = len(major["incidents"])
    report = _report(api, f"Major {uuid.uuid4().hex[:6]}: quay flooded in the storm", *PLAN_SPOT)
    assert report["major_event"] == major["id"], report
    expect(detail.locator(f"[data-testid=major-member][data-id='{report['id']}']")).to_contain_text(
        report["number"], timeout=5000
    )
    expect(row.locator("[data-testid=major-count]")).to_have_attribute("data-count", str(before + 1))
    expect(_row(console, report["id"])).to_have_count(0)
    expect(console.locator(f"#map [data-testid=major-event-area][data-major-event='{major['id']}']")).to_have_count(1)
    expect(console.locator("#map [data-testid=major-event-district][data-district='harbor']")).to_have_count(1)
    assert console.js_errors == []
    console.context.close()
