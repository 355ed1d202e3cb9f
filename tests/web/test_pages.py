"""Pages: login, navigation by role, and who may open which page (server-side, like the API)."""

import pytest
from django.test import Client

from dispatch.models import User
from tests.conftest import PASSWORD


@pytest.fixture
def browser_as(db):
    def make(username: str | None) -> Client:
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        return client

    return make


def test_login_page_and_login(db):
    client = Client()
    assert client.get("/login/").status_code == 200
    bad = client.post("/login/", {"username": "dispatcher", "password": "wrong"})
    assert bad.status_code == 200 and "Wrong username or password" in bad.content.decode()
    good = client.post("/login/", {"username": "dispatcher", "password": PASSWORD})
    assert good.status_code == 302 and good["Location"] == "/"
    assert client.get("/").headers["Location"] == "/console/"


@pytest.mark.parametrize("path", ["/", "/console/", "/inbox/", "/audit/"])
def test_pages_need_login(db, path):
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("username", "home"),
    [("dispatcher", "/console/"), ("supervisor", "/console/"), ("transit_staff", "/inbox/"),
     ("transit_lead", "/inbox/"), ("admin", "/console/")],
)
def test_home_sends_each_role_to_its_page(browser_as, username, home):
    assert browser_as(username).get("/")["Location"] == home


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("dispatcher", "/console/", 200), ("supervisor", "/console/", 200), ("transit_staff", "/console/", 403),
        ("transit_staff", "/inbox/", 200), ("transit_lead", "/inbox/", 200), ("dispatcher", "/inbox/", 403),
        ("supervisor", "/audit/", 200), ("dispatcher", "/audit/", 200), ("transit_staff", "/audit/", 403),
    ],
)
def test_page_access_by_role(browser_as, username, path, status):
    assert browser_as(username).get(path).status_code == status


def test_audit_incident_page_is_scoped(browser_as, reported_incident):
    path = f"/audit/incidents/{reported_incident['id']}/"
    assert browser_as("supervisor").get(path).status_code == 200
    assert browser_as("environment_staff").get(path).status_code == 404  # not theirs: not even its existence
    assert browser_as("transit_staff").get(path).status_code == 403


def test_navigation_shows_what_the_role_may_use(browser_as):
    console = browser_as("supervisor").get("/console/").content.decode()
    assert 'href="/audit/"' in console and 'href="/inbox/"' not in console
    inbox = browser_as("transit_staff").get("/inbox/").content.decode()
    assert 'href="/inbox/"' in inbox and 'href="/console/"' not in inbox


def test_language_follows_the_browser_and_the_switch(browser_as):
    client = browser_as("dispatcher")
    english = client.get("/console/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in english
    chinese = client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in chinese
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    assert '<html lang="en">' in client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_pages_and_api_messages_speak_simplified_chinese(browser_as, api_as):
    page = browser_as("dispatcher").get("/console/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "指挥台" in page  # the navigation, translated
    catalog = browser_as("dispatcher").get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "\\u5df2\\u63a5\\u5355" in catalog or "已接单" in catalog  # the pages' own strings ("Accepted")
    response = api_as("dispatcher").post("/api/incidents/", {"title": "x"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert response.json()["detail"] != "Invalid input."
