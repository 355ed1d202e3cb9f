"""CAP 1.2 endpoints: an incident's alert, the public-warning action and the Atom feed of alerts."""

from xml.etree import ElementTree as ET

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import access
from dispatch.api.serializers import TimelineEventSerializer
from dispatch.core.errors import Invalid
from dispatch.interop.cap.documents import CAP_KINDS, CONTENT_TYPE, cap_alert_xml
from dispatch.interop.cap.warnings import ACTIONS, incident_public_warning
from dispatch.models import TimelineEvent
from dispatch.rest.fields import NOT_BLANK, TextField
from plans.api.serializers import CapListItemSerializer, CapReceivedSerializer
from plans.services.warnings import cap_message_view, cap_messages_recent, cap_receive

EXPORT_CHUNK = 500
ATOM_NS = "http://www.w3.org/2005/Atom"


class IncidentCapView(APIView):
    """The incident's public warning as an OASIS CAP 1.2 alert (its latest message; a Draft preview before
    one is issued). Whoever may see the incident may read it."""

    @extend_schema(responses={(200, CONTENT_TYPE): OpenApiTypes.STR})
    def get(self, request, pk: int):
        incident = access.incidents_visible_to(request.user).select_related("event_type", "district").filter(pk=pk).first()
        if incident is None:
            raise NotFound(_("No such incident."))
        response = HttpResponse(cap_alert_xml(incident), content_type=f"{CONTENT_TYPE}; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{incident.number}.cap.xml"'
        return response


class PublicWarningRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(ACTIONS))
    headline = TextField(max_length=160, validators=[NOT_BLANK])
    instruction = TextField(max_length=2000, required=False, allow_blank=True, default="")
    area = TextField(max_length=300, required=False, allow_blank=True, default="",
                                 help_text=gettext_lazy("areaDesc; default: the incident's address."))
    radius_km = serializers.FloatField(min_value=0.01, max_value=500, required=False, allow_null=True, default=None)
    headline_zh = TextField(max_length=160, required=False, allow_blank=True, default="")
    instruction_zh = TextField(max_length=2000, required=False, allow_blank=True, default="")


class PublicWarningView(APIView):
    """Dispatchers and supervisors issue, update or cancel the incident's public warning (a CAP message)."""

    @extend_schema(request=PublicWarningRequestSerializer, responses={201: TimelineEventSerializer})
    def post(self, request, pk: int):
        body = PublicWarningRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = incident_public_warning(actor=request.user, incident_id=int(pk), **body.validated_data)
        return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)


class CapFeedView(APIView):
    """The current public alerts (issued or updated, not cancelled) the caller may see, as an Atom feed
    whose entries link to each incident's CAP document (the CAP-over-Atom convention)."""

    @extend_schema(responses={(200, "application/atom+xml"): OpenApiTypes.STR})
    def get(self, request):
        latest: dict[int, TimelineEvent] = {}
        rows = (
            TimelineEvent.objects.filter(kind__in=CAP_KINDS, incident__in=access.incidents_visible_to(request.user))
            .select_related("incident").order_by("incident_id", "seq")
        )
        for row in rows.iterator(chunk_size=EXPORT_CHUNK):
            latest[row.incident_id] = row
        current = sorted((r for r in latest.values() if r.kind != "cap.cancelled"), key=lambda r: r.at, reverse=True)
        ET.register_namespace("", ATOM_NS)
        feed = ET.Element(f"{{{ATOM_NS}}}feed")

        def text(parent, tag, value):
            ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}").text = value

        text(feed, "id", request.build_absolute_uri(request.path))
        text(feed, "title", _("Liandong public alerts"))
        text(feed, "updated", (current[0].at if current else timezone.now()).isoformat())
        ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=request.build_absolute_uri(request.path))
        for row in current:
            entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
            text(entry, "id", f"urn:liandong:cap:{row.data['identifier']}")
            text(entry, "title", row.data.get("headline") or row.incident.title)
            text(entry, "updated", row.at.isoformat())
            text(entry, "summary", row.data.get("instruction") or row.incident.title)
            ET.SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate", type=CONTENT_TYPE,
                          href=request.build_absolute_uri(f"/api/incidents/{row.incident_id}/cap/"))
        body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
        return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


class CapInboundView(APIView):
    """``POST /api/cap/inbound/``: a CAP 1.2 warning from a weather service (an API client of kind ``cap_source``)
    or an administrator; ``GET`` lists the warnings received (command roles), matched or not."""

    @extend_schema(
        summary="Receive a CAP 1.2 warning",
        description=("The body is the CAP 1.2 XML document (`Content-Type: application/cap+xml` or `application/xml`). "
                     "201 when it started, changed or ended a response plan activation; 200 when it matched nothing, "
                     "changed nothing, or the same sender + identifier was received before; 400 naming the problem "
                     "(under `errors.document`) when it is not valid CAP 1.2."),
        request={CONTENT_TYPE: OpenApiTypes.STR, "application/xml": OpenApiTypes.STR},
        responses={201: CapReceivedSerializer, 200: CapReceivedSerializer},
    )
    def post(self, request):
        if not access.may_post_cap(request.user):
            raise PermissionDenied(_("Only a CAP source's key or an administrator posts warnings."))
        received = cap_receive(actor=request.user, document=request.body)
        return Response({**cap_message_view(received.message), "repeated": received.repeated},
                        status=status.HTTP_201_CREATED if received.changed else status.HTTP_200_OK)

    @extend_schema(summary="Warnings received (command roles), the latest first",
                   parameters=[OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 100},
                                                description="how many (1..100, default 100)")],
                   responses={200: CapListItemSerializer(many=True)})
    def get(self, request):
        if not access.is_command(request.user):
            raise PermissionDenied(_("Only the command center sees the warnings received."))
        limit = request.query_params.get("limit", "100")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise Invalid(_("Invalid limit."), {"limit": [_("A whole number from 1 to 100.")]})
        return Response([cap_message_view(m, full=False) for m in cap_messages_recent(int(limit))])


# ---- exports ----------------------------------------------------------------------------------------------
