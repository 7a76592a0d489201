from django.contrib import admin

from events.models import Event, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_enabled", "created_at"]
    readonly_fields = ["write_key", "created_at", "updated_at"]
    fields = ["name", "is_enabled", "write_key", "created_at", "updated_at"]


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
