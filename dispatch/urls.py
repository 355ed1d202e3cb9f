from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from departments.api.views import DepartmentViewSet, DistrictsView, UnitViewSet, WorkOrderViewSet
from dispatch.api.views import ConsoleFiguresView, IncidentViewSet, WsTicketView
from dispatch.interop import exports
from dispatch.interop.cap import views as cap
from dispatch.interop.open311.serializers import render_errors
from dispatch.runtime import health, metrics
from dispatch.web.auth_views import TokenLoginView
from workflows.api.views import EventTypeListView, WorkflowPublishView, WorkflowVersionListView

# SimpleRouter: no root view and no ".json" format-suffix aliases (one URL per resource).
router = SimpleRouter(trailing_slash=True)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("work-orders", WorkOrderViewSet, basename="work-order")
router.register("departments", DepartmentViewSet, basename="department")
router.register("units", UnitViewSet, basename="unit")

api = [
    path("auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("auth/ws-ticket/", WsTicketView.as_view(), name="ws-ticket"),
    path("stats/", ConsoleFiguresView.as_view(), name="console-figures"),
    path("event-types/", EventTypeListView.as_view(), name="event-types"),
    path("workflows/", WorkflowPublishView.as_view(), name="workflow-publish"),
    path("workflows/<slug:code>/versions/", WorkflowVersionListView.as_view(), name="workflow-versions"),
    path("districts/", DistrictsView.as_view(), name="districts"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]), name="docs"),
    # CAP 1.2 (dispatch/interop/cap/) and exports (dispatch/interop/exports.py); before the router so "export" is not read as an id.
    path("incidents/<int:pk>/cap/", cap.IncidentCapView.as_view(), name="incident-cap"),
    path("incidents/<int:pk>/public-warning/", cap.PublicWarningView.as_view(), name="incident-public-warning"),
    path("cap/alerts/", cap.CapFeedView.as_view(), name="cap-alerts"),
    path("incidents/export/", exports.IncidentExportView.as_view(), name="incident-export"),
    path("timeline/export/", exports.TimelineExportView.as_view(), name="timeline-export"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/", include(api)),
    path("admin/", admin.site.urls),
    path("open311/v2/", include("dispatch.interop.open311.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("dispatch.web.urls")),
]
if settings.BENCHMARK_ENDPOINTS:  # the surge benchmark only (manage.py storm); never routed in production
    urlpatterns.insert(0, path("bench/", include("benchmarks.urls")))


def handler404(request, exception):
    """The API answers unknown paths in its own error shape (JSON), Open311 in the GeoReport error format (XML
    when the path ends in .xml); pages keep Django's 404 page."""
    if request.path.startswith("/open311/"):
        fmt = "xml" if request.path.endswith(".xml") else "json"
        return render_errors([{"code": 404, "description": _("Not found.")}], fmt=fmt, status=404)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found."), "errors": {}}, status=404)

    return page_not_found(request, exception)
