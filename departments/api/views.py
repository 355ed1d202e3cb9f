"""Department, unit, district and work-order endpoints (thin; logic in departments.services)."""

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from departments.api.serializers import (
    DepartmentSerializer,
    ExtensionDecisionSerializer,
    ReturnDecisionSerializer,
    UnitPositionResultSerializer,
    UnitPositionSerializer,
    UnitSerializer,
    UnitStatusChangeSerializer,
    UnitStatusSerializer,
    WorkOrderActionSerializer,
    WorkOrderSerializer,
    work_orders_represented,
)
from departments.models import Department, District, Unit, WorkOrder
from departments.services.extensions import extension_decide
from departments.services.returns import return_decide
from departments.services.units import unit_position_report, unit_status_set
from departments.services.work_orders import work_order_act
from dispatch import access
from dispatch.core.i18n import localized
from dispatch.core.idempotency import idempotency_key_check
from dispatch.rest.filters import BOOLEAN_CHOICES, IdFilter, StrictFilterSet


class WorkOrderFilter(StrictFilterSet):
    department = django_filters.CharFilter(field_name="department__code")
    state = django_filters.CharFilter()
    incident = IdFilter(field_name="incident_id")
    unit = django_filters.CharFilter(field_name="unit__callsign")

    class Meta:
        model = WorkOrder
        fields = ["department", "state", "incident", "unit"]


class WorkOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = WorkOrderSerializer
    filterset_class = WorkOrderFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return work_orders_represented(access.work_orders_visible_to(self.request.user))

    @extend_schema(
        request=WorkOrderActionSerializer, responses=WorkOrderSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description="A retry with the same key and body acts no second time.")],
    )
    @action(detail=True, methods=["post"])
    def actions(self, request, pk=None):
        body = WorkOrderActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        work_order_act(
            actor=request.user, work_order_id=int(pk), action=data["action"], note=data["note"],
            reason=data["reason"], unit=data["unit"], reason_code=data["reason_code"], seconds=data["seconds"],
            pause_reason=data["pause_reason"],
            idempotency_key=idempotency_key_check(request.headers.get("Idempotency-Key")),
        )
        return Response(WorkOrderSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=ReturnDecisionSerializer, responses=WorkOrderSerializer,
                   summary="Uphold or reject a return (dispatcher; an order returned twice: supervisor)")
    @action(detail=True, methods=["post"], url_path="return-decision")
    def return_decision(self, request, pk=None):
        body = ReturnDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = return_decide(actor=request.user, work_order_id=int(pk), **body.validated_data)
        return Response(WorkOrderSerializer(order, context=self.get_serializer_context()).data)

    @extend_schema(request=ExtensionDecisionSerializer, responses=WorkOrderSerializer,
                   summary="Approve or reject an extension request (dispatcher, supervisor)")
    @action(detail=True, methods=["post"], url_path="extension-decision")
    def extension_decision(self, request, pk=None):
        body = ExtensionDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = extension_decide(actor=request.user, work_order_id=int(pk), **body.validated_data)
        return Response(WorkOrderSerializer(order, context=self.get_serializer_context()).data)


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DepartmentSerializer
    queryset = Department.objects.all()
    lookup_value_regex = r"\d+"


class UnitFilter(StrictFilterSet):
    department = django_filters.CharFilter(field_name="department__code")
    status = django_filters.ChoiceFilter(choices=Unit.Status.choices)
    # field_name is not the model's: the schema then documents the filter's own "true|false", not a boolean.
    on_duty = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_on_duty", field_name="roster", help_text="true: on the roster."
    )

    class Meta:
        model = Unit
        fields = ["department", "status", "on_duty"]

    def filter_on_duty(self, queryset, name, value):
        return queryset.filter(on_duty=value == "true")


class UnitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = UnitSerializer
    filterset_class = UnitFilter
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "patch", "post", "head", "options"]  # POST: the position action only

    def get_queryset(self):
        # The order each unit is working on and its incident, for a whole page in one query (``current_order``,
        # ``current_incident``).
        working = Prefetch(
            "work_orders", to_attr="working_orders",
            queryset=WorkOrder.objects.filter(state__in=WorkOrder.WORKING_STATES).select_related("incident")
            .order_by("-updated_at", "-id"),
        )
        return access.units_visible_to(self.request.user).select_related("department").prefetch_related(
            "districts", working
        )

    @extend_schema(request=UnitStatusSerializer, responses=UnitSerializer)
    def partial_update(self, request, pk=None):
        body = UnitStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "status" in body.validated_data or "on_duty" in body.validated_data:  # PATCH: nothing given, nothing changed
            unit_status_set(
                actor=request.user, unit_id=int(pk), status=body.validated_data.get("status"),
                on_duty=body.validated_data.get("on_duty"), reason=body.validated_data.get("reason", ""),
            )
        else:
            self.get_object()  # still 404 for a unit the caller may not see
        return Response(UnitSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=UnitPositionSerializer, responses=UnitPositionResultSerializer)
    @action(detail=True, methods=["post"])
    def position(self, request, pk=None):
        """The unit's crew (or a lead) reports where it is, with the device's time of the fix."""
        body = UnitPositionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _unit, stored = unit_position_report(actor=request.user, unit_id=int(pk), **body.validated_data)
        unit = UnitSerializer(self.get_object(), context=self.get_serializer_context()).data
        return Response({"stored": stored, "unit": unit})

    @extend_schema(responses=UnitStatusChangeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        """The unit's last 200 changes of status and roster, newest first."""
        unit = self.get_object()
        return Response(UnitStatusChangeSerializer(unit.status_changes.select_related("actor")[:200], many=True).data)


class DistrictsView(APIView):
    """Districts as a GeoJSON FeatureCollection."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        features = [
            {
                "type": "Feature",
                "id": d.pk,
                "properties": {"code": d.code, "name": d.name, "display_name": localized(d.name)},
                "geometry": {"type": "Polygon", "coordinates": [d.polygon + d.polygon[:1]] if d.polygon else []},
            }
            for d in District.objects.all()
        ]
        return Response({"type": "FeatureCollection", "features": features})
