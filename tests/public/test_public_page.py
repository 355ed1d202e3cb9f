"""``/public/``: the last 30 days' figures for everyone. Locations only as grid-cell centres, cells of fewer than five
reports dropped, confidential reports, drills and merged reports left out, the analytics' own median of time to close,
nothing about one report on the page, and a cached page that does not touch the database."""

import math
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from analytics.services.reports import ReportQuery, intervals_report
from departments.models import District
from dispatch.models import Incident, User
from public.services.figures import (
    METRES_PER_DEGREE_LAT,
    public_figures,
    public_figures_cache_key,
    public_figures_cached,
)
from tests.deadlines.conftest import clock  # noqa: F401 - the travelled clock (time_machine)
from tests.public.conftest import WATERLOGGING

pytestmark = pytest.mark.django_db

GRID = 200
LAT_STEP = GRID / METRES_PER_DEGREE_LAT
# A point of the demo city (in a district), moved to the centre of its grid cell: reports are put around it, a few
# tens of metres away (a cell is 200 m wide), so they fall in this one cell and none is exactly at its centre.
_ROW = math.floor(WATERLOGGING["location"]["lat"] / LAT_STEP)
CENTRE_LAT = (_ROW + 0.5) * LAT_STEP
LON_STEP = GRID / (METRES_PER_DEGREE_LAT * math.cos(math.radians(CENTRE_LAT)))
CENTRE_LON = (math.floor(WATERLOGGING["location"]["lon"] / LON_STEP) + 0.5) * LON_STEP


def near(n: int, *, east_m: float = 0) -> dict:
    """The n-th spot around the cell's centre: 11 to 55 m north or south, ``east_m`` east (plus a few metres)."""
    north = (1 + n % 5) * (1 if n % 2 else -1) * 11
    east = east_m + 3 * (n + 1)
    lat = CENTRE_LAT + north / METRES_PER_DEGREE_LAT
    return {"lat": lat, "lon": CENTRE_LON + east / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))}


def figures():
    return public_figures(timezone.now())


def page(language: str = "en", path: str = "/public/"):
    return Client(HTTP_ACCEPT_LANGUAGE=language).get(path)


@pytest.fixture
def at_spot(report):
    """``at_spot(n, **overrides)`` -> n reports around the cell's centre."""

    def make(n: int, start: int = 0, **overrides) -> list[dict]:
        return [report(location=near(start + i), **overrides) for i in range(n)]

    return make


def is_centre(lat: float, lon: float) -> bool:
    """Whether (lat, lon) is the centre of a cell of the 200 m grid (rows of 200 m of latitude; a row's cells 200 m
    wide at the row's centre latitude)."""
    row = lat / LAT_STEP - 0.5
    lon_step = GRID / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    column = lon / lon_step - 0.5
    return abs(row - round(row)) < 1e-3 and abs(column - round(column)) < 1e-3


def test_a_cell_of_four_reports_is_suppressed_and_of_five_shown(at_spot):
    at_spot(4)
    found = figures()
    assert found["cells"] == []
    assert found["totals"]["n"] == 4  # the reports still count in the tables
    at_spot(1, start=4)
    cells = figures()["cells"]
    assert [cell["count"] for cell in cells] == [5]
    assert cells[0]["lat"] == pytest.approx(CENTRE_LAT, abs=1e-6)
    assert cells[0]["lon"] == pytest.approx(CENTRE_LON, abs=1e-6)


def test_every_coordinate_is_a_cell_centre_never_a_reports_own(at_spot, report):
    made = at_spot(5) + [report(location=near(i, east_m=450)) for i in range(6)]
    cells = figures()["cells"]
    assert sorted(cell["count"] for cell in cells) == [5, 6]
    exact = {(i["location"]["lat"], i["location"]["lon"]) for i in made}
    for cell in cells:
        assert is_centre(cell["lat"], cell["lon"]), cell
        assert all(
            (cell["lat"], cell["lon"]) != point and not (abs(cell["lat"] - point[0]) < 1e-5 and abs(cell["lon"] - point[1]) < 1e-5)
            for point in exact
        )
    html = page().content.decode()
    for lat, lon in exact:
        assert f"{lat:.5f}" not in html and f"{lon:.5f}" not in html


def test_confidential_reports_are_left_out_of_figures_and_map(at_spot):
    at_spot(5, reporter={"name": "李四", "phone": "13900001111", "confidential": True})
    at_spot(4, start=5)
    found = figures()
    assert found["totals"]["n"] == 4
    assert found["cells"] == []  # 4 ordinary reports: under the threshold, the confidential five do not help
    assert sum(row["n"] for row in found["by_district"]) == sum(row["n"] for row in found["by_event_type"]) == 4


def test_drills_and_merged_reports_are_left_out(at_spot, dispatcher):
    survivor, merged = at_spot(2)
    response = dispatcher.post(f"/api/incidents/{merged['id']}/merge/", {"into": survivor["id"]})
    assert response.status_code == 200, response.content
    at_spot(5, start=2, exercise=True)
    assert Incident.objects.filter(exercise=True).count() == 5
    found = figures()
    assert found["totals"]["n"] == 1
    assert found["cells"] == []


def test_the_window_is_the_last_30_days(clock, at_spot):  # noqa: F811
    at_spot(5)
    clock.shift(timedelta(days=29, hours=23))
    assert figures()["totals"]["n"] == 5
    at_spot(1, start=5)
    clock.shift(timedelta(hours=2))  # the first five are now 30 days and an hour old
    found = figures()
    assert found["totals"]["n"] == 1 and found["cells"] == []
    assert found["period"]["end"] - found["period"]["start"] == timedelta(days=30)


