"""Incident endpoints: thin adapters between HTTP and ``dispatch.services.incidents``."""

import csv
import io
import json

import django_filters
from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from departments.api.serializers import work_orders_represented
from departments.models import WorkOrder
from departments.services.clocks import incident_clock
from dispatch import access
from dispatch.api.serializers import (
    DuplicateCandidateSerializer,
    DuplicatesQuerySerializer,
    ErasedReporterSerializer,
    EraseRequestSerializer,
    IncidentClockSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    LocateRequestSerializer,
    MergeRequestSerializer,
    NoteRequestSerializer,
    RevealedReporterSerializer,
    RevealRequestSerializer,
    TimelineEventSerializer,
    TimelineExportSerializer,
    TimelineVerifySerializer,
    TransitionRequestSerializer,
    UnmergeRequestSerializer,
    WsTicketSerializer,
)
from dispatch.core.idempotency import idempotency_key_check
from dispatch.core.timeline import timeline_verify
from dispatch.live.auth import ticket_issue
from dispatch.models import Incident
from dispatch.rest.filters import (
    BOOLEAN_CHOICES,
    IntegerFilter,
    SafeIsoDateTimeFilter,
    StrictFilterSet,
    TrueFalseFilter,
)
from dispatch.services.duplicates import (
    duplicate_candidates_for,
    duplicate_candidates_preview,
    incident_merge,
    incident_unmerge,
)
from dispatch.services.incidents import (
    incident_note_add,
    incident_report,
    incident_transition,
)
from dispatch.services.locations import incident_locate
from dispatch.services.selectors import console_figures, final_states
from identity.services.credentials import credential_of_request
from privacy.services.reporters import reporter_erase, reporter_reveal


class IncidentFilter(StrictFilterSet):
    number = django_filters.CharFilter(help_text="exactly this incident number (INC-YYYYMMDD-NNNNN)")
    state = django_filters.CharFilter()
    event_type = django_filters.CharFilter(field_name="event_type__code")
    severity = IntegerFilter()
    district = django_filters.CharFilter(field_name="district__code")
    department = django_filters.CharFilter(method="filter_department")
    search = django_filters.CharFilter(method="filter_search", help_text="Number, title or address contains.")
    open = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_open", help_text="true: not in a final state; false: final."
    )
    needs_location = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_needs_location",
        help_text="true: no district and no confirmed place outside the city (its orders wait for a location).",
    )
    merged = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_merged",
        help_text="true: reports merged into another incident (?auto_merged=true: those attached by a surge's "
                  "auto-attach); false: the incidents that carry work.",
    )
    auto_merged = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_auto_merged",
        help_text="true: reports created already merged by a definition's auto-attach.",
    )
    exercise = TrueFalseFilter(method="filter_exercise", help_text="true: drills only; false: real incidents only.")
    created_after = SafeIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = SafeIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = [
            "number", "state", "event_type", "severity", "district", "department", "created_after", "created_before", "search",
            "open", "needs_location", "merged", "auto_merged", "exercise",
        ]

    def filter_open(self, queryset, name, value):
        finals = final_states()
        return queryset.exclude(state__in=finals) if value == "true" else queryset.filter(state__in=finals)

    def filter_merged(self, queryset, name, value):
        return queryset.filter(merged_into__isnull=value != "true")

    def filter_exercise(self, queryset, name, value):
        return queryset.filter(exercise=value == "true")

    def filter_auto_merged(self, queryset, name, value):
        return queryset.filter(merged_automatically=value == "true")

    def filter_needs_location(self, queryset, name, value):
        waiting = Q(district__isnull=True, location_outside_city=False)
        return queryset.filter(waiting) if value == "true" else queryset.exclude(waiting)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(title__icontains=value) | Q(address__icontains=value))

    def filter_department(self, queryset, name, value):
        return queryset.filter(
            Exists(WorkOrder.objects.filter(incident=OuterRef("pk"), department__code=value))
        )


