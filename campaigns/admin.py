from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from campaigns import services
from campaigns.choices import CampaignStatus
from campaigns.models import (
    Campaign,
    CampaignChange,
    CampaignCondition,
    CampaignEnrollment,
    CampaignEnrollmentActivity,
    CampaignExit,
    CampaignSplitVariant,
    CampaignStep,
    CampaignWebhookDelivery,
)

STEP_FIELDSETS_HELP = (
    "Each step uses the fields of its kind; the others are ignored. Branch "
    "conditions and split variants are edited on the step's own page."
)


class CampaignStepInline(admin.StackedInline):
    model = CampaignStep
    extra = 0
    ordering = ["position", "id"]
    show_change_link = True
    fieldsets = [
        (None, {"fields": [("position", "kind")], "description": STEP_FIELDSETS_HELP}),
        (
            "Wait",
            {
                "classes": ["collapse"],
                "fields": [
                    "wait",
                    ("wait_until_subject", "wait_until_key", "wait_offset"),
                    ("allowed_start", "allowed_end", "allowed_weekdays"),
                ],
            },
        ),
        (
            "Branch",
            {
                "classes": ["collapse"],
                "fields": [("branch_event", "goto_position", "else_position")],
            },
        ),
        ("Send SMS", {"classes": ["collapse"], "fields": ["body", "media_url"]}),
        (
            "Create call task",
            {
                "classes": ["collapse"],
                "fields": [
                    ("task_priority", "task_due_after", "task_due_within"),
                    "task_notes",
                    "task_script",
                ],
            },
        ),
        ("Update contact", {"classes": ["collapse"], "fields": ["updates"]}),
        (
            "Webhook",
            {
                "classes": ["collapse"],
                "fields": ["webhook_url", "webhook_payload", "webhook_timeout_seconds"],
            },
        ),
    ]


class CampaignExitInline(admin.TabularInline):
    model = CampaignExit
    extra = 0
    show_change_link = True


class CampaignConditionInline(admin.TabularInline):
    model = CampaignCondition
    extra = 0
    fields = [
        "role",
        "step",
        "exit",
        "group",
        "subject",
        "key",
        "operator",
        "value",
        "value_type",
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only this campaign's steps and exits can own its conditions.
        campaign_id = request.resolver_match.kwargs.get("object_id")
        if db_field.name in {"step", "exit"}:
            model = CampaignStep if db_field.name == "step" else CampaignExit
            kwargs["queryset"] = model.objects.filter(campaign_id=campaign_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CampaignChangeInline(admin.TabularInline):
    model = CampaignChange
    extra = 0
    can_delete = False
    fields = ["created_at", "changed_by", "field", "old_value", "new_value"]
    readonly_fields = fields
    verbose_name_plural = "changes on record"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "trigger_event", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "trigger_event"]
    readonly_fields = ["status", "enrollments_link"]
    fieldsets = [
        (None, {"fields": ["name", "status", "trigger_event", "enrollments_link"]}),
        ("Entry rules", {"fields": [("max_entries", "cooldown")]}),
        (
            "Compliance",
            {
                "fields": [
                    "is_transactional",
                    ("quiet_hours_start", "quiet_hours_end"),
                    ("sms_cap_count", "sms_cap_period"),
                ]
            },
        ),
        (
            "Goal",
            {"fields": [("goal_event", "goal_window", "goal_revenue_property")]},
        ),
    ]
    inlines = [
        CampaignStepInline,
        CampaignExitInline,
        CampaignConditionInline,
        CampaignChangeInline,
    ]
    actions = ["go_live", "pause", "stop"]

    @admin.display(description="Enrollments")
    def enrollments_link(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "-"
        url = reverse("admin:campaigns_campaignenrollment_changelist")
        count = campaign.enrollments.count()
        return format_html(
            '<a href="{}?campaign__id__exact={}">{} enrollment(s)</a>',
            url,
            campaign.pk,
            count,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_transactional" in form.changed_data:
            services.record_campaign_changes(
                obj,
                changed_by=request.user.get_username(),
                changes={
                    "is_transactional": (
                        form.initial.get("is_transactional"),
                        obj.is_transactional,
                    )
                },
            )

    def change_status(self, request, queryset, status: str) -> None:
        for campaign in queryset:
            try:
                services.change_campaign_status(
                    campaign, status, changed_by=request.user.get_username()
                )
            except services.CampaignInvalidError as exc:
                self.message_user(
                    request,
                    f"{campaign} cannot go live: {exc.message}",
                    messages.ERROR,
                )
                continue
            self.message_user(request, f"{campaign} is {status}.", messages.SUCCESS)

    @admin.action(description="Go live (or resume)")
    def go_live(self, request, queryset):
        self.change_status(request, queryset, CampaignStatus.LIVE)

    @admin.action(description="Pause (hold enrollments where they are)")
    def pause(self, request, queryset):
        self.change_status(request, queryset, CampaignStatus.PAUSED)

    @admin.action(description="Stop (end every enrollment)")
    def stop(self, request, queryset):
        self.change_status(request, queryset, CampaignStatus.STOPPED)


class CampaignSplitVariantInline(admin.TabularInline):
    model = CampaignSplitVariant
    extra = 0


class StepConditionInline(admin.TabularInline):
    model = CampaignCondition
    fk_name = "step"
    extra = 0
    fields = ["group", "subject", "key", "operator", "value", "value_type"]
    verbose_name_plural = "branch conditions"


@admin.register(CampaignStep)
class CampaignStepAdmin(admin.ModelAdmin):
    list_display = ["campaign", "position", "kind"]
    list_filter = ["kind"]
    fieldsets = CampaignStepInline.fieldsets
    inlines = [CampaignSplitVariantInline, StepConditionInline]

    def get_model_perms(self, request):
        # Reached from the campaign's page, not from the admin index.
        return {}

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, CampaignCondition):
                instance.campaign_id = form.instance.campaign_id
                instance.role = "branch"
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()


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
    list_display = [
        "contact",
        "campaign",
        "status",
        "step",
        "next_run_at",
        "converted_at",
    ]
    list_filter = ["status", "campaign"]
    list_select_related = ["contact", "campaign", "step"]
    search_fields = ["contact__phone"]
    readonly_fields = [
        "campaign",
        "contact",
        "trigger_event",
        "status",
        "step",
        "next_run_at",
        "attempts",
        "entered_at",
        "finished_at",
        "exit_reason",
        "converted_at",
        "revenue",
    ]
    inlines = [CampaignEnrollmentActivityInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CampaignWebhookDelivery)
class CampaignWebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "url", "status", "attempts", "response_status", "updated_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in CampaignWebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
