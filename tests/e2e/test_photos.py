"""Photos in the phone inbox and on the console (issue 19), in Debian's chromium against ``pages_server``.

1. City-management staff, on a 390x844 phone, accept an offered order and walk it: depart, arrive, a "before" photo
   from the card's camera, then Complete with an "after" photo from the completion form. The card shows both
   thumbnails (the images load); the order completes. A dispatcher's console, selecting the incident, shows both
   photos with their kind and department and the images load; adding a text file as a photo there shows the
   server's reason; a real photo is added as evidence; one the crew adds meanwhile arrives live, without a reload.
   No page error on either page.
2. A workflow that says ``require_photo: complete`` for city management: on scene, the Complete button says a photo
   is needed; in the completion form the confirm button is disabled until an after photo is attached, then the
   order completes. Offline, the camera is off with a message (photos are never queued); back online it is on.

``LIANDONG_SCREENSHOTS=docs`` saves ``photos-inbox.png`` and ``photos-console.png``.
"""

from __future__ import annotations

import io
import time
import uuid

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.browser import PHONE, WALL, login, shot
from tests.e2e.walkthrough import client, order_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CM = "city_management"
# A workflow whose city-management orders complete only with a photo on them (a code no other page test uses).
PHOTO_CHECK = """
code: photo_check
name: {en: Photo check, zh: 照片核验}
initial_state: responding
states:
  responding:
    label: {en: Responding, zh: 处置中}
    sla: 2h
    dispatch:
      - {department: city_management, priority: normal, ack_timeout: 30m, require_photo: complete}
  closed: {label: {en: Closed, zh: 已关闭}, final: true}
transitions:
  - {name: close, label: {en: Close, zh: 关闭}, from: [responding], to: closed, roles: [dispatcher]}
"""


