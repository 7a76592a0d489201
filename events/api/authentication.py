import base64
import binascii

from rest_framework import authentication, exceptions

from events.errors import InvalidWriteKeyError
from events.queries import get_enabled_source_by_write_key


class WriteKeyAuthentication(authentication.BaseAuthentication):
    """Find the source from its write key, wherever the SDK put it.

    Segment's SDKs send the key as the HTTP Basic user name with no password;
    some integrations send it as a Bearer token or as `writeKey` in the body,
    and Regal's own events API as the bare Authorization header.
    A request that names a key which no enabled source has is refused.
    """

    def authenticate(self, request):
        write_key = header_write_key(request) or body_write_key(request)
        if not write_key:
            raise exceptions.NotAuthenticated(
                "send the source's write key as the Basic auth user name, "
                "a Bearer token or writeKey in the body"
            )
        source = get_enabled_source_by_write_key(write_key)
        if source is None:
            raise InvalidWriteKeyError("no enabled source has this write key")
        return (None, source)

    def authenticate_header(self, request) -> str:
        return 'Basic realm="regal"'


def header_write_key(request) -> str | None:
    """The key from `Basic <base64 key:>`, `Bearer <key>`, or a bare `<key>`."""
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not credentials:
        # Regal's own events API sends the raw key as the whole header.
        return header or None
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise exceptions.AuthenticationFailed(
            "Basic credentials are not base64"
        ) from exc
    return decoded.partition(":")[0] or None


def body_write_key(request) -> str | None:
    data = request.data
    key = data.get("writeKey") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None
