"""The people's pages: console (dispatchers, supervisors), inbox (department staff and leads), audit
(supervisors). Server-rendered shells; the data comes from the REST API and the live streams, with the
same access rules (``dispatch.access``) as every other path."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render

from departments.models import Department
from dispatch import access
from dispatch.services.maps import map_config
from workflows.models import EventType


def home(request):
    if not request.user.is_authenticated:
        return redirect("login")
    # Department staff and leads work from the inbox; the command roles from the console.
    return redirect("inbox" if access.is_department_member(request.user) else "console")


@login_required
def console(request, wall: bool = False):
    """The command console; ``wall``: the same live data for the command center's big display (1920x1080):
    figures, needs action, map and unit counts, nothing to type into."""
    if not access.is_command(request.user):
        raise PermissionDenied
    return render(request, "web/console.html", {
        "event_types": EventType.objects.filter(is_active=True, active_version__isnull=False),
        "departments": Department.objects.all(),
        "can_report": not wall and access.can_report_incident(request.user),
        "wall": wall,
        "map_config": map_config(),
    })


@login_required
def inbox(request):
    if not access.is_department_member(request.user):
        raise PermissionDenied
    return render(request, "web/inbox.html", {"department": request.user.department})


@login_required
def audit(request):
    if not access.is_command(request.user):
        raise PermissionDenied
    return render(request, "web/audit.html", {"event_types": EventType.objects.all()})


@login_required
def audit_incident(request, pk: int):
    incident = get_object_or_404(access.incidents_visible_to(request.user), pk=pk)
    if not access.is_command(request.user):
        raise PermissionDenied
    return render(request, "web/audit_incident.html", {"incident": incident})
