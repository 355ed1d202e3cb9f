"""``/api/`` routes of attachments (included by ``dispatch/urls.py`` before the router, so ``incidents/<id>/
attachments/`` is this app's view and not read as a viewset action)."""

from django.urls import path

from attachments.api.views import IncidentAttachmentsView, WorkOrderAttachmentsView

urlpatterns = [
    path("incidents/<int:pk>/attachments/", IncidentAttachmentsView.as_view(), name="incident-attachments"),
    path("work-orders/<int:pk>/attachments/", WorkOrderAttachmentsView.as_view(), name="work-order-attachments"),
]
