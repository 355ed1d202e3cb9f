"""Open311: a photo posted as multipart ``media`` with a request is attached to the new incident in the same request;
the answer and the request's GET carry ``media_url`` (a signed, expiring link that works without signing in); a bad
image -> 400 in GeoReport's error format and nothing created. A client's ``media_url`` text is never fetched."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from attachments.models import Attachment
from dispatch.models import Incident
from tests.attachments.conftest import GPS_IFD, jpeg_with_gps, stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def open311_key(db):
    from dispatch.services.clients import api_client_add

    return api_client_add(name="citizen-app", kind="open311", department_code=None)[1]


@pytest.fixture
def post_media(open311_key, django_capture_on_commit_callbacks):
    def do(data: bytes, name: str = "photo.jpg", fmt: str = "json"):
        body = {
            "api_key": open311_key,
            "service_code": "waterlogging",
            "lat": "31.21",
            "long": "121.43",
            "description": "Underpass flooded",
            "media": SimpleUploadedFile(name, data, "image/jpeg"),
        }
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(f"/open311/v2/requests.{fmt}", body)

    return do


def test_media_attached_and_served_by_its_link(post_media, attachments_dir, time_machine):
    response = post_media(jpeg_with_gps())
    assert response.status_code == 201, response.content
    body = response.json()[0]
    assert body["media_url"].startswith("http://testserver/attachments/") and "sig=" in body["media_url"]
    incident = Incident.objects.get(number=body["service_request_id"])
    row = Attachment.objects.get(incident=incident)
    assert row.kind == "evidence" and row.work_order is None

    served = Client().get(body["media_url"])  # no login: the signed link
    assert served.status_code == 200 and served["X-Content-Type-Options"] == "nosniff"
    stored = b"".join(served.streaming_content)
    assert stored == (attachments_dir / row.file_name).read_bytes()
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(GPS_IFD)

    read = Client().get(f"/open311/v2/requests/{incident.number}.json").json()[0]
    assert read["media_url"] == body["media_url"]
    listed = Client().get("/open311/v2/requests.json").json()
    assert [r["media_url"] for r in listed if r["service_request_id"] == incident.number] == [body["media_url"]]
    assert Client().get(body["media_url"].replace("/?", "/thumbnail/?")).status_code == 200
    # Without the signature the file is the staff's only: anonymous -> 401.
    assert Client().get(body["media_url"].split("?")[0]).status_code == 401

    time_machine.move_to("2100-01-01T00:00:00Z")  # the link expires a week after the upload
    assert Client().get(body["media_url"]).status_code == 404
    assert Client().get(f"/open311/v2/requests/{incident.number}.json").json()[0]["media_url"] is None


def test_bad_media_is_refused_and_nothing_created(post_media, attachments_dir):
    before = Incident.objects.count()
    response = post_media(jpeg_with_gps() + b"<script>alert(1)</script>")
    assert response.status_code == 400
    errors = response.json()
    assert errors[0]["code"] == 400 and "media" in errors[0]["description"]
    assert Incident.objects.count() == before and Attachment.objects.count() == 0
    assert stored_files(attachments_dir) == []
    xml = post_media(b"GIF89a not really", fmt="xml")
    assert xml.status_code == 400 and xml["Content-Type"].startswith("text/xml")
    assert Incident.objects.count() == before


def test_console_photos_are_not_public(post_media, api_as, django_capture_on_commit_callbacks):
    number = post_media(jpeg_with_gps()).json()[0]["service_request_id"]
    incident = Incident.objects.get(number=number)
    dispatcher = api_as("dispatcher")
    with django_capture_on_commit_callbacks(execute=True):
        added = dispatcher.client.post(
            f"/api/incidents/{incident.pk}/attachments/",
            {"file": SimpleUploadedFile("a.jpg", jpeg_with_gps())},
            format="multipart",
        )
    assert added.status_code == 201
    read = Client().get(f"/open311/v2/requests/{number}.json").json()[0]
    assert f"/attachments/{added.json()['id']}/" not in read["media_url"]
