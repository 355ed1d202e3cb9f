"""The console's unit board (issue 14, item 3; the "Units" tab), driven in Debian's chromium against ``pages_server``
as a dispatcher at 1920x1080: counts by status equal to the API's, a unit's row following its order live (no
reload), a status set by hand with a reason (and refused without one), its history, and the duty roster keeping
units off the roster out of routing.

Every test restores the units it changes and stands down the incidents it creates (``finally``), so the shared
server is left as found; other tests' incidents and orders may be on it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CM = "city_management"
STATUSES = ("available", "en_route", "on_scene", "busy", "off_duty", "out_of_service")
COUNTS_JS = """() => [...document.querySelectorAll('[data-testid=unit-count]')]
  .map((c) => [c.dataset.department, c.dataset.status, Number(c.querySelector('b').textContent)])"""


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


def _units(api, department: str | None = None) -> list[dict]:
    params = {"page_size": 200, **({"department": department} if department else {})}
    return _results(api.get("/api/units/", params=params))


def _unit(api, callsign: str) -> dict:
    return next(u for u in _units(api) if u["callsign"] == callsign)


def _board(browser, base: str):
    """The dispatcher's console at 1920x1080 with the "Units" tab open and every unit's row drawn."""
    page = login(browser, base, "dispatcher", WALL)
    assert page.url.endswith("/console/"), page.url
    page.locator("[data-testid=tab-units]").click()
    board = page.locator("[data-testid=unit-board]")
    expect(board).to_be_visible()
    expect(page.locator("[data-testid=incident-detail]")).to_be_hidden()
    expect(board.locator("[data-testid=unit-row]")).to_have_count(len(_units(client(base, "dispatcher"))), timeout=10000)
    return page


def _row(page, callsign: str):
    return page.locator(f"[data-testid=unit-row][data-callsign='{callsign}']")


def _panel(page, callsign: str):
    """The box under a unit's row: its status/roster form and its history."""
    return page.locator(f".ub-item:has([data-testid=unit-row][data-callsign='{callsign}']) .ub-panel")


def _seconds(clock: str) -> int:
    """``Api.fmtDuration`` text (m:ss or h:mm:ss) -> seconds."""
    total = 0
    for part in clock.strip().split(":"):
        total = total * 60 + int(part)
    return total


def _report(api, title: str, lat: float, lon: float, event_type: str = "waterlogging") -> dict:
    response = api.post("/api/incidents/", json={
        "event_type": event_type, "title": title, "severity": 3, "location": {"lat": lat, "lon": lon},
        "address": "unit board e2e",
    })
    assert response.status_code == 201, response.text
    return response.json()


def _order_of(api, incident_id: int, department: str, *, timeout: float = 30, offered: bool = True) -> dict:
    """The incident's latest order of ``department`` once routing made it (and, with ``offered``, named a unit)."""
    deadline = time.monotonic() + timeout
    while True:
        orders = [o for o in api.get(f"/api/incidents/{incident_id}/").json()["work_orders"] if o["department"] == department]
        if orders and (not offered or orders[-1]["unit"]):
            return max(orders, key=lambda o: o["id"])
        assert time.monotonic() < deadline, f"no {department} order on incident {incident_id} after {timeout}s: {orders}"
        time.sleep(0.1)


def _stand_down(api, incident_id: int, transition: str = "cancel"):
    response = api.post(f"/api/incidents/{incident_id}/transitions/", json={"transition": transition, "note": "unit board e2e: done"})
    assert response.status_code == 200, response.text


def _restore(api, before: dict):
    """Put a unit back as it was (status and roster) with a reason, if the test changed it."""
    now = _unit(api, before["callsign"])
    body = {}
    if now["status"] != before["status"]:
        body["status"] = before["status"]
    if now["on_duty"] != before["on_duty"]:
        body["on_duty"] = before["on_duty"]
    if body:
        response = api.patch(f"/api/units/{before['id']}/", json={**body, "reason": "unit board e2e: restored"})
        assert response.status_code == 200, response.text


def _cleanup(*steps):
    """Run every clean-up step even if one fails (the shared server must be left as found); then fail loudly."""
    errors = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - reported below, after the other steps ran
            errors.append(exc)
    if errors:
        raise errors[0]


