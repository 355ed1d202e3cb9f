"""Major events (重大事件): open, list, read with the roll-up, add and remove incidents, hand over, close."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch.models import MajorEvent
from dispatch.rest.fields import NOT_BLANK, TextField
from dispatch.rest.filters import MAX_ID
from dispatch.services.major_events import (
    major_event_close,
    major_event_get,
    major_event_handoff,
    major_event_incidents,
    major_event_open,
    major_event_view,
    major_events_list,
)


class CommanderField(serializers.CharField):
    """A username, or a user id (a number is accepted as text too)."""

    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return super().to_internal_value(data)


class MajorEventCreateSerializer(serializers.Serializer):
    title = TextField(max_length=200, validators=[NOT_BLANK])
    incidents = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=500, default=list)
    commander = CommanderField(max_length=150, help_text=_("A dispatcher's or supervisor's username or id."))


class MajorEventIncidentsSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=500, default=list)
    remove = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=500, default=list)


class HandoffSerializer(serializers.Serializer):
    commander = CommanderField(max_length=150)
    note = TextField(max_length=2000, required=False, allow_blank=True, default="")


class CloseSerializer(serializers.Serializer):
    note = TextField(max_length=2000, required=False, allow_blank=True, default="")


class RollupSerializer(serializers.Serializer):
    incidents_by_state = serializers.DictField(child=serializers.IntegerField())
    open_orders_by_department = serializers.DictField(child=serializers.IntegerField())
    breaches = serializers.IntegerField()
    units_committed = serializers.IntegerField()
    reports = serializers.IntegerField()


class MajorEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    state = serializers.ChoiceField(choices=MajorEvent.State.choices)
    commander = serializers.CharField(allow_null=True, help_text=_("null: nobody yet (opened by a response plan)."))
    activation = serializers.IntegerField(allow_null=True, help_text=_("The plan activation that opened it, if one did."))
    incidents = serializers.ListField(child=serializers.IntegerField())
    incident_list = serializers.ListField(child=serializers.DictField())
    districts = serializers.ListField(child=serializers.CharField())
    rollup = RollupSerializer()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class MajorEventDetailSerializer(MajorEventSerializer):
    timeline = serializers.ListField(child=serializers.DictField())
    chain_intact = serializers.BooleanField()


class MajorEventListView(APIView):
    @extend_schema(summary="Major events (command roles), the latest first",
                   responses={200: MajorEventSerializer(many=True)})
    def get(self, request):
        state = request.query_params.get("state") or None
        return Response([major_event_view(m) for m in major_events_list(user=request.user, state=state)])

    @extend_schema(summary="Open a major event (dispatchers, supervisors)", request=MajorEventCreateSerializer,
                   responses={201: MajorEventDetailSerializer})
    def post(self, request):
        body = MajorEventCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        made = major_event_open(actor=request.user, title=body.validated_data["title"],
                                incident_ids=body.validated_data["incidents"], commander=body.validated_data["commander"])
        return Response(major_event_view(made, timeline=True), status=status.HTTP_201_CREATED)


class MajorEventDetailView(APIView):
    @extend_schema(summary="A major event with its roll-up and timeline", responses={200: MajorEventDetailSerializer})
    def get(self, request, pk: int):
        return Response(major_event_view(major_event_get(user=request.user, major_event_id=pk), timeline=True))


class MajorEventIncidentsView(APIView):
    @extend_schema(summary="Add and remove incidents", request=MajorEventIncidentsSerializer,
                   responses={200: MajorEventDetailSerializer})
    def post(self, request, pk: int):
        body = MajorEventIncidentsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = major_event_incidents(actor=request.user, major_event_id=pk, **body.validated_data)
        return Response(major_event_view(changed, timeline=True))


class MajorEventHandoffView(APIView):
    @extend_schema(summary="Hand command over", request=HandoffSerializer, responses={200: MajorEventDetailSerializer})
    def post(self, request, pk: int):
        body = HandoffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = major_event_handoff(actor=request.user, major_event_id=pk, **body.validated_data)
        return Response(major_event_view(changed, timeline=True))


class MajorEventCloseView(APIView):
    @extend_schema(summary="Close (409 while an incident in it is open)", request=CloseSerializer,
                   responses={200: MajorEventDetailSerializer})
    def post(self, request, pk: int):
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        closed = major_event_close(actor=request.user, major_event_id=pk, note=body.validated_data["note"])
        return Response(major_event_view(closed, timeline=True))
