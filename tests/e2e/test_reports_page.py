"""The reports page (``/reports/``) in a real browser, against the page tests' server, with known facts made through
the API: city management accepts and completes six orders (each walked through), fourteen more waterlogging reports
bring three departments past the small-sample threshold (20), and one air-pollution report leaves environment a small
sample. In English and in Chinese (the language switch): the ECharts instances hold exactly the figures the API
answers, the on-time chart draws the target line, the ranking lists the small sample after the ranked departments
with its mark and no rank, a click on a bar lists the incidents behind it (as many as the bar's n, linked to their
audit page), and the page raises no JavaScript error and no failed request. ``LIANDONG_SCREENSHOTS=docs`` saves
``docs/reports.png`` (1440x900)."""

import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import login, shot
from tests.e2e.walkthrough import client

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DESKTOP = {"width": 1440, "height": 900}
SPOT = (31.2050, 121.4230)  # Riverside's west: no other page test reports here
AIR_SPOT = (31.2620, 121.4180)
WALKED, MORE = 6, 14
OPEN_STATES = {"offered", "accepted", "en_route", "on_scene"}

# The figures an ECharts instance draws: categories and each series' values.
CHART = """(id) => {
  const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return {categories: option.xAxis[0].data, series: option.series.map((s) => ({name: s.name,
    data: s.data.map((d) => (d !== null && typeof d === 'object') ? d.value : d), markLine: s.markLine || null}))};
}"""
# The API's answer for what a chart shows: the same URL as its CSV link, as JSON.
SAME_AS = """async (id) => {
  const link = new URL(document.getElementById(id).href);
  link.searchParams.delete('format');
  return await Api.get(link.pathname + link.search);
}"""
# Where a bar of an ECharts instance is on the screen (its middle).
BAR = """([id, series, index]) => {
  const node = document.getElementById(id), chart = echarts.getInstanceByDom(node);
  const option = chart.getOption(), value = option.series[series].data[index];
  const [x, y] = chart.convertToPixel({seriesIndex: series}, [index, value / 2]);
  const box = node.getBoundingClientRect();
  return [box.left + x, box.top + y];
}"""


