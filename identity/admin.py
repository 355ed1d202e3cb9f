from django.contrib import admin

from identity.models import AuditRecord, DeviceToken


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    """People's tokens: seen and revoked (deleted) here, never made here (a token is issued by signing in)."""

    list_display = ("token_key", "user", "device", "created", "last_used_at", "expiry")
    list_select_related = ("user",)
    search_fields = ("token_key", "user__username", "device")
    fields = readonly_fields = ("token_key", "user", "device", "created", "last_used_at", "expiry")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read only: the table refuses changes and deletions anyway (supervisors export it: GET /api/audit/export/)."""

    list_display = ("at", "event", "username", "address", "level")
    list_filter = ("event", "level")
    search_fields = ("username", "address", "event")
    date_hierarchy = "at"
    fields = readonly_fields = ("at", "event", "level", "username", "address", "data")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
