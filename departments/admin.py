from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from departments.models import (
    Department,
    DepartmentWebhook,
    District,
    EscalationChain,
    EscalationStep,
    RoutingRule,
    Unit,
    WebhookDelivery,
    WorkOrder,
)
from departments.services.webhooks import webhooks_replay


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 1


@admin.register(EscalationChain)
class EscalationChainAdmin(admin.ModelAdmin):
    list_display = ("department", "repeat")
    inlines = [EscalationStepInline]


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("code", "name")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("callsign", "department", "status", "lat", "lon")
    list_filter = ("department", "status")
    filter_horizontal = ("districts",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("position", "event_type", "state", "min_severity", "max_severity", "department", "action", "priority")
    list_display_links = ("department",)
    list_editable = ("position",)
    filter_horizontal = ("districts",)


@admin.register(WorkOrder)
class WorkOrderAdmin(admin.ModelAdmin):
    list_display = ("id", "incident", "department", "unit", "state", "priority", "attempts", "created_at")
    list_filter = ("department", "state", "priority")
    readonly_fields = [f.name for f in WorkOrder._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(DepartmentWebhook)
class DepartmentWebhookAdmin(admin.ModelAdmin):
    list_display = ("department", "url", "active", "created_at")
    list_filter = ("department", "active")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "webhook", "work_order", "seq", "event", "state", "attempts", "last_status",
                    "next_attempt_at", "delivered_at")
    list_filter = ("state", "webhook__department", "event")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay_parked"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Replay the selected parked deliveries"))
    def replay_parked(self, request, queryset):
        count = webhooks_replay(queryset)
        self.message_user(request, ngettext(
            "%(n)d parked delivery queued again.", "%(n)d parked deliveries queued again.", count) % {"n": count},
            messages.SUCCESS)
