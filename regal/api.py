"""The one place where errors become API responses: JSON with `code` and `message`.

Segment's and RudderStack's SDKs read those two keys from every 4xx answer;
without them they treat the answer as garbled and retry it for minutes.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from regal.errors import RegalError

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RegalError):
        response = Response(
            {"code": exc.code, "message": exc.message}, status=exc.status
        )
        if exc.status == 401:
            # HTTP requires a 401 to say how to authenticate; DRF adds the
            # header to its own exceptions only.
            add_authenticate_header(response, context)
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"code": "request_too_large", "message": "the request body is too large"},
            status=413,
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = {"code": error_code(exc), "message": error_message(exc.detail)}
    return response


def add_authenticate_header(response: Response, context: dict) -> None:
    view, request = context.get("view"), context.get("request")
    header = view.get_authenticate_header(request) if view and request else None
    if header:
        response["WWW-Authenticate"] = header


def error_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def error_message(detail: object) -> str:
    if isinstance(detail, list):
        return "; ".join(error_message(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(
            f"{key}: {error_message(value)}" for key, value in detail.items()
        )
    return str(detail)


def json_error(request, *, status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer, for the API schema."""

    code = serializers.CharField(help_text="Stable; clients may branch on it.")
    message = serializers.CharField(help_text="For people.")


def error_responses(*statuses: int) -> dict[int, type[ErrorSerializer]]:
    """The schema's error answers of a view behind the default authentication."""
    return dict.fromkeys((*statuses, 401, 403), ErrorSerializer)
