"""``/api/public/feedback/`` and ``/api/reopen-requests/`` (included by ``dispatch/urls.py``)."""

from django.urls import path

from public.api.views import FeedbackView, ReopenDecisionView, ReopenRequestListView

urlpatterns = [
    path("public/feedback/", FeedbackView.as_view(), name="public-feedback"),
    path("reopen-requests/", ReopenRequestListView.as_view(), name="reopen-request-list"),
    path("reopen-requests/<int:pk>/decision/", ReopenDecisionView.as_view(), name="reopen-request-decision"),
]
