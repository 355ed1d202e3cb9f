"""Response plans in real browsers: a dispatcher activates the rainstorm plan from the console (1920x1080); the
City Management lead's phone shows the department's standby task within a second of the server's answer; the lead
acknowledges it and the console's task chip turns green within a second; a CAP warning raises the plan to level I
live; ending it from the console (a reason, then the confirmation) clears the banner and every phone's card.
Several plans in force stack on the console, the highest level first.

Figures (printed): server answer -> banner / card in the DOM, acknowledgement answer -> the console's chip, CAP
answer -> level I on the console, each from the pages' own MutationObserver and ``Date.now()`` (the one system clock
every page and this process share).

``LIANDONG_SCREENSHOTS=docs`` saves ``console-plan.png`` and ``inbox-plan.png``.
"""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from plans.management.commands.replay_cap import cap_rebase, sent_of
from tests.e2e.browser import PHONE, WALL, login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SAMPLES = Path(__file__).resolve().parents[2] / "plans" / "samples" / "rainstorm"

# Notes in the page (window.__seen[name], Date.now()) when ``selector`` first matches, or with ``absent`` first
# matches nothing.
WATCH = """([name, selector, absent]) => {
  window.__seen = window.__seen || {};
  window.__seen[name] = null;
  const look = () => {
    if (window.__seen[name] !== null) return;
    const found = !!document.querySelector(selector);
    if (found !== !!absent) window.__seen[name] = Date.now();
  };
  look();
  new MutationObserver(look).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                                                characterData: true});
}"""

# Notes in the page when each of its requests is answered (headers in: the server's status is known).
ANSWERS = """() => {
  window.__answers = window.__answers || [];
  if (window.__fetchWatched) return;
  window.__fetchWatched = true;
  const original = window.fetch;
  window.fetch = async (...args) => {
    const response = await original(...args);
    const url = String((args[0] && args[0].url) || args[0]);
    window.__answers.push({url, status: response.status, at: Date.now()});
    return response;
  };
}"""


def _box(locator, tries: int = 20):
    """The element's box, measured again if the live page re-rendered it just then (a detached node has none)."""
    for _ in range(tries):
        box = locator.bounding_box()
        if box is not None:
            return box
        time.sleep(0.05)
    return locator.bounding_box()


def _answer(page, fragment: str, timeout: float = 10000) -> dict:
    page.wait_for_function("(f) => (window.__answers || []).some(a => a.url.includes(f))", arg=fragment, timeout=timeout)
    return page.evaluate("(f) => window.__answers.filter(a => a.url.includes(f)).pop()", fragment)


def _seen(page, name: str, timeout: float = 5000) -> int:
    page.wait_for_function("(n) => window.__seen && window.__seen[n] !== null", arg=name, timeout=timeout)
    return page.evaluate("(n) => window.__seen[n]", name)


def _open(browser, base: str, username: str, viewport: dict, path: str, store: str):
    page = login(browser, base, username, viewport)
    if not page.url.endswith(path):
        page.goto(base + path)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15000)
    page.wait_for_function(f"() => window.{store} && window.{store}.loaded", timeout=15000)
    return page


def _end_every_activation(base: str) -> None:
    api = client(base, "supervisor")
    for activation in api.get("/api/activations/", params={"active": "true"}).json():
        api.post(f"/api/activations/{activation['id']}/end/", json={"reason": "end-to-end test clean-up"})


@pytest.fixture
def no_plan_in_force(pages_server):
    """The pages server is shared by the suite: nothing in force before, nothing left behind (even on failure)."""
    _end_every_activation(pages_server)
    yield pages_server
    _end_every_activation(pages_server)


