"""The dispatcher's attention, in a real browser on the suite's profile (issue 14, item 1): the "Needs action"
lane, the chime, desktop notifications and the tab title react to an escalation within a second of it on the
server; incidents without a place wait there until the dispatcher places them; figure tiles, search, sort,
saved views and the keyboard work the board; destructive transitions ask first and required notes are marked;
the wall display shows the figures, the lane and the map.

``LIANDONG_SCREENSHOTS=docs`` saves ``console-needs-action.png`` and ``wall.png``.
"""

import time
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import client, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Notes in the page when each signal first shows for the incident ``id``: the lane entry with a reason, the
# count in the tab title.
WATCH = """([id, reason]) => {
  window.__attn = {lane: null, title: null};
  const look = () => {
    const item = document.querySelector(`[data-testid=lane-item][data-id="${id}"]`);
    if (window.__attn.lane === null && item && item.dataset.reasons.split(" ").includes(reason)) {
      window.__attn.lane = Date.now();
      window.__attn.laneCount = document.querySelectorAll("[data-testid=lane-item]").length;
    }
    if (window.__attn.lane !== null && window.__attn.title === null && /^\\(\\d+\\) /.test(document.title)) {
      window.__attn.title = Date.now();
      window.__attn.titleText = document.title;
    }
  };
  new MutationObserver(look).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                                                characterData: true});
}"""


def _console(browser, base, path="/console/", **options):
    page = login(browser, base, "dispatcher", WALL, **options)
    if path != "/console/":
        page.goto(base + path)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    page.wait_for_function("() => document.querySelector('#board-count').textContent !== ''", timeout=15000)
    return page


def _timeline_row(api, incident_id: int, kind: str, timeout: float = 40) -> dict:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        rows = [r for r in api.get(f"/api/incidents/{incident_id}/timeline/").json() if r["kind"] == kind]
        if rows:
            return rows[0]
        time.sleep(0.2)
    raise AssertionError(f"no {kind} on incident {incident_id} within {timeout} s")


def test_an_escalation_chimes_notifies_and_enters_the_lane_within_a_second(pages_server, browser, report_figures):
    base = pages_server
    console = _console(browser, base, permissions=["notifications"])
    console.locator("[data-testid=enable-sound]").click()  # the one click that lets the page play sound
    expect(console.locator("[data-testid=enable-sound]")).to_have_attribute("data-state", "on")
    console.locator("[data-testid=enable-notifications]").click()
    expect(console.locator("[data-testid=enable-notifications]")).to_have_attribute("aria-pressed", "true")
    chimes_before = console.evaluate("() => Attention.chime.played.length")

    supervisor = client(base, "supervisor")
    incident = client(base, "dispatcher").post("/api/incidents/", json={
        "event_type": "drill", "title": "Attention drill: pump failed", "severity": 4,
        "location": {"lat": 31.212, "lon": 121.432}}).json()
    console.evaluate(WATCH, [incident["id"], "escalated"])
    # The drill: acknowledgement 2 s, two offers, then the order escalates.
    escalated = _timeline_row(supervisor, incident["id"], "work_order.escalated")
    server_ms = datetime.fromisoformat(escalated["at"]).timestamp() * 1000

    item = console.locator(f"[data-testid=lane-item][data-id='{incident['id']}']")
    console.wait_for_function("() => window.__attn.lane !== null && window.__attn.title !== null", timeout=5000)
    seen = console.evaluate("() => window.__attn")
    chimes = console.evaluate("() => Attention.chime.played")[chimes_before:]
    urgent = [c for c in chimes if c["kind"] == "urgent" and c["at"] >= server_ms - 50]
    notified = console.evaluate("() => Attention.notifier.sent")

    lane_lag = (seen["lane"] - server_ms) / 1000
    title_lag = (seen["title"] - server_ms) / 1000
    chime_lag = (urgent[0]["at"] - server_ms) / 1000 if urgent else None
    report_figures(
        f"[attention] escalation on the server -> lane entry {lane_lag * 1000:.0f} ms, tab title "
        f"{title_lag * 1000:.0f} ms, chime {chime_lag * 1000 if chime_lag is not None else float('nan'):.0f} ms; "
        f"{notified} desktop notification(s)"
    )
    assert lane_lag <= 1.0, lane_lag
    assert title_lag <= 1.0, title_lag
    assert urgent, chimes                      # the chime played (the audio context was running)
    assert chime_lag <= 1.0, chime_lag
    assert seen["titleText"].startswith(f"({seen['laneCount']}) "), seen
    assert notified >= 1
    assert item.get_attribute("data-reasons").split()[0] in ("escalated", "sla_breached")
    # The most urgent come first: the escalated incident is above anything that is only late or near its SLA.
    ranks = console.locator("[data-testid=lane-item]").evaluate_all(
        "items => items.map(i => i.dataset.reasons.split(' ')[0])")
    order = ["sla_breached", "escalated", "returned", "needs_location", "ack_late", "sla_near"]
    assert [order.index(r) for r in ranks] == sorted(order.index(r) for r in ranks), ranks
    # and the board puts it near the top too (the default sort is "needs action first").
    top_rows = console.locator("[data-testid=incident-row]").evaluate_all(
        f"rows => rows.slice(0, {len(ranks)}).map(r => Number(r.dataset.id))")
    assert incident["id"] in top_rows
    assert console.js_errors == []
    console.context.close()


