from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from campaigns import dry_run, flow, pick_lists, preview, services
from campaigns.choices import CampaignStatus, StepKind
from campaigns.forms import (
    CONDITION_KEYS_LIST,
    EVENT_NAMES_LIST,
    CampaignConditionForm,
    DryRunForm,
    PreviewForm,
    SendTestForm,
)
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
from campaigns.validation import campaign_problems
from contacts.admin import ContactAdmin
from contacts.models import Contact
from regal.errors import RegalError

STEP_FIELDSETS_HELP = (
    "Each step uses the fields of its kind; the others are ignored. Branch "
    "conditions and split variants are edited on the step's own page."
)


class PickListMixin:
    """Offer the registry's names and keys on text inputs, as a <datalist>.

    Free text stays allowed: an admin may build a campaign before its first
    event arrives. The page's template carries the datalists themselves.
    """

    pick_lists: dict[str, str] = {}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        datalist = self.pick_lists.get(db_field.name)
        if field is not None and datalist:
            field.widget.attrs.update({"list": datalist, "autocomplete": "off"})
        return field


def pick_list_context(campaign: Campaign | None) -> dict:
    return {
        "event_names_list": EVENT_NAMES_LIST,
        "event_names": pick_lists.event_name_options(),
        "condition_keys_list": CONDITION_KEYS_LIST,
        "condition_keys": pick_lists.condition_key_options(campaign),
    }


@admin.display(description="Preview")
def preview_link(step: CampaignStep) -> str:
    if step.pk is None or step.kind != StepKind.SEND_SMS:
        return "-"
    url = reverse("admin:campaigns_campaign_preview", args=[step.campaign_id])
    return format_html(
        '<a href="{}?{}">Preview and test-send this SMS</a>',
        url,
        urlencode({"step": step.pk}),
    )


# Step URLs (media, webhooks) are read as https when typed without a scheme,
# as Django 6 will do by default.
URL_FIELDS_HTTPS = {models.URLField: {"assume_scheme": "https"}}


class CampaignStepInline(PickListMixin, admin.StackedInline):
    formfield_overrides = URL_FIELDS_HTTPS
    model = CampaignStep
    pick_lists = {
        "branch_event": EVENT_NAMES_LIST,
        "wait_until_key": CONDITION_KEYS_LIST,
    }
    readonly_fields = ["preview_link"]
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
        (
            "Send SMS",
            {"classes": ["collapse"], "fields": ["body", "media_url", "preview_link"]},
        ),
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

    preview_link = staticmethod(preview_link)


class CampaignExitInline(PickListMixin, admin.TabularInline):
    model = CampaignExit
    pick_lists = {"event_name": EVENT_NAMES_LIST}
    extra = 0
    show_change_link = True


class CampaignConditionInline(PickListMixin, admin.TabularInline):
    model = CampaignCondition
    form = CampaignConditionForm
    pick_lists = {"key": CONDITION_KEYS_LIST}
    extra = 0
    fields = CampaignConditionForm.Meta.fields

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


# What the change page's buttons offer in each status; each goes through
# services.change_campaign_status, as the list's actions do.
STATUS_BUTTONS = {
    CampaignStatus.DRAFT: [(CampaignStatus.LIVE, "Go live")],
    CampaignStatus.LIVE: [
        (CampaignStatus.PAUSED, "Pause"),
        (CampaignStatus.STOPPED, "Stop"),
    ],
    CampaignStatus.PAUSED: [
        (CampaignStatus.LIVE, "Resume"),
        (CampaignStatus.STOPPED, "Stop"),
    ],
    CampaignStatus.STOPPED: [],
}


