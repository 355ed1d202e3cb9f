from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        # Imported here, not at module level: an app's models and services load only once the registry is ready.
        from analytics.services.facts import facts_record
        from dispatch.core.changes import subscribe

        subscribe(facts_record)  # every recorded change keeps the incident's and its orders' facts current
