"""The reports page (``/reports/``) server side: the command roles see every department, a department lead only
their own (the department filter fixed and shown), department staff 403, anonymous the login page; the nav shows
"Reports" to exactly those who may open it; the page loads the vendored ECharts and no script from elsewhere."""

import json
import re

import pytest
from django.test import Client

from dispatch.models import User


@pytest.fixture
def browser_as(db):
    def make(username: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client

    return make


def config_of(response) -> dict:
    match = re.search(r'<script id="reports-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "no reports-config"
    return json.loads(match.group(1))


def test_anonymous_is_sent_to_the_login_page(db):
    response = Client().get("/reports/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("dispatcher", 200),
        ("supervisor", 200),
        ("admin", 200),
        ("transit_lead", 200),
        ("city_management_lead", 200),
        ("transit_staff", 403),
        ("environment_staff", 403),
    ],
)
def test_who_may_open_it(browser_as, username, status):
    response = browser_as(username).get("/reports/")
    assert response.status_code == status
    nav = browser_as(username).get("/inbox/" if "_" in username else "/console/").content.decode()
    assert ('href="/reports/"' in nav) == (status == 200)


def test_command_roles_see_every_department(browser_as, settings):
    settings.ANALYTICS_ON_TIME_TARGET = 85.0
    response = browser_as("supervisor").get("/reports/")
    page = response.content.decode()
    config = config_of(response)
    assert config["fixed_department"] is None and config["audit_links"] is True
    assert config["on_time_target"] == 85.0 and config["small_sample"] == settings.ANALYTICS_SMALL_SAMPLE
    assert {"transit", "city_management", "environment", "traffic_police"} <= set(config["names"]["department"])
    assert '<select name="department" data-testid="department">' in page
    assert "/static/vendor/echarts/echarts.min.js" in page and "/static/liandong/reports.js" in page
    assert not re.search(r'<script[^>]+src="(https?:)?//', page)  # no CDN
    assert not re.search(r"\son(click|change|load)=", page.split("<main>")[1])  # no inline handlers on the page


def test_a_lead_sees_their_department_fixed(browser_as):
    response = browser_as("transit_lead").get("/reports/")
    page = response.content.decode()
    config = config_of(response)
    assert config["fixed_department"] == "transit" and config["audit_links"] is False
    assert list(config["names"]["department"]) == ["transit"]
    select = re.search(r'<select name="department" disabled[^>]*>(.*?)</select>', page, re.S)
    assert select and select.group(1).count("<option") == 1 and 'value="transit" selected' in select.group(1)
    assert "Your department&#x27;s figures only." in page or "Your department's figures only." in page
