from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from dispatch.models import ApiClient, Deadline, Incident, MajorEvent, OutboxJob, TimelineEvent, User


@admin.register(User)
class LiandongUserAdmin(UserAdmin):
    list_display = ("username", "role", "department", "unit", "is_active")
    list_filter = ("role", "department", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Liandong", {"fields": ("role", "department", "unit")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Liandong", {"fields": ("role", "department", "unit")}))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("number", "event_type", "state", "severity", "district", "source", "created_at")
    list_filter = ("event_type", "state", "severity", "district", "source")
    search_fields = ("number", "title", "address")


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ("incident", "seq", "kind", "actor_label", "at")
    list_filter = ("kind",)


@admin.register(OutboxJob)
class OutboxJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "state", "attempts", "available_at", "created_at", "last_error")
    list_filter = ("state", "kind")


@admin.register(Deadline)
class DeadlineAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "incident", "work_order", "due_at", "state", "outcome", "fired_at")
    list_filter = ("kind", "state", "outcome")


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """API clients are created with ``manage.py add_api_client`` (which shows the key once); here they can
    be looked at, switched off and given an expiry. The key's hash is never shown, only its non-secret prefix."""

    list_display = ("name", "kind", "department", "key_prefix", "active", "expires_at", "created_at", "last_used_at")
    list_filter = ("kind", "active", "department")
    search_fields = ("name", "key_prefix")
    fields = ("name", "kind", "department", "user", "key_prefix", "active", "expires_at", "created_at", "last_used_at")
    readonly_fields = ("name", "kind", "department", "user", "key_prefix", "created_at", "last_used_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(MajorEvent)
class MajorEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "state", "commander", "created_at", "closed_at")
    list_filter = ("state",)
    search_fields = ("title",)
