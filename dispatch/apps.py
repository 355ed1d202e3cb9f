from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch")

    def ready(self):
        from dispatch import tasks  # noqa: F401 - gives the outbox its Celery task
        from dispatch.core.changes import subscribe, subscribe_notices
        from dispatch.live.publish import publish_changes, publish_notices
        from dispatch.runtime import audit  # noqa: F401 - connects the audit receivers
        from dispatch.services.hazards import hazard_points_report  # noqa: F401 - registers its outbox handler
        from dispatch.services.major_events import major_event_for_activation  # noqa: F401 - the same
        from dispatch.services.sla import on_sla_due  # noqa: F401 - registers its deadline handler

        subscribe(publish_changes)  # every recorded change with a live type is pushed
        subscribe_notices(publish_notices)  # and every notice (response plan activations ...)
