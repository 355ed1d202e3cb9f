"""``/api/analytics/``: intervals and KPIs from the facts (included by ``dispatch/urls.py``)."""

from django.urls import path

from analytics.api.views import IntervalsView, KpisView

urlpatterns = [
    path("intervals/", IntervalsView.as_view(), name="analytics-intervals"),
    path("kpis/", KpisView.as_view(), name="analytics-kpis"),
]
