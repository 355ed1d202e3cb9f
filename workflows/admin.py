from django.contrib import admin
from django.http import HttpRequest

from workflows.models import EventType, WorkflowVersion


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "active_version", "is_active")


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ("event_type", "version", "checksum", "created_at", "created_by")
    readonly_fields = ("event_type", "version", "definition", "source", "checksum", "created_at", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WorkflowVersion | None = None) -> bool:
        return False
