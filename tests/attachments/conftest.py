"""Photos for the attachment tests, made with Pillow, and a storage directory of each test's own."""

import io
import struct
import zlib

import pytest
from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size=(60, 40), orientation: int = 1) -> bytes:
    """A JPEG whose EXIF carries a GPSInfo IFD (latitude, longitude), a camera make and an orientation."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: orientation is visible
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 12.0, 36.0)
    gps[3] = "E"
    gps[4] = (121.0, 25.0, 48.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def image_bytes(fmt: str, size=(50, 50), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 40)).save(out, fmt)
    return out.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels, small on disk (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # a few rows of zeros; the rest is never reached
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg_with_comment(text: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(out, "JPEG", comment=text)
    return out.getvalue()


@pytest.fixture(autouse=True)
def attachments_dir(settings, tmp_path):
    """Each test stores its photos in a directory of its own (checked for leftovers by the hostile-file tests)."""
    location = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def stored_files(location) -> list:
    return sorted(p for p in location.rglob("*") if p.is_file()) if location.exists() else []


@pytest.fixture
def upload(api_as, django_capture_on_commit_callbacks):
    """``upload(username, path, data, name="photo.jpg", kind=None)`` -> the response of a multipart upload."""

    def do(username, path, data: bytes, name: str = "photo.jpg", kind: str | None = None):
        api = api_as(username)
        body = {"file": _named(data, name)}
        if kind is not None:
            body["kind"] = kind
        with django_capture_on_commit_callbacks(execute=True):
            return api.client.post(path, body, format="multipart")

    return do


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
