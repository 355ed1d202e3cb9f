"""The analytics endpoints' query parameters and answers (``/api/analytics/intervals/``, ``/kpis/``, ``/incidents/``)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.services.definitions import INTERVAL_NAMES
from analytics.services.drilldown import KPI_NAMES as DRILL_KPIS
from analytics.services.drilldown import LIMIT_DEFAULT, LIMIT_MAX, OUTCOMES
from analytics.services.reports import GROUP_BY
from dispatch.rest.filters import SafeIsoDateTimeFilter

FORMATS = ("json", "csv")


@extend_schema_field(OpenApiTypes.DATETIME)
class PeriodBoundField(serializers.Field):
    """An ISO-8601 date and time (or a date: its local midnight); one beyond what the database holds means "before /
    after everything" (``dispatch.rest.filters``' rule), never a 500."""

    default_error_messages = {"invalid": _("An ISO-8601 date and time, e.g. 2026-11-24T08:00:00+08:00, or a date.")}

    def to_internal_value(self, data):
        try:
            value = SafeIsoDateTimeFilter.field_class().clean(str(data).strip())
        except (DjangoValidationError, ValueError, OverflowError):
            self.fail("invalid")
        if value is None:
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value.isoformat()


class ReportQuerySerializer(serializers.Serializer):
    """``?from=&to=&event_type=&district=&department=&unit=&group_by=&include_exercises=&format=``."""

    from_ = PeriodBoundField(required=False, help_text=_("Incidents created at or after this time (or local date)."))
    to = PeriodBoundField(required=False, help_text=_("... and before this time (or the start of this local date)."))
    event_type = serializers.CharField(required=False, max_length=64, help_text=_("An event type's code."))
    district = serializers.CharField(required=False, max_length=64, help_text=_("A district's code."))
    department = serializers.CharField(
        required=False,
        max_length=64,
        help_text=_(
            "A department's code: incidents it had a work order on, and its orders. Department members: their own only."
        ),
    )
    unit = serializers.CharField(required=False, max_length=32, help_text=_("A unit's callsign: the orders it held."))
    group_by = serializers.ChoiceField(
        choices=GROUP_BY,
        required=False,
        help_text=_(
            "One row (per interval) per department, event type, district, unit or local day of creation; none: one group "
            "'all'."
        ),
    )
    include_exercises = serializers.BooleanField(
        required=False, default=False, help_text=_("Count drills (incidents reported with exercise: true) too.")
    )
    format = serializers.ChoiceField(
        choices=FORMATS,
        required=False,
        default="json",
        help_text=_("json (default) or csv (the rows, with a header line)."),
    )

    def get_fields(self):
        fields = super().get_fields()
        return {"from": fields.pop("from_"), **fields}  # "from" is a Python keyword

    def to_internal_value(self, data):
        # A parameter given blank (``?district=``) is a 400 naming it, as the API's filters answer, not "no filter".
        blank = {
            name: [_("May not be blank; leave the parameter out instead.")]
            for name in self.fields
            if name in data and not str(data.get(name, "")).strip()
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"to": [_("Must be after from.")]})
        return attrs


class IntervalRowSerializer(serializers.Serializer):
    group = serializers.CharField(
        allow_null=True,
        help_text=_(
            "The department, event type, district, unit or day (YYYY-MM-DD); 'all' without group_by; null: none known."
        ),
    )
    interval = serializers.ChoiceField(choices=INTERVAL_NAMES)
    n = serializers.IntegerField(help_text=_("Values the percentiles are taken over."))
    p50 = serializers.FloatField(allow_null=True, help_text=_("Seconds."))
    p90 = serializers.FloatField(allow_null=True, help_text=_("Seconds."))
    p95 = serializers.FloatField(allow_null=True, help_text=_("Seconds."))
    within_target_pct = serializers.FloatField(allow_null=True, help_text=_("Null: the interval has no target."))
    small_sample = serializers.BooleanField(help_text=_("n below the threshold: shown, never ranked."))
    rank = serializers.IntegerField(allow_null=True, help_text=_("Among the groups, by p90 (1: fastest)."))


