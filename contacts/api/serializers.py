"""The read API's view of contacts, and the filters its list takes."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.errors import InvalidPhoneError
from contacts.models import Contact, ContactConsent, ContactConsentChange
from contacts.phones import normalize_phone


class ContactFilterSerializer(serializers.Serializer):
    """Query parameters of GET /api/v1/contacts/; every filter given must match."""

    phone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Any format phonenumbers reads, e.g. (415) 555-2671 or +14155552671.",
    )
    email = serializers.CharField(
        required=False, max_length=254, help_text="Matched without regard to case."
    )
    user_id = serializers.CharField(
        required=False,
        max_length=255,
        help_text="The userId the brand sent; finds the contact its profile has now.",
    )
    property = serializers.ListField(
        child=serializers.CharField(max_length=1000),
        required=False,
        help_text=(
            "`key:value`, repeatable; matches a property equal to the value as "
            "text or as the number or boolean it spells."
        ),
    )

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone(value)
        except InvalidPhoneError as exc:
            raise serializers.ValidationError(exc.message) from exc

    def validate_property(self, value: list[str]) -> list[tuple[str, str]]:
        pairs = []
        for item in value:
            key, colon, text = item.partition(":")
            if not key or not colon:
                raise serializers.ValidationError(
                    f"{item!r} is not key:value with a non-empty key"
                )
            pairs.append((key, text))
        return pairs


class ContactSerializer(serializers.ModelSerializer):
    address = serializers.DictField(
        read_only=True, help_text="street, city, state, postalCode, country."
    )
    phones = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Other numbers: value, label, is_primary.",
    )
    emails = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Other addresses: value, label, is_primary.",
    )
    properties = serializers.DictField(read_only=True)

    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "first_name",
            "last_name",
            "email",
            "timezone",
            "address",
            "phones",
            "emails",
            "properties",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ConsentChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactConsentChange
        fields = [
            "channel",
            "address",
            "subscribed",
            "source",
            "occurred_at",
            "ip",
            "text",
        ]
        read_only_fields = fields


class ConsentSerializer(serializers.ModelSerializer):
    history = serializers.SerializerMethodField(
        help_text="Every change of this consent, newest first."
    )

    class Meta:
        model = ContactConsent
        fields = ["channel", "address", "subscribed", "updated_at", "history"]
        read_only_fields = fields

    @extend_schema_field(ConsentChangeSerializer(many=True))
    def get_history(self, consent: ContactConsent) -> list[dict]:
        # The contact's changes are prefetched once for all its consents.
        changes = [
            change
            for change in consent.contact.consent_changes.all()
            if change.channel == consent.channel and change.address == consent.address
        ]
        return ConsentChangeSerializer(changes, many=True).data


class ContactDetailSerializer(ContactSerializer):
    consent = ConsentSerializer(
        source="consents",
        many=True,
        read_only=True,
        help_text="The current consent per channel and address, with its history.",
    )

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "consent"]
        read_only_fields = fields
