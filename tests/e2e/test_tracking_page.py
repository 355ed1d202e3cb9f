"""The citizen's tracking page in a real browser at phone size (390x844), in Chinese: the milestones of a closed
report with its departments, the feedback form sent without any script, "thank you" after, no JavaScript error."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import PHONE, shot
from tests.e2e.walkthrough import client, report_waterlogging, wait_for_orders

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _closed_report(base: str) -> str:
    """A waterlogging report walked to closed through the API; returns its tracking token."""
    dispatcher = client(base, "dispatcher")
    body = report_waterlogging(dispatcher, title="Tracking page probe")
    orders, _took = wait_for_orders(dispatcher, body["id"], 1)
    order = next(o for o in orders if o["department"] == "city_management")
    staff = client(base, "city_management_staff")
    for action in ("accept", "depart", "arrive", "complete"):
        response = staff.post(f"/api/work-orders/{order['id']}/actions/", json={"action": action})
        assert response.status_code == 200, (action, response.text)
    response = dispatcher.post(f"/api/incidents/{body['id']}/notes/", json={"text": "抽水泵已到场", "public": True})
    assert response.status_code == 201, response.text
    for name in ("resolve", "close"):
        response = dispatcher.post(f"/api/incidents/{body['id']}/transitions/", json={"transition": name})
        assert response.status_code == 200, (name, response.text)
    return body["tracking_token"]


def test_tracking_page_on_a_phone_in_chinese(pages_server, browser):
    token = _closed_report(pages_server)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{pages_server}/track/{token}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    milestones = page.locator("[data-testid=milestones] li")
    expect(milestones).to_have_count(5)
    assert [milestones.nth(i).get_attribute("data-key") for i in range(5)] == [
        "received",
        "dispatched",
        "on_scene",
        "done",
        "verified",
    ]
    expect(page.locator("[data-testid=milestones]")).to_contain_text("城市管理局")
    expect(page.locator("[data-testid=notes]")).to_contain_text("抽水泵已到场")
    expect(page.locator("body")).not_to_contain_text("张三")
    expect(page.locator("body")).not_to_contain_text("13812341234")
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "tracking-phone-zh")
    page.check("input[name=satisfied][value=no]")
    page.check("input[name=reasons][value=too_slow]")
    page.fill("textarea[name=text]", "等了太久")
    page.click("[data-testid=feedback] button[type=submit]")
    expect(page.locator("[data-testid=thanks]")).to_be_visible()
    expect(page.locator("[data-testid=feedback]")).to_have_count(0)
    assert errors == []
    context.close()
