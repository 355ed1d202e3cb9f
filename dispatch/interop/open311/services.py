"""Open311 GeoReport v2: the service list, and service requests as incidents (``source=open311``).

Only the domain side lives here; ``dispatch.interop.open311`` parses requests and renders JSON / XML. What the public
may read is decided here too: requests that came in through Open311, never the reporter's contact data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from attachments.models import Attachment
from attachments.services.images import CleanImage
from attachments.services.uploads import attachment_files_delete, attachment_record, attachment_signed_url
from departments.models import WorkOrder
from dispatch.core.errors import Invalid, NotFound
from dispatch.core.i18n import localized
from dispatch.models import ApiClient, Incident, Open311Request, Source, TimelineEvent
from dispatch.services.clients import api_client_for_key, api_client_touch
from dispatch.services.duplicates import duplicate_candidates
from dispatch.services.incidents import incident_report
from dispatch.services.selectors import final_states
from workflows.models import EventType

MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
OPEN, CLOSED = "open", "closed"


# --- services ----------------------------------------------------------------------------------------


def _active_event_types():
    return EventType.objects.filter(is_active=True, active_version__isnull=False).select_related("active_version")


def _attributes(spec) -> list[dict]:
    """Attribute definitions of a service. Workflow definitions have no notion of extra intake fields yet,
    so every service asks for none (``metadata`` false, an empty ``attributes`` list)."""
    return []


def _service(event_type: EventType) -> dict:
    spec = event_type.active_version.spec
    names = [event_type.code, *(str(v) for v in (event_type.name or {}).values() if v)] if isinstance(
        event_type.name, dict) else [event_type.code, str(event_type.name)]
    lead = next((d.department for s in spec.states.values() for d in s.dispatch), "")
    return {
        "service_code": event_type.code,
        "service_name": event_type.display_name,
        "description": localized(spec.description),
        "metadata": bool(_attributes(spec)),
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(names)),
        "group": lead,  # the first department its workflow dispatches to
    }


def open311_services() -> list[dict]:
    """One service per active event type."""
    return [_service(event_type) for event_type in _active_event_types()]


def open311_service_definition(*, service_code: str) -> dict:
    event_type = _active_event_types().filter(code=service_code).first()
    if event_type is None:
        raise NotFound(_("Unknown service_code %(code)s.") % {"code": service_code})
    return {"service_code": event_type.code, "attributes": _attributes(event_type.active_version.spec)}


# --- posting a request ---------------------------------------------------------------------------------


def open311_client(*, api_key: str) -> ApiClient | None:
    """The active Open311 client with this key, or None (the caller answers 403, GeoReport's "invalid
    api_key"). A department system's key is not an Open311 key."""
    client = api_client_for_key(api_key or "")
    if client is None or not client.in_force or client.kind != ApiClient.Kind.OPEN311 or not client.user.is_active:
        return None
    api_client_touch(client)
    return client


def open311_service_name(*, service_code: str) -> str:
    event_type = _active_event_types().filter(code=service_code).first()
    if event_type is None:
        raise NotFound(_("Unknown service_code %(code)s.") % {"code": service_code})
    return event_type.display_name


def open311_request_submit(
    *, client: ApiClient, intake: dict, service_code: str, media_url: str = "", attributes: dict | None = None,
    idempotency_key: str | None = None, media: CleanImage | None = None, media_name: str = "",
) -> Incident:
    """Create the incident of an Open311 request (validated intake, ``source=open311``), acted by the
    client's service account, and keep what Open311 adds. One transaction. ``media``: the photo posted with it
    (already checked), attached as evidence in that transaction (a repeated request attaches nothing more). A
    client's ``media_url`` is kept as text only: never fetched."""
    open311_service_name(service_code=service_code)
    attachment = None
    try:
        with transaction.atomic():
            incident, created = incident_report(
                actor=client.user, data={**intake, "source": Source.OPEN311}, idempotency_key=idempotency_key
            )
            Open311Request.objects.get_or_create(
                incident=incident,
                defaults={"client": client, "service_code": service_code, "media_url": media_url,
                          "attributes": attributes or {}},
            )
            if media is not None and created:
                attachment = attachment_record(actor=client.user, incident=incident, work_order=None, image=media,
                                               kind=Attachment.Kind.EVIDENCE, original_name=media_name)
    except BaseException:
        if attachment is not None:  # the row was rolled back (at commit): its files go too
            attachment_files_delete(attachment)
        raise
    return incident


def open311_duplicates_notice(incident: Incident) -> str | None:
    """The ``service_notice`` of a new request's answer: that it was attached to an earlier report of the same problem,
    or the public requests (those that came in through Open311) it may duplicate, nearest first; None otherwise.
    (GeoReport's answer has no field for a list, and clients check its fields.)"""
    if incident.merged_into_id is not None:
        return _("Reported before by others: handled together with the earlier report.")
    found = duplicate_candidates(event_type=incident.event_type, lat=incident.lat, lon=incident.lon,
                                 exclude_id=incident.pk)
    public = set(Incident.objects.filter(pk__in=[c.id for c in found], source=Source.OPEN311).values_list("pk", flat=True))
    numbers = [c.number for c in found if c.id in public]
    if not numbers:
        return None
    return _("Possibly reported already nearby: %(numbers)s.") % {"numbers": ", ".join(numbers[:3])}


# --- reading requests (public) -------------------------------------------------------------------------


def _reporters_photos():
    """The photos Open311 clients posted with requests (``media``): never one the command center or a department
    added later (those are not public), nor one erased with the report's personal data (``privacy``)."""
    return Attachment.objects.filter(
        work_order__isnull=True, uploaded_by__api_client__kind=ApiClient.Kind.OPEN311, erased_at__isnull=True,
    ).order_by("pk")


def _with_status(qs):
    """Incidents with what their public status needs: the latest public note, the type, the orders' departments."""
    latest_public_note = (
        TimelineEvent.objects.filter(incident=OuterRef("pk"), kind="incident.note", data__public=True)
        .order_by("-seq").values("data__text")[:1]
    )
    return (
        qs.annotate(public_note=Subquery(latest_public_note))
        .select_related("event_type", "workflow_version", "open311")
        .prefetch_related(
            Prefetch("work_orders", queryset=WorkOrder.objects.select_related("department")),
            # the photo posted with the request (media): its own, never a work order's
            Prefetch("attachments", queryset=_reporters_photos(), to_attr="evidence"),
        )
    )


def _public_requests():
    return _with_status(Incident.objects.filter(source=Source.OPEN311))


def open311_requests_query(
    *, ids: list[str] | None = None, service_codes: list[str] | None = None,
    start: datetime | None = None, end: datetime | None = None, statuses: list[str] | None = None,
) -> list[Incident]:
    """Requests by id (overrides every other argument), or by service, time window (default the last 90
    days; at most 90 days) and status; newest first, at most 1000."""
    qs = _public_requests()
    if ids:
        return list(qs.filter(number__in=ids).order_by("-created_at", "-id")[:MAX_REQUESTS])
    if start and end and end - start > DEFAULT_WINDOW:
        raise Invalid(_("start_date and end_date may not span more than 90 days."),
                      {"end_date": [_("At most 90 days after start_date.")]})
    if start is None:
        start = (end or timezone.now()) - DEFAULT_WINDOW
    qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    if service_codes:
        qs = qs.filter(event_type__code__in=service_codes)
    if statuses and set(statuses) != {OPEN, CLOSED}:
        finals = final_states()
        qs = qs.filter(state__in=finals) if CLOSED in statuses else qs.exclude(state__in=finals)
    return list(qs.order_by("-created_at", "-id")[:MAX_REQUESTS])


def open311_request(*, service_request_id: str) -> Incident:
    incident = _public_requests().filter(number=service_request_id).first()
    if incident is None:
        raise NotFound(_("Unknown service_request_id %(id)s.") % {"id": service_request_id})
    return incident


def _w3c(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def open311_request_view(incident: Incident) -> dict:
    """A request as GeoReport v2 shows it, to anyone: never the reporter's name, phone or email. A request merged into
    another incident (the same problem reported before) answers that incident's status, notes, departments and
    times, so its citizen sees the problem handled; its own texts and place stay its own."""
    handled = incident
    notice = ""
    if incident.merged_into_id is not None:
        handled = _with_status(Incident.objects.filter(pk=incident.merged_into_id)).first() or incident
        notice = _("Reported before by others: handled together with the earlier report, whose status is shown.")
    spec = handled.workflow_version.spec
    state = spec.states.get(handled.state)
    extra = getattr(incident, "open311", None)
    agencies = dict.fromkeys(
        localized(wo.department.name) or wo.department.code
        for wo in sorted(handled.work_orders.all(), key=lambda wo: wo.pk)
    )
    return {
        "service_request_id": incident.number,
        "status": CLOSED if state is not None and state.final else OPEN,
        "status_notes": getattr(handled, "public_note", None) or "",  # the latest note marked public
        "service_name": incident.event_type.display_name,
        "service_code": incident.event_type.code,
        "description": incident.description,
        "agency_responsible": ", ".join(agencies),
        "service_notice": notice,
        "requested_datetime": _w3c(incident.created_at),
        "updated_datetime": _w3c(max(incident.updated_at, handled.updated_at)),
        "expected_datetime": _w3c(handled.sla_due_at),
        "address": incident.address,
        "address_id": None,
        "zipcode": None,
        "lat": incident.lat,
        "long": incident.lon,
        "media_url": open311_media_url(incident) or (extra.media_url if extra is not None else ""),
    }


def open311_media_url(incident: Incident) -> str | None:
    """The signed link (path) of the photo posted with the request, while it is valid; None otherwise. The link
    opens the file without signing in, to whoever holds it: GeoReport's requests are public, and so is a photo
    the reporter sent with one, for ``ATTACHMENT_SIGNED_URL_SECONDS`` after it came in."""
    evidence = getattr(incident, "evidence", None)
    if evidence is None:
        evidence = list(_reporters_photos().filter(incident=incident)[:1])
    return attachment_signed_url(evidence[0]) if evidence else None
