from django.contrib import admin

from identity.models import DeviceToken


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
