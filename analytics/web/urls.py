"""The analytics pages: ``/reports/`` (included by ``dispatch/urls.py``)."""

from django.urls import path

from analytics.web import views

urlpatterns = [
    path("reports/", views.reports, name="reports"),
]