@admin.register(Campaign)
class CampaignAdmin(PickListMixin, admin.ModelAdmin):
    list_display = ["name", "status", "trigger_event", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "trigger_event"]
    readonly_fields = ["status", "enrollments_link", "problems", "flow_view"]
    pick_lists = {"trigger_event": EVENT_NAMES_LIST, "goal_event": EVENT_NAMES_LIST}
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
    # Shown once the campaign exists: they read what is saved.
    saved_fieldsets = [
        ("Problems before going live", {"fields": ["problems"]}),
        ("The campaign as a flow", {"fields": ["flow_view"]}),
    ]
    inlines = [
        CampaignStepInline,
        CampaignExitInline,
        CampaignConditionInline,
        CampaignChangeInline,
    ]
    actions = ["go_live", "pause", "stop"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, *self.saved_fieldsets]

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path(
                "<path:object_id>/status/",
                view(self.status_view),
                name="campaigns_campaign_status",
            ),
            path(
                "<path:object_id>/preview/",
                view(self.preview_view),
                name="campaigns_campaign_preview",
            ),
            path(
                "<path:object_id>/dry-run/",
                view(self.dry_run_view),
                name="campaigns_campaign_dry_run",
            ),
            *super().get_urls(),
        ]

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

    @admin.display(description="Problems")
    def problems(self, campaign: Campaign) -> str:
        found = campaign_problems(campaign)
        if not found:
            return "None: it can go live."
        return format_html(
            '<ul class="campaign-problems">{}</ul>',
            format_html_join("", "<li>{}</li>", ((problem,) for problem in found)),
        )

    @admin.display(description="Flow")
    def flow_view(self, campaign: Campaign) -> str:
        return render_to_string(
            "admin/campaigns/campaign/flow.html",
            {"campaign": campaign, "flow": flow.describe_campaign(campaign)},
        )

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        context.update(pick_list_context(obj))
        if obj is not None and obj.pk is not None:
            context["status_buttons"] = STATUS_BUTTONS.get(obj.status, [])
            context["can_dry_run"] = obj.status == CampaignStatus.DRAFT
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        warn_if_paused(request, form.instance, self)

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

    # Custom pages ---------------------------------------------------------------

    def campaign_or_404(self, request, object_id: str, *, change: bool) -> Campaign:
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404("No such campaign.")
        allowed = (
            self.has_change_permission(request, campaign)
            if change
            else self.has_view_permission(request, campaign)
        )
        if not allowed:
            raise PermissionDenied
        return campaign

    def page_context(self, request, campaign: Campaign, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "campaign": campaign,
            "title": title,
        }

    @method_decorator(require_POST)
    def status_view(self, request, object_id):
        campaign = self.campaign_or_404(request, object_id, change=True)
        status = request.POST.get("status", "")
        allowed = {value for value, _ in STATUS_BUTTONS.get(campaign.status, [])}
        if status not in allowed:
            self.message_user(
                request,
                f"A {campaign.status} campaign cannot be made {status or 'that'}.",
                messages.ERROR,
            )
        else:
            self.change_status(request, [campaign], status)
        return HttpResponseRedirect(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        )

    def preview_view(self, request, object_id):
        """Render an SMS step for a contact; on POST, test-send it."""
        campaign = self.campaign_or_404(request, object_id, change=False)
        if request.method == "POST":
            return self.test_send_view(request, campaign)
        # A link from a step names the step only: show the form unbound.
        form = PreviewForm(
            request.GET if "contact" in request.GET else None,
            campaign=campaign,
            initial={"step": request.GET.get("step")},
        )
        return self.render_preview(request, campaign, form)

    def test_send_view(self, request, campaign: Campaign):
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        send_form = SendTestForm(request.POST, campaign=campaign)
        sent = self.test_send(request, send_form)
        if sent:
            return HttpResponseRedirect(f"{request.path}?{urlencode(sent)}")
        form = PreviewForm(
            {"step": request.POST.get("step"), "contact": request.POST.get("contact")},
            campaign=campaign,
        )
        return self.render_preview(request, campaign, form, send_form=send_form)

    def render_preview(
        self, request, campaign: Campaign, form: PreviewForm, send_form=None
    ):
        context = self.page_context(request, campaign, f"Preview: {campaign}")
        context["form"] = form
        if form.is_bound and form.is_valid():
            step = form.cleaned_data["step"]
            contact = preview.find_contact(form.cleaned_data["contact"])
            if contact is None:
                form.add_error("contact", "No contact has this phone number or id.")
            else:
                context["contact"] = contact
                context["preview"] = preview.preview_step(step, contact)
                context["send_form"] = send_form or SendTestForm(
                    initial={"step": step.pk, "contact": str(contact.pk)},
                    campaign=campaign,
                )
        return TemplateResponse(
            request, "admin/campaigns/campaign/preview.html", context
        )

    def test_send(self, request, send_form: SendTestForm) -> dict | None:
        """Send the test SMS the form asks for; on success, what to show next."""
        if not send_form.is_valid():
            return None
        contact = preview.find_contact(send_form.cleaned_data["contact"])
        if contact is None:
            send_form.add_error(None, "The contact is gone.")
            return None
        try:
            sid = preview.test_send(
                send_form.cleaned_data["step"],
                contact=contact,
                to_phone=send_form.cleaned_data["to_phone"],
                sent_by=request.user.get_username(),
            )
        except RegalError as exc:
            send_form.add_error("to_phone", exc.message)
            return None
        self.message_user(
            request, f"Test SMS sent; the gateway's sid is {sid}.", messages.SUCCESS
        )
        return {"step": send_form.cleaned_data["step"].pk, "contact": str(contact.pk)}

    def dry_run_view(self, request, object_id):
        """Replay the last days' trigger events through a draft; write nothing."""
        campaign = self.campaign_or_404(request, object_id, change=False)
        context = self.page_context(request, campaign, f"Dry run: {campaign}")
        form = DryRunForm(request.GET if "days" in request.GET else None)
        context["form"] = form
        if form.is_bound and form.is_valid():
            try:
                context["result"] = dry_run.simulate(
                    campaign, form.cleaned_data["days"]
                )
            except RegalError as exc:
                form.add_error(None, exc.message)
        return TemplateResponse(
            request, "admin/campaigns/campaign/dry_run.html", context
        )