def test_an_incident_without_a_place_waits_in_the_lane_until_the_dispatcher_places_it(pages_server, browser):
    base = pages_server
    dispatcher = client(base, "dispatcher")
    console = _console(browser, base)
    placeless = dispatcher.post("/api/incidents/", json={
        "event_type": "waterlogging", "title": "Caller could not say where: water in the lobby", "severity": 3}).json()
    assert placeless["needs_location"] is True
    item = console.locator(f"[data-testid=lane-item][data-id='{placeless['id']}']")
    expect(item).to_have_attribute("data-reasons", "needs_location", timeout=10000)
    # The lane shows the report as soon as it is pushed; its routing job runs on the worker, maybe later (on the
    # services profile one CI run read the orders before they existed): wait for the orders, then look at them.
    deadline = time.monotonic() + 20
    while not (orders := dispatcher.get(f"/api/incidents/{placeless['id']}/").json()["work_orders"]):
        assert time.monotonic() < deadline, "the placeless report was never routed"
        time.sleep(0.2)
    assert all(o["unit"] is None for o in orders)  # waiting, not offered to an arbitrary unit
    shot(console, "console-needs-action")

    # Keyboard only: "/" searches, Esc leaves the box, j moves onto the row, Enter opens it.
    console.locator("body").press("/")
    expect(console.locator("[data-testid=board-search]")).to_be_focused()
    console.keyboard.type("could not say where")
    rows = console.locator("[data-testid=incident-row]")
    expect(rows).to_have_count(1, timeout=5000)
    console.keyboard.press("Escape")
    console.keyboard.press("j")
    console.keyboard.press("Enter")
    detail = console.locator("[data-testid=incident-detail]")
    expect(detail).to_have_attribute("data-id", str(placeless["id"]), timeout=5000)

    box = detail.locator("[data-testid=needs-location]")
    expect(box).to_be_visible(timeout=5000)
    box.locator("[data-testid=locate-pick]").click()  # then a click on the map fills the point
    area = console.locator("[data-testid=map]").bounding_box()
    console.mouse.click(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.55)
    expect(box.locator("[data-testid=locate-lat]")).not_to_have_value("", timeout=5000)
    expect(box.locator("[data-testid=locate-lon]")).not_to_have_value("")
    box.locator("[data-testid=locate-lat]").fill("31.21")
    box.locator("[data-testid=locate-lon]").fill("121.43")
    box.locator("[data-testid=locate-save]").click()
    expect(item).to_have_count(0, timeout=10000)  # placed: it leaves the lane
    located = dispatcher.get(f"/api/incidents/{placeless['id']}/").json()
    assert located["needs_location"] is False and located["district"]
    started = time.monotonic()
    while not all(o["unit"] for o in located["work_orders"]) and time.monotonic() - started < 20:
        time.sleep(0.3)
        located = dispatcher.get(f"/api/incidents/{placeless['id']}/").json()
    assert located["work_orders"] and all(o["unit"] for o in located["work_orders"])  # now offered to units
    kinds = [r["kind"] for r in dispatcher.get(f"/api/incidents/{placeless['id']}/timeline/").json()]
    assert "incident.located" in kinds
    console.keyboard.press("Escape")  # closes the detail
    expect(detail).to_have_attribute("data-id", "", timeout=5000)

    # A point outside every district: refused naming the place, then confirmed by the dispatcher.
    console.locator("[data-testid=board-search]").fill("")
    console.keyboard.press("Escape")  # leaves the search box
    console.keyboard.press("n")
    form = console.locator("#new-incident")
    expect(form.locator("select[name=event_type]")).to_be_focused()
    form.locator("select[name=event_type]").select_option("waterlogging")
    form.locator("input[name=title]").fill("Reported from the ring-road toll gate, outside the city")
    form.locator("input[name=lat]").fill("39.9042")
    form.locator("input[name=lon]").fill("116.4074")
    console.locator("[data-testid=create-incident]").click()
    expect(form.locator("[data-testid=error-lat]")).not_to_be_empty(timeout=5000)
    expect(form.locator("input[name=lat]")).to_have_attribute("aria-invalid", "true")
    confirm = form.locator("[data-testid=confirm-outside-city]")
    expect(confirm).to_be_visible()
    confirm.check()
    console.locator("[data-testid=create-incident]").click()
    expect(console.locator("#toast")).to_contain_text("created", timeout=5000)
    created = dispatcher.get("/api/incidents/", params={"page_size": 5}).json()["results"]
    outside = next(i for i in created if i["title"].startswith("Reported from the ring-road toll gate"))
    assert outside["location_outside_city"] is True
    assert console.js_errors == []
    console.context.close()


