"""``/api/analytics/``: intervals, KPIs and the incidents behind a figure, from the facts (included by ``dispatch/urls.py``)."""

from django.urls import path

from analytics.api.views import DrilldownView, IntervalsView, KpisView

urlpatterns = [
    path("intervals/", IntervalsView.as_view(), name="analytics-intervals"),
    path("kpis/", KpisView.as_view(), name="analytics-kpis"),
    path("incidents/", DrilldownView.as_view(), name="analytics-incidents"),  # the drill-down
]
