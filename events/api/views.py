from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import queries as contact_queries
from events import queries
from events.api.authentication import WriteKeyAuthentication
from events.api.schema import IngestSchema
from events.api.serializers import EventFilterSerializer, EventSerializer
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
    parser_classes = [JSONParser]
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
