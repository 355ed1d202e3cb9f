"""Streamed exports of incidents, timeline rows and audit records (JSON lines or CSV), scoped to what the caller may see. They read
the read replica when one is configured (``dispatch.core.replica``), and say how current it is (``X-Data-As-Of``)."""

import csv
import json
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from dispatch import access
from dispatch.api.serializers import mask_name, mask_phone
from dispatch.core.replica import reading_db, replica_as_of, stamp_as_of
from identity.models import AuditRecord

EXPORT_CHUNK = 500


class _OwnFormatParameter:
    """``?format=`` is this endpoint's own parameter (jsonl, csv), not DRF's renderer override; errors
    are still JSON."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type



INCIDENT_COLUMNS = [
    "id", "number", "event_type", "state", "severity", "urgency", "title", "description", "lat", "lon", "address",
    "district", "reporter_name", "reporter_phone", "reporter_confidential", "source", "external_id", "created_at",
    "updated_at",
]
TIMELINE_COLUMNS = ["incident", "number", "seq", "at", "kind", "actor", "data", "hash"]
AUDIT_COLUMNS = ["id", "at", "event", "level", "username", "address", "data"]
FORMATS = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
EXPORT_PARAMETERS = [
    OpenApiParameter("format", str, enum=list(FORMATS), required=False, description="jsonl (default) or csv"),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, required=False),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, required=False),
]


class _Echo:
    """csv.writer target that hands each row back instead of buffering it."""

    def write(self, value):
        return value


def _format(request) -> str:
    fmt = request.query_params.get("format", "jsonl")
    if fmt not in FORMATS:
        raise ValidationError({"format": [_("One of: %(f)s.") % {"f": ", ".join(FORMATS)}]})
    return fmt


def _window(request) -> dict:
    out, errors = {}, {}
    for name in ("created_after", "created_before"):
        raw = request.query_params.get(name)
        if raw is None:
            continue
        try:
            value = parse_datetime(raw.strip())
        except ValueError:
            value = None
        if value is None:
            errors[name] = [_("An ISO-8601 date and time, e.g. 2026-11-24T08:00:00+08:00.")]
            continue
        out[name] = value if timezone.is_aware(value) else timezone.make_aware(value)
    if errors:
        raise ValidationError(errors)
    return out


def _stream(rows, columns: list[str], fmt: str, filename: str, as_of: datetime | None) -> StreamingHttpResponse:
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def lines():
            yield "\ufeff" + writer.writerow(columns)  # a BOM, so spreadsheet programs read UTF-8
            for row in rows:
                yield writer.writerow([
                    json.dumps(row[c], ensure_ascii=False, sort_keys=True) if isinstance(row[c], dict)
                    else ("" if row[c] is None else row[c]) for c in columns
                ])
    else:
        def lines():
            for row in rows:
                yield json.dumps(row, ensure_ascii=False, cls=DjangoJSONEncoder) + "\n"

    response = StreamingHttpResponse((line.encode("utf-8") for line in lines()), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["X-Accel-Buffering"] = "no"
    stamp_as_of(response, as_of)
    return response


class IncidentExportView(_OwnFormatParameter, APIView):
    """Every incident the caller may see, streamed (``?format=jsonl|csv``, ``created_after``/``created_before``);
    reporter data masked as in the API for the caller's role."""

    @extend_schema(parameters=EXPORT_PARAMETERS,
                   responses={(200, "application/x-ndjson"): OpenApiTypes.STR, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        fmt, window = _format(request), _window(request)
        using = reading_db()
        as_of = replica_as_of(using)  # before the rows: they are at least as current
        incidents = (
            access.incidents_visible_to(request.user)
            .using(using)
            .select_related("event_type", "district")
            .order_by("created_at", "id")
        )
        if "created_after" in window:
            incidents = incidents.filter(created_at__gte=window["created_after"])
        if "created_before" in window:
            incidents = incidents.filter(created_at__lt=window["created_before"])
        user = request.user

        def rows():
            for incident in incidents.iterator(chunk_size=EXPORT_CHUNK):
                clear = access.can_see_reporter(user, incident)
                yield {
                    "id": incident.pk, "number": incident.number, "event_type": incident.event_type.code,
                    "state": incident.state, "severity": incident.severity, "urgency": incident.urgency,
                    "title": incident.title, "description": incident.description, "lat": incident.lat,
                    "lon": incident.lon, "address": incident.address,
                    "district": incident.district.code if incident.district_id else None,
                    "reporter_name": incident.reporter_name if clear else mask_name(incident.reporter_name),
                    "reporter_phone": incident.reporter_phone if clear else mask_phone(incident.reporter_phone),
                    "reporter_confidential": incident.reporter_confidential, "source": incident.source,
                    "external_id": incident.external_id, "created_at": incident.created_at.isoformat(),
                    "updated_at": incident.updated_at.isoformat(),
                }

        return _stream(rows(), INCIDENT_COLUMNS, fmt, "incidents", as_of)


class TimelineExportView(_OwnFormatParameter, APIView):
    """Timeline rows the caller may read, across incidents, streamed oldest first (``?format=jsonl|csv``;
    ``created_after``/``created_before`` bound the row's time)."""

    @extend_schema(parameters=EXPORT_PARAMETERS,
                   responses={(200, "application/x-ndjson"): OpenApiTypes.STR, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        fmt, window = _format(request), _window(request)
        using = reading_db()
        as_of = replica_as_of(using)
        events = access.timeline_rows_visible_to(request.user).using(using).order_by("at", "incident_id", "seq")
        if "created_after" in window:
            events = events.filter(at__gte=window["created_after"])
        if "created_before" in window:
            events = events.filter(at__lt=window["created_before"])
        values = events.values_list("incident_id", "incident__number", "seq", "at", "kind", "actor_label", "data", "hash")

        def rows():
            for incident_id, number, seq, at, kind, actor, data, digest in values.iterator(chunk_size=EXPORT_CHUNK):
                yield {"incident": incident_id, "number": number, "seq": seq, "at": at.isoformat(), "kind": kind,
                       "actor": actor, "data": data, "hash": digest}

        return _stream(rows(), TIMELINE_COLUMNS, fmt, "timeline", as_of)


class AuditExportView(_OwnFormatParameter, APIView):
    """The audit records, oldest first (``?format=jsonl|csv``; ``created_after``/``created_before`` bound their time,
    ``event`` names one kind): supervisors and administrators only (403 for anyone else)."""

    @extend_schema(parameters=[*EXPORT_PARAMETERS, OpenApiParameter("event", str, required=False,
                                                                     description="e.g. auth.login_failed")],
                   responses={(200, "application/x-ndjson"): OpenApiTypes.STR, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        if not access.may_export_audit(request.user):
            raise PermissionDenied()
        fmt, window = _format(request), _window(request)
        using = reading_db()
        as_of = replica_as_of(using)
        records = AuditRecord.objects.using(using).order_by("at", "id")
        if "created_after" in window:
            records = records.filter(at__gte=window["created_after"])
        if "created_before" in window:
            records = records.filter(at__lt=window["created_before"])
        event = request.query_params.get("event")
        if event is not None:
            if not event.strip():
                raise ValidationError({"event": [_("An event name, e.g. auth.login_failed.")]})
            records = records.filter(event=event.strip())
        values = records.values_list(*AUDIT_COLUMNS)

        def rows():
            for row in values.iterator(chunk_size=EXPORT_CHUNK):
                record = dict(zip(AUDIT_COLUMNS, row, strict=True))
                record["at"] = record["at"].isoformat()
                yield record

        return _stream(rows(), AUDIT_COLUMNS, fmt, "audit", as_of)