def test_tiles_search_sort_and_saved_views_work_the_board(pages_server, browser):
    base = pages_server
    dispatcher = client(base, "dispatcher")
    for title in ("Saved-view check: tunnel A flooded", "Saved-view check: tunnel B flooded"):
        assert dispatcher.post("/api/incidents/", json={
            "event_type": "waterlogging", "title": title, "severity": 2,
            "location": {"lat": 31.25, "lon": 121.50}}).status_code == 201
    console = _console(browser, base)
    rows = console.locator("[data-testid=incident-row]")
    expect(rows.filter(has_text="Saved-view check")).to_have_count(2, timeout=10000)

    # The "Needs action" tile shows exactly the lane's incidents; a second click shows everything again.
    total = rows.count()
    tile = console.locator("[data-testid=tile-needs-action]")
    tile.click()
    expect(tile).to_have_attribute("aria-pressed", "true")
    lane_ids = sorted(console.locator("[data-testid=lane-item]").evaluate_all("i => i.map(n => Number(n.dataset.id))"))
    board_ids = sorted(rows.evaluate_all("r => r.map(n => Number(n.dataset.id))"))
    assert board_ids == lane_ids
    tile.click()
    expect(rows).to_have_count(total)

    # Column sort: numbers ascending, then descending.
    header = console.locator(".incidents th[data-sort=number]")
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    numbers = rows.evaluate_all("r => r.map(n => n.dataset.number)")
    assert numbers == sorted(numbers)
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    numbers = rows.evaluate_all("r => r.map(n => n.dataset.number)")
    assert numbers == sorted(numbers, reverse=True)

    # Search, saved as a view for this user; it survives a reload and restores search and sort.
    console.locator("[data-testid=board-search]").fill("saved-view check")
    expect(rows).to_have_count(2, timeout=5000)
    console.once("dialog", lambda dialog: dialog.accept("Tunnels"))
    console.locator("[data-testid=save-view]").click()
    expect(console.locator("[data-testid=saved-views] option", has_text="Tunnels")).to_have_count(1)
    console.goto(f"{base}/console/")
    expect(console.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    expect(rows).to_have_count(total, timeout=10000)
    console.locator("[data-testid=saved-views]").select_option("Tunnels")
    expect(rows).to_have_count(2, timeout=5000)
    expect(console.locator("[data-testid=board-search]")).to_have_value("saved-view check")
    expect(console.locator(".incidents th[data-sort=number]")).to_have_attribute("aria-sort", "descending")
    assert "q=saved-view+check" in console.url
    assert console.js_errors == []
    console.context.close()


def test_a_destructive_transition_asks_first_and_a_required_note_is_marked(pages_server, browser):
    base = pages_server
    dispatcher = client(base, "dispatcher")
    incident = dispatcher.post("/api/incidents/", json={
        "event_type": "waterlogging", "title": "False alarm check: puddle only", "severity": 1, "source": "console",
        "location": {"lat": 31.22, "lon": 121.46}}).json()
    console = _console(browser, base)
    console.locator(f"[data-testid=incident-row][data-id='{incident['id']}']").click()
    detail = console.locator("[data-testid=incident-detail]")
    cancel = detail.locator("[data-testid=transition][data-name=cancel]")
    expect(cancel).to_be_visible(timeout=10000)
    assert cancel.get_attribute("data-destructive") == "true" and "danger" in cancel.get_attribute("class")
    note = detail.locator("[data-testid=transition-note][data-name=cancel]")
    assert note.get_attribute("aria-required") == "true"
    assert "required" in note.get_attribute("placeholder").lower()

    cancel.click()  # no note: marked before anything is sent
    expect(detail.locator("[data-testid=transition-note][data-name=cancel]")).to_have_attribute("aria-invalid", "true")
    expect(detail.locator("[data-testid=detail-message]")).to_be_visible()
    assert dispatcher.get(f"/api/incidents/{incident['id']}/").json()["state"] == incident["state"]

    detail.locator("[data-testid=transition-note][data-name=cancel]").fill("Caller confirmed it was a puddle")
    detail.locator("[data-testid=transition][data-name=cancel]").click()
    dialog = console.locator("[data-testid=confirm-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(incident["number"])
    dialog.locator("[data-testid=confirm-no]").click()
    expect(dialog).to_be_hidden()
    assert dispatcher.get(f"/api/incidents/{incident['id']}/").json()["state"] == incident["state"]

    detail.locator("[data-testid=transition][data-name=cancel]").click()
    dialog.locator("[data-testid=confirm-yes]").click()
    row = console.locator(f"[data-testid=incident-row][data-id='{incident['id']}'] [data-field=state]")
    expect(row).to_have_attribute("data-state", "cancelled", timeout=10000)
    assert console.js_errors == []
    console.context.close()


def test_the_wall_display_shows_figures_lane_and_map(pages_server, browser):
    base = pages_server
    dispatcher = client(base, "dispatcher")
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)  # the browser's zone
    today = dispatcher.get("/api/analytics/kpis/", params={"from": midnight.isoformat()})
    reported = dispatcher.post("/api/incidents/", json={
        "event_type": "traffic_accident", "title": "Van on its side at the east gate", "severity": 3,
        "location": {"lat": 31.22, "lon": 121.50},
    })
    assert reported.status_code == 201
    wait_for_orders(dispatcher, reported.json()["id"], 1)  # routed before the wall reads today's figures
    wall = _console(browser, base, path="/console/wall/")
    expect(wall.locator("body")).to_have_class("console-page wall")
    expect(wall.locator("[data-testid=figures]")).to_be_visible()
    expect(wall.locator("[data-testid=needs-action]")).to_be_visible()
    expect(wall.locator("[data-testid=map]")).to_be_visible()
    assert wall.locator("#new-incident").count() == 0  # nothing to type into on the wall
    assert not wall.locator(".board").is_visible()
    box = wall.locator("[data-testid=needs-action]").bounding_box()
    assert box["width"] > 700 and box["height"] > 500  # the lane is the wall's main column
    # Today's published figures (the analytics API, since the wall's local midnight): at least the incident above.
    figures = wall.locator("[data-testid=today-figures]")
    expect(figures).to_be_visible()
    expect(figures.locator("[data-today=as_of]")).not_to_have_text("–", timeout=10000)
    shown = int(figures.locator("[data-today=n]").inner_text())
    assert shown >= today.json()["rows"][0]["n"] + 1
    assert figures.locator("[data-today=on_time_closure_rate]").inner_text() != "–"
    expect(figures.locator("[data-testid=today-departments] [data-department=traffic_police]")).to_be_visible()
    assert "accepted_at − offered_at" in figures.locator("[data-testid=today-ack]").get_attribute("title")
    wall.wait_for_timeout(1200)  # the figures bar refreshes at most once a second
    shot(wall, "wall")
    assert wall.js_errors == []
    wall.context.close()
