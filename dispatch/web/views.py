"""The people's pages: console (dispatchers, supervisors), inbox (department staff and leads), audit
(supervisors). Server-rendered shells; the data comes from the REST API and the live streams, with the
same access rules (``dispatch.access``) as every other path."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from departments.models import Department
from dispatch import access
from dispatch.models import Role
from workflows.models import EventType


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    # Department staff and leads work from the inbox; the command roles from the console.
    return redirect("inbox" if access.is_department_member(request.user) else "console")


def _nav(user) -> list[tuple[str, str]]:
    items = []
    if access.is_command(user):
        items += [("console", _("Console")), ("audit", _("Audit"))]
    if access.is_department_member(user):
        items += [("inbox", _("Inbox"))]
    if user.role == Role.ADMIN:
        items += [("admin:index", _("Administration"))]
    return items


def _page(request, template: str, **context):
    return render(request, template, {"nav": _nav(request.user), **context})


@login_required
def console(request):
    if not access.is_command(request.user):
        raise PermissionDenied
    return _page(
        request, "web/console.html",
        event_types=EventType.objects.filter(is_active=True, active_version__isnull=False),
        departments=Department.objects.all(),
        can_report=access.can_report_incident(request.user),
    )


@login_required
def inbox(request):
    if not access.is_department_member(request.user):
        raise PermissionDenied
    return _page(request, "web/inbox.html", department=request.user.department)


@login_required
def audit(request):
    if not access.is_command(request.user):
        raise PermissionDenied
    return _page(request, "web/audit.html", event_types=EventType.objects.all())


@login_required
def audit_incident(request, pk: int):
    incident = get_object_or_404(access.incidents_visible_to(request.user), pk=pk)
    if not access.is_command(request.user):
        raise PermissionDenied
    return _page(request, "web/audit_incident.html", incident=incident)
