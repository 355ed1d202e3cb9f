"""Serializers: validate input and shape output. No domain logic here."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from departments.api.serializers import WorkOrderSerializer, work_orders_represented
from dispatch import access
from dispatch.core.timeline import API_CLIENT_PREFIX, actor_display, reason_text
from dispatch.models import ApiClient, Incident, Source, TimelineEvent
from dispatch.rest.fastfields import CachedFieldsMixin
from dispatch.rest.fields import NOT_BLANK, RegexTextField, SlugTextField, TextField
from dispatch.rest.filters import MAX_ID
from dispatch.services.duplicates import merged_reports
from dispatch.services.incidents import available_transitions
from dispatch.services.sla import sla_view
from public.tokens import tracking_token_for


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return "*" * (len(digits) - 4) + digits[-4:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


class ReporterViewSerializer(serializers.Serializer):
    """The reporter as shown: in clear for who may see it, masked (``138****1234``) for everyone else."""

    name = TextField()
    phone = TextField()
    confidential = serializers.BooleanField()
    erased_at = serializers.DateTimeField(
        allow_null=True, help_text="When the personal data was erased (retention policy or request); then both empty."
    )


class LocationSerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)


class ReporterSerializer(serializers.Serializer):
    name = TextField(max_length=100, required=False, allow_blank=True, default="")
    phone = RegexTextField(r"^\+?[0-9 ()-]{3,40}$", max_length=40, required=False, allow_blank=True, default="")
    confidential = serializers.BooleanField(
        required=False, default=False, help_text="The caller asked for confidentiality (GB/T 33358)."
    )


class IncidentCreateSerializer(serializers.Serializer):
    event_type = SlugTextField(max_length=64)
    title = TextField(max_length=200, validators=[NOT_BLANK])
    description = TextField(required=False, allow_blank=True, default="", max_length=10000)
    severity = serializers.IntegerField(min_value=1, max_value=5, default=3)
    location = LocationSerializer(required=False, allow_null=True)
    address = TextField(required=False, allow_blank=True, default="", max_length=300)
    reporter = ReporterSerializer(required=False)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.CONSOLE)
    external_id = TextField(required=False, allow_blank=True, default="", max_length=100)
    location_outside_city = serializers.BooleanField(
        required=False, default=False,
        help_text=_("The location is outside every district and that is right (otherwise 400 naming location)."),
    )
    exercise = serializers.BooleanField(
        required=False, help_text=_("A drill (dispatchers only): handled like any incident, left out of the figures."),
    )


class LocateRequestSerializer(serializers.Serializer):
    location = LocationSerializer(required=False, allow_null=True, default=None)
    district = SlugTextField(required=False, allow_blank=True, default="", max_length=64)
    address = TextField(required=False, max_length=300)
    location_outside_city = serializers.BooleanField(required=False, default=False)


class TransitionRequestSerializer(serializers.Serializer):
    transition = SlugTextField(max_length=64)
    note = TextField(required=False, allow_blank=True, default="", max_length=4000)
    expected_state = TextField(required=False, allow_blank=True, default="", max_length=64)


class RevealRequestSerializer(serializers.Serializer):
    reason = TextField(
        max_length=1000, validators=[NOT_BLANK], help_text="Why the reporter's contact data is needed."
    )


class EraseRequestSerializer(serializers.Serializer):
    reason = TextField(
        max_length=1000, validators=[NOT_BLANK],
        help_text="Who asked for the erasure and how (PIPL art. 47), never their personal data.",
    )


class ErasedReporterSerializer(serializers.Serializer):
    erased_at = serializers.DateTimeField(source="pii_erased_at")
    erasure = serializers.CharField(source="pii_erasure", help_text="`retention` or `request`.")


class RevealedReporterSerializer(serializers.Serializer):
    name = TextField()
    phone = TextField()


class NoteRequestSerializer(serializers.Serializer):
    text = TextField(max_length=4000, validators=[NOT_BLANK])
    public = serializers.BooleanField(
        default=False, help_text="Shown to the public as the request's status notes (Open311); command center only."
    )


class SLASerializer(serializers.Serializer):
    state = TextField()
    sla_seconds = serializers.IntegerField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    remaining_seconds = serializers.FloatField(allow_null=True, help_text="Negative once breached.")
    paused = serializers.BooleanField()
    clock_state = TextField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)


class TimelineEventSerializer(serializers.ModelSerializer):
    """A timeline row as stored (``actor``, ``data``: what the hash covers), plus two texts for people in the
    request's language (``dispatch.core.timeline``): who acted, and the row's reason."""

    actor = TextField(source="actor_label")
    actor_display = serializers.SerializerMethodField(
        help_text=_("The actor for people, in the request's language: a user's name, an API client with its kind, "
                    "or what the system decided with (routing, a deadline, an escalation chain).")
    )
    reason_text = serializers.SerializerMethodField(
        help_text=_("The row's reason (data.reason) in the request's language; null when the row gives none.")
    )

    class Meta:
        model = TimelineEvent
        fields = ["seq", "at", "kind", "actor", "actor_display", "data", "reason_text", "hash"]

    @extend_schema_field(TextField())
    def get_actor_display(self, obj) -> str:
        client_kind = None
        if obj.actor_id and obj.actor_label.startswith(API_CLIENT_PREFIX):
            # One query per client on the timeline (rows of one actor share it).
            kinds = self.root.__dict__.setdefault("_api_client_kinds", {})
            if obj.actor_id not in kinds:
                client = ApiClient.objects.filter(user_id=obj.actor_id).first()
                kinds[obj.actor_id] = str(client.get_kind_display()) if client is not None else None
            client_kind = kinds[obj.actor_id]
        return actor_display(label=obj.actor_label, kind=obj.kind, client_kind=client_kind)

    @extend_schema_field(TextField(allow_null=True))
    def get_reason_text(self, obj) -> str | None:
        return reason_text(obj.data) if isinstance(obj.data, dict) else None


class MergedReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    merged_at = serializers.DateTimeField()
    automatic = serializers.BooleanField()


class DuplicateCandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    distance_m = serializers.IntegerField()
    minutes_ago = serializers.IntegerField()
    state = serializers.CharField()


class DuplicatesQuerySerializer(serializers.Serializer):
    event_type = SlugTextField(max_length=64)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)


class MergeRequestSerializer(serializers.Serializer):
    into = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    note = TextField(max_length=2000, required=False, allow_blank=True, default="")


class UnmergeRequestSerializer(serializers.Serializer):
    note = TextField(max_length=2000, required=False, allow_blank=True, default="")


class IncidentSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    event_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    workflow_version = serializers.IntegerField(source="workflow_version.version", read_only=True)
    location = serializers.SerializerMethodField()
    district = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    reporter = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()
    work_orders = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    needs_location = serializers.BooleanField(
        read_only=True, help_text=_("No district and no confirmed place outside the city: its orders wait for a location."),
    )
    merged_reports = serializers.SerializerMethodField(
        help_text=_("The reports merged into this incident (only when report_count > 1).")
    )

    class Meta:
        model = Incident
        fields = [
            "id", "number", "event_type", "workflow_version", "state", "severity", "urgency", "sla", "title", "description",
            "location", "address", "district", "location_outside_city", "needs_location", "reporter", "source",
            "external_id", "activation", "merged_into", "merged_at", "merged_automatically", "report_count",
            "merged_reports", "major_event", "exercise", "created_at", "updated_at", "available_transitions", "work_orders",
        ]
        read_only_fields = fields
        extra_kwargs = {"activation": {"help_text": _(
            "The response plan activation in force where and when it was reported (its overrides shaped its routing), "
            "or null.")}, "major_event": {"help_text": _("The major event (重大事件) it belongs to, or null.")}}

    def to_representation(self, instance):
        body = super().to_representation(instance)
        # The public tracking token (public/): in the intake's answer only (its 201, and the 200 of a replay,
        # which derives the same token), never in reads: whoever reads an incident later is not its reporter.
        view = self.context.get("view")
        if getattr(view, "action", None) == "create" and instance.tracking_salt:
            body["tracking_token"] = tracking_token_for(instance.tracking_salt)
        return body

    @extend_schema_field(MergedReportSerializer(many=True))
    def get_merged_reports(self, obj):
        return merged_reports(obj) if obj.report_count > 1 else []  # a query only for an incident that has some

    @extend_schema_field(LocationSerializer(allow_null=True))
    def get_location(self, obj):
        return {"lat": obj.lat, "lon": obj.lon} if obj.lat is not None and obj.lon is not None else None

    @extend_schema_field(SLASerializer)
    def get_sla(self, obj):
        return sla_view(obj, obj.workflow_version.spec.states[obj.state])

    @extend_schema_field(ReporterViewSerializer)
    def get_reporter(self, obj):
        user = self.context["request"].user
        erased = {"erased_at": serializers.DateTimeField().to_representation(obj.pii_erased_at)
                  if obj.pii_erased_at else None}
        if access.can_see_reporter(user, obj):
            return {"name": obj.reporter_name, "phone": obj.reporter_phone, "confidential": obj.reporter_confidential,
                    **erased}
        return {"name": mask_name(obj.reporter_name), "phone": mask_phone(obj.reporter_phone),
                "confidential": obj.reporter_confidential, **erased}

    @extend_schema_field(serializers.ListField(child=TextField()))
    def get_available_transitions(self, obj):
        return available_transitions(incident=obj, user=self.context["request"].user)

    @extend_schema_field(WorkOrderSerializer(many=True))
    def get_work_orders(self, obj):
        orders = getattr(obj, "visible_work_orders", None)  # prefetched for a page by IncidentViewSet
        if orders is None:
            orders = work_orders_represented(access.work_orders_visible_to(self.context["request"].user)
                                             .filter(incident=obj)).order_by("id")
        return WorkOrderSerializer(orders, many=True, context=self.context).data


class ClockComponentSerializer(serializers.Serializer):
    work_order = serializers.IntegerField()
    department = TextField()
    clock = serializers.ChoiceField(choices=["acknowledgement", "handling"])
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True, help_text=_("Accepted, completed, returned or cancelled."))
    running = serializers.BooleanField()
    paused = serializers.BooleanField()
    paused_seconds = serializers.FloatField()
    remaining_seconds = serializers.FloatField(allow_null=True)
    breached = serializers.BooleanField()
    breached_by_seconds = serializers.FloatField()


class IncidentClockSerializer(serializers.Serializer):
    incident = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["running", "paused", "breached", "met", "none"])
    composition = serializers.ChoiceField(choices=["all", "any"], help_text=_("From the definition's sla_composition."))
    due_at = serializers.DateTimeField(allow_null=True)
    remaining_seconds = serializers.FloatField(allow_null=True)
    paused = serializers.BooleanField()
    components = ClockComponentSerializer(many=True)
    breached_by = serializers.ListField(child=TextField(), help_text=_("The departments that are or were late."))
    breached_by_seconds = serializers.DictField(child=serializers.FloatField())


class WsTicketSerializer(serializers.Serializer):
    ticket = TextField()
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")


class TimelineVerifySerializer(serializers.Serializer):
    intact = serializers.BooleanField()
    first_broken_seq = serializers.IntegerField(allow_null=True)
    rows = serializers.IntegerField()


class TimelineExportSerializer(serializers.Serializer):
    incident = TextField(help_text="The incident number.")
    timeline = TimelineEventSerializer(many=True)
