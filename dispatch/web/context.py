"""What every page's frame needs (``base.html``): the navigation the signed-in person may follow. A context processor
(``TEMPLATES``), so the pages of every app (``analytics/web``) share it without importing the console's views."""

from django.utils.translation import gettext as _

from dispatch import access
from dispatch.models import Role


def nav(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    items = []
    if access.is_command(user):
        items += [("console", _("Console")), ("audit", _("Audit"))]
    if access.is_department_member(user):
        items += [("inbox", _("Inbox"))]
    if access.may_see_reports(user):
        items += [("reports", _("Reports"))]
    if user.role == Role.ADMIN:
        items += [("routing-dry-run-page", _("Routing dry-run")), ("admin:index", _("Administration"))]
    return {"nav": items}
