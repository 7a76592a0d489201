"""How an SMS body will be encoded and into how many segments it will be split.

The campaign builder's preview shows this next to a step rendered for a real
contact, because a single character outside GSM-7 more than halves what fits
in a segment, and every segment is billed.

A body is sent as GSM-7 (3GPP TS 23.038, default alphabet and its extension
table, no national language shift tables) when every character is in that
alphabet, and as UCS-2 otherwise. The counts are those of the body as given:
Twilio's optional Smart Encoding, which may swap characters such as curly
quotes for GSM-7 ones before sending, is not applied here.
"""

from dataclasses import dataclass
from enum import StrEnum

# Importing the package registers the "gsm03.38" codec.
import gsm0338  # noqa: F401

GSM_CODEC = "gsm03.38"
# The escape code that introduces an extension-table character. The codec
# encodes U+001B as itself, but a handset would read it as the first half of a
# pair and garble the next character, so it counts as outside GSM-7.
GSM_ESCAPE = "\x1b"

# A multipart message spends 6 octets of each segment on the header that lets
# the handset reassemble the parts: 7 septets in GSM-7, 3 code units in UCS-2.
GSM_7_SINGLE_SEGMENT = 160
GSM_7_MULTIPART_SEGMENT = 153
UCS_2_SINGLE_SEGMENT = 70
UCS_2_MULTIPART_SEGMENT = 67

# describe() names at most this many of the characters that forced UCS-2; a
# body in another script would otherwise list its whole alphabet.
MAX_NAMED_CHARACTERS = 5


class SmsEncoding(StrEnum):
    GSM_7 = "GSM-7"
    UCS_2 = "UCS-2"


@dataclass(frozen=True)
class SmsInfo:
    """The encoding, size and segment count of one SMS body.

    `characters` is `len()` of the body: Unicode code points, so an emoji
    built from several code points (a flag, a skin tone) counts as several.
    `units` is what the segment limits are measured in: septets for GSM-7,
    where an extension-table character (€ [ ] { } ^ ~ | \\ and form feed)
    takes two, and UTF-16 code units for UCS-2, where a character outside the
    Basic Multilingual Plane (most emoji) takes two. `non_gsm_characters` holds
    the characters that forced UCS-2, each once, in order of first appearance;
    it is empty for GSM-7.
    """

    encoding: SmsEncoding
    characters: int
    units: int
    segments: int
    non_gsm_characters: tuple[str, ...]


def sms_info(text: str) -> SmsInfo:
    """Return how `text` will be encoded and how many segments it will take.

    Parts of a multipart message are filled in order without splitting an
    extension character's escape pair or a UTF-16 surrogate pair, so the count
    can exceed `ceil(units / 153)` (or `/ 67`) by one when such a pair would
    straddle a boundary.

    An empty body is GSM-7 with 0 units and 0 segments: nothing would be
    billed, and Twilio refuses an empty body rather than sending one segment.
    """
    septets = [_septets(character) for character in text]
    non_gsm = tuple(
        dict.fromkeys(
            character
            for character, width in zip(text, septets, strict=True)
            if width is None
        )
    )

    if non_gsm:
        widths = [2 if ord(character) > 0xFFFF else 1 for character in text]
        encoding = SmsEncoding.UCS_2
        segments = _count_segments(
            widths, single=UCS_2_SINGLE_SEGMENT, part=UCS_2_MULTIPART_SEGMENT
        )
    else:
        widths = septets
        encoding = SmsEncoding.GSM_7
        segments = _count_segments(
            widths, single=GSM_7_SINGLE_SEGMENT, part=GSM_7_MULTIPART_SEGMENT
        )

    return SmsInfo(
        encoding=encoding,
        characters=len(text),
        units=sum(widths),
        segments=segments,
        non_gsm_characters=non_gsm,
    )


def describe(info: SmsInfo) -> str:
    """Return a one-line summary for the preview.

    For example "142 characters, GSM-7, 1 segment" or
    "75 characters, UCS-2 (because of ć), 2 segments". Characters that would
    be invisible in that sentence (spaces other than the ASCII one, control
    and format characters) are named by code point, as in "U+00A0".
    """
    encoding = str(info.encoding)
    if info.non_gsm_characters:
        encoding += f" (because of {_name_characters(info.non_gsm_characters)})"
    characters = _count_noun(info.characters, "character")
    segments = _count_noun(info.segments, "segment")
    return f"{characters}, {encoding}, {segments}"


def _septets(character: str) -> int | None:
    """Septets `character` takes in GSM-7, or None if it is not in GSM-7."""
    if character == GSM_ESCAPE:
        return None
    try:
        return len(character.encode(GSM_CODEC))
    except ValueError:  # UnicodeEncodeError, or ValueError from older releases
        return None


def _count_segments(widths: list[int], *, single: int, part: int) -> int:
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1

    segments, filled = 1, 0
    for width in widths:
        if filled + width > part:
            segments += 1
            filled = 0
        filled += width
    return segments


def _name_characters(characters: tuple[str, ...]) -> str:
    names = [
        character if character.isprintable() else f"U+{ord(character):04X}"
        for character in characters[:MAX_NAMED_CHARACTERS]
    ]
    hidden = len(characters) - len(names)
    if hidden:
        return f"{', '.join(names)} and {hidden} more"
    return ", ".join(names)


def _count_noun(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
