"""How the ingestion API appears in the OpenAPI schema.

The views take any JSON object and report each bad event in the answer, so
these shapes describe what Regal reads rather than validate anything: fields
not named here are accepted and kept in the event as sent.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from regal.api import ErrorSerializer

IDENTITY_HELP = (
    "userId or anonymousId is required; placeholders such as 'null' or 'guest' "
    "are not identities."
)


def call_fields(**extra: serializers.Field) -> dict[str, serializers.Field]:
    """The fields every call of Segment's HTTP tracking API may carry."""
    return {
        "userId": serializers.CharField(required=False, help_text=IDENTITY_HELP),
        "anonymousId": serializers.CharField(required=False, help_text=IDENTITY_HELP),
        "messageId": serializers.CharField(
            required=False, help_text="Deduplicates retries; one is made when missing."
        ),
        "timestamp": serializers.DateTimeField(required=False),
        "originalTimestamp": serializers.DateTimeField(required=False),
        "sentAt": serializers.DateTimeField(required=False),
        "context": serializers.DictField(required=False),
        "writeKey": serializers.CharField(
            required=False, help_text="The source's write key, if not in a header."
        ),
        **extra,
    }


class EventProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    messageId = serializers.CharField(allow_null=True)  # noqa: N815 (the wire name)
    code = serializers.CharField()
    message = serializers.CharField()


def problem_list(help_text: str) -> serializers.ListSerializer:
    return EventProblemSerializer(many=True, required=False, help_text=help_text)


TRACK = inline_serializer(
    "TrackCall",
    fields=call_fields(
        event=serializers.CharField(help_text="The name of what the person did."),
        properties=serializers.DictField(required=False),
    ),
)
IDENTIFY = inline_serializer(
    "IdentifyCall",
    fields=call_fields(
        traits=serializers.DictField(
            required=False,
            help_text=(
                "phone makes or finds the contact; firstName, lastName, email and "
                "timezone are typed fields; optIn is a list of "
                '{"channel": "sms", "subscribed": true}; the rest are properties.'
            ),
        ),
    ),
)
PAGE = inline_serializer(
    "PageCall",
    fields=call_fields(
        name=serializers.CharField(required=False),
        properties=serializers.DictField(required=False),
    ),
)
ALIAS = inline_serializer(
    "AliasCall",
    fields=call_fields(
        previousId=serializers.CharField(
            help_text="The id the person was known by; userId is required too."
        ),
    ),
)
GROUP = inline_serializer(
    "GroupCall",
    fields=call_fields(
        groupId=serializers.CharField(),
        traits=serializers.DictField(required=False, help_text="The group's."),
    ),
)
REGAL_EVENT = inline_serializer(
    "RegalEvent",
    fields={
        "userId": serializers.CharField(required=False, help_text=IDENTITY_HELP),
        "anonymousId": serializers.CharField(required=False, help_text=IDENTITY_HELP),
        "messageId": serializers.CharField(required=False),
        "name": serializers.CharField(
            required=False, help_text="Stored as a track call; without, an identify."
        ),
        "traits": serializers.DictField(
            required=False, help_text="Applied to the person as an identify's are."
        ),
        "properties": serializers.DictField(required=False),
        "originalTimestamp": serializers.DateTimeField(required=False),
        "timestamp": serializers.DateTimeField(required=False),
        "eventSource": serializers.CharField(required=False),
        "context": serializers.DictField(required=False),
    },
)
BATCH = inline_serializer(
    "Batch",
    fields={
        "batch": serializers.ListField(
            child=serializers.DictField(),
            help_text="Calls as above, each with its type: track, identify, page…",
        ),
        "sentAt": serializers.DateTimeField(required=False),
        "context": serializers.DictField(
            required=False, help_text="Merged into each call's own context."
        ),
        "writeKey": serializers.CharField(required=False),
    },
)
ACCEPTED = inline_serializer(
    "IngestAccepted",
    fields={
        "success": serializers.BooleanField(),
        "warnings": problem_list("Events kept with something in them not used."),
    },
)
REJECTED = inline_serializer(
    "IngestRejected",
    fields={
        "success": serializers.BooleanField(),
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "accepted": serializers.IntegerField(required=False),
        "errors": problem_list("Each rejected event, by index, and why."),
        "warnings": problem_list("Events kept with something in them not used."),
    },
)

CALL_BODIES = {
    "track": TRACK,
    "identify": IDENTIFY,
    "page": PAGE,
    "screen": PAGE,
    "alias": ALIAS,
    "group": GROUP,
}
# Views that take no single call, by class name (this module cannot import
# the views, which import it).
VIEW_BODIES = {"BatchView": BATCH, "RegalEventView": REGAL_EVENT}


class IngestSchema(AutoSchema):
    """Names each ingestion view's body by the call it takes."""

    def get_request_serializer(self):
        if self.view.event_type:
            return CALL_BODIES.get(self.view.event_type, OpenApiTypes.OBJECT)
        return VIEW_BODIES.get(type(self.view).__name__, OpenApiTypes.OBJECT)

    def get_response_serializers(self):
        return {
            200: ACCEPTED,
            400: REJECTED,
            401: ErrorSerializer,
        }

    def map_parsers(self) -> list[str]:
        # The parser reads JSON whatever the declared type (beacons send
        # text/plain) and inflates gzip; the schema names what SDKs send.
        return ["application/json"]

    def get_description(self) -> str:
        return (
            f"{super().get_description()}\n\nThe body is a JSON object, sent as "
            "application/json (or text/plain), optionally with "
            "Content-Encoding: gzip. Fields not named here are kept as sent."
        )

    def get_tags(self) -> list[str]:
        return ["ingestion"]


class WriteKeyScheme(OpenApiAuthenticationExtension):
    """A write key as the Basic user name (what the SDKs send) or a Bearer token."""

    target_class = "events.api.authentication.WriteKeyAuthentication"
    name = ["writeKeyBasic", "writeKeyBearer"]

    def get_security_requirement(self, auto_schema):
        return [{"writeKeyBasic": []}, {"writeKeyBearer": []}]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "basic",
                "description": "The source's write key as user name, no password.",
            },
            {
                "type": "http",
                "scheme": "bearer",
                "description": "The source's write key as the Bearer token.",
            },
        ]
