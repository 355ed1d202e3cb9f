from django.contrib import admin
from django.http import HttpRequest

from plans.models import PlanVersion, ResponsePlan


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