def _as_committed_without_orders(incident: Incident) -> None:
    """Mark a just-reported incident's orders as read (none), as ``IncidentViewSet.get_queryset`` would have."""
    empty = WorkOrder.objects.none()
    empty._result_cache, empty._prefetch_done = [], True
    incident._prefetched_objects_cache = {"work_orders": empty}
    incident.visible_work_orders = []


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IncidentSerializer
    lookup_value_regex = r"\d+"
    filterset_class = IncidentFilter

    def get_queryset(self):
        return access.incidents_visible_to(self.request.user).select_related(
            "event_type", "workflow_version", "district"
        ).prefetch_related("work_orders", self._visible_orders())

    def _visible_orders(self) -> Prefetch:
        # Two prefetches for a whole page: every order's department (roles on transitions), and the orders the
        # caller may see, as the response lists them (one query, not one per incident).
        visible = work_orders_represented(access.work_orders_visible_to(self.request.user))
        return Prefetch("work_orders", queryset=visible.order_by("id"), to_attr="visible_work_orders")

    def _with_orders(self, incident: Incident) -> Incident:
        """``incident`` as a service just committed it, its orders read as ``get_queryset`` reads them: the visible
        orders' query, the widest this API compiles, only when the incident has orders at all (a report triaged
        right after its intake has none). Re-reading the incident with ``get_object`` after a transition was a
        third of the transition's CPU in the server, most of it compiling that query (py-spy, under the storm)."""
        incident._prefetched_objects_cache = {}
        prefetch_related_objects([incident], "work_orders")
        if incident.work_orders.all():
            prefetch_related_objects([incident], self._visible_orders())
        else:
            incident.visible_work_orders = []
        return incident

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 200: IncidentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    def create(self, request):
        if not access.can_report_incident(request.user):
            raise PermissionDenied()
        intake = IncidentCreateSerializer(data=request.data)
        intake.is_valid(raise_exception=True)
        key = idempotency_key_check(request.headers.get("Idempotency-Key"))
        incident, created = incident_report(actor=request.user, data=intake.validated_data, idempotency_key=key)
        if created:
            # The instance in hand has its event type, version and district, and no work order: the routing job
            # runs after this commit (the orders arrive on the live streams). The 201 is the incident as this
            # request committed it, so nothing is read again (profiled: the two order reads were a sixth of an
            # intake's CPU in the ASGI server).
            _as_committed_without_orders(incident)
        else:
            incident = self.get_queryset().filter(pk=incident.pk).first() or incident
        body = IncidentSerializer(incident, context=self.get_serializer_context()).data
        body["duplicate_candidates"] = [c.as_dict() for c in duplicate_candidates_for(user=request.user, incident=incident)]
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Open incidents a report at this place may duplicate (before reporting it)",
        parameters=[
            OpenApiParameter("event_type", str, required=True),
            OpenApiParameter("lat", {"type": "number", "minimum": -90, "maximum": 90}, required=True),
            OpenApiParameter("lon", {"type": "number", "minimum": -180, "maximum": 180}, required=True),
        ],
        responses={200: DuplicateCandidateSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def duplicates(self, request):
        if not access.can_report_incident(request.user):
            raise PermissionDenied()
        query = DuplicatesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = duplicate_candidates_preview(user=request.user, **query.validated_data)
        return Response([c.as_dict() for c in found])

    @extend_schema(request=MergeRequestSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge this report into another incident (dispatchers): answers the survivor."""
        body = MergeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        survivor = incident_merge(actor=request.user, incident_id=int(pk), into_id=body.validated_data["into"],
                                  note=body.validated_data["note"])
        incident = self.get_queryset().get(pk=survivor.pk)
        return Response(IncidentSerializer(incident, context=self.get_serializer_context()).data)

    @extend_schema(request=UnmergeRequestSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def unmerge(self, request, pk=None):
        """Restore a merged report as an open incident, routed again (dispatchers)."""
        body = UnmergeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident_unmerge(actor=request.user, incident_id=int(pk), note=body.validated_data["note"])
        return Response(IncidentSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=TransitionRequestSerializer, responses=IncidentSerializer)
    @action(detail=True, methods=["post"])
    def transitions(self, request, pk=None):
        body = TransitionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = incident_transition(
            actor=request.user, incident_id=int(pk), transition=body.validated_data["transition"],
            note=body.validated_data["note"], expected_state=body.validated_data["expected_state"] or None,
        )
        return Response(IncidentSerializer(self._with_orders(incident), context=self.get_serializer_context()).data)

    @extend_schema(responses={200: IncidentClockSerializer},
                   summary="The incident's clock, composed of its departments' clocks on their work orders")
    @action(detail=True, methods=["get"], pagination_class=None)
    def sla(self, request, pk=None):
        return Response(IncidentClockSerializer(incident_clock(self.get_object(), user=request.user)).data)

    @extend_schema(responses=TimelineEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request, pk=None):
        incident = self.get_object()
        events = access.timeline_visible_to(request.user, incident).order_by("seq")
        return Response(TimelineEventSerializer(events, many=True).data)

    @extend_schema(responses={200: TimelineVerifySerializer})
    @action(detail=True, methods=["get"], url_path="timeline/verify", pagination_class=None)
    def timeline_verify(self, request, pk=None):
        """Whether the incident's hash chain verifies, and the first row that does not."""

        incident = self.get_object()
        broken = timeline_verify(incident.pk)
        rows = access.timeline_visible_to(request.user, incident).count()
        return Response({"intact": broken is None, "first_broken_seq": broken, "rows": rows})

    @extend_schema(
        parameters=[OpenApiParameter("fmt", str, enum=["json", "csv"], required=False)],
        responses={(200, "text/csv"): str, (200, "application/json"): TimelineExportSerializer},
    )
    @action(detail=True, methods=["get"], url_path="timeline/export", pagination_class=None)
    def timeline_export(self, request, pk=None):
        """The timeline as a file (``?fmt=csv`` or ``json``), as the caller may see it."""

        incident = self.get_object()
        rows = TimelineEventSerializer(access.timeline_visible_to(request.user, incident).order_by("seq"), many=True).data
        fmt = request.query_params.get("fmt", "json")
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["seq", "at", "kind", "actor", "data", "hash"])
            for row in rows:
                writer.writerow([row["seq"], row["at"], row["kind"], row["actor"],
                                 json.dumps(row["data"], ensure_ascii=False, sort_keys=True), row["hash"]])
            response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
        elif fmt == "json":
            body = {"incident": incident.number, "timeline": rows}
            response = HttpResponse(json.dumps(body, ensure_ascii=False, indent=2, default=str),
                                    content_type="application/json; charset=utf-8")
        else:
            raise ValidationError({"fmt": ["One of: json, csv."]})
        response["Content-Disposition"] = f'attachment; filename="{incident.number}-timeline.{fmt}"'
        return response

    @extend_schema(request=RevealRequestSerializer, responses={200: RevealedReporterSerializer})
    @action(detail=True, methods=["post"], url_path="reveal-reporter")
    def reveal_reporter(self, request, pk=None):
        """Supervisors: the reporter's contact data in clear; the reason goes on the timeline."""

        body = RevealRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(reporter_reveal(actor=request.user, incident_id=int(pk), reason=body.validated_data["reason"]))

    @extend_schema(request=EraseRequestSerializer, responses={200: ErasedReporterSerializer})
    @action(detail=True, methods=["post"], url_path="erase-reporter")
    def erase_reporter(self, request, pk=None):
        """Supervisors: erase the reporter's personal data for good, at the request of the person concerned (PIPL
        art. 47); the reason goes on the timeline. 409 once erased."""

        body = EraseRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident = reporter_erase(actor=request.user, incident_id=int(pk), reason=body.validated_data["reason"])
        return Response(ErasedReporterSerializer(incident).data)

    @extend_schema(request=LocateRequestSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def location(self, request, pk=None):
        """Dispatchers: set where the incident is (a point and/or a district); orders waiting for a location are
        offered to units."""
        body = LocateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        point = body.validated_data["location"] or {}
        incident_locate(
            actor=request.user, incident_id=int(pk), lat=point.get("lat"), lon=point.get("lon"),
            district=body.validated_data["district"] or None, address=body.validated_data.get("address"),
            outside_city=body.validated_data["location_outside_city"],
        )
        return Response(IncidentSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=NoteRequestSerializer, responses={201: TimelineEventSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        body = NoteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = incident_note_add(
            actor=request.user, incident_id=int(pk), text=body.validated_data["text"], public=body.validated_data["public"]
        )
        return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)


class ConsoleFiguresView(APIView):
    """The console's live figures (dispatchers, supervisors, admins)."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        if not access.is_command(request.user):
            raise PermissionDenied()
        return Response(console_figures())


class WsTicketView(APIView):
    """A short-lived ticket for ``/ws/...?ticket=`` (clients that have no session cookie)."""

    @extend_schema(request=None, responses={200: WsTicketSerializer})
    def post(self, request):
        ticket = ticket_issue(request.user, credential_of_request(request))
        return Response({"ticket": ticket, "expires_in": settings.WS_TICKET_SECONDS})
