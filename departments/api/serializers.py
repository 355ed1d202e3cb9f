from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from departments.models import Department, Unit, UnitStatusChange, WorkOrder
from departments.services.work_orders import available_actions
from dispatch.core.i18n import localized
from dispatch.rest.fastfields import CachedFieldsMixin
from dispatch.rest.fields import TextField


class WorkOrderSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.SlugRelatedField(slug_field="callsign", read_only=True, allow_null=True)
    incident_number = TextField(source="incident.number", read_only=True)
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrder
        fields = [
            "id", "incident", "incident_number", "department", "unit", "state", "priority", "dispatch_round",
            "created_at", "updated_at", "ack_due_at", "due_at", "attempts", "max_attempts", "escalation",
            "escalated_at", "available_actions",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=TextField()))
    def get_available_actions(self, obj):
        return available_actions(work_order=obj, user=self.context["request"].user)


class WorkOrderActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "decline", "depart", "arrive", "complete", "reassign", "cancel"])
    note = TextField(required=False, allow_blank=True, default="", max_length=4000)
    reason = TextField(required=False, allow_blank=True, default="", max_length=4000)
    unit = serializers.CharField(required=False, allow_null=True, default=None, max_length=32,
                                 help_text="Unit id or callsign (reassign).")


class DepartmentSerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Department
        fields = ["id", "code", "name", "display_name"]

    def get_display_name(self, obj) -> str:
        return localized(obj.name)


class PositionSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    at = serializers.DateTimeField(help_text=_("Device time of the fix."))
    stale = serializers.BooleanField(help_text=_("Older than UNIT_POSITION_STALE_SECONDS: routing uses the base."))


class UnitSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    districts = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    display_name = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()
    current_order = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "callsign", "department", "name", "display_name", "status", "status_since", "on_duty",
                  "districts", "lat", "lon", "position", "current_order", "updated_at"]
        read_only_fields = fields

    def get_display_name(self, obj) -> str:
        return localized(obj.name)

    @extend_schema_field(PositionSerializer(allow_null=True))
    def get_position(self, obj: Unit) -> dict | None:
        if obj.position_at is None:
            return None
        return {"lat": obj.position_lat, "lon": obj.position_lon, "at": obj.position_at, "stale": not obj.position_fresh()}

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text=_("The order the unit is working on.")))
    def get_current_order(self, obj: Unit) -> int | None:
        working = getattr(obj, "working_orders", None)  # prefetched for a page by UnitViewSet
        if working is None:
            working = list(obj.work_orders.filter(state__in=WorkOrder.WORKING_STATES).order_by("-updated_at", "-id")[:1])
        return working[0].pk if working else None


class UnitStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Unit.Status.choices, required=False)
    on_duty = serializers.BooleanField(required=False, help_text=_("The roster: a unit off it is never offered an order."))
    reason = TextField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text=_("Why (kept in the unit's history)."))


class UnitPositionSerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    at = serializers.DateTimeField(help_text=_("Device time of the fix; an older fix than the one held is ignored."))


class UnitPositionResultSerializer(serializers.Serializer):
    stored = serializers.BooleanField(help_text=_("False: a newer fix was already held (this one arrived late)."))
    unit = UnitSerializer()


class UnitStatusChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = UnitStatusChange
        fields = ["at", "status", "previous", "on_duty", "source", "reason", "work_order", "actor"]
        read_only_fields = fields
