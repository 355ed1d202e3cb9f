"""``POST /api/public/feedback/``: 201 once the report is closed, 409 a second time or before closing, 404 for an
unknown token, 400 naming the field, 429 past the per-address limit; the page's form does the same without JS."""

import pytest
from django.test import Client

from dispatch.models import TimelineEvent
from public.models import Feedback, ReopenRequest

pytestmark = pytest.mark.django_db
URL = "/api/public/feedback/"


def post(body: dict, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post(URL, body, content_type="application/json")


def test_feedback_once_after_closing(tracked, closed):
    incident, token = tracked()
    early = post({"token": token, "satisfied": True})
    assert early.status_code == 409 and "token" in early.json()["errors"]
    closed(incident)
    response = post(
        {"token": token, "satisfied": False, "reasons": ["too_slow", "other"], "text": "我叫李四 13900000000"}
    )
    assert response.status_code == 201, response.content
    row = TimelineEvent.objects.get(incident_id=incident["id"], kind="feedback.received")
    assert row.data == {"satisfied": False, "reasons": ["too_slow", "other"]}  # the text stays on the Feedback row
    assert Feedback.objects.get(incident_id=incident["id"]).text == "我叫李四 13900000000"
    assert not ReopenRequest.objects.exists()  # not "not fixed": no reopen request
    again = post({"token": token, "satisfied": True})
    assert again.status_code == 409
    assert 'data-testid="thanks"' in Client().get(f"/track/{token}/").content.decode()


def test_unknown_token_is_404():
    assert post({"token": "x" * 43, "satisfied": True}).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"satisfied": True}, "token"),
        ({"token": "{token}"}, "satisfied"),
        ({"token": "{token}", "satisfied": "yes"}, "satisfied"),
        ({"token": "{token}", "satisfied": False, "reasons": ["broken_promise"]}, "reasons"),
        ({"token": "{token}", "satisfied": False, "reasons": "not_fixed"}, "reasons"),
        ({"token": "{token}", "satisfied": True, "text": "x" * 2001}, "text"),
    ],
)
def test_bad_input_is_400_naming_the_field(tracked, closed, body, field):
    incident, token = tracked()
    closed(incident)
    body = {k: (token if v == "{token}" else v) for k, v in body.items()}
    response = post(body)
    assert response.status_code == 400, response.content
    assert [key for key in response.json()["errors"] if key.split(".")[0] == field], response.json()  # "reasons.0"


def test_throttled_per_address(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "public_feedback": "3/hour"}
    codes = [post({"token": "nope", "satisfied": True}).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    assert post({"token": "nope", "satisfied": True}, address="198.51.100.9").status_code == 404  # another address


def test_page_form_works_without_js(tracked, closed):
    incident, token = tracked()
    closed(incident)
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/track/{token}/")
    assert 'data-testid="feedback"' in page.content.decode()
    csrf = client.cookies["csrftoken"].value
    response = client.post(f"/track/{token}/feedback/", {"csrfmiddlewaretoken": csrf, "satisfied": "yes"})
    assert response.status_code == 302
    assert Feedback.objects.get(incident_id=incident["id"]).satisfied is True
    assert 'data-testid="thanks"' in client.get(f"/track/{token}/").content.decode()
    second = client.post(f"/track/{token}/feedback/", {"csrfmiddlewaretoken": csrf, "satisfied": "no"})
    assert second.status_code == 409 and 'role="alert"' in second.content.decode()