def test_open_closed_and_median_are_the_analytics(clock, at_spot, closed):  # noqa: F811
    made = at_spot(7)
    for minutes, incident in zip((30, 50, 65, 120, 240, 600), made, strict=False):  # the seventh stays open
        clock.shift(timedelta(minutes=minutes))
        closed(incident)
    found = figures()
    totals = found["totals"]
    assert (totals["n"], totals["open"], totals["closed"], totals["cancelled"]) == (7, 1, 6, 0)
    query = ReportQuery(start=found["period"]["start"], end=found["period"]["end"])
    actor = User.objects.get(username="dispatcher")
    rows = intervals_report(actor=actor, query=query)["rows"]
    p50 = next(r["p50"] for r in rows if r["interval"] == "created_to_closed")
    assert totals["median_close_seconds"] == pytest.approx(p50, abs=1e-3)
    assert p50 is not None
    by_district = intervals_report(actor=actor, query=ReportQuery(start=query.start, end=query.end, group_by="district"))
    by_type = intervals_report(actor=actor, query=ReportQuery(start=query.start, end=query.end, group_by="event_type"))
    for mine, theirs in ((found["by_district"], by_district), (found["by_event_type"], by_type)):
        expected = {r["group"]: r["p50"] for r in theirs["rows"] if r["interval"] == "created_to_closed"}
        assert {row["code"]: row["median_close_seconds"] for row in mine} == pytest.approx(expected, abs=1e-3)
    html = page().content.decode()
    assert 'data-key="n">7<' in html and 'data-key="open">1<' in html and 'data-key="closed">6<' in html


def test_a_median_of_fewer_than_five_closed_reports_is_not_given(clock, at_spot, closed):  # noqa: F811
    made = at_spot(5)
    for incident in made[:4]:
        clock.shift(timedelta(minutes=20))
        closed(incident)
    totals = figures()["totals"]
    assert (totals["closed"], totals["median_close_seconds"]) == (4, None)
    html = page().content.decode()
    assert "data-seconds" not in html


def test_nothing_about_one_report_is_on_the_page(at_spot):
    xss = "<img src=x onerror=alert(1)>"
    at_spot(5, title=xss, description="Secret description", address="12 Secret Lane")
    for language in ("en", "zh-hans"):
        for path in ("/public/", "/public/figures.json"):
            text = page(language, path).content.decode()
            for needle in (xss, "&lt;img", "\\u003cimg", "onerror", "Secret description", "12 Secret Lane",
                           WATERLOGGING["title"], WATERLOGGING["reporter"]["name"], WATERLOGGING["reporter"]["phone"]):
                assert needle not in text, (language, path, needle)
            assert not re.search(r"INC-\d", text)  # no incident number either


def test_page_in_english_and_chinese_for_anonymous_visitors(at_spot):
    at_spot(5)
    district = District.objects.get(code=Incident.objects.first().district.code)
    response = page("en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="en"' in html and district.name["en"] in html and "Waterlogging" in html
    assert 'id="public-map-data"' in html and "public-map.js" in html
    assert "<script>" not in html and "style=" not in html and "onclick" not in html  # the CSP's rules
    assert "closed_at − created_at" in html  # the analytics' definition of time to close, in the footnote
    response = page("zh-hans")
    html = response.content.decode()
    assert 'lang="zh-hans"' in html and district.name["zh"] in html
    cache_control = response["Cache-Control"]
    # The page carries the language form's CSRF cookie: the visitor's browser may keep it, never a shared cache.
    assert "private" in cache_control and "public" not in cache_control and "max-age=60" in cache_control
    json_cache_control = Client().get("/public/figures.json")["Cache-Control"]
    assert "public" in json_cache_control and "max-age=60" in json_cache_control


def test_json_is_the_same_figures(at_spot):
    at_spot(5)
    body = page(path="/public/figures.json").json()
    expected = figures()
    assert body["totals"]["n"] == expected["totals"]["n"] == 5
    assert [(c["lat"], c["lon"], c["count"]) for c in body["cells"]] == [
        (c["lat"], c["lon"], c["count"]) for c in expected["cells"]
    ]
    assert {row["code"] for row in body["by_event_type"]} == {"waterlogging"}
    assert "created_to_closed" not in body["notes"] and "closed_at − created_at" in body["notes"]["time_to_close"]


def test_a_cached_page_does_not_query_the_database(at_spot, django_assert_num_queries):
    at_spot(5)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    first = client.get("/public/")
    assert first.status_code == 200
    at_spot(1, start=5)  # within the cache's minute the page stays as computed
    with django_assert_num_queries(0):
        second = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get("/public/")
        json_body = Client().get("/public/figures.json").json()
    assert second.status_code == 200
    assert json_body["totals"]["n"] == 5


def test_a_stale_entry_is_recomputed_by_one_request_while_the_others_answer_it(clock, at_spot, django_assert_num_queries):  # noqa: F811
    at_spot(5)
    clock.shift(timedelta(seconds=1))  # the period ends now (excluded, as the analytics' end)
    assert public_figures_cached()["totals"]["n"] == 5
    at_spot(1, start=5)
    clock.shift(timedelta(seconds=61))
    refreshing = public_figures_cache_key() + ":refresh"
    assert cache.add(refreshing, 1, 60)  # as if another request were recomputing it
    with django_assert_num_queries(0):
        assert public_figures_cached()["totals"]["n"] == 5
    cache.delete(refreshing)
    assert public_figures_cached()["totals"]["n"] == 6