def test_a_plan_reaches_the_lead_is_acknowledged_raised_by_cap_and_ended_live(
    no_plan_in_force, browser, report_figures
):
    base = no_plan_in_force
    console = _open(browser, base, "dispatcher", WALL, "/console/", "consolePlans")
    lead = _open(browser, base, "city_management_lead", PHONE, "/inbox/", "inboxPlans")
    staff = _open(browser, base, "city_management_staff", PHONE, "/inbox/", "inboxPlans")
    expect(console.locator("[data-testid=plan-banner]")).to_have_count(0)
    expect(lead.locator("[data-testid=plan-task-card]")).to_have_count(0)

    # 1. Activate rainstorm at level II over Riverside and Old Town through the console's form.
    console.evaluate(ANSWERS)
    console.evaluate(WATCH, ["banner", "[data-testid=plan-banner][data-level=II]", False])
    for phone in (lead, staff):
        phone.evaluate(WATCH, ["card", "[data-testid=plan-task-card][data-level=II][data-state=pending]", False])
    console.locator("[data-testid=plan-activate-open]").click()
    form = console.locator("[data-testid=plan-activate-form]")
    expect(form).to_be_visible()
    expect(form.locator("select[name=plan] option[value=rainstorm]")).to_have_count(1)
    form.locator("select[name=plan]").select_option("rainstorm")
    form.locator("input[name=level][value=II]").check()
    form.locator("[data-testid=plan-activate-submit]").click()  # no districts, no reason: marked, nothing sent
    expect(form.locator("[data-error=districts]")).not_to_be_empty()
    expect(form.locator("[data-error=reason]")).not_to_be_empty()
    assert not any("/activate/" in a["url"] for a in console.evaluate("() => window.__answers"))
    for code in ("riverside", "oldtown"):
        form.locator(f"input[name=districts][value={code}]").check()
    form.locator("textarea[name=reason]").fill("Orange rainstorm signal expected: 50 mm within 3 h")
    form.locator("[data-testid=plan-activate-submit]").click()
    answer = _answer(console, "/api/plans/rainstorm/activate/")
    assert answer["status"] == 201, answer
    banner_lag = _seen(console, "banner") - answer["at"]
    card_lag = _seen(lead, "card") - answer["at"]
    staff_lag = _seen(staff, "card") - answer["at"]
    expect(form).to_be_hidden()

    banner = console.locator("[data-testid=plan-banner]")
    expect(banner).to_have_count(1)
    expect(banner).to_have_attribute("data-level", "II")
    assert banner.get_attribute("data-activation")
    expect(banner).to_contain_text("Rainstorm flood response")
    expect(banner).to_contain_text("Old Town, Riverside")
    expect(banner).to_contain_text("manual")
    expect(banner.locator(".plan-level")).to_contain_text("II")  # the level in words, not colour alone
    chips = banner.locator("[data-testid=plan-task]")
    expect(chips).to_have_count(4)
    assert sorted(chips.evaluate_all("n => n.map(c => c.dataset.department)")) == [
        "city_management", "environment", "traffic_police", "transit"]
    assert set(chips.evaluate_all("n => n.map(c => c.dataset.state)")) == {"pending"}
    cm_chip = banner.locator("[data-testid=plan-task][data-department=city_management]")
    clock = cm_chip.locator(".plan-clock").inner_text()
    assert clock.startswith(("10:00", "9:5")), clock  # a 10-minute window, counting down
    areas = console.locator("[data-testid=plan-area]")
    expect(areas).to_have_count(2)
    assert sorted(areas.evaluate_all("n => n.map(p => p.dataset.district)")) == ["oldtown", "riverside"]

    card = lead.locator("[data-testid=plan-task-card]")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Pumps to the low points now")
    expect(card).to_contain_text("Acknowledge within")
    ack = card.locator("[data-testid=plan-ack]")
    expect(ack).to_be_visible()
    box = _box(ack)
    assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
    assert _box(card)["y"] < _box(lead.locator("#h-mine"))["y"]  # first on the page
    staff_card = staff.locator("[data-testid=plan-task-card]")
    expect(staff_card.locator("[data-testid=plan-wait]")).to_be_visible()
    expect(staff_card.locator("[data-testid=plan-ack]")).to_have_count(0)
    shot(lead, "inbox-plan")

    # 2. The lead acknowledges; the console's chip turns green (who, when). The first try meets a server that is
    #    overloaded for a moment (503, Retry-After: 1, nothing changed): the phone tries again by itself.
    lead.evaluate(ANSWERS)
    console.evaluate(WATCH, ["acked", "[data-testid=plan-task][data-department=city_management][data-state=acknowledged]", False])
    overloaded = []

    def once_overloaded(route):
        if overloaded:
            route.continue_()
            return
        overloaded.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                      body=json.dumps({"detail": "The service is overloaded; retry shortly.", "errors": {}}))

    lead.route("**/api/activations/*/acknowledge/", once_overloaded)
    ack.click()
    lead.wait_for_function("() => window.__answers.filter(a => a.url.includes('/acknowledge/')).length >= 2", timeout=10000)
    tries = lead.evaluate("() => window.__answers.filter(a => a.url.includes('/acknowledge/'))")
    assert [t["status"] for t in tries] == [503, 200], tries
    assert tries[1]["at"] - tries[0]["at"] >= 900, tries  # after the Retry-After second
    acked = tries[1]
    lead.unroute("**/api/activations/*/acknowledge/")
    ack_lag = _seen(console, "acked") - acked["at"]
    expect(card).to_have_attribute("data-state", "acknowledged")
    expect(card.locator("[data-testid=plan-ack]")).to_have_count(0)
    expect(cm_chip).to_contain_text("city_management_lead")
    expect(staff_card).to_have_attribute("data-state", "acknowledged", timeout=5000)
    expect(banner.locator("[data-testid=plan-task][data-state=pending]")).to_have_count(3)
    shot(console, "console-plan")

    # 3. A red warning (CAP, received now) raises the plan to level I live and widens its area.
    console.evaluate(WATCH, ["red", "[data-testid=plan-banner][data-level=I]", False])
    lead.evaluate(WATCH, ["red", "[data-testid=plan-task-card][data-level=I][data-state=pending]", False])
    document = (SAMPLES / "04-red-update.xml").read_text("utf-8")
    suffix = f"-e2e{int(time.time() * 1000)}"
    rebased = cap_rebase(document, origin=sent_of(document), now=datetime.now(UTC), suffix=suffix)
    posted = client(base, "admin").post("/api/cap/inbound/", content=rebased.encode(),
                                        headers={"Content-Type": "application/cap+xml"})
    posted_at = time.time() * 1000
    assert posted.status_code == 201, posted.text
    assert posted.json()["outcome"] == "changed"
    red_lag = _seen(console, "red") - posted_at
    red_card_lag = _seen(lead, "red") - posted_at
    expect(banner).to_have_attribute("data-level", "I")
    expect(banner).to_contain_text("Hi-Tech Park")
    expect(areas).to_have_count(5)
    expect(card).to_contain_text("All pumps deployed")  # the level I task replaces the level II one
    expect(card.locator("[data-testid=plan-ack]")).to_be_visible()
    received = console.locator(f"[data-testid=cap-received-item][data-identifier$='{suffix}']")
    expect(received).to_have_attribute("data-outcome", "changed", timeout=5000)

    # 4. End from the console: the reason is required, the confirmation names the plan; every page clears.
    console.evaluate(WATCH, ["gone", "[data-testid=plan-banner]", True])
    for phone in (lead, staff):
        phone.evaluate(WATCH, ["gone", "[data-testid=plan-task-card]", True])
    banner.locator("[data-testid=plan-end]").click()
    expect(banner.locator("[data-testid=plan-end-reason]")).to_have_attribute("aria-invalid", "true")
    dialog = console.locator("[data-testid=confirm-dialog]")
    expect(dialog).to_be_hidden()
    banner.locator("[data-testid=plan-end-reason]").fill("All clear from the observatory")
    banner.locator("[data-testid=plan-end]").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Rainstorm flood response")
    dialog.locator("[data-testid=confirm-yes]").click()
    ended = _answer(console, "/end/")
    assert ended["status"] == 200, ended
    end_lags = [_seen(page, "gone") - ended["at"] for page in (console, lead, staff)]
    expect(console.locator("[data-testid=plan-banner]")).to_have_count(0)
    expect(areas).to_have_count(0)
    expect(lead.locator("[data-testid=plan-task-card]")).to_have_count(0)
    expect(staff.locator("[data-testid=plan-task-card]")).to_have_count(0)
    activations = client(base, "dispatcher").get("/api/activations/").json()
    latest = activations[0]
    assert latest["active"] is False and latest["ended_by"] == "dispatcher"
    assert latest["end_reason"] == "All clear from the observatory"

    report_figures(f"[plans] activate answered 201 -> console banner {banner_lag} ms, lead's card {card_lag} ms, "
                   f"staff's card {staff_lag} ms; acknowledge answered -> console chip green {ack_lag} ms; "
                   f"CAP red answered -> console level I {red_lag:.0f} ms, lead's level I card {red_card_lag:.0f} ms; "
                   f"end answered -> gone on console / lead / staff {' / '.join(str(x) for x in end_lags)} ms")
    assert banner_lag <= 1000, banner_lag
    assert card_lag <= 1000, card_lag
    assert staff_lag <= 1000, staff_lag
    assert ack_lag <= 1000, ack_lag
    assert red_lag <= 1000, red_lag
    assert all(lag <= 1000 for lag in end_lags), end_lags
    for page in (console, lead, staff):
        assert page.js_errors == [], page.js_errors
        page.context.close()


