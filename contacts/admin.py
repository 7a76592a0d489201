from django import forms
from django.contrib import admin

from contacts.errors import InvalidPhoneError
from contacts.models import (
    Contact,
    ContactConsent,
    ContactConsentChange,
    Profile,
    ProfileIdentifier,
    ProfileMerge,
)
from contacts.phones import normalize_phone
from contacts.services import valid_timezone


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


class ContactForm(forms.ModelForm):
    """Edits of what a person's traits set, held to the shapes Regal reads."""

    class Meta:
        model = Contact
        fields = ["phone", "first_name", "last_name", "email", "timezone"]
        fields += ["address", "properties"]

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhoneError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"]
        if not valid_timezone(name):
            raise forms.ValidationError(f"{name!r} is not an IANA time zone.")
        return name

    def clean_address(self) -> dict:
        return json_object(self.cleaned_data["address"], "The address")

    def clean_properties(self) -> dict:
        return json_object(self.cleaned_data["properties"], "Properties")


def json_object(value, what: str) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError(f'{what} must be a JSON object, like {{"a": 1}}.')
    return value


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    list_display = ["phone", "first_name", "last_name", "email", "created_at"]
    search_fields = ["phone", "first_name", "last_name", "email"]
    inlines = [ContactConsentInline, ContactConsentChangeInline]

    def get_readonly_fields(self, request, obj=None):
        # A contact is its phone: a new number is a new contact, never an edit.
        # Other numbers and addresses come from traits, with their consent.
        fixed = ["phones", "emails", "created_at", "updated_at"]
        return ["phone", *fixed] if obj else fixed


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
