from django.contrib import admin

from departments.models import Department, District, EscalationChain, EscalationStep, RoutingRule, Unit, WorkOrder


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