STANDBY = {
    "code": "e2e_standby", "name": {"en": "Standby drill", "zh": "待命演练"}, "triggers": [],
    "levels": {"IV": {"tasks": [{"department": "transit", "task": {"en": "Check the depots", "zh": "检查车场"},
                                 "ack_timeout": "2s"}]}},
}


def test_several_plans_stack_the_highest_level_first_and_an_overdue_task_needs_action(no_plan_in_force, browser):
    base = no_plan_in_force
    published = client(base, "admin").post("/api/plans/", json=STANDBY)
    assert published.status_code in (200, 201), published.text
    console = _open(browser, base, "supervisor", WALL, "/console/", "consolePlans")
    dispatcher = client(base, "dispatcher")
    for code, level, districts in (("e2e_standby", "IV", ["lakeside", "riverside"]), ("rainstorm", "III", ["riverside"])):
        response = dispatcher.post(f"/api/plans/{code}/activate/", json={
            "level": level, "districts": districts, "reason": "stacking check"})
        assert response.status_code == 201, response.text
    banners = console.locator("[data-testid=plan-banner]")
    expect(banners).to_have_count(2, timeout=5000)
    assert banners.evaluate_all("n => n.map(b => b.dataset.level)") == ["III", "IV"]
    areas = console.locator("[data-testid=plan-area]")
    expect(areas).to_have_count(2)  # Riverside once, in the higher level's colour
    assert dict(areas.evaluate_all("n => n.map(p => [p.dataset.district, p.dataset.level])")) == {
        "lakeside": "IV", "riverside": "III"}

    # The standby drill's task is not acknowledged within its 2 s: red on its banner and in "Needs action".
    standby = console.locator("[data-testid=plan-banner][data-plan=e2e_standby]")
    chip = standby.locator("[data-testid=plan-task][data-department=transit]")
    expect(chip).to_have_attribute("data-state", "overdue", timeout=10000)
    expect(chip).to_contain_text("overdue by")
    item = console.locator("[data-testid=lane-item][data-kind=plan-task]")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-reasons", "plan_overdue")
    expect(item).to_contain_text("Check the depots")
    expect(console.locator("[data-testid=needs-action-count]")).not_to_have_text("0")
    item.click()
    expect(chip).to_be_focused()

    # The form changes the active one: opened from its banner, it starts from its level and area.
    banners.first.locator("[data-testid=plan-change]").click()
    form = console.locator("[data-testid=plan-activate-form]")
    expect(form.locator("select[name=plan]")).to_have_value("rainstorm")
    expect(form.locator("input[name=level][value=III]")).to_be_checked()
    expect(form.locator("input[name=districts][value=riverside]")).to_be_checked()
    form.locator("input[name=level][value=IV]").check()
    form.locator("textarea[name=reason]").fill("Downgraded to blue")
    form.locator("[data-testid=plan-activate-submit]").click()
    expect(form).to_be_hidden()
    expect(console.locator("[data-testid=plan-banner][data-plan=rainstorm]")).to_have_attribute("data-level", "IV")
    assert console.js_errors == []
    console.context.close()
