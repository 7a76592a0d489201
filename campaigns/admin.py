from django.contrib import admin

from campaigns.models import (
    Campaign,
    CampaignEnrollment,
    CampaignEnrollmentActivity,
    CampaignStep,
)


class CampaignStepInline(admin.TabularInline):
    model = CampaignStep
    extra = 0
    fields = ["position", "kind", "wait", "body"]
    ordering = ["position", "id"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "trigger_event", "exit_event", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "trigger_event"]
    inlines = [CampaignStepInline]


class CampaignEnrollmentActivityInline(admin.TabularInline):
    model = CampaignEnrollmentActivity
    extra = 0
    can_delete = False
    fields = ["created_at", "action", "step", "detail"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CampaignEnrollment)
class CampaignEnrollmentAdmin(admin.ModelAdmin):
    list_display = ["contact", "campaign", "status", "step_index", "next_run_at"]
    list_filter = ["status", "campaign"]
    list_select_related = ["contact", "campaign"]
    search_fields = ["contact__phone"]
    readonly_fields = [
        "campaign",
        "contact",
        "trigger_event",
        "status",
        "step_index",
        "next_run_at",
        "entered_at",
        "finished_at",
        "exit_reason",
    ]
    inlines = [CampaignEnrollmentActivityInline]

    def has_add_permission(self, request) -> bool:
        return False
