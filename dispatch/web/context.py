"""What every page's frame needs (``base.html``): the navigation the signed-in person may follow, and the boot data
of its scripts. A context processor (``TEMPLATES``), so the pages of every app (``analytics/web``) share it without
importing the console's views."""

from functools import partial

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from dispatch import access
from dispatch.models import Role
from identity.services.sessions import lifetime


def boot(user, session=None) -> dict:
    """``window.LIANDONG`` of every page (``{{ liandong_boot|json_script }}`` read by ``liandong/boot.js``: no inline
    script under the Content-Security-Policy): the language, who is signed in or None, and when a signed-in page
    session ends (``identity.services.sessions``; ``liandong/session.js`` warns before)."""
    who = None
    if user is not None and user.is_authenticated:
        who = {
            "username": user.username,
            "role": user.role,
            "department": user.department.code if user.department_id else None,
            "unit": user.unit.callsign if user.unit_id else None,
        }
    found = lifetime(session) if who is not None and session is not None else None
    return {"lang": get_language(), "user": who, "session": found.as_json() if found is not None else None}


def nav(request) -> dict:
    user = getattr(request, "user", None)
    # A callable: the template calls it only where it is rendered (base.html), not on the admin's pages.
    liandong_boot = partial(boot, user, getattr(request, "session", None))
    if user is None or not user.is_authenticated:
        return {"nav": [], "liandong_boot": liandong_boot}
    items = []
    if access.is_command(user):
        items += [("console", _("Console")), ("audit", _("Audit"))]
    if access.is_department_member(user):
        items += [("inbox", _("Inbox"))]
    if access.may_see_reports(user):
        items += [("reports", _("Reports"))]
    if user.role == Role.ADMIN:
        items += [("routing-dry-run-page", _("Routing dry-run")), ("admin:index", _("Administration"))]
    return {"nav": items, "liandong_boot": liandong_boot}
