"""``/open311/v2/``: each document in JSON and XML (separate names, so each form is declared and tested)."""

from django.urls import path, re_path

from dispatch.interop.open311 import views

REQUEST_ID = r"(?P<number>[A-Za-z0-9_-]{1,40})"
SERVICE_CODE = r"(?P<code>[-a-zA-Z0-9_]{1,64})"

urlpatterns = []
for fmt in ("json", "xml"):
    suffix = "" if fmt == "json" else "-xml"
    urlpatterns += [
        path(f"services.{fmt}", views.ServiceListView.as_view(fmt=fmt), name=f"open311-services{suffix}"),
        re_path(rf"^services/{SERVICE_CODE}\.{fmt}$", views.ServiceDefinitionView.as_view(fmt=fmt),
                name=f"open311-service{suffix}"),
        path(f"requests.{fmt}", views.ServiceRequestsView.as_view(fmt=fmt), name=f"open311-requests{suffix}"),
        re_path(rf"^requests/{REQUEST_ID}\.{fmt}$", views.ServiceRequestView.as_view(fmt=fmt),
                name=f"open311-request{suffix}"),
    ]
