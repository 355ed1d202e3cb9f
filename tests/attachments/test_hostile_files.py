"""Hostile files are refused with 400 naming ``file``, and nothing is stored: no row, no file, no timeline row."""

import io

import pytest
from PIL import Image

from attachments.models import Attachment
from dispatch.models import TimelineEvent
from tests.attachments.conftest import image_bytes, jpeg_with_comment, jpeg_with_gps, png_bomb, stored_files

pytestmark = pytest.mark.django_db

SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()


HOSTILE = {
    "text renamed .jpg": (b"just some text, not a photo\n" * 10, "photo.jpg"),
    "truncated JPEG": (jpeg_with_gps(size=(400, 300))[:-600], "cut.jpg"),
    "decompression bomb": (png_bomb(), "bomb.png"),
    "SVG with script": (SVG, "image.svg"),
    "GIF": (_gif(), "anim.gif"),
    "HTML": (b"<!DOCTYPE html><html><body>hi</body></html>", "page.jpg"),
    "PDF": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "doc.pdf"),
    "polyglot: JPEG + script appended": (jpeg_with_gps() + b"<script>alert(1)</script>", "poly.jpg"),
    "polyglot: JPEG + bytes after EOI": (jpeg_with_gps() + b"PK\x03\x04zipzipzip", "poly.jpg"),
    "polyglot: PNG + bytes after IEND": (image_bytes("PNG") + b"\x00\x01trailing", "poly.png"),
    "polyglot: WebP + bytes after RIFF": (image_bytes("WEBP") + b"trailing", "poly.webp"),
    "JPEG with <html> in a COM segment": (jpeg_with_comment(b"<html><script>alert(1)</script></html>"), "c.jpg"),
    "empty": (b"", "empty.jpg"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_refused_and_nothing_stored(upload, reported_incident, attachments_dir, case):
    data, name = HOSTILE[case]
    response = upload("dispatcher", f"/api/incidents/{reported_incident['id']}/attachments/", data, name=name)
    assert response.status_code == 400, (case, response.content)
    assert "file" in response.json()["errors"], response.json()
    assert Attachment.objects.count() == 0
    assert stored_files(attachments_dir) == []
    assert not TimelineEvent.objects.filter(kind="attachment.added").exists()


def test_oversized_file(upload, reported_incident, attachments_dir, settings):
    settings.ATTACHMENT_MAX_BYTES = 2000
    data = image_bytes("PNG", size=(400, 400), mode="RGB")
    noisy = Image.effect_noise((200, 200), 60).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 2000
    response = upload("dispatcher", f"/api/incidents/{reported_incident['id']}/attachments/", out.getvalue())
    assert response.status_code == 400 and "file" in response.json()["errors"]
    assert Attachment.objects.count() == 0 and stored_files(attachments_dir) == []
    assert upload("dispatcher", f"/api/incidents/{reported_incident['id']}/attachments/", data).status_code in (
        201,
        400,
    )


def test_bad_kind_and_missing_file(upload, reported_incident, api_as):
    path = f"/api/incidents/{reported_incident['id']}/attachments/"
    assert upload("dispatcher", path, image_bytes("PNG"), kind="selfie").status_code == 400
    response = api_as("dispatcher").client.post(path, {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["errors"]
    assert Attachment.objects.count() == 0
