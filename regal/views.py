"""Error pages: JSON for API and webhook paths, Django's HTML elsewhere."""

from django.views import defaults

from regal.api import json_error

JSON_PREFIXES = ("/v1/", "/api/", "/twilio/", "/events")


def not_found(request, exception=None):
    if request.path.startswith(JSON_PREFIXES):
        return json_error(request, status=404, code="not_found", message="no such URL")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(JSON_PREFIXES):
        return json_error(
            request, status=500, code="server_error", message="something went wrong"
        )
    return defaults.server_error(request)
