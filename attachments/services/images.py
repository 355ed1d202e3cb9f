"""Checking and cleaning an uploaded photo: the one gate every stored image passes.

Pure (no database, no storage): bytes in, cleaned bytes out, or ``Invalid`` naming ``file``. An upload is read up to
``ATTACHMENT_MAX_BYTES`` (one byte more means too large), refused when it carries markup (``<script``, ``<html``,
``<svg``, ``<?php`` ... anywhere: a polyglot a browser could be talked into rendering) or bytes after the image's own
end (JPEG's EOI, PNG's IEND, WebP's RIFF size), opened by Pillow with a pixel ceiling (a decompression bomb is an
error, not a warning) and accepted only as JPEG, PNG, WebP (HEIC when ``pillow-heif`` is installed). What is stored
is never the upload: the pixels are decoded, turned upright (EXIF orientation) and re-encoded without any metadata
(no EXIF, GPS, XMP, ICC comments), so nothing the camera wrote survives. A thumbnail (longest side 320 px, JPEG)
is made from the same pixels.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from dispatch.core.errors import Invalid

try:  # HEIC (iPhone photos) when the optional wheel is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt; a platform without its wheel
    HEIC = False

MAX_PIXELS = 40_000_000  # 40 MP: a phone's largest photo; more is refused before decoding
THUMBNAIL_SIDE = 320
# Pillow's own ceiling (process-wide): a warning above it, an error above twice it; both are refusals here.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow format -> (stored format, content type, extension). HEIC is stored as JPEG (browsers do not show HEIC).
FORMATS = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
}
if HEIC:
    FORMATS["HEIF"] = ("JPEG", "image/jpeg", "jpg")
EXTENSIONS = {content_type: ext for _fmt, content_type, ext in FORMATS.values()}
# Markup a browser (or a PHP server) would run, anywhere in the bytes, case-insensitive. Each signature is long
# enough (tag plus the character after it) that compressed pixel data matches it by chance about once in 10^3
# ten-megabyte photos, not more: a false refusal costs a re-upload, a missed polyglot nothing served (CSP, nosniff).
MARKUP = re.compile(rb"<(script|iframe)[\s>/]|<(html|svg)[\s>]|<\?php|<!doctype\s+html|javascript:", re.IGNORECASE)


@dataclass(frozen=True)
class CleanImage:
    """An accepted photo as it is stored: metadata-free bytes, its thumbnail and what the row records."""

    data: bytes
    thumbnail: bytes
    sha256: str
    content_type: str
    extension: str
    width: int
    height: int


def _refuse(message: str) -> Invalid:
    return Invalid(_("The file is not an acceptable image."), {"file": [message]})


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def image_read(stream: IO[bytes]) -> bytes:
    """At most ``ATTACHMENT_MAX_BYTES`` of ``stream``; more -> 400 naming ``file``."""
    limit = max_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _refuse(_("The file is larger than %(mb)s MB.") % {"mb": round(limit / (1024 * 1024), 1)})
    if not data:
        raise _refuse(_("The file is empty."))
    return data


def _trailing_bytes(data: bytes, fmt: str) -> bool:
    """Whether bytes follow the image's own end (a polyglot carries its second file there)."""
    if fmt == "JPEG":
        end = data.rfind(b"\xff\xd9")
        return end == -1 or data[end + 2 :].strip(b"\x00") != b""
    if fmt == "PNG":
        end = data.rfind(b"IEND")
        return end == -1 or len(data) > end + 8  # "IEND" and its 4-byte CRC close the file
    if fmt == "WEBP":
        if len(data) < 12 or data[:4] != b"RIFF":
            return True
        (size,) = struct.unpack("<I", data[4:8])
        return len(data) > size + 8 + (size & 1)
    return False


def image_clean(data: bytes) -> CleanImage:
    """``data`` checked and re-encoded (see the module), or ``Invalid`` naming ``file``."""
    if MARKUP.search(data):
        raise _refuse(_("The file contains markup or script; only plain photos are accepted."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                if fmt not in FORMATS:
                    raise _refuse(_("Only JPEG, PNG and WebP photos are accepted."))
                if probe.width * probe.height > MAX_PIXELS:
                    raise _refuse(_("The image has too many pixels."))
                probe.verify()  # structure and checksums, without decoding the pixels
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decode all pixels: a truncated file fails here
                upright = ImageOps.exif_transpose(image)
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError):
        raise _refuse(_("The file is not a readable JPEG, PNG or WebP image.")) from None
    if fmt != "HEIF" and _trailing_bytes(data, fmt):
        raise _refuse(_("The file has data after the end of the image."))
    stored_format, content_type, extension = FORMATS[fmt]
    cleaned = _encode(upright, stored_format)
    thumbnail = upright.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return CleanImage(
        data=cleaned,
        thumbnail=_encode(thumbnail, "JPEG"),
        sha256=hashlib.sha256(cleaned).hexdigest(),
        content_type=content_type,
        extension=extension,
        width=upright.width,
        height=upright.height,
    )


def _encode(image: Image.Image, fmt: str) -> bytes:
    """``image``'s pixels alone in ``fmt``: a fresh image, so no info (EXIF, XMP, ICC, comments) carries over."""
    if fmt == "JPEG":
        mode = "RGB"
    elif fmt == "PNG":
        mode = image.mode if image.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16") else "RGBA"
    else:
        mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    pixels = image.convert(mode) if image.mode != mode else image
    bare = Image.new(pixels.mode, pixels.size)
    if pixels.mode == "P":
        bare.putpalette(pixels.getpalette() or [])
    bare.paste(pixels)
    out = io.BytesIO()
    if fmt == "JPEG":
        bare.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        bare.save(out, "PNG", optimize=True)
    else:
        bare.save(out, "WEBP", quality=85)
    return out.getvalue()
