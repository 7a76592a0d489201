from django.contrib import admin, messages

from events import services
from events.models import Event, EventName, PropertyKey, Source, SourceLogEntry


class SourceLogEntryInline(admin.TabularInline):
    model = SourceLogEntry
    extra = 0
    can_delete = False
    fields = ["created_at", "level", "code", "message", "message_id"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name_plural = "log (rejected events, unused values, key changes)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # Newest first; the full log is under "Source log entries".
        return super().get_queryset(request).order_by("-created_at", "-id")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_enabled", "rate_limit_per_second", "created_at"]
    readonly_fields = [
        "write_key",
        "previous_write_key",
        "previous_key_expires_at",
        "created_at",
        "updated_at",
    ]
    fields = ["name", "is_enabled", "rate_limit_per_second", *readonly_fields]
    inlines = [SourceLogEntryInline]
    actions = ["rotate_write_key"]

    @admin.action(description="Rotate the write key (the old one works 24 more hours)")
    def rotate_write_key(self, request, queryset):
        for source in queryset:
            services.rotate_write_key(source, rotated_by=request.user.get_username())
        self.message_user(
            request,
            f"Rotated the write key of {queryset.count()} source(s).",
            messages.SUCCESS,
        )


@admin.register(SourceLogEntry)
class SourceLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "source", "level", "code", "message", "message_id"]
    list_filter = ["level", "code", "source"]
    search_fields = ["message", "message_id"]
    readonly_fields = [field.name for field in SourceLogEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "type", "name", "contact", "user_id", "source"]
    list_filter = ["type", "source"]
    list_select_related = ["contact", "source"]
    search_fields = ["name", "user_id", "anonymous_id", "message_id", "contact__phone"]
    date_hierarchy = "timestamp"
    readonly_fields = [field.name for field in Event._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(EventName)
class EventNameAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "first_seen_at"]
    search_fields = ["name"]
    readonly_fields = ["name", "type", "first_seen_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(PropertyKey)
class PropertyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "scope", "event_name", "type", "first_seen_at"]
    list_filter = ["scope", "type"]
    search_fields = ["key", "event_name"]
    readonly_fields = ["scope", "event_name", "key", "type", "first_seen_at"]

    def has_add_permission(self, request) -> bool:
        return False
