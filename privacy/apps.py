"""How long citizens' personal data is kept, and its erasure (issue 21, PIPL art. 19 and 47)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = _("Privacy")

    def ready(self):
        from privacy.services import erasure  # noqa: F401 - registers the outbox handler that deletes erased photos
