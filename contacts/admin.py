from django.contrib import admin

from contacts.models import (
    Contact,
    ContactConsent,
    ContactConsentChange,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
)


class ContactConsentInline(admin.TabularInline):
    model = ContactConsent
    extra = 0
    can_delete = False
    readonly_fields = ["channel", "address", "subscribed", "updated_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ContactConsentChangeInline(admin.TabularInline):
    model = ContactConsentChange
    extra = 0
    can_delete = False
    readonly_fields = [
        "occurred_at",
        "channel",
        "address",
        "subscribed",
        "source",
        "ip",
        "text",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "first_name", "last_name", "email", "created_at"]
    search_fields = ["phone", "first_name", "last_name", "email"]
    readonly_fields = ["phone", "created_at", "updated_at"]
    inlines = [ContactConsentInline, ContactConsentChangeInline]


class ProfileIdentifierInline(admin.TabularInline):
    model = ProfileIdentifier
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "value", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ProfileMergeInline(admin.TabularInline):
    model = ProfileMerge
    fk_name = "into_profile"
    extra = 0
    can_delete = False
    readonly_fields = [
        "created_at",
        "outcome",
        "other_profile_id",
        "cause",
        "identifiers",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["id", "contact", "merged_into", "updated_at"]
    list_select_related = ["contact"]
    search_fields = ["identifiers__value", "contact__phone"]
    readonly_fields = ["contact", "merged_into", "traits", "created_at", "updated_at"]
    inlines = [ProfileIdentifierInline, ProfileMergeInline]
