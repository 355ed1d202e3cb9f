from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from departments.models import Department, Unit, WorkOrder
from departments.services.work_orders import available_actions
from dispatch.core.i18n import localized
from dispatch.rest.fastfields import CachedFieldsMixin


class WorkOrderSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.SlugRelatedField(slug_field="callsign", read_only=True, allow_null=True)
    incident_number = serializers.CharField(source="incident.number", read_only=True)
    available_actions = serializers.SerializerMethodField()

    class Meta:
        model = WorkOrder
        fields = [
            "id", "incident", "incident_number", "department", "unit", "state", "priority", "dispatch_round",
            "created_at", "updated_at", "ack_due_at", "due_at", "attempts", "max_attempts", "escalation",
            "escalated_at", "available_actions",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_available_actions(self, obj):
        return available_actions(work_order=obj, user=self.context["request"].user)


class WorkOrderActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "decline", "depart", "arrive", "complete", "reassign", "cancel"])
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    unit = serializers.CharField(required=False, allow_null=True, default=None, max_length=32,
                                 help_text="Unit id or callsign (reassign).")


class DepartmentSerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Department
        fields = ["id", "code", "name", "display_name"]

    def get_display_name(self, obj) -> str:
        return localized(obj.name)


class UnitSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    districts = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "callsign", "department", "name", "display_name", "status", "districts", "lat", "lon", "updated_at"]
        read_only_fields = ["id", "callsign", "department", "name", "display_name", "districts", "lat", "lon", "updated_at"]

    def get_display_name(self, obj) -> str:
        return localized(obj.name)


class UnitStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Unit.Status.choices)
