from django.contrib import admin

from privacy.models import RetentionRule


@admin.register(RetentionRule)
class RetentionRuleAdmin(admin.ModelAdmin):
    list_display = ["source", "event_type", "days", "confidential_days", "note", "updated_at"]
    list_filter = ["source"]
