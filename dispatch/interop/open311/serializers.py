"""GeoReport v2 input (form-encoded or JSON) and output (JSON or XML, the spec's element names)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from dispatch.api.serializers import IncidentCreateSerializer

# XML: the element of each list, by the list's own element name (GeoReport v2's documents).
ITEM_ELEMENT = {
    "services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
    "errors": "error",
}
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


class ServiceRequestForm(serializers.Serializer):
    """``POST requests.[format]``: the spec's arguments (``jurisdiction_id``, ``device_id`` and ``account_id``
    are accepted and not used; ``address_id`` is not a location here; ``attribute[CODE]`` is collected
    separately)."""

    api_key = serializers.CharField(max_length=200, error_messages={"required": _("api_key is required.")})
    service_code = serializers.SlugField(max_length=64, error_messages={"required": _("service_code is required.")})
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    long = serializers.FloatField(required=False, min_value=-180, max_value=180)
    address_string = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    last_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    phone = serializers.RegexField(r"^\+?[0-9 ()-]{3,40}$", required=False, allow_blank=True, default="", max_length=40)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    media_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=500)

    address_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate(self, data):
        has_point = "lat" in data or "long" in data
        if has_point and not ("lat" in data and "long" in data):
            raise serializers.ValidationError({"long" if "lat" in data else "lat": [_("lat and long go together.")]})
        if not has_point and not data["address_string"].strip():
            # The spec accepts address_id alone as the location; there is no address repository here to look
            # it up in, so it cannot locate anything on its own.
            if data["address_id"].strip():
                raise serializers.ValidationError({"address_id": [
                    _("address_id cannot be resolved by this server: send lat and long, or address_string.")]})
            raise serializers.ValidationError(
                {"lat": [_("A location is required: lat and long, or address_string.")]}
            )
        return data


def request_fields(request) -> tuple[dict, dict]:
    """The posted fields (form-encoded, multipart or JSON) and the ``attribute[CODE]`` values."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise serializers.ValidationError({"body": [_("Not a JSON object.")]})
        raw = {k: v for k, v in body.items() if k != "attribute"}
        attributes = body.get("attribute") if isinstance(body.get("attribute"), dict) else {}
    else:
        raw = {k: request.POST.get(k) for k in request.POST}
        attributes = {}
        for key in request.POST:
            if key.startswith("attribute[") and "]" in key:
                code = key[len("attribute["):key.index("]")]
                values = request.POST.getlist(key)
                attributes[code] = values if key.endswith("[]") or len(values) > 1 else values[0]
    # "A null parameter should be treated as equivalent to a non-declared parameter", and an empty one alike.
    raw = {k: v for k, v in raw.items() if not k.startswith("attribute[") and v is not None and v != ""}
    attributes = {str(k)[:64]: v for k, v in list(attributes.items())[:50]}
    return raw, attributes


def intake_from(form: dict, *, service_name: str) -> dict:
    """The incident intake an Open311 request amounts to, validated by the API's own intake serializer."""
    description = form["description"].strip()
    title = (description.splitlines()[0][:200] if description else "") or service_name
    name = " ".join(part for part in (form["first_name"].strip(), form["last_name"].strip()) if part)
    data = {
        "event_type": form["service_code"], "title": title, "description": description,
        "address": form["address_string"], "reporter": {"name": name, "phone": form["phone"]},
    }
    if "lat" in form:
        data["location"] = {"lat": form["lat"], "lon": form["long"]}
    intake = IncidentCreateSerializer(data=data)
    intake.is_valid(raise_exception=True)
    return intake.validated_data


def error_list(errors: dict, *, code: int = 400) -> list[dict]:
    """``{field: [messages]}`` as GeoReport errors: ``[{"code", "description"}]``, one per message."""
    out = []
    for field, messages in errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict):
                out.extend(error_list({f"{field}.{k}": v for k, v in message.items()}, code=code))
                continue
            text = str(message)
            out.append({"code": code, "description": text if field in ("non_field_errors", "body") else f"{field}: {text}"})
    return out


# --- rendering ---------------------------------------------------------------------------------------------


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        child = ITEM_ELEMENT[element.tag]
        for item in value:
            _fill(ET.SubElement(element, child), item)
    else:
        element.text = _text(value)


def to_xml(root: str, document) -> bytes:
    element = ET.Element(root)
    _fill(element, document)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def spark(value):
    """The JSON of a document as the spec's Spark convention maps its XML: an empty element is ``null``
    (the spec's examples: ``<description></description>`` is ``"description":null``)."""
    if isinstance(value, dict):
        return {key: spark(item) for key, item in value.items()}
    if isinstance(value, list):
        return [spark(item) for item in value]
    return None if value == "" else value


def render(document, *, fmt: str, root: str, status: int = 200) -> HttpResponse:
    """``document`` as JSON (empty text as ``null``), or as XML under ``root`` (a list's items named by
    ``ITEM_ELEMENT``; ``None`` as an empty element)."""
    if fmt == "xml":
        body = to_xml(root, document)
    else:
        body = json.dumps(spark(document), ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def render_errors(errors: list[dict], *, fmt: str, status: int) -> HttpResponse:
    return render(errors, fmt=fmt, root="errors", status=status)
