"""Photos on incidents and work orders: stored cleaned (no EXIF, no GPS), with a thumbnail and a timeline row
carrying the stored file's hash; served only to who may see them, with nosniff."""

import hashlib
import io

import pytest
from PIL import Image

from attachments.models import Attachment
from dispatch.models import TimelineEvent
from tests.api.conftest import order_for
from tests.attachments.conftest import GPS_IFD, image_bytes, jpeg_with_gps, stored_files

pytestmark = pytest.mark.django_db


def _path(incident):
    return f"/api/incidents/{incident['id']}/attachments/"


def test_jpeg_stored_without_exif_or_gps_and_upright(upload, reported_incident, attachments_dir, api_as):
    original = jpeg_with_gps(size=(60, 40), orientation=6)  # 6: the camera was turned; shown rotated 90 degrees
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the upload does carry GPS

    response = upload("dispatcher", _path(reported_incident), original, name="../../etc/passwd.jpg")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {
        "id",
        "url",
        "thumbnail_url",
        "sha256",
        "content_type",
        "size",
        "width",
        "height",
        "kind",
        "work_order",
        "created_at",
    }
    assert body["content_type"] == "image/jpeg" and body["kind"] == "evidence" and body["work_order"] is None
    assert (body["width"], body["height"]) == (40, 60)  # orientation applied
    row = Attachment.objects.get(pk=body["id"])
    stored = (attachments_dir / row.file_name).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == body["sha256"] == row.sha256
    assert "passwd" not in row.file_name and ".." not in row.file_name  # never the upload's name
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (40, 60)
    exif = image.getexif()
    assert len(exif) == 0 and not exif.get_ifd(GPS_IFD)
    assert "exif" not in image.info and "comment" not in image.info and b"TestCam" not in stored
    thumbnail = Image.open(attachments_dir / row.thumbnail_name)
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 320
    assert len(stored_files(attachments_dir)) == 2

    event = TimelineEvent.objects.get(incident_id=reported_incident["id"], kind="attachment.added")
    assert event.data == {
        "attachment": row.pk,
        "sha256": row.sha256,
        "content_type": "image/jpeg",
        "size": len(stored),
        "kind": "evidence",
    }

    served = api_as("dispatcher").get(body["url"])
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == stored
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Disposition"] == f'inline; filename="{row.pk}.jpg"'
    assert served["Cache-Control"].startswith("private")
    assert served["Content-Security-Policy"].startswith("default-src 'none'")
    thumb = api_as("dispatcher").get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert thumb["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("fmt", "content_type", "mode"), [("PNG", "image/png", "RGBA"), ("WEBP", "image/webp", "RGB")])
def test_png_and_webp_accepted(upload, reported_incident, attachments_dir, fmt, content_type, mode):
    response = upload("dispatcher", _path(reported_incident), image_bytes(fmt, mode=mode), name="x.bin")
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == content_type
    row = Attachment.objects.get(pk=response.json()["id"])
    assert Image.open(attachments_dir / row.file_name).format == fmt


def test_work_order_photos_by_its_department(upload, reported_incident, api_as):
    order = order_for(reported_incident, "city_management")
    path = f"/api/work-orders/{order['id']}/attachments/"
    response = upload("city_management_staff", path, jpeg_with_gps(), kind="before")
    assert response.status_code == 201, response.content
    assert response.json()["work_order"] == order["id"] and response.json()["kind"] == "before"
    event = TimelineEvent.objects.get(incident_id=reported_incident["id"], kind="attachment.added")
    assert event.work_order_id == order["id"] and event.data["work_order"] == order["id"]

    listed = api_as("city_management_lead").get(path)
    assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [response.json()["id"]]
    # On the incident's list too, for its department and the command center; another department sees the
    # incident (it has an order on it) but not city_management's order photos.
    assert len(api_as("dispatcher").get(_path(reported_incident)).json()) == 1
    assert api_as("traffic_police_staff").get(_path(reported_incident)).json() == []
    assert api_as("traffic_police_staff").get(response.json()["url"]).status_code == 404
    assert upload("traffic_police_staff", path, jpeg_with_gps()).status_code == 404


def test_another_department_gets_404_and_anonymous_401(upload, reported_incident, api_as, attachments_dir):
    made = upload("dispatcher", _path(reported_incident), jpeg_with_gps()).json()
    assert upload("environment_staff", _path(reported_incident), jpeg_with_gps()).status_code == 404
    assert api_as("environment_staff").get(_path(reported_incident)).status_code == 404
    assert api_as("environment_staff").get(made["url"]).status_code == 404
    assert api_as("environment_lead").get(made["thumbnail_url"]).status_code == 404
    assert api_as(None).get(made["url"]).status_code == 401
    assert api_as(None).get(_path(reported_incident)).status_code == 401
    assert upload(None, _path(reported_incident), jpeg_with_gps()).status_code == 401
    assert api_as("city_management_staff").get(made["url"]).status_code == 200  # its department has an order
    assert Attachment.objects.count() == 1 and len(stored_files(attachments_dir)) == 2


def test_count_limit(upload, reported_incident, settings, attachments_dir):
    settings.ATTACHMENTS_PER_INCIDENT = 2
    for _ in range(2):
        assert upload("dispatcher", _path(reported_incident), image_bytes("PNG")).status_code == 201
    response = upload("dispatcher", _path(reported_incident), image_bytes("PNG"))
    assert response.status_code == 409 and "file" in response.json()["errors"]
    assert Attachment.objects.count() == 2 and len(stored_files(attachments_dir)) == 4


def test_signed_link_serves_without_login_until_it_expires(upload, reported_incident, api_as, time_machine):
    from attachments.services.uploads import attachment_signed_url

    made = upload("dispatcher", _path(reported_incident), image_bytes("PNG")).json()
    url = attachment_signed_url(Attachment.objects.get(pk=made["id"]))
    assert api_as(None).get(url).status_code == 200
    assert api_as(None).get(url + "x").status_code == 404
    other = upload("dispatcher", _path(reported_incident), image_bytes("PNG")).json()
    assert api_as(None).get(url.replace(f"/{made['id']}/", f"/{other['id']}/")).status_code == 404
    time_machine.move_to("2100-01-01T00:00:00Z")
    assert api_as(None).get(url).status_code == 404


def test_heic_is_stored_as_jpeg(upload, reported_incident, attachments_dir):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 200, 3)).save(out, "HEIF")
    response = upload("dispatcher", _path(reported_incident), out.getvalue(), name="IMG_0001.HEIC")
    assert response.status_code == 201, response.content
    row = Attachment.objects.get(pk=response.json()["id"])
    assert row.content_type == "image/jpeg" and row.file_name.endswith(".jpg")
    assert Image.open(attachments_dir / row.file_name).format == "JPEG"
