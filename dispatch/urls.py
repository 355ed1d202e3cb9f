import sys

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from departments.api.routing import RoutingDryRunView, RoutingSuggestionsView
from departments.api.views import DepartmentViewSet, DistrictsView, UnitViewSet, WorkOrderViewSet
from dispatch.api import major_events as major
from dispatch.api.me import SavedViewDetailView, SavedViewListView
from dispatch.api.views import ConsoleFiguresView, IncidentViewSet, WsTicketView
from dispatch.core.errors import database_unavailable
from dispatch.interop import exports
from dispatch.interop.cap import views as cap
from dispatch.interop.open311.serializers import render_errors
from dispatch.runtime import health, metrics
from dispatch.web.mfa_views import admin_login
from plans.api import views as plans
from plans.api.views import PlanListView
from workflows.api.views import EventTypeListView, WorkflowPublishView, WorkflowVersionListView

# SimpleRouter: no root view and no ".json" format-suffix aliases (one URL per resource).
router = SimpleRouter(trailing_slash=True)
router.register("incidents", IncidentViewSet, basename="incident")
router.register("work-orders", WorkOrderViewSet, basename="work-order")
router.register("departments", DepartmentViewSet, basename="department")
router.register("units", UnitViewSet, basename="unit")

api = [
    # The resources first: a request is matched against the patterns in order, and every include it passes on
    # the way builds the list of what it tried (profiled: 5 % of an incident report's CPU in the ASGI server).
    # The router's ids are digits only (lookup_value_regex), so the paths below ("incidents/export/") still reach
    # their views.
    path("", include(router.urls)),
    path("auth/", include("identity.api.urls")),  # tokens: sign in and out, a user's own (identity/api/urls.py)
    path("auth/ws-ticket/", WsTicketView.as_view(), name="ws-ticket"),
    path("stats/", ConsoleFiguresView.as_view(), name="console-figures"),
    path("event-types/", EventTypeListView.as_view(), name="event-types"),
    path("workflows/", WorkflowPublishView.as_view(), name="workflow-publish"),
    path("workflows/<slug:code>/versions/", WorkflowVersionListView.as_view(), name="workflow-versions"),
    path("plans/", PlanListView.as_view(), name="plan-list"),
    path("plans/<slug:code>/activate/", plans.PlanActivateView.as_view(), name="plan-activate"),
    path("activations/", plans.ActivationListView.as_view(), name="activation-list"),
    path("activations/<int:pk>/", plans.ActivationDetailView.as_view(), name="activation-detail"),
    path("activations/<int:pk>/acknowledge/", plans.ActivationAcknowledgeView.as_view(), name="activation-acknowledge"),
    path("activations/<int:pk>/end/", plans.ActivationEndView.as_view(), name="activation-end"),
    path("districts/", DistrictsView.as_view(), name="districts"),
    path("routing/dry-run/", RoutingDryRunView.as_view(), name="routing-dry-run"),
    path("routing/suggestions/", RoutingSuggestionsView.as_view(), name="routing-suggestions"),
    path("major-events/", major.MajorEventListView.as_view(), name="major-event-list"),
    path("major-events/<int:pk>/", major.MajorEventDetailView.as_view(), name="major-event-detail"),
    path("major-events/<int:pk>/incidents/", major.MajorEventIncidentsView.as_view(), name="major-event-incidents"),
    path("major-events/<int:pk>/handoff/", major.MajorEventHandoffView.as_view(), name="major-event-handoff"),
    path("major-events/<int:pk>/close/", major.MajorEventCloseView.as_view(), name="major-event-close"),
    path("analytics/", include("analytics.api.urls")),  # intervals and KPIs (analytics/api/urls.py)
    path("", include("public.api.urls")),  # citizens' feedback and reopen requests (public/api/urls.py)
    path("me/views/", SavedViewListView.as_view(), name="saved-view-list"),
    path("me/views/<int:pk>/", SavedViewDetailView.as_view(), name="saved-view-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script under the page policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]), name="docs"),
    # CAP 1.2 (dispatch/interop/cap/) and exports (dispatch/interop/exports.py).
    path("incidents/<int:pk>/cap/", cap.IncidentCapView.as_view(), name="incident-cap"),
    path("incidents/<int:pk>/public-warning/", cap.PublicWarningView.as_view(), name="incident-public-warning"),
    path("cap/alerts/", cap.CapFeedView.as_view(), name="cap-alerts"),
    path("cap/inbound/", cap.CapInboundView.as_view(), name="cap-inbound"),
    path("incidents/export/", exports.IncidentExportView.as_view(), name="incident-export"),
    path("timeline/export/", exports.TimelineExportView.as_view(), name="timeline-export"),
    path("audit/export/", exports.AuditExportView.as_view(), name="audit-export"),
    path("", include("attachments.api.urls")),  # incidents/<id>/attachments/ ... (not a viewset action)
]

urlpatterns = [
    path("api/", include(api)),
    path("admin/login/", admin_login, name="admin-login"),  # /login/ and its second factor, then the admin
    path("admin/", admin.site.urls),
    path("open311/v2/", include("dispatch.interop.open311.urls")),
    path("attachments/", include("attachments.api.files_urls")),  # the photos' files, access checked
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("dispatch.web.urls")),
    path("", include("analytics.web.urls")),  # /reports/ (analytics/web/urls.py)
    path("", include("public.web.urls")),  # /track/<token>/ (public/web/urls.py)
]
if settings.BENCHMARK_ENDPOINTS:  # the surge benchmark only (manage.py storm); never routed in production
    urlpatterns.insert(0, path("bench/", include("benchmarks.urls")))


# --- Error handlers -------------------------------------------------------------------------------
# Machines get errors in their own shape: the API its JSON ({"detail", "errors"}), Open311 the GeoReport error
# format (XML when the path ends in .xml). People get the site's pages (templates/400.html, 403.html, 404.html,
# 500.html); 400 and 500 stand alone, so they render even when the database or the session is broken.
# DRF views answer their own errors (dispatch.rest.errors); these handlers see what happens outside them: unknown
# paths, middleware refusals, exceptions no view caught. An exception saying the database cannot be used right now
# (stopped, restarting, no pooled connection: dispatch.core.errors.database_unavailable), wherever it was raised (a
# view, the session or the user looked up by a middleware), is a 503 with Retry-After, not a 500: templates/503.html
# for people, the machines' formats for them.

DATABASE_RETRY_AFTER = "2"  # as the API's (dispatch.rest.errors)


def _machine_error(request, status: int, message: str):
    """The error response for an API or Open311 path, or None for a page."""
    if request.path.startswith("/open311/"):
        fmt = "xml" if request.path.endswith(".xml") else "json"
        return render_errors([{"code": status, "description": message}], fmt=fmt, status=status)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": {}}, status=status)
    return None


def handler400(request, exception):
    return _machine_error(request, 400, _("Malformed request.")) or defaults.bad_request(request, exception)


def handler403(request, exception):
    denied = _("You do not have permission to perform this action.")
    return _machine_error(request, 403, denied) or defaults.permission_denied(request, exception)


def handler404(request, exception):
    return _machine_error(request, 404, _("Not found.")) or defaults.page_not_found(request, exception)


def handler500(request):
    if database_unavailable(sys.exc_info()[1]):  # Django calls this while handling the exception
        response = _machine_error(request, 503, _("The database is unavailable for the moment; retry shortly.")) \
            or HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = DATABASE_RETRY_AFTER
        return response
    return _machine_error(request, 500, _("A server error occurred.")) or defaults.server_error(request)
