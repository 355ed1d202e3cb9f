from django.contrib import admin
from django.http import HttpRequest

from plans.models import Activation, ActivationTask, CapMessage, PlanVersion, ResponsePlan


@admin.register(ResponsePlan)
class ResponsePlanAdmin(admin.ModelAdmin):
    list_display = ("code", "active_version", "is_active")


@admin.register(PlanVersion)
class PlanVersionAdmin(admin.ModelAdmin):
    list_display = ("plan", "version", "checksum", "created_at", "created_by")
    readonly_fields = ("plan", "version", "spec", "source", "checksum", "created_at", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PlanVersion | None = None) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    """Activations change only through their services (each change on their hash-chained timeline)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ActivationTaskInline(admin.TabularInline):
    model = ActivationTask
    extra = 0
    fields = ("department", "level", "state", "due_at", "acknowledged_by", "acknowledged_at", "cancel_reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Activation)
class ActivationAdmin(_ReadOnly):
    list_display = ("id", "plan", "level", "source", "cap_identifier", "started_at", "ends_at", "ended_at", "active")
    list_filter = ("plan", "level", "source", "active")
    inlines = [ActivationTaskInline]


@admin.register(CapMessage)
class CapMessageAdmin(_ReadOnly):
    list_display = ("received_at", "sender", "identifier", "msg_type", "event", "severity", "outcome", "activation")
    list_filter = ("outcome", "msg_type", "sender")
    search_fields = ("identifier", "sender", "event", "headline")
