from django.contrib import admin

from agents.models import CallTask, Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ["created_at", "direction", "status", "body", "twilio_sid", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "last_message_at"]
    list_select_related = ["contact"]
    search_fields = ["contact__phone"]
    readonly_fields = ["contact", "last_message_at", "created_at"]
    inlines = [MessageInline]


@admin.register(CallTask)
class CallTaskAdmin(admin.ModelAdmin):
    """Call tasks to read: opening, completing and cancelling go through the
    services, which broadcast to the desk and record who and when."""

    list_display = [
        "id",
        "contact",
        "status",
        "priority",
        "due_at",
        "due_by",
        "opened_by",
        "disposition",
        "completed_by",
        "created_at",
    ]
    list_filter = ["status", "priority", "disposition", "due_at", "created_at"]
    list_select_related = ["contact", "completed_by"]
    search_fields = ["contact__phone", "opened_by", "opener_key"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["contact", "status", "priority", "due_at", "due_by"]}),
        ("For the agent", {"fields": ["notes", "script"]}),
        ("Opened", {"fields": ["opened_by", "opener_key", "idempotency_key"]}),
        (
            "Closed",
            {
                "fields": [
                    "disposition",
                    "completion_notes",
                    "completed_by",
                    "completed_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