def test_counts_match_the_api_and_a_row_follows_its_order_live(pages_server, browser):
    base = pages_server
    dispatcher, staff, lead = client(base, "dispatcher"), client(base, "city_management_staff"), client(base, "city_management_lead")
    page = _board(browser, base)

    # Every department has its section, with counts by status equal to the API's (polled: other work may move a
    # unit between the two reads).
    departments = [d["code"] for d in _results(dispatcher.get("/api/departments/"))]
    for code in departments:
        expect(page.locator(f"[data-testid=unit-department][data-department='{code}']")).to_have_count(1)
    deadline = time.monotonic() + 20
    while True:
        units = _units(dispatcher)
        api_counts = sorted((d, s, sum(1 for u in units if u["department"] == d and u["status"] == s))
                            for d in departments for s in STATUSES)
        shown = sorted(tuple(c) for c in page.evaluate(COUNTS_JS))
        if shown == api_counts:
            break
        assert time.monotonic() < deadline, f"board counts {shown} != API counts {api_counts}"
        page.wait_for_timeout(250)
    for unit in units:
        row = _row(page, unit["callsign"])
        expect(row).to_have_attribute("data-on-duty", "true" if unit["on_duty"] else "false")
        expect(row).to_contain_text(unit["display_name"])

    incident = _report(dispatcher, f"Unit board e2e: underpass flooded {uuid.uuid4().hex[:6]}", 31.21, 121.43)
    try:
        order = _order_of(dispatcher, incident["id"], CM)
        callsign = order["unit"]
        unit = _unit(dispatcher, callsign)
        row = _row(page, callsign)
        expect(row).to_have_attribute("data-status", "available")
        # The crew's phone reports where it is (its base: routing is unchanged); the board shows a fresh fix.
        assert lead.post(f"/api/units/{unit['id']}/position/", json={
            "lat": unit["lat"], "lon": unit["lon"], "at": datetime.now(UTC).isoformat()}).status_code == 200

        # Staff accept and depart through the API: the row follows each step without a reload, and its clock
        # restarts from the unit's new status_since.
        for action, status in (("accept", "busy"), ("depart", "en_route")):
            response = staff.post(f"/api/work-orders/{order['id']}/actions/", json={"action": action})
            assert response.status_code == 200, response.text
            expect(row).to_have_attribute("data-status", status, timeout=5000)
            since = _unit(dispatcher, callsign)["status_since"]
            expect(row.locator("[data-testid=unit-since]")).to_have_attribute("data-since", since, timeout=5000)
            assert _seconds(row.locator("[data-testid=unit-since]").inner_text()) < 30
        expect(row.locator("[data-field=status]")).to_have_text("En route")
        expect(row.locator("[data-testid=unit-position]")).to_have_text("GPS just now")

        # Its current order links to the incident: the console shows that incident.
        link = row.locator("[data-testid=unit-incident]")
        expect(link).to_have_text(incident["number"])
        chip = page.locator(f"[data-testid=unit-count][data-department='{CM}'][data-status=en_route]")
        expect(chip).not_to_have_attribute("data-count", "0")
        shot(page, "units")

        # Clicking a count filters the department's list to that status; clicking it again shows every unit.
        section = page.locator(f"[data-testid=unit-department][data-department='{CM}']")
        chip.click()
        expect(chip).to_have_attribute("aria-pressed", "true")
        visible = section.locator("[data-testid=unit-row]:visible")
        expect(visible).to_have_count(int(chip.get_attribute("data-count")))
        assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"en_route"}
        chip.click()
        expect(section.locator("[data-testid=unit-row]:visible")).to_have_count(len(_units(dispatcher, CM)))
        link.click()
        expect(page.locator("[data-testid=incident-detail]")).to_be_visible()
        expect(page.locator("[data-testid=incident-detail]")).to_have_attribute("data-id", str(incident["id"]), timeout=5000)
        expect(page.locator("[data-testid=unit-board]")).to_be_hidden()
        assert page.js_errors == [], page.js_errors
    finally:
        # Its open orders are cancelled: the unit is available again.
        _cleanup(lambda: _stand_down(dispatcher, incident["id"]), page.context.close)


def test_a_dispatcher_sets_a_status_with_a_reason_and_the_history_lists_it(pages_server, browser):
    base = pages_server
    dispatcher = client(base, "dispatcher")
    before = next(u for u in _units(dispatcher, "environment") if u["status"] == "available" and u["on_duty"])
    callsign, reason = before["callsign"], f"Pump broken ({uuid.uuid4().hex[:6]})"
    page = _board(browser, base)
    row, panel = _row(page, callsign), _panel(page, callsign)
    chip = page.locator("[data-testid=unit-count][data-department=environment][data-status=out_of_service]")
    out_before = int(chip.get_attribute("data-count"))
    history_before = dispatcher.get(f"/api/units/{before['id']}/history/").json()
    try:
        row.locator("[data-testid=unit-set-status]").click()
        form = panel.locator("[data-testid=unit-status-form]")
        form.locator("[data-testid=unit-status-select]").select_option("out_of_service")

        # No reason: an inline error names the field, and nothing changes.
        form.locator("[data-testid=unit-save]").click()
        error = form.locator("[data-testid=unit-error-reason]")
        expect(error).to_be_visible()
        expect(error).to_contain_text("Reason")
        expect(form.locator("[data-testid=unit-reason]")).to_have_attribute("aria-invalid", "true")
        expect(row).to_have_attribute("data-status", "available")
        assert _unit(dispatcher, callsign)["status"] == "available"
        assert dispatcher.get(f"/api/units/{before['id']}/history/").json() == history_before

        # With a reason: saved, the row and the counts show it, and the history lists it with the reason.
        form.locator("[data-testid=unit-reason]").fill(reason)
        form.locator("[data-testid=unit-save]").click()
        expect(row).to_have_attribute("data-status", "out_of_service")
        expect(row.locator("[data-field=status]")).to_have_text("Out of service")
        expect(form).to_have_count(0)
        expect(chip).to_have_attribute("data-count", str(out_before + 1))
        assert _unit(dispatcher, callsign)["status"] == "out_of_service"

        row.locator("[data-testid=unit-history-toggle]").click()
        latest = panel.locator("[data-testid=unit-history-row]").first
        expect(latest).to_have_attribute("data-status", "out_of_service")
        expect(latest).to_have_attribute("data-previous", "available")
        expect(latest).to_have_attribute("data-source", "manual")
        expect(latest).to_contain_text(reason)
        expect(latest).to_contain_text("dispatcher")
        expect(latest).to_contain_text("Available → Out of service")
        assert page.js_errors == [], page.js_errors
    finally:
        _cleanup(lambda: _restore(dispatcher, before), page.context.close)


