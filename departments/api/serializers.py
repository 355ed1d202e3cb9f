import re

from django.db.models import F, Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from departments.models import Department, Extension, Unit, UnitStatusChange, WorkOrder
from departments.services.extensions import DECISIONS as EXTENSION_DECISIONS
from departments.services.extensions import MAX_SECONDS, MIN_SECONDS, extension_pending
from departments.services.returns import DECISIONS as RETURN_DECISIONS
from departments.services.work_orders import ACTIONS, available_actions, photo_required_to_complete
from dispatch.core.i18n import localized
from dispatch.rest.fastfields import CachedFieldsMixin
from dispatch.rest.fields import TextField


def work_orders_represented(orders: QuerySet[WorkOrder]) -> QuerySet[WorkOrder]:
    """``orders`` with what ``WorkOrderSerializer`` reads (a page of any size in a fixed number of queries)."""
    pending = Prefetch("extensions", queryset=Extension.objects.filter(state=Extension.State.PENDING)
                       .select_related("requested_by"), to_attr="pending_extensions")
    # The incident's pinned workflow version says whether the department must attach a photo to complete. Who
    # returned an order: one column, not a second user row in every order's join (the intake's 201 compiles this
    # query for every report).
    return (orders.select_related("incident__workflow_version", "department", "unit", "accepted_by")
            .annotate(returned_by_username=F("returned_by__username")).prefetch_related(pending))


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice the model stores as "" when there is none, shown as null (the enum has no empty member)."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class ExtensionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seconds = serializers.IntegerField()
    reason = TextField()
    requested_by = TextField(source="requested_by.username")
    requested_at = serializers.DateTimeField()
    due_at_before = serializers.DateTimeField()


class WorkOrderSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    unit = serializers.SlugRelatedField(slug_field="callsign", read_only=True, allow_null=True)
    incident_number = TextField(source="incident.number", read_only=True)
    accepted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    returned_by = serializers.SerializerMethodField(help_text=_("Who returned it last (a username), or null."))
    return_reason = BlankAsNullChoiceField(choices=WorkOrder.ReturnReason.choices, read_only=True)
    pause_reason = BlankAsNullChoiceField(choices=WorkOrder.PauseReason.choices, read_only=True)
    return_decided_by = serializers.SerializerMethodField(
        help_text=_("Who decides the return now: dispatcher (first return) or supervisor (returned again); null "
                    "unless returned."))
    extension = serializers.SerializerMethodField(help_text=_("The extension request waiting for a decision, or null."))
    available_actions = serializers.SerializerMethodField()
    photo_required_to_complete = serializers.SerializerMethodField(
        help_text=_("Whether the incident's workflow makes this department attach a photo to the order before "
                    "completing it."))

    class Meta:
        model = WorkOrder
        fields = [
            "id", "incident", "incident_number", "department", "unit", "state", "priority", "dispatch_round",
            "created_at", "updated_at", "ack_due_at", "ack_timeout_seconds", "due_at", "accepted_by", "attempts", "max_attempts", "escalation",
            "escalated_at", "offered_at", "accepted_at", "completed_at", "handling_seconds", "paused_at",
            "pause_reason", "pause_note", "paused_seconds", "breached_at", "returned_at", "returned_by",
            "return_reason", "return_note", "return_count", "return_decided_by", "replaced_by", "extension",
            "available_actions", "photo_required_to_complete",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=TextField()))
    def get_available_actions(self, obj):
        return available_actions(work_order=obj, user=self.context["request"].user)

    @extend_schema_field(serializers.BooleanField())
    def get_photo_required_to_complete(self, obj) -> bool:
        return photo_required_to_complete(work_order=obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_returned_by(self, obj):
        if not obj.returned_by_id:
            return None
        known = getattr(obj, "returned_by_username", None)  # annotated by work_orders_represented
        return known if known is not None else obj.returned_by.username

    @extend_schema_field(serializers.ChoiceField(choices=["dispatcher", "supervisor"], allow_null=True))
    def get_return_decided_by(self, obj):
        if obj.state != WorkOrder.State.RETURNED:
            return None
        return "supervisor" if obj.return_count >= 2 else "dispatcher"

    @extend_schema_field(ExtensionSerializer(allow_null=True))
    def get_extension(self, obj):
        pending = extension_pending(obj)
        return ExtensionSerializer(pending).data if pending is not None else None


class WorkOrderActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(ACTIONS))
    note = TextField(required=False, allow_blank=True, default="", max_length=4000)
    reason = TextField(required=False, allow_blank=True, default="", max_length=4000)
    unit = serializers.CharField(required=False, allow_null=True, default=None, max_length=32,
                                 help_text="Unit id or callsign (reassign).")
    reason_code = serializers.ChoiceField(choices=WorkOrder.ReturnReason.choices, required=False, default="",
                                          help_text=_("Why it is returned (return); other needs a note."))
    pause_reason = serializers.ChoiceField(choices=WorkOrder.PauseReason.choices, required=False, default="",
                                           help_text=_("Why the handling clock stops (pause); other needs a note."))
    seconds = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=MIN_SECONDS,
                                       max_value=MAX_SECONDS, help_text=_("More time asked (request_extension)."))

    def validate(self, attrs):
        if attrs["action"] == "return" and not attrs["reason_code"]:
            raise serializers.ValidationError({"reason_code": [_("Required to return an order.")]})
        if attrs["action"] == "pause" and not attrs["pause_reason"]:
            raise serializers.ValidationError({"pause_reason": [_("Required to pause the clock.")]})
        if attrs["action"] == "request_extension":
            missing = {f: [_("Required to ask for more time.")] for f in ("seconds", "reason")
                       if attrs[f] in (None, "") or (f == "reason" and not str(attrs[f]).strip())}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class ReturnDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=list(RETURN_DECISIONS))
    department = serializers.SlugField(required=False, allow_blank=True, default="", max_length=64,
                                       help_text=_("uphold: the department that takes the work (default: the next "
                                                   "one by the routing rules)."))
    note = TextField(required=False, allow_blank=True, default="", max_length=4000,
                     help_text=_("Required to reject: told to the department."))


class ExtensionDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=list(EXTENSION_DECISIONS))
    note = TextField(required=False, allow_blank=True, default="", max_length=4000)


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


class CurrentIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = TextField()


class UnitSerializer(serializers.ModelSerializer):
    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    districts = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    display_name = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()
    current_order = serializers.SerializerMethodField()
    current_incident = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = ["id", "callsign", "department", "name", "display_name", "status", "status_since", "on_duty",
                  "districts", "lat", "lon", "position", "current_order", "current_incident", "updated_at"]
        read_only_fields = fields

    def get_display_name(self, obj) -> str:
        return localized(obj.name)

    @extend_schema_field(PositionSerializer(allow_null=True))
    def get_position(self, obj: Unit) -> dict | None:
        if obj.position_at is None:
            return None
        return {"lat": obj.position_lat, "lon": obj.position_lon, "at": obj.position_at, "stale": not obj.position_fresh()}

    @staticmethod
    def _working(obj: Unit) -> WorkOrder | None:
        working = getattr(obj, "working_orders", None)  # prefetched for a page by UnitViewSet
        if working is None:
            working = obj.working_orders = list(
                obj.work_orders.filter(state__in=WorkOrder.WORKING_STATES).select_related("incident")
                .order_by("-updated_at", "-id")[:1]
            )
        return working[0] if working else None

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text=_("The order the unit is working on.")))
    def get_current_order(self, obj: Unit) -> int | None:
        order = self._working(obj)
        return order.pk if order else None

    @extend_schema_field(CurrentIncidentSerializer(allow_null=True, help_text=_("The incident of current_order.")))
    def get_current_incident(self, obj: Unit) -> dict | None:
        order = self._working(obj)
        return {"id": order.incident_id, "number": order.incident.number} if order else None


class UnitStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Unit.Status.choices, required=False)
    on_duty = serializers.BooleanField(required=False, help_text=_("The roster: a unit off it is never offered an order."))
    reason = TextField(required=False, allow_blank=True, default="", max_length=500,
                       help_text=_("Why (kept in the unit's history); required with a status or roster change: a status "
                                   "set by hand overrides what the unit's orders say."))

    def validate(self, attrs):
        if ("status" in attrs or "on_duty" in attrs) and not attrs.get("reason", "").strip():
            raise serializers.ValidationError({"reason": [_("Say why the unit's status or roster changes.")]})
        return attrs


class UnitPositionSerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    at = serializers.DateTimeField(help_text=_("Device time of the fix; an older fix than the one held is ignored."))


class UnitPositionResultSerializer(serializers.Serializer):
    stored = serializers.BooleanField(help_text=_("False: a newer fix was already held (this one arrived late)."))
    unit = UnitSerializer()


class UnitStatusChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    reason_text = serializers.SerializerMethodField(
        help_text=_("The reason in the request's language (a change that followed an order is named by it)."))

    class Meta:
        model = UnitStatusChange
        fields = ["at", "status", "previous", "on_duty", "source", "reason", "reason_text", "work_order", "actor"]
        read_only_fields = fields

    def get_reason_text(self, obj: UnitStatusChange) -> str:
        # departments.services.units stores "work order <id> <state>" for a change its orders made.
        match = ORDER_REASON.match(obj.reason) if obj.source == UnitStatusChange.Source.ORDER else None
        if match is None or match["state"] not in WorkOrder.State.values:
            return obj.reason
        return _("Work order %(id)s: %(state)s") % {"id": match["id"], "state": WorkOrder.State(match["state"]).label}


ORDER_REASON = re.compile(r"^work order (?P<id>\d+) (?P<state>[a-z_]+)$")
