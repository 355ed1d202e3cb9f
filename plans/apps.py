from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = _("Response plans")

    def ready(self) -> None:
        from plans.services import activations  # noqa: F401 - registers the deadline handlers of plan tasks