def _jpeg(colour: tuple[int, int, int], size=(240, 180)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((250, 250, 250), (0, 0, size[0] // 3, size[1] // 3))
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _file(name: str, data: bytes, mime: str = "image/jpeg") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


@pytest.fixture
def incidents(pages_server):
    """Reports incidents as the dispatcher; stands them down afterwards (orders cancelled, units freed)."""
    dispatcher = client(pages_server, "dispatcher")
    made: list[tuple[int, str]] = []

    def report(title: str, event_type: str = "waterlogging") -> dict:
        response = dispatcher.post("/api/incidents/", json={
            "event_type": event_type, "title": title, "severity": 3,
            "location": {"lat": 31.2232, "lon": 121.4301}, "address": "Photo Lane 9"})
        assert response.status_code == 201, response.text
        made.append((response.json()["id"], "close" if event_type == "photo_check" else "cancel"))
        return response.json()

    yield report
    for incident_id, transition in made:
        dispatcher.post(f"/api/incidents/{incident_id}/transitions/",
                        json={"transition": transition, "note": "e2e photos test: stood down"})


def _inbox(browser, base: str, username: str = "city_management_staff"):
    page = login(browser, base, username, PHONE)
    assert page.url.endswith("/inbox/"), page.url
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    return page


def _card(page, incident_id: int):
    return page.locator(f"[data-testid=work-order][data-incident='{incident_id}']")


def _loaded(locator) -> list:
    """Each image's natural width once loaded (0: broken or not loaded)."""
    return locator.evaluate_all("imgs => imgs.map((i) => (i.complete ? i.naturalWidth : 0))")


def _wait_loaded(page, locator, count: int, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        widths = _loaded(locator)
        if len(widths) == count and all(w > 0 for w in widths):
            return widths
        assert time.monotonic() < deadline, widths
        page.wait_for_timeout(100)


def _scroll_to_photos(console):
    """The detail is drawn again by live events: scroll in one step, not through a locator that may be replaced."""
    console.evaluate("document.querySelector('#detail [data-testid=photos-box]').scrollIntoView({block: 'center'})")


def test_before_and_after_photos_from_the_phone_show_on_the_console(pages_server, browser, incidents):
    dispatcher = client(pages_server, "dispatcher")
    tag = uuid.uuid4().hex[:6]
    incident = incidents(f"Photos {tag}: blocked drain on Photo Lane")
    order = order_of(dispatcher, incident["id"], CM)
    assert order["photo_required_to_complete"] is False
    page = _inbox(browser, pages_server)
    console = None
    try:
        card = _card(page, incident["id"])
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)
        card.locator("[data-testid=action][data-action=accept]").first.click()
        expect(card).to_have_attribute("data-state", "accepted", timeout=15000)
        expect(page.locator(f"[data-section=mine] [data-testid=work-order][data-incident='{incident['id']}']")
               ).to_have_count(1)
        for action, state in (("depart", "en_route"), ("arrive", "on_scene")):
            card.locator(f"[data-testid=action][data-action={action}]").click()
            expect(card).to_have_attribute("data-state", state, timeout=15000)

        # Before: the card's camera (the phone's back camera: capture=environment).
        camera = card.locator("[data-testid=photo-input][data-kind=before]")
        assert camera.get_attribute("capture") == "environment"
        assert camera.get_attribute("accept") == "image/*"
        expect(card.locator("[data-testid=camera]")).to_contain_text("Take a before photo")
        camera.set_input_files(_file("before.jpg", _jpeg((180, 60, 40))))
        expect(card.locator("[data-testid=photo][data-kind=before]")).to_have_count(1, timeout=15000)
        expect(card.locator("[data-testid=photo-note]")).to_have_text("Before photo added.")

        # After: from the completion form.
        card.locator("[data-testid=action][data-action=complete]").click()
        form = card.locator("form[data-form=complete]")
        expect(form).to_be_visible()
        expect(form.locator("[data-testid=photo-needed]")).to_have_count(0)  # waterlogging needs no photo
        expect(card.locator("[data-testid=photo-input][data-kind=before]")).to_have_count(0)
        form.locator("[data-testid=photo-input][data-kind=after]").set_input_files(_file("after.jpg", _jpeg((40, 150, 60))))
        expect(card.locator("[data-testid=photo][data-kind=after]")).to_have_count(1, timeout=15000)
        expect(form.locator("[data-testid=photo-note]")).to_have_text("After photo added.")
        thumbs = card.locator("[data-testid=photo] img")
        _wait_loaded(page, thumbs, 2)
        form.locator("textarea[name=note]").fill("Drain cleared")
        page.evaluate("(id) => document.querySelector(`[data-testid=work-order][data-incident='${id}'] [data-testid=photos]`)"
                      ".scrollIntoView({block: 'center'})", incident["id"])  # live events draw the card again
        shot(page, "photos-inbox")
        form.locator("[data-testid=confirm-complete]").click()
        expect(card).to_have_attribute("data-state", "completed", timeout=15000)

        photos = dispatcher.get(f"/api/work-orders/{order['id']}/attachments/").json()
        assert sorted(p["kind"] for p in photos) == ["after", "before"]
        assert all(p["work_order"] == order["id"] for p in photos)
        assert page.js_errors == [], page.js_errors

        # The console: both photos on the incident, with their kind and department; the images load.
        console = login(browser, pages_server, "dispatcher", WALL)
        expect(console.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
        row = console.locator(f"[data-testid=incident-row][data-id='{incident['id']}']")
        expect(row).to_have_count(1, timeout=15000)
        row.click()
        detail = console.locator("[data-testid=incident-detail]")
        expect(detail).to_have_attribute("data-id", str(incident["id"]))
        items = detail.locator("[data-testid=photo]")
        expect(items).to_have_count(2, timeout=15000)
        before = detail.locator("[data-testid=photo][data-kind=before]")
        after = detail.locator("[data-testid=photo][data-kind=after]")
        expect(before.locator("[data-testid=photo-label]")).to_have_text("BeforeCity Management")  # two lines
        expect(after.locator("[data-testid=photo-label]")).to_have_text("AfterCity Management")
        assert before.locator("img").get_attribute("alt") == "Before · City Management"
        assert before.get_attribute("data-department") == CM
        link = before.locator("a")
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("href") == next(p["url"] for p in photos if p["kind"] == "before")
        _scroll_to_photos(console)
        _wait_loaded(console, detail.locator("[data-testid=photo] img"), 2)

        # Add a photo from the console: a text file is refused with the server's reason; a JPEG is added.
        picker = detail.locator("[data-testid=photo-input]")
        assert picker.get_attribute("accept") == "image/jpeg,image/png,image/webp,image/heic"
        picker.set_input_files(_file("notes.jpg", b"this is not a photo at all\n" * 20))
        status = detail.locator("[data-testid=photo-status]")
        expect(status).to_have_class("error photo-status", timeout=15000)
        expect(status).to_contain_text("not a readable")
        detail.locator("[data-testid=photo-input]").set_input_files(_file("scene.jpg", _jpeg((30, 60, 200))))
        expect(detail.locator("[data-testid=photo][data-kind=evidence]")).to_have_count(1, timeout=15000)
        expect(detail.locator("[data-testid=photo-status]")).to_have_text("Photo added.")
        expect(detail.locator("[data-testid=photo][data-kind=evidence] [data-testid=photo-label]")).to_have_text("Evidence")
        _wait_loaded(console, detail.locator("[data-testid=photo] img"), 3)

        # A photo added elsewhere (the crew, through the API) arrives live (incident.attachment_added), no reload.
        console.evaluate("window.__notReloaded = true")
        staff = client(pages_server, "city_management_staff")
        added = staff.post(f"/api/work-orders/{order['id']}/attachments/", data={"kind": "after"},
                           files={"file": ("more.jpg", _jpeg((200, 200, 40)), "image/jpeg")})
        assert added.status_code == 201, added.text
        expect(detail.locator("[data-testid=photo]")).to_have_count(4, timeout=10000)
        expect(detail.locator(f"[data-testid=photo][data-id='{added.json()['id']}']")).to_have_attribute("data-kind", "after")
        assert console.evaluate("window.__notReloaded") is True
        _wait_loaded(console, detail.locator("[data-testid=photo] img"), 4)
        _scroll_to_photos(console)
        shot(console, "photos-console")
        assert console.js_errors == [], console.js_errors
    finally:
        page.context.close()
        if console is not None:
            console.context.close()


def test_a_workflow_requiring_a_photo_keeps_complete_disabled_until_one_is_attached(pages_server, browser, incidents):
    admin = client(pages_server, "admin")
    published = admin.post("/api/workflows/", content=PHOTO_CHECK, headers={"Content-Type": "application/yaml"})
    assert published.status_code in (200, 201), published.text  # 200: published by an earlier run on this server
    dispatcher = client(pages_server, "dispatcher")
    staff = client(pages_server, "city_management_staff")
    incident = incidents(f"Photo check {uuid.uuid4().hex[:6]}: manhole cover replaced", event_type="photo_check")
    order = order_of(dispatcher, incident["id"], CM)
    assert order["photo_required_to_complete"] is True
    for action in ("accept", "depart", "arrive"):
        response = staff.post(f"/api/work-orders/{order['id']}/actions/", json={"action": action})
        assert response.status_code == 200, response.text

    page = _inbox(browser, pages_server)
    try:
        card = _card(page, incident["id"])
        expect(card).to_have_attribute("data-state", "on_scene", timeout=15000)
        complete = card.locator("[data-testid=action][data-action=complete]")
        expect(complete).to_have_text("Complete… (photo needed)")
        complete.click()
        form = card.locator("form[data-form=complete]")
        expect(form.locator("[data-testid=photo-needed]")).to_have_text(
            "A photo of the finished work is needed to complete this order.")
        confirm = form.locator("[data-testid=confirm-complete]")
        expect(confirm).to_be_disabled()
        expect(confirm).to_have_text("Add a photo to complete")

        # Offline: the camera is off and says why; back online it is on again.
        page.context.set_offline(True)
        camera = form.locator("[data-testid=photo-input][data-kind=after]")
        expect(camera).to_be_disabled(timeout=5000)
        expect(form.locator("[data-testid=photo-note]")).to_contain_text("Photos need a connection")
        page.context.set_offline(False)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
        expect(camera).to_be_enabled(timeout=5000)
        expect(form.locator("[data-testid=photo-note]")).to_be_hidden()
        expect(confirm).to_be_disabled()

        camera.set_input_files(_file("after.jpg", _jpeg((60, 60, 160))))
        expect(card.locator("[data-testid=photo][data-kind=after]")).to_have_count(1, timeout=15000)
        expect(confirm).to_be_enabled()
        expect(confirm).to_have_text("Mark completed")
        expect(complete).to_have_text("Complete…")
        _wait_loaded(page, card.locator("[data-testid=photo] img"), 1)
        confirm.click()
        expect(card).to_have_attribute("data-state", "completed", timeout=15000)
        assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["state"] == "completed"
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()
