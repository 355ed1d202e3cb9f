"""The phone inbox on a weak signal (issue 14, item 2), in Debian's chromium at 390x844 against ``pages_server``.

A crew member (``city_management_crew``, unit CM-01) uses the inbox through a small TCP proxy of this module,
which can cut the network for real: every open connection stops carrying anything (as when the signal is lost:
nothing closes, nothing arrives) and new connections are refused, until ``restore()``. So the WebSocket really
dies and only the heartbeat can tell.

1. Offline queue: two offers arrive; the network is cut; the page shows "offline" within 10 s; the crew accepts
   both (kept on the phone, shown pending, count 2); the network comes back; the queue is replayed with its
   Idempotency-Keys, and each order was accepted exactly once.
2. Conflict: offline, the crew departs on an order that the department's lead then reassigns; on reconnect
   the refusal is shown on the card with the order's current state, survives a reload, and goes when dismissed.
3. Job first: with ~20 offers and one job of the crew's unit in progress, the job's next-step button is on the
   first screen and every visible tap target is at least 44x44 px; sharing the position reports it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import PHONE, login, shot
from tests.e2e.walkthrough import client, order_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CREW = "city_management_crew"
CM = "city_management"


class NetworkCut:
    """A TCP proxy in front of the server. ``cut()``: every open connection is frozen (bytes in either direction
    are read and dropped, nothing is closed) and new connections are closed at once; ``restore()``: the frozen
    connections are closed (what they carried is lost) and new ones pass again."""

    def __init__(self, target_base: str):
        target = urlsplit(target_base)
        self.target = (target.hostname, target.port)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.pairs: set[_Pair] = set()
        self.is_cut = False
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            if self.is_cut:
                _close(downstream)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(downstream)
                continue
            pair = _Pair(downstream, upstream, self)
            with self.lock:
                self.pairs.add(pair)
            for src, dst in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=pair.pump, args=(src, dst), daemon=True).start()

    def cut(self):
        with self.lock:
            self.is_cut = True
            for pair in self.pairs:
                pair.frozen = True

    def restore(self):
        with self.lock:
            self.is_cut = False
            frozen = [pair for pair in self.pairs if pair.frozen]
        for pair in frozen:
            pair.close()

    def close(self):
        self.closing = True
        _close(self.listener)
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            pair.close()


class _Pair:
    def __init__(self, downstream, upstream, proxy: NetworkCut):
        self.sockets = (downstream, upstream)
        self.proxy = proxy
        self.frozen = False

    def pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            if self.frozen:
                continue  # the signal is gone: the bytes go nowhere
            try:
                dst.sendall(data)
            except OSError:
                break
        self.close()

    def close(self):
        for s in self.sockets:
            _close(s)
        with self.proxy.lock:
            self.proxy.pairs.discard(self)


def _close(s):
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()


@pytest.fixture
def network(pages_server):
    proxy = NetworkCut(pages_server)
    yield proxy
    proxy.close()


@pytest.fixture
def incidents(pages_server):
    """Reports waterlogging incidents (city management is offered each) and stands them all down afterwards, so
    that their orders are cancelled and the units they held are free again."""
    dispatcher = client(pages_server, "dispatcher")
    made = []

    def report(title: str, lat: float = 31.21, lon: float = 121.43) -> tuple[dict, dict]:
        response = dispatcher.post("/api/incidents/", json={
            "event_type": "waterlogging", "title": title, "severity": 3, "location": {"lat": lat, "lon": lon},
            "address": "Riverside Rd underpass"})
        assert response.status_code == 201, response.text
        incident = response.json()
        made.append(incident["id"])
        return incident, order_of(dispatcher, incident["id"], CM)

    yield report
    for incident_id in made:
        dispatcher.post(f"/api/incidents/{incident_id}/transitions/",
                        json={"transition": "cancel", "note": "e2e inbox test: stood down"})


def _accepted_rows(api, incident_id: int, order_id: int) -> list[dict]:
    timeline = api.get(f"/api/incidents/{incident_id}/timeline/").json()
    return [row for row in timeline if row["kind"] == "work_order.accepted" and row["data"].get("work_order") == order_id]


def _card(page, incident_id: int):
    return page.locator(f"[data-testid=work-order][data-incident='{incident_id}']")


def _crew_page(browser, base: str, **options):
    page = login(browser, base, CREW, PHONE, **options)
    assert page.url.endswith("/inbox/"), page.url
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    return page


def test_actions_taken_offline_are_kept_and_sent_once_when_back(
    pages_server, browser, network, incidents, report_figures
):
    dispatcher = client(pages_server, "dispatcher")
    page = _crew_page(browser, network.base)
    try:
        (first, first_order), (second, second_order) = (
            incidents(f"Offline queue {n}: underpass flooded") for n in (1, 2))
        page.locator("[data-testid=offer-tab][data-tab=department]").click()
        for incident in (first, second):
            expect(_card(page, incident["id"])).to_have_attribute("data-state", "offered", timeout=15000)

        # The signal goes: nothing closes, nothing arrives. The heartbeat notices.
        network.cut()
        cut_at = time.monotonic()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "offline", timeout=10000)
        offline_after = time.monotonic() - cut_at
        expect(page.locator("#live-status")).to_have_text("Offline")

        for incident in (first, second):
            _card(page, incident["id"]).locator("[data-testid=action][data-action=accept]").click()
            card = _card(page, incident["id"])
            expect(card).to_have_attribute("data-pending", "true")
            expect(card).to_have_attribute("data-state", "accepted")  # as it will be, marked pending
            expect(card.locator("[data-testid=pending]")).to_be_visible()
        expect(page.locator("[data-testid=pending-count]")).to_have_attribute("data-count", "2")
        expect(page.locator("[data-testid=pending-count]")).to_be_visible()
        # Pinned on top as the crew's jobs, still pending; nothing reached the server.
        for incident in (first, second):
            expect(page.locator(f"[data-section=mine] [data-testid=work-order][data-incident='{incident['id']}']")).to_have_count(1)
        for order in (first_order, second_order):
            assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["state"] == "offered"
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "inbox-offline")

        network.restore()
        restored_at = time.monotonic()
        deadline = restored_at + 30
        while {dispatcher.get(f"/api/work-orders/{o['id']}/").json()["state"] for o in (first_order, second_order)} != {"accepted"}:
            assert time.monotonic() < deadline, "the queued actions did not reach the server within 30 s"
            time.sleep(0.1)
        replayed_after = time.monotonic() - restored_at
        for incident in (first, second):
            card = _card(page, incident["id"])
            expect(card).to_have_attribute("data-state", "accepted", timeout=15000)
            expect(card).not_to_have_attribute("data-pending", "true", timeout=15000)
            expect(card.locator("[data-testid=action][data-action=depart]")).to_be_visible()
        expect(page.locator("[data-testid=pending-count]")).to_be_hidden()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)

        # Exactly once each, by the crew, and nothing refused.
        for incident, order in ((first, first_order), (second, second_order)):
            rows = _accepted_rows(dispatcher, incident["id"], order["id"])
            assert len(rows) == 1, rows
            assert rows[0]["actor"] == CREW
        assert page.locator("[data-testid=conflict]").count() == 0

        # The browser's own offline/online events are acted on at once (no waiting for the heartbeat).
        page.context.set_offline(True)
        switched_at = time.monotonic()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "offline", timeout=3000)
        browser_offline_after = time.monotonic() - switched_at
        page.context.set_offline(False)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10000)
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()
    report_figures(f"[inbox offline] network cut -> 'offline' shown after {offline_after:.1f} s (limit 10 s); "
                   f"network back -> both queued accepts on the server after {replayed_after:.1f} s; "
                   f"browser 'offline' event -> shown after {browser_offline_after:.2f} s")


def test_an_action_refused_on_replay_is_shown_as_a_conflict_until_dismissed(pages_server, browser, network, incidents):
    dispatcher, lead = client(pages_server, "dispatcher"), client(pages_server, f"{CM}_lead")
    page = _crew_page(browser, network.base)
    try:
        incident, order = incidents("Offline conflict: underpass flooded")
        page.locator("[data-testid=offer-tab][data-tab=department]").click()
        card = _card(page, incident["id"])
        card.locator("[data-testid=action][data-action=accept]").click()  # online: done at once
        expect(card).to_have_attribute("data-state", "accepted", timeout=15000)
        expect(page.locator(f"[data-section=mine] [data-testid=work-order][data-incident='{incident['id']}']")).to_have_count(1)
        assert not card.get_attribute("data-pending")

        network.cut()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "offline", timeout=10000)
        card.locator("[data-testid=action][data-action=depart]").click()
        expect(card).to_have_attribute("data-pending", "true")
        expect(card).to_have_attribute("data-state", "en_route")

        # Meanwhile the lead gives the order to another unit.
        held_by = dispatcher.get(f"/api/work-orders/{order['id']}/").json()["unit"]
        units = lead.get("/api/units/", params={"department": CM}).json()["results"]
        other = next(u["callsign"] for u in units if u["callsign"] not in (held_by, "CM-01"))
        response = lead.post(f"/api/work-orders/{order['id']}/actions/",
                             json={"action": "reassign", "unit": other, "reason": "closer crew"})
        assert response.status_code == 200, response.text

        network.restore()
        conflict = card.locator("[data-testid=conflict]")
        expect(conflict).to_be_visible(timeout=30000)
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)  # the order's current state
        expect(card).to_have_attribute("data-conflict", "true")
        expect(card).not_to_have_attribute("data-pending", "true")
        expect(conflict.locator("[data-testid=conflict-state]")).to_contain_text("Offered")
        expect(conflict.locator("[data-testid=conflict-state]")).to_contain_text(other)
        expect(conflict).to_contain_text("Depart now")
        expect(page.locator("[data-testid=pending-count]")).to_be_hidden()
        server = dispatcher.get(f"/api/work-orders/{order['id']}/").json()
        assert (server["state"], server["unit"]) == ("offered", other)
        timeline = dispatcher.get(f"/api/incidents/{incident['id']}/timeline/").json()
        assert not [row for row in timeline if row["kind"] == "work_order.departed"]

        # Kept on the phone until the worker dismisses it: a reload does not lose it.
        page.reload()
        card = _card(page, incident["id"])
        expect(card.locator("[data-testid=conflict]")).to_be_visible(timeout=15000)
        card.locator("[data-testid=dismiss-conflict]").click()
        expect(card.locator("[data-testid=conflict]")).to_have_count(0)
        expect(card).not_to_have_attribute("data-conflict", "true")
        page.reload()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
        expect(_card(page, incident["id"])).to_have_attribute("data-state", "offered", timeout=15000)
        assert page.locator("[data-testid=conflict]").count() == 0
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()


def test_the_job_comes_first_and_every_tap_target_is_big_enough(pages_server, browser, incidents, report_figures):
    lead, crew = client(pages_server, f"{CM}_lead"), client(pages_server, CREW)
    cm01 = next(u for u in lead.get("/api/units/", params={"department": CM}).json()["results"] if u["callsign"] == "CM-01")
    offers = [incidents(f"Job-first offer {n}: water on the road", lat=31.20 + n * 0.002, lon=121.44) for n in range(20)]
    job, job_order = incidents("Job-first: our own job, underpass flooded")
    assert lead.post(f"/api/work-orders/{job_order['id']}/actions/",
                     json={"action": "reassign", "unit": "CM-01", "reason": "e2e: the crew's own job"}).status_code == 200
    accepted = crew.post(f"/api/work-orders/{job_order['id']}/actions/", json={"action": "accept"})
    assert accepted.status_code == 200 and accepted.json()["unit"] == "CM-01", accepted.text

    # The phone is where the unit's base is: sharing the position changes nothing for routing.
    here = {"latitude": cm01["lat"], "longitude": cm01["lon"]}
    page = _crew_page(browser, pages_server, geolocation=here, permissions=["geolocation"])
    try:
        job_card = page.locator(f"[data-section=mine] [data-testid=work-order][data-incident='{job['id']}']")
        next_step = job_card.locator("[data-testid=action][data-action=depart]")
        expect(next_step).to_be_visible(timeout=15000)
        expect(next_step).to_have_class(re.compile(r"(^|\s)next(\s|$)"))
        department_tab = page.locator("[data-testid=offer-tab][data-tab=department]")
        for incident, _order in offers[-3:]:
            expect(_card(page, incident["id"])).to_have_count(1, timeout=15000)
        assert int(department_tab.locator(".count").inner_text()) >= len(offers)
        department_tab.click()
        expect(_card(page, offers[0][0]["id"])).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        box = next_step.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"], box  # on the first screen, whole

        small = page.evaluate("""() => Array.from(document.querySelectorAll(
              'button, a.btn, [role=tab], [role=switch], summary, select, .topbar nav a'))
            .filter((node) => node.offsetParent !== null || node.getClientRects().length)
            .map((node) => ({node, box: node.getBoundingClientRect()}))
            .filter(({box}) => box.width > 0 && (box.height < 44 || box.width < 44))
            .map(({node, box}) => `${node.tagName}.${node.className} "${node.textContent.trim().slice(0, 30)}" `
                                   + `${Math.round(box.width)}x${Math.round(box.height)}`)""")
        assert small == [], small
        counted = page.evaluate("document.querySelectorAll('button, a.btn, [role=tab], summary, select').length")
        shot(page, "inbox")

        # Opt-in position sharing: the toggle is remembered and the fix reaches the unit.
        toggle = page.locator("[data-testid=share-position]")
        toggle.click()
        expect(toggle).to_have_attribute("aria-checked", "true")
        expect(page.locator("#position-status")).to_contain_text("Position shared", timeout=15000)
        position = lead.get(f"/api/units/{cm01['id']}/").json()["position"]
        assert (round(position["lat"], 5), round(position["lon"], 5)) == (round(cm01["lat"], 5), round(cm01["lon"], 5))
        page.reload()
        expect(page.locator("[data-testid=share-position]")).to_have_attribute("aria-checked", "true")
        page.locator("[data-testid=share-position]").click()  # off again, and remembered so
        expect(page.locator("[data-testid=share-position]")).to_have_attribute("aria-checked", "false")
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()
    report_figures(
        f"[inbox layout] {len(offers)} offers + 1 own job: next-step button at y={box['y']:.0f}-"
        f"{box['y'] + box['height']:.0f} px of {PHONE['height']}; {counted} tap targets, none under 44x44 px"
    )