class IntervalsReportSerializer(serializers.Serializer):
    definitions = serializers.DictField(child=serializers.CharField(), help_text=_("{name: formula}."))
    rows = IntervalRowSerializer(many=True)


class KpiRowSerializer(serializers.Serializer):
    group = serializers.CharField(
        allow_null=True,
        help_text=_(
            "The department, event type, district, unit or day (YYYY-MM-DD); 'all' without group_by; null: none known."
        ),
    )
    n = serializers.IntegerField(help_text=_("Incidents."))
    n_orders = serializers.IntegerField(help_text=_("Work orders."))
    closure_rate = serializers.FloatField(allow_null=True)
    on_time_closure_rate = serializers.FloatField(allow_null=True)
    rework_rate = serializers.FloatField(allow_null=True)
    extension_rate = serializers.FloatField(allow_null=True)
    return_rate = serializers.FloatField(allow_null=True)
    first_route_accuracy = serializers.FloatField(allow_null=True)
    escalation_rate = serializers.FloatField(allow_null=True)
    satisfaction_rate = serializers.FloatField(allow_null=True, help_text=_("Of citizens' feedback; null: none."))
    feedbacks = serializers.IntegerField(help_text=_("Citizens' feedback received (the n of satisfaction_rate)."))
    breaches = serializers.IntegerField()
    sla_breaches = serializers.IntegerField()
    handling_breaches = serializers.IntegerField()
    small_sample = serializers.BooleanField()
    rank = serializers.IntegerField(allow_null=True, help_text=_("Among the groups, by on_time_closure_rate."))


class KpisReportSerializer(serializers.Serializer):
    definitions = serializers.DictField(child=serializers.CharField(), help_text=_("{name: formula}."))
    rows = KpiRowSerializer(many=True)


class DrilldownQuerySerializer(ReportQuerySerializer):
    """The report's parameters plus which figure: ``group`` (with ``group_by``), ``interval`` [``outcome``] or
    ``kpi``, and ``limit``."""

    group = serializers.CharField(
        required=False,
        max_length=64,
        help_text=_("The group of the row (a code, a unit's callsign, a day YYYY-MM-DD; 'all' without group_by)."),
    )
    interval = serializers.ChoiceField(
        choices=INTERVAL_NAMES, required=False, help_text=_("The values of this interval (the row's n).")
    )
    outcome = serializers.ChoiceField(
        choices=OUTCOMES,
        required=False,
        help_text=_("With an interval that has a target: only the values within it (on_time) or not (late)."),
    )
    kpi = serializers.ChoiceField(
        choices=DRILL_KPIS,
        required=False,
        help_text=_(
            "The facts counted in a KPI's numerator: incidents (n), closed, closed_on_time, not_closed_on_time, open, "
            "reworked, sla_breached; orders (n_orders), returned, extended, escalated, handling_breached, misrouted "
            "(routed orders whose return was upheld); breached (sla_breached incidents and handling_breached orders). "
            "Without interval and kpi: incidents."
        ),
    )
    limit = serializers.IntegerField(
        required=False, default=LIMIT_DEFAULT, min_value=1, max_value=LIMIT_MAX, help_text=_("Results listed.")
    )


class DrilldownRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The incident."))
    number = serializers.CharField()
    work_order = serializers.IntegerField(allow_null=True, help_text=_("The work order, for a work-order figure."))
    event_type = serializers.CharField()
    district = serializers.CharField(allow_null=True)
    department = serializers.CharField(allow_null=True, help_text=_("The order's department (or the group's)."))
    unit = serializers.CharField(allow_null=True, help_text=_("The unit that last held the order."))
    created_at = serializers.DateTimeField(help_text=_("The incident's creation."))
    value = serializers.FloatField(allow_null=True, help_text=_("Seconds of the interval; null: none."))
    on_time = serializers.BooleanField(allow_null=True, help_text=_("Within the interval's target; null: no target."))
    state = serializers.CharField(help_text=_("The order's state for a work-order figure, else the incident's."))


class DrilldownSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Every fact behind the figure (its n or numerator)."))
    results = DrilldownRowSerializer(many=True, help_text=_("The slowest first, at most limit."))
