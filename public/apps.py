"""The public side of a report (issue 19): tracking page, citizens' feedback (回访) and reopen requests."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublicConfig(AppConfig):
    name = "public"
    verbose_name = _("Public tracking")

    def ready(self):
        from public.services import reopen  # noqa: F401 - registers the reopen requests' deadline handler
