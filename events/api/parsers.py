import json
import math
import re
import zlib

from rest_framework import exceptions
from rest_framework.parsers import BaseParser

from events.errors import InvalidEventError

# Checked on the inflated body: a gzip request is as large as what it carries.
MAX_REQUEST_BYTES = 500 * 1024
# An escaped half of a UTF-16 pair, such as \ud800: the one way a JSON body
# can carry a string that is not Unicode.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class IngestJSONParser(BaseParser):
    """JSON, plain or gzip-compressed, of any declared media type.

    SDKs send `application/json`, browsers' beacons `text/plain`; RudderStack
    compresses with gzip. The body is read at most one byte past the limit,
    and inflated likewise, so an oversized or zip-bomb body costs nothing.
    """

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        raw = stream.read(MAX_REQUEST_BYTES + 1) if stream else b""
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            raw = inflate(raw)
        elif encoding not in ("", "identity"):
            raise exceptions.UnsupportedMediaType(
                media_type, detail=f"Content-Encoding {encoding!r} is not supported"
            )
        if len(raw) > MAX_REQUEST_BYTES:
            raise InvalidEventError(
                f"a request holds at most {MAX_REQUEST_BYTES // 1024} KB of JSON",
                code="request_too_large",
            )
        try:
            data = json.loads(
                raw, parse_float=finite_float, parse_constant=refuse_constant
            )
            if SURROGATE_ESCAPE.search(raw):
                data = replace_lone_surrogates(data)
        except ValueError as exc:
            # Also what Python's parser raises for an integer over 4300 digits.
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            # A few hundred KB of `[` nest deeper than Python's parser can go.
            raise exceptions.ParseError("JSON parse error - nested too deeply") from exc
        return data


# Python reads NaN, Infinity and 1e999 as floats that no JSON can hold:
# PostgreSQL refuses them in a JSON column, and no answer could echo them.
def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def replace_lone_surrogates(value: object) -> object:
    """Put U+FFFD for each half of a UTF-16 pair, keys included.

    No UTF-8 column can store one, so the event would fail the whole batch;
    like a UTF-8 decoder meeting a bad byte, keep the event and mark the spot.
    """
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            replace_lone_surrogates(key): replace_lone_surrogates(item)
            for key, item in value.items()
        }
    return value


def inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(raw, MAX_REQUEST_BYTES + 1)
    except zlib.error as exc:
        raise exceptions.ParseError(f"the body is not valid gzip: {exc}") from exc
