"""The citizen's journey end to end on the running server (issue 19), with screenshots: a report with a photo through
Open311 (GPS stripped from the photo its ``media_url`` serves), the tracking page on a phone in Chinese at each
milestone as the command center and city management work it through the API, "not satisfied: not fixed" on the
page, the supervisor's reopen, the page of the reopened case, and the public page. Never the reporter's name,
phone or address on the page; no JavaScript error anywhere."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.attachments.conftest import GPS_IFD, jpeg_with_gps
from tests.e2e.browser import PHONE, shot
from tests.e2e.walkthrough import client, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPORTER = {"first_name": "小红", "last_name": "李", "phone": "13912345678", "address_string": "龙华路下穿通道"}
SECRETS = ("李小红", "小红", "13912345678", "龙华路", "Journey probe")


@pytest.fixture(scope="module")
def open311_key(pages_manage):
    out = pages_manage("add_api_client", f"journey-app-{time.time_ns()}", "--kind", "open311")
    return next(line.split(": ", 1)[1].strip() for line in out.splitlines() if line.startswith("key: "))


def _act(api: httpx.Client, order_id: int, *actions: str) -> None:
    for action in actions:
        response = api.post(f"/api/work-orders/{order_id}/actions/", json={"action": action})
        assert response.status_code == 200, (action, response.text)


def _transition(api: httpx.Client, incident_id: int, name: str) -> None:
    response = api.post(f"/api/incidents/{incident_id}/transitions/", json={"transition": name})
    assert response.status_code == 200, (name, response.text)


def test_citizen_journey(pages_server, open311_key, browser):
    base = pages_server
    # 1. A citizen app posts the report with a photo (multipart ``media``).
    photo = jpeg_with_gps(size=(120, 80))
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_IFD)  # the citizen's photo does carry GPS
    response = httpx.post(
        f"{base}/open311/v2/requests.json",
        data={
            "api_key": open311_key,
            "service_code": "waterlogging",
            "lat": "31.2105",
            "long": "121.4305",
            "description": "Journey probe: underpass flooded, water 40 cm",
            **REPORTER,
        },
        files={"media": ("IMG_0001.jpg", photo, "image/jpeg")},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    answer = response.json()[0]
    token, media_url = answer["tracking_token"], answer["media_url"]
    assert token and "sig=" in media_url
    photo = httpx.get(media_url, timeout=15)  # anonymous: the signed link
    assert photo.status_code == 200, photo.text
    assert photo.headers["content-type"] == "image/jpeg"
    served = Image.open(io.BytesIO(photo.content))
    assert served.format == "JPEG" and len(served.getexif()) == 0  # no EXIF at all, so no GPS

    dispatcher = client(base, "dispatcher")
    found = dispatcher.get("/api/incidents/", params={"number": answer["service_request_id"]}).json()["results"]
    assert len(found) == 1
    incident_id = found[0]["id"]

    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    track = f"{base}/track/{token}/"
    milestones = page.locator("[data-testid=milestones] li")

    def look(expected: list[str], name: str) -> list[str]:
        """The page (reloaded) lists the milestones reached (only those: an ``li`` each), ``expected`` if given;
        nothing personal; a screenshot. Returns the keys listed."""
        page.goto(track)
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        if expected:
            expect(milestones).to_have_count(len(expected))
        else:
            expect(milestones.first).to_be_visible()
        keys = [milestones.nth(i).get_attribute("data-key") for i in range(milestones.count())]
        assert not expected or keys == expected
        body = page.locator("body")
        for secret in SECRETS:
            expect(body).not_to_contain_text(secret)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, name)
        return keys

    look(["received"], "journey-1-received")
    expect(page.locator("[data-testid=feedback]")).to_have_count(0)

    # 2. The dispatcher triages it; routing offers the orders; city management accepts.
    _transition(dispatcher, incident_id, "triage")
    orders, _took = wait_for_orders(dispatcher, incident_id, 1)
    order = next(o for o in orders if o["department"] == "city_management")
    staff = client(base, "city_management_staff")
    _act(staff, order["id"], "accept")
    look(["received", "dispatched"], "journey-2-dispatched")
    expect(milestones.nth(1)).to_contain_text("城市管理局")

    # 3. On scene, with an "after" photo of the job.
    _act(staff, order["id"], "depart", "arrive")
    added = staff.post(
        f"/api/work-orders/{order['id']}/attachments/",
        data={"kind": "after"},
        files={"file": ("after.jpg", jpeg_with_gps(size=(120, 80)), "image/jpeg")},
    )
    assert added.status_code == 201, added.text
    assert added.json()["kind"] == "after" and added.json()["work_order"] == order["id"]
    look(["received", "dispatched", "on_scene"], "journey-3-on-scene")

    # 4. Work done, resolved.
    _act(staff, order["id"], "complete")
    _transition(dispatcher, incident_id, "resolve")
    look(["received", "dispatched", "on_scene", "done"], "journey-4-done")
    expect(page.locator("[data-testid=feedback]")).to_have_count(0)  # not closed yet: no form

    # 5. Verified and closed; the dispatcher's public note shows.
    note = dispatcher.post(
        f"/api/incidents/{incident_id}/notes/", json={"text": "积水已排净，道路恢复通行", "public": True}
    )
    assert note.status_code == 201, note.text
    _transition(dispatcher, incident_id, "close")
    look(["received", "dispatched", "on_scene", "done", "verified"], "journey-5-verified")
    expect(page.locator("[data-testid=notes]")).to_contain_text("积水已排净，道路恢复通行")

    # 6. Not satisfied: not fixed.
    page.check("input[name=satisfied][value=no]")
    page.check("input[name=reasons][value=not_fixed]")
    page.fill("textarea[name=text]", "下雨后又积水了")
    page.click("[data-testid=feedback] button[type=submit]")
    expect(page.locator("[data-testid=thanks]")).to_be_visible()
    expect(page.locator("[data-testid=feedback]")).to_have_count(0)
    shot(page, "journey-6-feedback")
    supervisor = client(base, "supervisor")
    pending = supervisor.get("/api/reopen-requests/", params={"state": "pending"})
    assert pending.status_code == 200, pending.text
    mine = [r for r in pending.json() if r["incident"] == incident_id]
    assert len(mine) == 1 and mine[0]["reasons"] == ["not_fixed"] and mine[0]["text"] == "下雨后又积水了"

    # 7. The supervisor reopens it for city management: back to work, a new order offered.
    decided = supervisor.post(
        f"/api/reopen-requests/{mine[0]['id']}/decision/",
        json={"decision": "reopen", "department": "city_management", "note": "复查积水点"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "reopened"
    deadline = time.monotonic() + 30
    while True:
        incident = dispatcher.get(f"/api/incidents/{incident_id}/").json()
        fresh = [
            o
            for o in incident["work_orders"]
            if o["department"] == "city_management" and o["id"] != order["id"] and o["state"] == "offered"
        ]
        if fresh or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert incident["state"] == "responding"
    assert len(fresh) == 1, incident["work_orders"]
    # The page of the reopened case: a "reopened" milestone, then the new round dispatched; the first round's on
    # scene, work done and verified are no longer true; no feedback form until the new round closes.
    look(["received", "reopened", "dispatched"], "journey-7-reopened")
    expect(page.locator("[data-testid=milestones]")).to_contain_text("重新办理")
    expect(page.locator("[data-testid=feedback]")).to_have_count(0)  # asked again once the new round closes
    expect(page.locator("[data-testid=thanks]")).to_have_count(0)  # the thanks was for the first round

    # 8. The public page, on the same phone.
    response = page.goto(f"{base}/public/")
    assert response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("[data-testid=public-map].leaflet-container")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-testid=by-event-type]")).to_contain_text("城市内涝")
    for secret in SECRETS:
        expect(page.locator("body")).not_to_contain_text(secret)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "journey-8-public")
    assert errors == []
    context.close()
