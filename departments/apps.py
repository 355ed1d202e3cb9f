from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DepartmentsConfig(AppConfig):
    name = "departments"
    verbose_name = _("Departments")

    def ready(self):
        # Imported here, not at module level: an app's models and services load only once the registry is ready.
        from departments import tasks  # noqa: F401 - gives webhooks their Celery task
        from departments.models import Department
        from departments.services import escalation, guards, offers, routing  # noqa: F401 - register handlers and guards
        from departments.services.webhooks import webhook_deliveries_record
        from dispatch.core.changes import subscribe
        from workflows.services import department_codes_source

        department_codes_source(lambda: set(Department.objects.values_list("code", flat=True)))
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from departments.models import District, RoutingRule
        from departments.services.selectors import reference_data_forget
        from workflows.models import EventType, WorkflowVersion

        for model in (RoutingRule, Department, District, EventType, WorkflowVersion):  # what the copies hold
            post_save.connect(reference_data_forget, sender=model, dispatch_uid=f"rules-{model.__name__}-save")
            post_delete.connect(reference_data_forget, sender=model, dispatch_uid=f"rules-{model.__name__}-delete")
        m2m_changed.connect(reference_data_forget, sender=RoutingRule.districts.through, dispatch_uid="rules-districts")
        subscribe(webhook_deliveries_record)  # every recorded work-order change goes to the department's hooks
