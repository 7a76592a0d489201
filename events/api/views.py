from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import queries as contact_queries
from events import queries
from events.api.authentication import WriteKeyAuthentication
from events.api.parsers import IngestJSONParser
from events.api.schema import IngestSchema
from events.api.serializers import EventFilterSerializer, EventSerializer
from events.api.throttling import SourceRateThrottle
from events.errors import InvalidEventError
from events.services import IngestResult, ingest_events
from regal.api import error_responses
from regal.pagination import NewestFirstPagination


class IngestView(APIView):
    """Segment's HTTP tracking API: one event per call, or a batch."""

    authentication_classes = [WriteKeyAuthentication]
    # The write key is the whole check: WriteKeyAuthentication refuses a request
    # without a valid one, and the project's default (a signed-in user) would
    # refuse every SDK.
    permission_classes = []
    parser_classes = [IngestJSONParser]
    throttle_classes = [SourceRateThrottle]
    schema = IngestSchema()
    event_type: str | None = None

    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidEventError(
                "the body must be a JSON object", code="invalid_body"
            )
        result = ingest_events(
            request.auth, [request.data], default_type=self.event_type
        )
        return ingest_response(result)


class BatchView(IngestView):
    def post(self, request: Request) -> Response:
        data = request.data
        batch = data.get("batch") if isinstance(data, dict) else None
        if not isinstance(batch, list):
            raise InvalidEventError(
                "the body must hold a `batch` list", code="invalid_batch"
            )
        context = data.get("context")
        result = ingest_events(
            request.auth,
            batch,
            batch_sent_at=data.get("sentAt"),
            batch_context=context if isinstance(context, dict) else None,
        )
        return ingest_response(result)


class RegalEventView(IngestView):
    """Regal's own events API: one person's traits and one named event.

    The body is `{userId, traits, name, properties, originalTimestamp,
    eventSource}`; the traits are applied to the person as an identify's
    would be, and the event is stored as a track call (or as an identify
    when it has no name).
    """

    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidEventError(
                "the body must be a JSON object", code="invalid_body"
            )
        result = ingest_events(
            request.auth, [regal_event_as_call(request.data)], traits_identify=True
        )
        response = ingest_response(result)
        if response.status_code == 200:
            response.data = {"message": "ok", **response.data}
        return response


def regal_event_as_call(data: dict) -> dict:
    """Regal's event shape as the Segment call it amounts to."""
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    if data.get("eventSource") is not None:
        context = {**context, "eventSource": data["eventSource"]}
    call = {
        key: data[key]
        for key in ("userId", "anonymousId", "messageId", "traits", "properties")
        if key in data
    }
    call.update(
        type="track" if data.get("name") else "identify",
        event=data.get("name"),
        originalTimestamp=data.get("originalTimestamp"),
        timestamp=data.get("timestamp") or data.get("originalTimestamp"),
        context=context,
    )
    return call


def ingest_response(result: IngestResult) -> Response:
    body: dict = {"success": not result.errors}
    if result.warnings:
        body["warnings"] = [warning.as_dict() for warning in result.warnings]
    if not result.errors:
        return Response(body)
    kept = len(result.stored) + result.duplicates
    body.update(
        code="invalid_events",
        message=(
            f"{len(result.errors)} event(s) rejected, {kept} accepted; "
            "see errors for which and why"
        ),
        accepted=kept,
        errors=[error.as_dict() for error in result.errors],
    )
    return Response(body, status=400)


class EventPagination(NewestFirstPagination):
    ordering = ("-timestamp", "-id")


@extend_schema(tags=["events"])
class EventViewSet(viewsets.GenericViewSet):
    """Events, newest first, for integrators reading back what was sent."""

    serializer_class = EventSerializer
    pagination_class = EventPagination

    @extend_schema(
        parameters=[EventFilterSerializer],
        responses={200: EventSerializer(many=True), **error_responses(400)},
    )
    def list(self, request: Request) -> Response:
        filters = EventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = queries.list_events(**filters.validated_data)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)


@extend_schema(tags=["contacts"])
class ContactEventListView(GenericAPIView):
    """A contact's timeline: its events, newest first."""

    serializer_class = EventSerializer
    pagination_class = EventPagination

    @extend_schema(
        responses={200: EventSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, contact_id: int) -> Response:
        if not contact_queries.contact_exists(contact_id):
            raise NotFound("no contact has this id")
        page = self.paginate_queryset(queries.list_events_for_contact(contact_id))
        return self.get_paginated_response(EventSerializer(page, many=True).data)
