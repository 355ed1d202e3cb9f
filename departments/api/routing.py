"""Routing dry-run (admins): draft routing rules or a draft workflow definition replayed over the incidents of a
period, with nothing written or sent (``departments.services.dry_run``); and the rules upheld returns suggest, each
with a draft ready for the dry-run (``departments.services.routing_suggestions``)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from departments.models import RoutingRule
from departments.services.dry_run import DEFAULT_LIMIT, MAX_LIMIT, dry_run_check, routing_dry_run
from departments.services.routing_drafts import MAX_DRAFT_RULES, routing_rules_draft
from departments.services.routing_suggestions import DEFAULT_MIN_COUNT, routing_suggestions

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


class CurrentRulesSerializer(serializers.Serializer):
    rules = serializers.ListField(child=serializers.DictField(), help_text=_(
        "The current routing rules in the draft shape: edit them and POST them back to try the change."))


class RoutingDryRunView(APIView):
    @extend_schema(summary="The current routing rules as a draft to start from (admins)",
                   responses={200: CurrentRulesSerializer})
    def get(self, request):
        dry_run_check(request.user)
        return Response({"rules": routing_rules_draft()})

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


# --- suggestions from upheld returns ---------------------------------------------------------------------------

MAX_MIN_COUNT = 1_000_000


class RoutingSuggestionsQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text=_("Only returns made at or after this time."))
    min_count = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MIN_COUNT,
        default=DEFAULT_MIN_COUNT,
        help_text=_("Only groups of at least this many upheld returns."),
    )

    def to_internal_value(self, data):
        # A parameter given blank (``?since=``) is a 400 naming it, as the API's filters answer, not "no filter".
        blank = {
            name: [_("May not be blank; leave the parameter out instead.")]
            for name in self.fields
            if name in data and not str(data.get(name, "")).strip()
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)


class DraftRuleSerializer(serializers.Serializer):
    """One routing rule in the draft shape (``POST /api/routing/dry-run/``'s ``rules`` items)."""

    id = serializers.IntegerField(allow_null=True, help_text=_("The rule's id; null for a new rule."))
    position = serializers.IntegerField(min_value=0)
    event_type = serializers.CharField(allow_null=True, help_text=_("Event type code; null: any."))
    state = serializers.CharField(allow_blank=True, help_text=_("Blank: every dispatching state."))
    min_severity = serializers.IntegerField(min_value=1, max_value=5)
    max_severity = serializers.IntegerField(min_value=1, max_value=5)
    districts = serializers.ListField(child=serializers.CharField(), help_text=_("District codes; empty: any."))
    department = serializers.CharField()
    action = serializers.ChoiceField(choices=RoutingRule.Action.choices)
    priority = serializers.CharField(allow_blank=True, help_text=_("Blank: keep the state's."))
    ack_timeout_seconds = serializers.IntegerField(allow_null=True, help_text=_("Null: keep the state's."))


class RoutingSuggestionSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    district = serializers.CharField(allow_null=True, help_text=_("The incidents' district; null: none known."))
    from_ = serializers.CharField(help_text=_("The department that returned the orders."))
    to = serializers.CharField(help_text=_("The department the returns were upheld to."))
    count = serializers.IntegerField(help_text=_("Upheld returns in the group."))
    reasons = serializers.DictField(child=serializers.IntegerField(), help_text=_("Returns by reason code."))
    last_seen = serializers.DateTimeField(help_text=_("When the latest of them was returned."))
    suggested_rules = DraftRuleSerializer(
        many=True,
        help_text=_(
            "A skip for from and a dispatch for to, limited to the event type and district, placed before every "
            "current rule; empty when no district is known."
        ),
    )
    draft = DraftRuleSerializer(
        many=True,
        allow_null=True,
        help_text=_("The current rules with the suggestion first: the rules of a POST /api/routing/dry-run/."),
    )

    def get_fields(self):
        fields = super().get_fields()
        return {
            "event_type": fields.pop("event_type"),
            "district": fields.pop("district"),
            "from": fields.pop("from_"),
            **fields,
        }


class RoutingSuggestionsView(APIView):
    @extend_schema(
        summary="Routing rules suggested by upheld returns, each with a draft for the dry-run (admins)",
        parameters=[RoutingSuggestionsQuerySerializer],
        responses={200: RoutingSuggestionSerializer(many=True)},
    )
    def get(self, request):
        dry_run_check(request.user)  # before reading the query, as the dry-run
        query = RoutingSuggestionsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(routing_suggestions(actor=request.user, **query.validated_data))
