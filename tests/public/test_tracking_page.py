"""``GET /track/<token>/``: the milestones in order with the departments' public names, public notes only, the site's
404 page for an unknown token, a merged report following its survivor."""

import re

import pytest
from django.test import Client

from departments.models import Department

pytestmark = pytest.mark.django_db


def page(token: str, language: str = "en"):
    return Client(HTTP_ACCEPT_LANGUAGE=language).get(f"/track/{token}/")


def keys(html: str) -> list[str]:
    return re.findall(r'data-key="([a-z_]+)"', html)


def test_page_shows_milestones_in_order_departments_and_public_notes_only(tracked, closed, dispatcher, act):
    incident, token = tracked()
    response = page(token)
    assert response.status_code == 200
    html = response.content.decode()
    assert keys(html) == ["received", "dispatched"]
    for order in incident["work_orders"]:
        assert Department.objects.get(code=order["department"]).name["en"] in html
    dispatcher.post(f"/api/incidents/{incident['id']}/notes/", {"text": "Pumps are on the way", "public": True})
    dispatcher.post(f"/api/incidents/{incident['id']}/notes/", {"text": "Internal: call the chief", "public": False})
    html = page(token).content.decode()
    assert "Pumps are on the way" in html and "Internal: call the chief" not in html
    closed(incident)
    html = page(token).content.decode()
    assert keys(html) == ["received", "dispatched", "on_scene", "done", "verified"]
    assert 'data-testid="feedback"' in html  # closed: the form is offered


def test_page_is_in_chinese_for_a_chinese_browser(tracked):
    _incident, token = tracked()
    html = page(token, "zh-hans").content.decode()
    assert 'lang="zh-hans"' in html
    assert Department.objects.get(code="city_management").name["zh"] in html


@pytest.mark.parametrize("token", ["nope", "x" * 43, "y" * 300])
def test_unknown_token_is_the_sites_404_page(token):
    response = page(token)
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_merged_report_follows_its_survivor(tracked, dispatcher, closed):
    survivor, _ = tracked()
    merged, token = tracked(title="Same underpass, second caller")
    response = dispatcher.post(f"/api/incidents/{merged['id']}/merge/", {"into": survivor["id"]})
    assert response.status_code == 200, response.content
    html = page(token).content.decode()
    assert 'data-testid="merged"' in html and survivor["number"] in html
    closed(dispatcher.get(f"/api/incidents/{survivor['id']}/").json())
    assert keys(page(token).content.decode())[-1] == "verified"


def test_cancelled_report_says_so_neutrally(tracked, transition):
    incident, token = tracked()
    assert transition("supervisor", incident["id"], "cancel", note="false alarm").status_code == 200
    html = page(token).content.decode()
    assert keys(html)[-1] == "cancelled" and "false alarm" not in html
    assert 'data-testid="feedback"' not in html


def test_language_switch_works_for_anonymous_visitors(tracked):
    _incident, token = tracked()
    client = Client(enforce_csrf_checks=True)
    assert 'lang="en"' in client.get(f"/track/{token}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    switched = client.post(
        "/i18n/setlang/",
        {"language": "zh-hans", "next": f"/track/{token}/", "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )
    assert switched.status_code == 302 and switched["Location"] == f"/track/{token}/"
    assert 'lang="zh-hans"' in client.get(f"/track/{token}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_public_pages_are_limited_per_address_before_any_lookup(settings, tracked):
    """Guessing tokens is slowed down like reading pages: the limit counts unknown tokens too."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_page": "3/min"}
    _incident, token = tracked()
    client = Client()
    assert client.get("/track/not-a-token/").status_code == 404
    assert client.get(f"/track/{token}/").status_code == 200
    assert client.get("/public/").status_code == 200
    refused = client.get(f"/track/{token}/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert client.get("/public/figures.json").status_code == 429
    assert Client(REMOTE_ADDR="10.1.2.3").get(f"/track/{token}/").status_code == 200  # another address
