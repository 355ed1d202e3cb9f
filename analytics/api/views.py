"""``GET /api/analytics/intervals/``, ``/kpis/`` and ``/incidents/`` (the drill-down): thin; the figures are
``analytics.services.reports``', the facts behind one ``analytics.services.drilldown``'s. They read the read replica
when one is configured (``dispatch.core.replica``), and say how current it is (``X-Data-As-Of``)."""

import csv
import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.serializers import (
    DrilldownQuerySerializer,
    DrilldownRowSerializer,
    DrilldownSerializer,
    IntervalRowSerializer,
    IntervalsReportSerializer,
    KpiRowSerializer,
    KpisReportSerializer,
    ReportQuerySerializer,
)
from analytics.services.drilldown import Drill, analytics_drilldown
from analytics.services.reports import ReportQuery, intervals_report, kpis_report
from dispatch.core.replica import reading_db, replica_as_of, stamp_as_of


def _report_query(data: dict, using: str) -> ReportQuery:
    return ReportQuery(
        start=data.get("from"),
        end=data.get("to"),
        event_type=data.get("event_type"),
        district=data.get("district"),
        department=data.get("department"),
        unit=data.get("unit"),
        group_by=data.get("group_by"),
        include_exercises=data["include_exercises"],
        using=using,
    )


class _ReportView(APIView):
    """``?format=`` is this endpoint's own parameter (json, csv), not DRF's renderer override; errors stay JSON."""

    report = staticmethod(intervals_report)
    answer = IntervalsReportSerializer
    row = IntervalRowSerializer
    filename = ""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type

    def get(self, request):
        params = ReportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        using = reading_db()
        as_of = replica_as_of(using)  # before the figures: they are at least as current
        body = self.answer(self.report(actor=request.user, query=_report_query(data, using))).data
        if data["format"] == "csv":
            response = _csv(body["rows"], list(self.row().fields), self.filename)
        else:
            response = Response(body)
        stamp_as_of(response, as_of)
        return response


def _csv(rows: list[dict], columns: list[str], filename: str) -> HttpResponse:
    out = io.StringIO()
    out.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 (as the exports)
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


class IntervalsView(_ReportView):
    """Per group and interval: how many values, their 50th, 90th and 95th percentiles (seconds) and the share within
    target; ``definitions`` gives each interval's formula. Department members: their own department's only."""

    filename = "analytics-intervals"

    @extend_schema(
        summary="Intervals (seconds) with their formulas: n, p50, p90, p95 and the share within target, per group",
        parameters=[ReportQuerySerializer],
        responses={(200, "application/json"): IntervalsReportSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        return super().get(request)


class KpisView(_ReportView):
    """Per group: closure, on-time closure, rework, extension, return, first-route accuracy and escalation rates
    (percent) and breaches, each with n; ``definitions`` gives each formula. Department members: their own
    department's only."""

    report = staticmethod(kpis_report)
    answer = KpisReportSerializer
    row = KpiRowSerializer
    filename = "analytics-kpis"

    @extend_schema(
        summary="KPIs with their formulas (closure, on-time closure, rework, extension, return, first-route accuracy, "
        "escalation, breaches), per group",
        parameters=[ReportQuerySerializer],
        responses={(200, "application/json"): KpisReportSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        return super().get(request)


class DrilldownView(APIView):
    """The incidents (and work orders) behind one figure of the intervals or KPIs report, slowest first: the same
    parameters and scope as the reports, plus the row's ``group`` and ``interval`` [``outcome``] or ``kpi``. ``count``
    equals the figure (the row's n, or the KPI's numerator). Department members: their own department's only."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        summary="The incidents behind a figure (drill-down), slowest first, with their count",
        parameters=[DrilldownQuerySerializer],
        responses={(200, "application/json"): DrilldownSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        params = DrilldownQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        using = reading_db()
        as_of = replica_as_of(using)
        drill = Drill(
            query=_report_query(data, using),
            group=data.get("group"),
            interval=data.get("interval"),
            outcome=data.get("outcome"),
            kpi=data.get("kpi"),
            limit=data["limit"],
        )
        body = DrilldownSerializer(analytics_drilldown(actor=request.user, drill=drill)).data
        if data["format"] == "csv":
            response = _csv(body["results"], list(DrilldownRowSerializer().fields), "analytics-incidents")
        else:
            response = Response(body)
        stamp_as_of(response, as_of)
        return response