def warn_if_paused(request, campaign: Campaign, model_admin) -> None:
    problems = services.pause_if_invalid(
        campaign, changed_by=request.user.get_username()
    )
    if problems:
        model_admin.message_user(
            request,
            f"{campaign} was live and is now paused, because it cannot run as "
            f"edited: {'; '.join(problems)}",
            messages.WARNING,
        )


class CampaignSplitVariantInline(admin.TabularInline):
    model = CampaignSplitVariant
    extra = 0


class StepConditionInline(PickListMixin, admin.TabularInline):
    model = CampaignCondition
    form = CampaignConditionForm
    pick_lists = {"key": CONDITION_KEYS_LIST}
    fk_name = "step"
    extra = 0
    fields = ["group", "subject", "key", "operator", "value", "value_type"]
    verbose_name_plural = "branch conditions"


@admin.register(CampaignStep)
class CampaignStepAdmin(PickListMixin, admin.ModelAdmin):
    formfield_overrides = URL_FIELDS_HTTPS
    list_display = ["campaign", "position", "kind"]
    list_filter = ["kind"]
    fieldsets = CampaignStepInline.fieldsets
    readonly_fields = ["preview_link"]
    inlines = [CampaignSplitVariantInline, StepConditionInline]
    pick_lists = CampaignStepInline.pick_lists
    preview_link = staticmethod(preview_link)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context.update(pick_list_context(obj.campaign if obj else None))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        warn_if_paused(request, form.instance.campaign, self)


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


class ContactEnrollmentInline(admin.TabularInline):
    """A contact's enrollments on its own page: why it got (or didn't get) a
    campaign's messages is one click away, in each enrollment's activity."""

    model = CampaignEnrollment
    fk_name = "contact"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["campaign", "status", "step", "next_run_at", "entered_at", "exit_reason"]
    readonly_fields = fields
    ordering = ["-entered_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# The contacts app may not import campaigns, so campaigns adds its part of
# the contact's page here.
admin.site.unregister(Contact)


@admin.register(Contact)
class ContactWithEnrollmentsAdmin(ContactAdmin):
    inlines = [*ContactAdmin.inlines, ContactEnrollmentInline]
