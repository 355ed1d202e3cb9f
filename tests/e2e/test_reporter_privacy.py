"""A supervisor on the console, in Debian's chromium against ``pages_server``: the reporter shows masked; revealing
needs a reason and shows the contact data on this page only; erasing at the person's request (PIPL art. 47) asks for
confirmation, then the reporter shows as erased, the timeline says so, and the API refuses to reveal it (409)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import WALL, login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_supervisor_reveals_then_erases_the_reporter(pages_server, browser):
    dispatcher = client(pages_server, "dispatcher")
    phone = "139" + str(uuid.uuid4().int)[:8]
    response = dispatcher.post("/api/incidents/", json={
        "event_type": "waterlogging", "title": f"Privacy {uuid.uuid4().hex[:6]}: water in a courtyard", "severity": 2,
        "location": {"lat": 31.2232, "lon": 121.4301}, "reporter": {"name": "赵六", "phone": phone}})
    assert response.status_code == 201, response.text
    incident = response.json()
    console = login(browser, pages_server, "supervisor", WALL)
    try:
        console.goto(f"{pages_server}/console/")
        expect(console.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
        row = console.locator(f"[data-testid=incident-row][data-id='{incident['id']}']")
        expect(row).to_have_count(1, timeout=15000)
        row.click()
        detail = console.locator("[data-testid=incident-detail]")
        expect(detail).to_have_attribute("data-id", str(incident["id"]))
        reporter = detail.locator("[data-testid=reporter]")
        expect(reporter).to_have_text(f"赵* · {phone[:3]}****{phone[-4:]}")

        detail.locator("[data-testid=reveal-reporter]").click()  # no reason: nothing sent
        expect(detail.locator("[data-testid=detail-message]")).to_contain_text("reason")
        detail.locator("[data-testid=pii-reason]").fill("calling back about access to the courtyard")
        detail.locator("[data-testid=reveal-reporter]").click()
        expect(reporter).to_have_text(f"赵六 · {phone}", timeout=10000)

        detail.locator("[data-testid=pii-reason]").fill("the reporter asked on 12345 to be forgotten")
        detail.locator("[data-testid=erase-reporter]").click()
        dialog = console.locator("[data-testid=confirm-dialog]")
        expect(dialog).to_contain_text(incident["number"])
        dialog.locator("[data-testid=confirm-yes]").click()
        expect(detail.locator("[data-testid=reporter-erased]")).to_contain_text("erased on", timeout=10000)
        expect(detail.locator("[data-testid=reporter-tools]")).to_have_count(0)
        expect(detail.locator(".timeline")).to_contain_text("Reporter data erased", timeout=10000)
        expect(detail.locator(".timeline")).to_contain_text("the reporter asked on 12345 to be forgotten")
        shot(console, "reporter-erased")
        assert phone not in detail.inner_text()

        again = client(pages_server, "supervisor").post(f"/api/incidents/{incident['id']}/reveal-reporter/",
                                                        json={"reason": "one more time"})
        assert again.status_code == 409 and "erased on" in again.json()["detail"]
        assert console.js_errors == [], console.js_errors
    finally:
        console.context.close()
        dispatcher.post(f"/api/incidents/{incident['id']}/transitions/",
                        json={"transition": "cancel", "note": "e2e privacy test: stood down"})
