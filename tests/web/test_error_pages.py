"""Error pages (templates/400.html, 403.html, 404.html, 500.html, 503.html): the site's look, in the reader's language,
a way back; the API and Open311 keep answering errors in their own formats; 500 renders with the database down; the
database unavailable (stopped, restarting) is a 503 with Retry-After, not a 500, wherever it was raised.

The module is also the URL configuration of the tests that need a failing view (``pytest.mark.urls``): the site's
own URLs plus two views that fail, with the site's error handlers.
"""

import pytest
from django.conf import settings
from django.core.exceptions import BadRequest
from django.db import OperationalError
from django.test import Client
from django.urls import include, path
from django.utils import translation

from dispatch import urls as site_urls
from dispatch.models import User


def _fails(request):
    raise RuntimeError("a bug")


def _database_down(request):
    raise OperationalError("could not connect to server")  # what a page sees when the database is down


def _bad(request):
    raise BadRequest("unreadable")


urlpatterns = [
    path("boom/", _fails),
    path("api/boom/", _fails),
    path("open311/v2/boom.xml", _fails),
    path("down/", _database_down),
    path("api/down/", _database_down),
    path("open311/v2/down.xml", _database_down),
    path("bad/", _bad),
    path("api/bad/", _bad),
    path("", include(site_urls)),
]
handler400, handler403, handler404, handler500 = (
    site_urls.handler400, site_urls.handler403, site_urls.handler404, site_urls.handler500,
)
with_failing_views = pytest.mark.urls(__name__)

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


@pytest.fixture
def browser_as(db):
    def make(username: str | None) -> Client:
        client = Client(raise_request_exception=False)
        if username:
            client.force_login(User.objects.get(username=username))
        return client

    return make


def assert_error_page(response, status: int, *texts: str) -> str:
    """The page is the site's error page for ``status``, with the texts and both ways back."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f'data-status="{status}"' in page and "liandong/base.css" in page
    assert 'data-testid="error-home" href="/"' in page or 'href="/" data-testid="error-home"' in page
    assert 'data-testid="error-back"' in page and "liandong/error-page.js" in page  # history.back(), no inline handler
    for text in texts:
        assert text in page, text
    return page


# --- 403 and 404: the site's page, with its top bar --------------------------------------------------------------


def test_403_a_staff_member_opening_the_console(browser_as):
    page = assert_error_page(
        browser_as("transit_staff").get("/console/", **ENGLISH), 403,
        '<html lang="en">', "Forbidden", "Your account may not open this page.", "Go back", "Home",
    )
    assert "transit_staff" in page and "Log out" in page  # the usual top bar: who is logged in


def test_403_in_chinese(browser_as):
    page = assert_error_page(
        browser_as("transit_staff").get("/console/", **CHINESE), 403,
        '<html lang="zh-hans">', "禁止访问", "首页", zh("Go back"),
        zh("Your account may not open this page. If your work needs it, ask a supervisor or an administrator."),
    )
    assert "Forbidden" not in page


def test_404_an_unknown_page(browser_as):
    assert_error_page(
        browser_as("dispatcher").get("/no-such-page/", **ENGLISH), 404,
        '<html lang="en">', "Page not found", "There is nothing at this address", "Go back",
    )


def test_404_for_someone_logged_out(browser_as):
    page = assert_error_page(browser_as(None).get("/no-such-page/", **ENGLISH), 404, "Page not found")
    assert "Log out" not in page


def test_404_an_incident_the_reader_may_not_see(browser_as, reported_incident):
    """Another department's incident: the same page as for an id that does not exist (not even its existence)."""
    path = f"/audit/incidents/{reported_incident['id']}/"
    page = assert_error_page(browser_as("environment_staff").get(path, **ENGLISH), 404, "Page not found")
    assert reported_incident["number"] not in page and reported_incident["title"] not in page
    missing = browser_as("environment_staff").get("/audit/incidents/999999999/", **ENGLISH)
    assert missing.status_code == 404


def test_404_in_chinese_by_the_language_cookie(browser_as):
    client = browser_as("dispatcher")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = assert_error_page(
        client.get("/no-such-page/", **ENGLISH), 404, '<html lang="zh-hans">', "页面没有找到", "首页",
        zh("There is nothing at this address, or nothing your account may see. Check the address, or go back to "
           "where you came from."),
    )
    assert "Page not found" not in page


# --- 500 and 400: standalone pages ------------------------------------------------------------------------------


