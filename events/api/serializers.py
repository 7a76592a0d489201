"""The read API's view of events, and the filters its list takes."""

from rest_framework import serializers

from events.models import Event


class EventFilterSerializer(serializers.Serializer):
    """Query parameters of GET /api/v1/events/."""

    name = serializers.CharField(
        required=False, max_length=255, help_text="The event's exact name."
    )
    since = serializers.DateTimeField(
        required=False,
        help_text="ISO-8601; events at or after this time. Without a zone, UTC.",
    )
    until = serializers.DateTimeField(
        required=False,
        help_text="ISO-8601; events before this time. Without a zone, UTC.",
    )

    def validate(self, attrs: dict) -> dict:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError("since must not be after until")
        return attrs


class EventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    properties = serializers.DictField(read_only=True)
    traits = serializers.DictField(read_only=True)
    context = serializers.DictField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "name",
            "message_id",
            "source",
            "contact",
            "user_id",
            "anonymous_id",
            "properties",
            "traits",
            "context",
            "timestamp",
            "original_timestamp",
            "sent_at",
            "received_at",
        ]
        read_only_fields = fields
