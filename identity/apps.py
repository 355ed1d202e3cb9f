"""Who may act and for how long (issue 21): people's API tokens per device, stored hashed and expiring."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = _("Identity")

    def ready(self):
        from django.core import checks

        from identity import receivers  # noqa: F401 - revokes tokens when a user's credentials or standing change
        from identity.checks import mfa_roles_check

        checks.register(mfa_roles_check)
