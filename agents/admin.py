from django.contrib import admin

from agents.models import Conversation, Message


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
