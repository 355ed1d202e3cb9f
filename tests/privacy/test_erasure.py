"""Erasure on the request of the person concerned (PIPL art. 47): a supervisor, with a reason, through the API or
``manage.py erase_reporter``; the report's personal data (name, phone, Open311 extra fields, feedback text, the photos
sent with it) erased for good in one transaction, a ``pii.erased`` timeline row, the chain intact; reveal -> 409
naming when and why; the photos' files deleted by the outbox, their links 410 (signed: 404)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from attachments.models import Attachment
from dispatch.core.timeline import timeline_verify
from dispatch.models import Incident, Open311Request, TimelineEvent
from identity.models import AuditRecord
from tests.attachments.conftest import jpeg_with_gps, stored_files

pytestmark = pytest.mark.django_db
PHONE = "13812341234"
REASON = "the reporter asked by phone on 12345, ticket 7781"


def erase(api, incident_id: int, reason: str = REASON):
    return api.post(f"/api/incidents/{incident_id}/erase-reporter/", {"reason": reason})


def test_a_supervisor_erases_with_a_reason_and_reveal_then_answers_409(api_as, reported_incident, capsys):
    pk = reported_incident["id"]
    assert erase(api_as("supervisor"), pk, "").json()["errors"].keys() == {"reason"}
    assert erase(api_as("dispatcher"), pk).status_code == 403
    assert erase(api_as("city_management_staff"), pk).status_code == 403
    assert erase(api_as("admin"), pk).status_code == 403
    assert Incident.objects.get(pk=pk).pii_erased_at is None  # nothing half-written by the refusals

    response = erase(api_as("supervisor"), pk)
    assert response.status_code == 200, response.content
    assert response.json()["erasure"] == "request" and response.json()["erased_at"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone, pii_key, intake_hash FROM dispatch_incident "
                       "WHERE id = %s", [pk])
        assert cursor.fetchone() == ("", "", "", "")
    event = TimelineEvent.objects.get(incident_id=pk, kind="pii.erased")
    assert event.actor_label == "supervisor" and event.data["reason"] == REASON and event.data["erasure"] == "request"
    assert timeline_verify(pk) is None
    assert AuditRecord.objects.filter(event="pii.erased", username="supervisor").exists()

    shown = api_as("dispatcher").get(f"/api/incidents/{pk}/").json()["reporter"]
    assert shown["name"] == shown["phone"] == "" and shown["erased_at"] == response.json()["erased_at"]
    reveal = api_as("supervisor").post(f"/api/incidents/{pk}/reveal-reporter/", {"reason": "call back"})
    assert reveal.status_code == 409
    body = reveal.json()
    assert "erased on" in body["detail"] and "asked" in body["detail"]  # when, and why
    assert body["errors"]["erasure"] == ["request"] and body["errors"]["erased_at"]
    assert not TimelineEvent.objects.filter(incident_id=pk, kind="pii.revealed").exists()
    assert erase(api_as("supervisor"), pk).status_code == 409  # once


def test_reveal_409_is_translated(api_as, reported_incident):
    erase(api_as("supervisor"), reported_incident["id"])
    reveal = api_as("supervisor").post(f"/api/incidents/{reported_incident['id']}/reveal-reporter/",
                                       {"reason": "回访"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert reveal.status_code == 409 and "已于" in reveal.json()["detail"]


def test_an_open311_report_loses_its_extra_fields_feedback_text_and_photos(
    open311_key, attachments_dir, django_capture_on_commit_callbacks, api_as, reported_incident,
):
    body = {
        "api_key": open311_key, "service_code": "waterlogging", "lat": "31.21", "long": "121.43",
        "description": "Underpass flooded", "first_name": "San", "last_name": "Zhang", "phone": PHONE,
        "attribute[plate]": "沪A12345", "media": SimpleUploadedFile("photo.jpg", jpeg_with_gps(), "image/jpeg"),
    }
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post("/open311/v2/requests.json", body)
    assert answer.status_code == 201, answer.content
    signed = answer.json()[0]["media_url"]
    incident = Incident.objects.get(number=answer.json()[0]["service_request_id"])
    photo = Attachment.objects.get(incident=incident)
    assert len(stored_files(attachments_dir)) == 2  # the photo and its thumbnail
    kept_photo = Attachment.objects.filter(incident_id=reported_incident["id"]).count()

    with django_capture_on_commit_callbacks(execute=True):
        assert erase(api_as("supervisor"), incident.pk).status_code == 200
    assert stored_files(attachments_dir) == []  # the outbox job deleted the files after the commit
    request = Open311Request.objects.get(incident=incident)
    assert request.attributes == {} and request.media_url == ""
    photo.refresh_from_db()
    assert photo.erased_at is not None and photo.sha256  # the row stays: the timeline's attachment.added names it
    assert api_as("supervisor").get(f"/attachments/{photo.pk}/").status_code == 410
    assert Client().get(signed).status_code == 404
    listed = api_as("supervisor").get(f"/api/incidents/{incident.pk}/attachments/").json()
    assert listed[0]["url"] is None and listed[0]["erased_at"]
    read = Client().get(f"/open311/v2/requests/{incident.number}.json").json()[0]
    assert read.get("media_url") in (None, "")
    event = TimelineEvent.objects.get(incident=incident, kind="pii.erased")
    assert event.data["erased"] == {"fields": ["name", "phone"], "attributes": 1, "feedback": 0, "photos": 1}
    assert timeline_verify(incident.pk) is None
    assert Attachment.objects.filter(incident_id=reported_incident["id"]).count() == kept_photo


def test_the_command_erases_as_the_supervisor_named(reported_incident):
    number = reported_incident["number"]
    with pytest.raises(CommandError, match="no active user"):
        call_command("erase_reporter", number, "--by", "nobody", "--reason", REASON)
    with pytest.raises(CommandError, match="Only supervisors"):
        call_command("erase_reporter", number, "--by", "dispatcher", "--reason", REASON)
    call_command("erase_reporter", number, "--by", "supervisor", "--reason", REASON, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Incident.objects.get(number=number).pii_erasure == "request"
    with pytest.raises(CommandError, match="erased on"):
        call_command("erase_reporter", number, "--by", "supervisor", "--reason", REASON)


@pytest.fixture
def open311_key(db):
    from dispatch.services.clients import api_client_add

    return api_client_add(name="citizen-app", kind="open311", department_code=None)[1]