@pytest.fixture
def facts(pages_server):
    """Reports the incidents (walking six city-management orders through), stands them all down afterwards."""
    dispatcher, staff = client(pages_server, "dispatcher"), client(pages_server, "city_management_staff")
    tag = uuid.uuid4().hex[:6]
    made: list[int] = []

    def report(title: str, event_type: str = "waterlogging", spot=SPOT) -> int:
        body = {
            "event_type": event_type,
            "title": f"Reports {tag}: {title}",
            "severity": 3,
            "location": {"lat": spot[0], "lon": spot[1]},
        }
        response = dispatcher.post("/api/incidents/", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
        return response.json()["id"]

    def offered(incident_id: int, department: str) -> int:
        started = time.monotonic()
        while True:
            orders = dispatcher.get(f"/api/incidents/{incident_id}/").json()["work_orders"]
            found = [o for o in orders if o["department"] == department and o["state"] == "offered"]
            if found:
                return found[0]["id"]
            assert time.monotonic() - started < 30, orders
            time.sleep(0.1)

    try:
        for n in range(WALKED):
            order = offered(report(f"walked {n}"), "city_management")
            for action in ("accept", "depart", "arrive", "complete"):
                response = staff.post(f"/api/work-orders/{order}/actions/", json={"action": action})
                assert response.status_code == 200, response.text
        for n in range(MORE):
            report(f"more {n}")
        report("smoke", "air_pollution", AIR_SPOT)
        yield made
    finally:
        for incident_id in made:
            dispatcher.post(
                f"/api/incidents/{incident_id}/transitions/",
                json={"transition": "cancel", "note": "e2e reports page test: stood down"},
            )


def _left_behind(request) -> bool:
    """A request of a page the test has left, cancelled by the browser as it left: the console's (the supervisor's
    page after login), whose figures poll after each live event, so one is sometimes in flight then."""
    return request.failure == "net::ERR_ABORTED" and "/reports/" not in (request.headers.get("referer") or "")


def _watch(page):
    """Console errors, failed requests and 4xx/5xx answers of the reports page."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: None if _left_behind(r) else problems.append(f"failed {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def _open(page, base: str):
    page.goto(f"{base}/reports/?period=today")
    expect(page.locator("#reports")).to_have_attribute("data-state", "ready", timeout=20000)


def _check_charts(page, names: dict[str, str]):
    """The percentile and on-time charts hold the API's figures; returns (department answer rows, chart figures)."""
    answer = page.evaluate(SAME_AS, "csv-department")
    rows = [r for r in answer["rows"] if r["interval"] == "offer_to_accepted" and r["n"] > 0 and r["group"]]
    drawn = page.evaluate(CHART, "chart-department")
    assert drawn["categories"] == [names.get(r["group"], r["group"]) for r in rows]
    assert [s["name"] for s in drawn["series"]] == ["p50", "p90", "p95"]
    for series in drawn["series"]:
        assert series["data"] == [r[series["name"]] for r in rows], series
    cm = next(r for r in rows if r["group"] == "city_management")
    assert cm["n"] >= WALKED and cm["p50"] is not None
    by_type = page.evaluate(SAME_AS, "csv-event-type")
    type_rows = [r for r in by_type["rows"] if r["interval"] == "offer_to_accepted" and r["n"] > 0 and r["group"]]
    assert page.evaluate(CHART, "chart-event-type")["series"][1]["data"] == [r["p90"] for r in type_rows]
    ontime = page.evaluate(CHART, "chart-ontime")
    handled = [
        r
        for r in answer["rows"]
        if r["interval"] == "accepted_to_completed" and r["within_target_pct"] is not None and r["group"]
    ]
    assert ontime["series"][0]["data"] == [r["within_target_pct"] for r in handled]
    assert ontime["series"][0]["markLine"]["data"][0]["yAxis"] == 90
    assert page.locator("#chart-department").get_attribute("aria-label")
    return rows, drawn


def _check_ranking(page):
    rows = page.locator("#ranking tbody tr")
    expect(rows.first).to_be_visible()
    ranks = [rows.nth(i).locator("th").inner_text().strip() for i in range(rows.count())]
    small = [i for i in range(rows.count()) if rows.nth(i).locator("[data-testid=small-sample]").count()]
    assert small, ranks
    ranked = [i for i, text in enumerate(ranks) if text.isdigit()]
    assert ranked and ranks[ranked[0]] == "1", ranks
    assert max(ranked) < min(small), ranks  # small samples come after every ranked department, unranked
    environment = page.locator("#ranking tbody tr[data-group=environment]")
    expect(environment.locator("[data-testid=small-sample]")).to_have_count(1)


def test_reports_page_charts_ranking_drilldown_in_english_and_chinese(pages_server, browser, facts):
    base = pages_server
    page = login(browser, base, "supervisor", DESKTOP)
    problems = _watch(page)
    _open(page, base)

    # English: the figures, the formulas, the ranking.
    expect(page.locator("h1")).to_have_text("Reports")
    expect(page.locator("[data-testid=kpi-n]")).not_to_have_text("0")
    assert "per work order" in page.locator("#interval-formula").inner_text()
    # Each card's formula is its tooltip (the published definition).
    assert page.locator(".kpi-card[data-kpi=on_time_closure_rate]").get_attribute("title").startswith("按期结案率")
    names = {
        "city_management": "City Management",
        "traffic_police": "Traffic Police",
        "transit": "Public Transit",
        "environment": "Environmental Protection",
    }
    rows, drawn = _check_charts(page, names)
    _check_ranking(page)
    shot(page, "reports")

    # A click on city management's p90 bar lists the incidents behind it: as many as the bar's n, slowest first.
    index = drawn["categories"].index("City Management")
    x, y = page.evaluate(BAR, ["chart-department", 1, index])
    page.mouse.click(x, y)
    drill = page.locator("[data-testid=drill]")
    expect(drill).to_have_attribute("data-state", "ready", timeout=10000)
    n = next(r["n"] for r in rows if r["group"] == "city_management")
    expect(drill).to_have_attribute("data-count", str(n))
    links = drill.locator("a[data-testid=drill-incident]")
    expect(links).to_have_count(min(n, 100))
    assert links.first.get_attribute("href").startswith("/audit/incidents/")
    page.keyboard.press("Escape")
    expect(drill).to_be_hidden()

    # The state is in the URL: another interval is shareable, and the back button returns to the first.
    page.select_option("#interval", "accepted_to_completed")
    expect(page).to_have_url(f"{base}/reports/?period=today&interval=accepted_to_completed")
    page.go_back()
    expect(page.locator("#interval")).to_have_value("offer_to_accepted")
    page.wait_for_load_state("networkidle")  # the figures of the restored state in, before the page is left

    # Chinese, through the language switch: the same figures, the city's names in Chinese.
    page.select_option("select[name=language]", "zh-hans")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#reports")).to_have_attribute("data-state", "ready", timeout=20000)
    _check_charts(
        page,
        {
            "city_management": "城市管理局",
            "traffic_police": "交警支队",
            "transit": "公交集团",
            "environment": "生态环境局",
        },
    )
    _check_ranking(page)
    assert not page.js_errors, page.js_errors
    assert not problems, problems


def test_a_lead_sees_their_department_only(pages_server, browser, facts):
    page = login(browser, pages_server, "city_management_lead", DESKTOP)
    problems = _watch(page)
    _open(page, pages_server)
    expect(page.locator("[data-testid=department]")).to_be_disabled()
    expect(page.locator("[data-testid=department]")).to_have_value("city_management")
    drawn = page.evaluate(CHART, "chart-department")
    assert drawn["categories"] == ["City Management"]
    assert not page.js_errors and not problems, (page.js_errors, problems)


def test_the_vendored_library_is_served_with_its_licence(pages_server):
    for path in (
        "vendor/echarts/echarts.min.js",
        "vendor/echarts/LICENSE",
        "vendor/echarts/NOTICE",
        "liandong/reports.js",
        "liandong/reports.css",
    ):
        assert httpx.get(f"{pages_server}/static/{path}", timeout=10).status_code == 200, path
