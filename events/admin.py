from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from events import services
from events.models import Event, EventName, PropertyKey, Source, SourceLogEntry

LOG_ENTRIES_SHOWN = 20


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
    fields = ["name", "is_enabled", "rate_limit_per_second", *readonly_fields, "log"]
    actions = ["rotate_write_key"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "log"]

    @admin.display(description="Latest log (rejected events, unused values, keys)")
    def log(self, source: Source) -> str:
        # The newest entries only: a source that sends bad events for weeks
        # must not make its own page slow. The whole log is a link away.
        if source.pk is None:
            return "-"
        entries = source.log.order_by("-created_at", "-id")[:LOG_ENTRIES_SHOWN]
        url = reverse("admin:events_sourcelogentry_changelist")
        return format_html(
            '{}<p><a href="{}?source__id__exact={}">The whole log</a></p>',
            format_html_join(
                "",
                "<div>{} <b>{}</b> {}: {} {}</div>",
                (
                    (
                        f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                        entry.level,
                        entry.code,
                        entry.message,
                        entry.message_id,
                    )
                    for entry in entries
                ),
            ),
            url,
            source.pk,
        )

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