@with_failing_views
def test_500_renders_with_the_database_down(browser_as, django_db_blocker):
    """The page needs no query: the database is blocked while the failing request is served (a logged-in reader,
    so a template that asked for the user would query the session and fail)."""
    client = browser_as("dispatcher")
    with django_db_blocker.block():
        response = client.get("/boom/", **ENGLISH)
    assert_error_page(response, 500, '<html lang="en">', "Server error", "try again in a minute", "Go back")


@with_failing_views
def test_500_in_chinese(browser_as, django_db_blocker):
    client = browser_as(None)
    with django_db_blocker.block():
        response = client.get("/boom/", **CHINESE)
    page = assert_error_page(response, 500, '<html lang="zh-hans">', "服务器错误", "首页")
    assert zh("Go back") in page and "Server error" not in page


@with_failing_views
def test_400_page(browser_as):
    assert_error_page(browser_as("dispatcher").get("/bad/", **ENGLISH), 400, "Bad request", "could not understand")
    chinese = browser_as(None).get("/bad/", **CHINESE)
    assert_error_page(chinese, 400, '<html lang="zh-hans">', "首页", zh("Bad request"))


# --- 503: the database unavailable ---------------------------------------------------------------------------------


@with_failing_views
def test_503_when_the_database_is_unavailable(browser_as, django_db_blocker):
    client = browser_as("dispatcher")
    with django_db_blocker.block():
        response = client.get("/down/", **ENGLISH)
    assert_error_page(response, 503, "Database unavailable", "nothing was lost", "Go back")
    assert response["Retry-After"]
    chinese = browser_as(None).get("/down/", **CHINESE)
    assert_error_page(chinese, 503, '<html lang="zh-hans">', zh("Database unavailable"), "首页")


def test_503_when_the_session_user_cannot_be_looked_up(browser_as, monkeypatch):
    """PostgreSQL stopped under a signed-in console: the user is looked up (by the middleware's lazy user, outside
    any view's error handling) and the lookup fails; the reader gets the 503 page, the API a JSON 503."""
    client = browser_as("dispatcher")

    def down(request):
        raise OperationalError("connection failed: the database system is shutting down")

    monkeypatch.setattr("django.contrib.auth.middleware.auth.get_user", down)
    page = client.get("/console/", **ENGLISH)
    assert_error_page(page, 503, "Database unavailable")
    assert page["Retry-After"]
    api = client.get("/api/incidents/", **ENGLISH)
    assert api.status_code == 503 and api["Retry-After"] and api["Content-Type"] == "application/json"


@with_failing_views
def test_503_for_machines_in_their_formats(browser_as, django_db_blocker):
    client = browser_as(None)
    with django_db_blocker.block():
        api, open311 = client.get("/api/down/", **ENGLISH), client.get("/open311/v2/down.xml")
    assert api.status_code == 503 and api["Retry-After"] and api["Content-Type"] == "application/json"
    assert api.json() == {"detail": "The database is unavailable for the moment; retry shortly.", "errors": {}}
    assert open311.status_code == 503 and open311["Retry-After"] and "<errors>" in open311.content.decode()


# --- machines keep their formats -------------------------------------------------------------------------------


def test_api_errors_stay_json(browser_as, api_as):
    unknown = browser_as("dispatcher").get("/api/no-such-thing/", **CHINESE)
    assert unknown.status_code == 404 and unknown["Content-Type"] == "application/json"
    assert unknown.json() == {"detail": "未找到。", "errors": {}}
    denied = api_as("transit_staff").post("/api/workflows/", {"code": "x"})
    assert denied.status_code == 403 and denied["Content-Type"] == "application/json"
    assert "detail" in denied.json()


@with_failing_views
def test_api_server_errors_and_bad_requests_stay_json(browser_as, django_db_blocker):
    client = browser_as(None)
    with django_db_blocker.block():
        failed = client.get("/api/boom/", **ENGLISH)
    assert failed.status_code == 500 and failed["Content-Type"] == "application/json"
    assert failed.json() == {"detail": "A server error occurred.", "errors": {}}
    bad = client.get("/api/bad/", **ENGLISH)
    assert bad.status_code == 400 and bad.json()["detail"] and "<html" not in bad.content.decode()


@with_failing_views
def test_open311_server_errors_stay_georeport(browser_as, django_db_blocker):
    client = browser_as(None)
    with django_db_blocker.block():
        failed = client.get("/open311/v2/boom.xml")
    assert failed.status_code == 500 and "xml" in failed["Content-Type"]
    assert "<errors>" in failed.content.decode() and "<html" not in failed.content.decode()