def test_an_off_duty_unit_is_never_offered(pages_server, browser):
    """The dispatcher takes every city management unit but one off the roster on the board, then incidents are
    reported next to the units off the roster: every offer, first ones and re-offers after an acknowledgement
    timeout ("drill": 2 s, two attempts), goes to the unit on the roster or waits in the queue."""
    base = pages_server
    dispatcher = client(base, "dispatcher")
    before = _units(dispatcher, CM)
    kept = next(u for u in before if u["status"] == "available" and u["on_duty"])
    others = [u for u in before if u["id"] != kept["id"]]
    page = _board(browser, base)
    incidents: list[tuple[dict, str]] = []
    try:
        for unit in others:
            if not unit["on_duty"]:
                continue
            row = _row(page, unit["callsign"])
            row.locator("[data-testid=unit-duty-toggle]").click()
            form = _panel(page, unit["callsign"]).locator("[data-testid=unit-status-form][data-mode=duty]")
            form.locator("[data-testid=unit-reason]").fill("Shift ended (unit board e2e)")
            form.locator("[data-testid=unit-save]").click()
            expect(row).to_have_attribute("data-on-duty", "false")
        off = {u["callsign"] for u in _units(dispatcher, CM) if not u["on_duty"]}
        assert off == {u["callsign"] for u in others}
        history = dispatcher.get(f"/api/units/{others[0]['id']}/history/").json()
        assert (history[0]["on_duty"], history[0]["reason"]) == (False, "Shift ended (unit board e2e)")

        # Incidents right at the bases of the units off the roster (each nearer to them than to the kept unit),
        # in districts the kept unit covers or not: waterlogging (3 min to acknowledge) and drills (2 s).
        for unit in others:
            for event_type in ("waterlogging", "drill"):
                incident = _report(dispatcher, f"Unit board e2e: roster {unit['callsign']} {event_type}",
                                   unit["lat"] + 0.001, unit["lon"] + 0.001, event_type)
                incidents.append((incident, event_type))
        covered = set(kept["districts"])
        for incident, event_type in incidents:
            order = _order_of(dispatcher, incident["id"], CM, offered=False)
            if event_type == "drill":
                # Wait for the re-offer after the first acknowledgement timeout (attempt 2).
                deadline = time.monotonic() + 30
                while order["attempts"] < 2:
                    assert time.monotonic() < deadline, f"no re-offer of {order}"
                    time.sleep(0.2)
                    order = _order_of(dispatcher, incident["id"], CM, offered=False)
            incident["district"] = dispatcher.get(f"/api/incidents/{incident['id']}/").json()["district"]
            if incident["district"] in covered and event_type == "waterlogging":
                assert order["unit"] == kept["callsign"], (incident["district"], order)  # the one on the roster
            else:
                assert order["unit"] in (kept["callsign"], None), order

        # Via the API: no order and no offer in any timeline ever named a unit off the roster.
        assert any(i["district"] in covered for i, _ in incidents)
        for incident, _ in incidents:
            body = dispatcher.get(f"/api/incidents/{incident['id']}/").json()
            assert not [o for o in body["work_orders"] if o["unit"] in off], body["work_orders"]
            timeline = dispatcher.get(f"/api/incidents/{incident['id']}/timeline/").json()
            offered = [row["data"].get("unit") for row in timeline if row["kind"] == "work_order.offered"]
            assert not off & set(offered), offered
            assert kept["callsign"] in offered or incident["district"] not in covered, offered
        assert page.js_errors == [], page.js_errors
    finally:
        _cleanup(
            *[lambda i=i, t=t: _stand_down(dispatcher, i["id"], "close" if t == "drill" else "cancel") for i, t in incidents],
            *[lambda u=u: _restore(dispatcher, u) for u in before],
            page.context.close,
        )
