"""Returns (退回) and extensions (延期) in the department's phone inbox (issue 17, items 1-2), in Debian's chromium at
390x844 against ``pages_server``.

1. Return: transit staff return an offered order from its card. "Other" without a note is stopped on the phone (the
   note field says why, nothing reaches the server); with a note the order is returned and its card says so, with
   no action left. A dispatcher rejects the return through the API; without a reload the card is an offer again,
   alerts like a new one and shows the command center's note.
2. Extension: the city-management lead asks for 30 more minutes from the card (a reason is required first); the
   card shows the due time and "More time asked: +30 min (waiting)". A dispatcher approves through the API; without
   a reload the card shows the new due time.
3. Offline: the lead asks for more time without a connection; the request waits on the phone (the order keeps its
   state: an extension changes none), is sent once when the connection is back (its Idempotency-Key), and a
   rejection arrives live with the command center's note.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import PHONE, login, shot
from tests.e2e.walkthrough import client, order_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def incidents(pages_server):
    """Reports waterlogging incidents (city management, traffic police and transit are offered each) and stands them
    all down afterwards, so that their orders are cancelled and the units they held are free again."""
    dispatcher = client(pages_server, "dispatcher")
    made = []

    def report(title: str) -> dict:
        response = dispatcher.post(
            "/api/incidents/",
            json={
                "event_type": "waterlogging",
                "title": title,
                "severity": 3,
                "location": {"lat": 31.21, "lon": 121.43},
                "address": "Riverside Rd underpass",
            },
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
        return response.json()

    yield report
    for incident_id in made:
        dispatcher.post(
            f"/api/incidents/{incident_id}/transitions/",
            json={"transition": "cancel", "note": "e2e inbox returns test: stood down"},
        )


def _card(page, incident_id: int):
    return page.locator(f"[data-testid=work-order][data-incident='{incident_id}']")


def _inbox(browser, base: str, username: str):
    page = login(browser, base, username, PHONE)
    assert page.url.endswith("/inbox/"), page.url
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    page.evaluate("window.__notReloaded = true")  # gone if the page reloads: live updates only
    return page


def _open(card):
    """A compact row opens (tap) to show its actions."""
    if card.locator("[data-testid=action][data-action=decline]").count() == 0:
        card.locator(".row-line").click()


def test_staff_return_an_offer_and_see_it_offered_again_live_when_the_return_is_rejected(
    pages_server, browser, incidents
):
    dispatcher = client(pages_server, "dispatcher")
    page = _inbox(browser, pages_server, "transit_staff")
    try:
        incident = incidents("Return test: underpass flooded, no bus line there")
        order = order_of(dispatcher, incident["id"], "transit")
        card = _card(page, incident["id"])
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)
        _open(card)
        card.locator("[data-testid=action][data-action=return]").click()
        form = card.locator("form[data-form=return]")
        expect(form).to_be_visible()
        reasons = form.locator("select[name=reason_code] option").evaluate_all("options => options.map(o => o.value)")
        assert reasons == ["", "not_our_function", "wrong_district", "duplicate", "insufficient_info", "other"]

        # "Other" needs a note: said on the phone, nothing sent.
        form.locator("select[name=reason_code]").select_option("other")
        form.locator("[data-testid=confirm-return]").click()
        note_error = form.locator("[data-error-for=note]")
        expect(note_error).to_be_visible()
        expect(note_error).to_contain_text("Required")
        assert form.locator("[data-error-for=reason_code]").is_hidden()
        assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["state"] == "offered"

        form.locator("textarea[name=note]").fill("No bus line runs under this underpass")
        form.locator("[data-testid=confirm-return]").click()
        expect(card).to_have_attribute("data-state", "returned", timeout=15000)
        returned = page.locator(f"[data-section=returned] [data-testid=work-order][data-incident='{incident['id']}']")
        expect(returned).to_have_count(1)
        expect(page.locator("[data-section=returned]")).to_be_visible()
        line = card.locator("[data-testid=returned]")
        expect(line).to_contain_text("Returned: Other (see the note) — waiting for the command center")
        expect(line).to_contain_text("No bus line runs under this underpass")
        expect(card.locator("[data-testid=action]")).to_have_count(0)
        expect(card.locator("form")).to_have_count(0)
        server = dispatcher.get(f"/api/work-orders/{order['id']}/").json()
        assert (server["state"], server["return_reason"], server["return_note"], server["returned_by"]) == (
            "returned",
            "other",
            "No bus line runs under this underpass",
            "transit_staff",
        )
        page.evaluate("window.scrollTo(0, 0)")
        returned.scroll_into_view_if_needed()
        shot(page, "inbox-return")

        # The command center rejects the return: the card is an offer again, live, with the note, and alerts.
        note = "Route 42 is diverted through this underpass: please send a crew"
        decided = dispatcher.post(
            f"/api/work-orders/{order['id']}/return-decision/", json={"decision": "reject", "note": note}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["state"] == "offered"
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)
        expect(
            page.locator(f"[data-section=offered] [data-testid=work-order][data-incident='{incident['id']}']")
        ).to_have_count(1)
        expect(page.locator("[data-section=returned]")).to_be_hidden()
        expect(card.locator("[data-testid=return-rejected]")).to_contain_text("Return rejected")
        expect(card.locator("[data-testid=return-rejected-note]")).to_have_text(note, timeout=15000)
        alert = page.locator("[data-testid=offer-alert]")
        expect(alert).to_be_visible(timeout=15000)
        assert str(order["id"]) in alert.get_attribute("data-ids").split(",")
        expect(card.locator("[data-testid=action][data-action=accept]")).to_be_visible()
        assert page.evaluate("window.__notReloaded") is True
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()


def test_a_lead_asks_for_more_time_and_sees_the_new_due_time_live_when_approved(pages_server, browser, incidents):
    dispatcher = client(pages_server, "dispatcher")
    page = _inbox(browser, pages_server, "city_management_lead")
    try:
        incident = incidents("Extension test: underpass flooded, pumps arriving late")
        order = order_of(dispatcher, incident["id"], "city_management")
        due_before = order["due_at"]
        assert due_before, order
        card = _card(page, incident["id"])
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)
        _open(card)
        due = card.locator("[data-testid=due]")
        expect(due).to_have_attribute("data-due-at", due_before)
        expect(due).to_contain_text("Due at " + page.evaluate("(iso) => Api.fmtTime(iso)", due_before))

        card.locator("[data-testid=action][data-action=request_extension]").click()
        form = card.locator("form[data-form=request_extension]")
        expect(form).to_be_visible()
        choices = form.locator("select[name=seconds] option").evaluate_all("options => options.map(o => o.value)")
        assert choices == ["900", "1800", "3600", "7200", "14400"]
        form.locator("select[name=seconds]").select_option("1800")
        form.locator("[data-testid=confirm-request_extension]").click()  # no reason: said on the phone
        expect(form.locator("[data-error-for=reason]")).to_be_visible()
        assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["extension"] is None

        form.locator("textarea[name=reason]").fill("The pump truck is stuck behind the flooded ramp")
        form.locator("[data-testid=confirm-request_extension]").click()
        asked = card.locator("[data-testid=extension]")
        expect(asked).to_have_text("More time asked: +30 min (waiting)", timeout=15000)
        expect(card).to_have_attribute("data-state", "offered")  # an extension changes no state
        expect(card.locator("[data-testid=extension-badge]")).to_have_text("+30 min asked")
        expect(card.locator("[data-testid=action][data-action=request_extension]")).to_have_count(0)  # one at a time
        pending = dispatcher.get(f"/api/work-orders/{order['id']}/").json()["extension"]
        assert (pending["seconds"], pending["requested_by"]) == (1800, "city_management_lead"), pending

        decided = dispatcher.post(f"/api/work-orders/{order['id']}/extension-decision/", json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        due_after = decided.json()["due_at"]
        assert due_after != due_before
        expect(due).to_have_attribute("data-due-at", due_after, timeout=15000)
        expect(due).to_contain_text("Due at " + page.evaluate("(iso) => Api.fmtTime(iso)", due_after))
        expect(asked).to_have_count(0)
        expect(card.locator("[data-testid=extension-decision]")).to_have_attribute("data-decision", "approved")
        expect(card.locator("[data-testid=extension-decision]")).to_contain_text("More time granted: +30 min.")
        assert page.evaluate("window.__notReloaded") is True
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()


def test_more_time_asked_offline_is_sent_once_when_back_and_a_refusal_shows_its_note(pages_server, browser, incidents):
    dispatcher = client(pages_server, "dispatcher")
    page = _inbox(browser, pages_server, "city_management_lead")
    try:
        incident = incidents("Extension offline test: underpass flooded")
        order = order_of(dispatcher, incident["id"], "city_management")
        card = _card(page, incident["id"])
        expect(card).to_have_attribute("data-state", "offered", timeout=15000)

        page.context.set_offline(True)
        expect(page.locator("#live-status")).to_have_attribute("data-state", "offline", timeout=5000)
        _open(card)
        card.locator("[data-testid=action][data-action=request_extension]").click()
        form = card.locator("form[data-form=request_extension]")
        form.locator("select[name=seconds]").select_option("3600")
        form.locator("textarea[name=reason]").fill("Both pumps are needed elsewhere first")
        form.locator("[data-testid=confirm-request_extension]").click()
        expect(card).to_have_attribute("data-pending", "true")
        expect(card).to_have_attribute("data-state", "offered")  # the state it has, not one the request would give
        expect(card.locator("[data-testid=pending-note]")).to_contain_text("Ask for more time")
        expect(card.locator("[data-testid=action][data-action=request_extension]")).to_have_count(0)
        expect(card.locator("[data-testid=action][data-action=accept]")).to_have_count(1)
        expect(page.locator("[data-testid=pending-count]")).to_have_attribute("data-count", "1")
        assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["extension"] is None

        page.context.set_offline(False)
        expect(card).not_to_have_attribute("data-pending", "true", timeout=20000)
        expect(card.locator("[data-testid=extension]")).to_have_text("More time asked: +1 h (waiting)", timeout=15000)
        timeline = dispatcher.get(f"/api/incidents/{incident['id']}/timeline/").json()
        assert len([row for row in timeline if row["kind"] == "work_order.extension_requested"]) == 1
        assert dispatcher.get(f"/api/work-orders/{order['id']}/").json()["extension"]["seconds"] == 3600

        note = "No: the second pump from CM-02 is on its way"
        decided = dispatcher.post(
            f"/api/work-orders/{order['id']}/extension-decision/", json={"decision": "reject", "note": note}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["due_at"] == order["due_at"]
        refused = card.locator("[data-testid=extension-decision]")
        expect(refused).to_have_attribute("data-decision", "rejected", timeout=15000)
        expect(refused).to_contain_text("More time refused (+1 h asked).")
        expect(refused).to_contain_text(note)
        expect(card.locator("[data-testid=extension]")).to_have_count(0)
        expect(card.locator("[data-testid=due]")).to_have_attribute("data-due-at", order["due_at"])
        assert page.evaluate("window.__notReloaded") is True
        assert page.js_errors == [], page.js_errors
    finally:
        page.context.close()
