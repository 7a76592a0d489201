from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.authentication import WriteKeyAuthentication
from events.errors import InvalidEventError
from events.services import IngestResult, ingest_events


class IngestView(APIView):
    """Segment's HTTP tracking API: one event per call, or a batch."""

    authentication_classes = [WriteKeyAuthentication]
    parser_classes = [JSONParser]
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
