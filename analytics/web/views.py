"""The reports page (``/reports/``): a server-rendered shell whose figures come from ``/api/analytics/`` in the
browser, under the same scope (``analytics.services.reports.analytics_scope``). Who sees it: the command roles
(dispatcher, supervisor, admin) every department's figures; a department lead their own department's, the filter
fixed to it; department staff 403, anonymous the login page. Its names are read where the figures are (the read
replica when one is configured: ``dispatch.core.replica``)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from departments.models import Department, District
from dispatch import access
from dispatch.core.replica import reading_db
from workflows.models import EventType


@login_required
def reports(request):
    user = request.user
    if not access.may_see_reports(user):
        raise PermissionDenied
    fixed = None if access.is_command(user) else user.department
    using = reading_db()
    departments = [fixed] if fixed else list(Department.objects.using(using))
    event_types, districts = list(EventType.objects.using(using)), list(District.objects.using(using))
    config = {
        "on_time_target": settings.ANALYTICS_ON_TIME_TARGET,
        "small_sample": settings.ANALYTICS_SMALL_SAMPLE,
        "fixed_department": fixed.code if fixed else None,
        "audit_links": access.is_command(user),  # the audit pages are the command center's
        "names": {
            "department": {d.code: d.display_name for d in departments},
            "event_type": {e.code: e.display_name for e in event_types},
            "district": {d.code: d.display_name for d in districts},
        },
    }
    return render(
        request,
        "web/reports.html",
        {
            "departments": departments,
            "fixed_department": fixed,
            "event_types": event_types,
            "districts": districts,
            "reports_config": config,
        },
    )
