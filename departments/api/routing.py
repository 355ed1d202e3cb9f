"""Routing dry-run (admins): draft routing rules or a draft workflow definition replayed over the incidents of a
period, with nothing written or sent (``departments.services.dry_run``)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from departments.services.dry_run import DEFAULT_LIMIT, MAX_LIMIT, dry_run_check, routing_dry_run
from departments.services.routing_drafts import MAX_DRAFT_RULES

RULES_HELP = _(
    "Draft routing rules, in routing order by position then list order: each {id (optional), position, event_type "
    "(code or null: any), state (blank: every dispatching state), min_severity, max_severity, districts ([codes]; "
    "empty: any), department (code), action (dispatch|skip), priority (blank: keep), ack_timeout_seconds (null: "
    "keep)}, the fields of the routing-rule admin. Errors name rules[i].field."
)


@extend_schema_field(
    {"type": "array", "maxItems": MAX_DRAFT_RULES, "items": {"type": "object", "additionalProperties": True}}
)
class DraftRulesField(serializers.ListField):
    """A list of rule objects, each checked by the service (errors name ``rules[i].field``, also for an item that is
    not an object)."""

    child = serializers.JSONField()


class RoutingDryRunSerializer(serializers.Serializer):
    rules = DraftRulesField(required=False, max_length=MAX_DRAFT_RULES, help_text=RULES_HELP)
    definition = serializers.DictField(
        required=False, help_text=_("A draft workflow definition (the document POST /api/workflows/ publishes).")
    )
    from_ = serializers.DateTimeField(help_text=_("Incidents created at or after this time."))
    to = serializers.DateTimeField(help_text=_("... and before this time; at most 92 days after from."))
    include_unchanged = serializers.BooleanField(
        default=False, help_text=_("List every incident replayed, not only the changed ones.")
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, help_text=_("At most this many incidents listed.")
    )

    def get_fields(self):
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}  # "from" is a Python keyword


class RuleDecisionSerializer(serializers.Serializer):
    by = serializers.ChoiceField(
        choices=["definition", "rule", "plan"],
        help_text=_("The state's dispatch list, a routing rule, or a response plan's overrides."),
    )
    action = serializers.ChoiceField(choices=["dispatch", "skip"])
    rule = serializers.IntegerField(
        allow_null=True, help_text=_("The rule's id (a draft rule's own id, if it has one).")
    )
    draft_index = serializers.IntegerField(allow_null=True, help_text=_("A draft rule's index in the list sent."))
    plan = serializers.CharField(allow_null=True, help_text=_("The response plan whose overrides added it."))


class TraceDepartmentSerializer(serializers.Serializer):
    department = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "removed", "unchanged"])
    before = RuleDecisionSerializer(allow_null=True)
    after = RuleDecisionSerializer(allow_null=True)


class TraceRoundSerializer(serializers.Serializer):
    state = serializers.CharField(help_text=_("The state whose entry started the round."))
    before = serializers.ListField(child=serializers.CharField())
    after = serializers.ListField(child=serializers.CharField())
    departments = TraceDepartmentSerializer(many=True)


class TraceSerializer(serializers.Serializer):
    rounds = TraceRoundSerializer(many=True)


class DryRunIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    event_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    changed = serializers.BooleanField()
    before = serializers.ListField(child=serializers.CharField(), help_text=_("Departments dispatched (current)."))
    after = serializers.ListField(child=serializers.CharField(), help_text=_("Departments the draft would dispatch."))
    trace = TraceSerializer()


class DryRunTotalsSerializer(serializers.Serializer):
    incidents = serializers.IntegerField(help_text=_("Incidents replayed."))
    changed = serializers.IntegerField()
    added = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("Incidents the draft adds each department to.")
    )
    removed = serializers.DictField(
        child=serializers.IntegerField(), help_text=_("Incidents the draft takes each department from.")
    )


class RoutingDryRunResultSerializer(serializers.Serializer):
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()
    changed = serializers.IntegerField(help_text=_("Incidents whose departments the draft changes."))
    incidents = DryRunIncidentSerializer(many=True)
    listed = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text=_("More incidents than limit would be listed."))
    totals = DryRunTotalsSerializer()

    def get_fields(self):
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}


class RoutingDryRunView(APIView):
    @extend_schema(
        summary="Try draft routing rules or a draft definition on past incidents (admins); nothing is written",
        request=RoutingDryRunSerializer,
        responses={200: RoutingDryRunResultSerializer},
    )
    def post(self, request):
        dry_run_check(request.user)  # before reading the body: others learn nothing from a 400
        body = RoutingDryRunSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = routing_dry_run(
            actor=request.user,
            rules=data.get("rules"),
            definition=data.get("definition"),
            start=data["from"],
            end=data["to"],
            include_unchanged=data["include_unchanged"],
            limit=data["limit"],
        )
        return Response(result)
