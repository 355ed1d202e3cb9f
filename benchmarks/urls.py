"""Routed under ``/bench/`` only when ``BENCHMARK_ENDPOINTS`` is true (never in production)."""

from django.urls import path

from benchmarks.views import BaselineView

urlpatterns = [path("baseline/", BaselineView.as_view(), name="bench-baseline")]
