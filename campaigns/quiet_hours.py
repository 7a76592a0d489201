"""Quiet hours: when the contact's own clock allows an SMS or a call.

One rule decides everything here: a moment is allowed when, in every zone the
contact may be in, the wall clock reads a time inside the window (start
included, end excluded) on one of the window's weekdays. What it means for a
window edge at a daylight-saving change follows from the rule:

- Spring forward skips an hour. An edge inside it is passed when the clocks
  jump: in New York on 2026-03-08 a window opening at 02:30 opens at 03:00 EDT,
  and one closing at 02:30 closes at 03:00 EDT, the same instant.
- Fall back repeats an hour, and an edge inside it is passed twice: on
  2026-11-01 a window opening at 01:30 opens at the first 01:30 (EDT), shuts
  when the clocks go back to 01:00 and opens again at the second 01:30 (EST).

Moments go in and come out as aware datetimes; results are in UTC.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from regal.errors import RegalError

ALL_WEEKDAYS = frozenset(range(7))
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# How far ahead next_allowed looks before it gives up on a contact.
HORIZON = timedelta(days=14)
# A window is shorter than a day and a wall-clock day lasts at most 25 hours,
# so the allowed span holding a moment ends well within this.
CLOSE_HORIZON = timedelta(days=2)
# Zone offsets are read at least this often; tz rules never change twice
# within it, and the exact instant of a change is then found by bisection.
PROBE_STEP = timedelta(hours=1)
ONE_SECOND = timedelta(seconds=1)

# Twilio's Messages API accepts a ValidityPeriod from 1 to 36000 seconds.
TWILIO_MAX_VALIDITY = 36000

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    """Local wall-clock hours [start, end) on the given weekdays (Monday is 0).

    Any iterable of weekdays is kept as a frozenset. A window is not checked
    when built, so one read back from storage can still be shown: check it
    with validate_window before judging moments by it.
    """

    start: time
    end: time
    weekdays: frozenset[int] = ALL_WEEKDAYS

    def __post_init__(self):
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))

    def __str__(self) -> str:
        if self.weekdays == ALL_WEEKDAYS:
            days = "every day"
        else:
            days = ", ".join(WEEKDAY_NAMES[day] for day in sorted(self.weekdays))
        return f"{self.start:%H:%M}-{self.end:%H:%M} {days}"


DEFAULT_WINDOW = Window(time(9), time(20))


class NoAllowedTimeError(RegalError):
    """No instant within HORIZON is inside the window in all the zones."""

    code = "no_allowed_time"


def validate_window(window: Window) -> list[str]:
    """Return what is wrong with a window, for people; [] when it is usable."""
    problems = []
    if window.start.tzinfo or window.end.tzinfo:
        problems.append(
            "Window times are the contact's local time and cannot carry a zone."
        )
    elif window.start >= window.end:
        problems.append(
            f"The window must start before it ends ({window.start:%H:%M} is not "
            f"before {window.end:%H:%M}); windows across midnight are not supported."
        )
    if not window.weekdays:
        problems.append("Choose at least one weekday.")
    unknown = sorted(day for day in window.weekdays if day not in ALL_WEEKDAYS)
    if unknown:
        problems.append(
            "Weekdays run from 0 (Monday) to 6 (Sunday), not "
            + ", ".join(str(day) for day in unknown)
            + "."
        )
    return problems


def is_allowed(moment: datetime, zones: list[ZoneInfo], window: Window) -> bool:
    """Return whether every zone's wall clock at `moment` is inside the window."""
    moment = _utc(moment)
    _check_zones(zones)
    return all(_wall_allowed(_wall(moment, zone), window) for zone in zones)


def next_allowed(moment: datetime, zones: list[ZoneInfo], window: Window) -> datetime:
    """Return the earliest allowed instant at or after `moment`, in UTC.

    Returns `moment` itself when it is allowed. Only instants allowed in all
    the zones count. Raises NoAllowedTimeError when none comes within HORIZON, as
    for zones whose windows never overlap.
    """
    moment = _utc(moment)
    if is_allowed(moment, zones, window):
        return moment

    spans = _common_spans(moment, moment + HORIZON, zones, window)
    if not spans:
        names = ", ".join(zone.key for zone in zones)
        raise NoAllowedTimeError(
            f"No time in the {HORIZON.days} days after {moment:%Y-%m-%d %H:%M}Z "
            f"is inside {window} in all of {names}."
        )
    return spans[0][0]


def window_closes(moment: datetime, zones: list[ZoneInfo], window: Window) -> datetime:
    """Return the first instant after an allowed `moment` that is not allowed.

    That is when the first of the zones leaves the window. Raises ValueError
    when `moment` itself is not allowed.
    """
    moment = _utc(moment)
    if not is_allowed(moment, zones, window):
        raise ValueError(f"{moment.isoformat()} is outside the window {window}")

    spans = _common_spans(moment, moment + CLOSE_HORIZON, zones, window)
    return spans[0][1]


def validity_period_seconds(
    moment: datetime,
    zones: list[ZoneInfo],
    window: Window,
    *,
    maximum: int = TWILIO_MAX_VALIDITY,
) -> int:
    """Return Twilio's ValidityPeriod for a message sent at an allowed `moment`.

    The whole seconds until window_closes, so a message still queued when the
    window closes is dropped rather than delivered, clamped to 1..`maximum`.
    Twilio accepts no less than 1: with under a second left, the message may
    arrive up to a second late, so callers should not send that close to the
    edge. Raises ValueError when `moment` is not allowed or `maximum` is
    outside 1..TWILIO_MAX_VALIDITY.
    """
    if not 1 <= maximum <= TWILIO_MAX_VALIDITY:
        raise ValueError(f"maximum must be from 1 to {TWILIO_MAX_VALIDITY}")

    remaining = window_closes(moment, zones, window) - _utc(moment)
    return max(1, min(maximum, remaining // ONE_SECOND))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be an aware datetime")
    return moment.astimezone(UTC)


def _check_zones(zones: list[ZoneInfo]) -> None:
    # With no zone every moment would pass `all()`: refuse rather than send.
    if not zones:
        raise ValueError("zones must name at least one zone")


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _wall_allowed(wall: datetime, window: Window) -> bool:
    return (
        wall.weekday() in window.weekdays and window.start <= wall.time() < window.end
    )


def _common_spans(
    start: datetime, stop: datetime, zones: list[ZoneInfo], window: Window
) -> list[Span]:
    """The UTC spans within [start, stop) that are allowed in every zone."""
    _check_zones(zones)
    # Zone spans are computed over whole hours around [start, stop) so that
    # every probe of a zone's offset falls on a whole second, as changes do.
    grid_start = start.replace(minute=0, second=0, microsecond=0)
    grid_stop = stop.replace(minute=0, second=0, microsecond=0) + PROBE_STEP

    common = [(start, stop)]
    for zone in zones:
        spans = _zone_spans(zone, grid_start, grid_stop, window)
        common = _intersect(common, spans)
        if not common:
            break
    return common


def _zone_spans(
    zone: ZoneInfo, start: datetime, stop: datetime, window: Window
) -> list[Span]:
    """The UTC spans within [start, stop) when the zone's clock is in the window.

    Between two offset changes the wall clock is UTC plus a constant, so each
    such piece maps the window's wall-clock hours straight back to UTC.
    """
    spans = []
    for piece_start, piece_stop, offset in _offset_pieces(zone, start, stop):
        wall_start = (piece_start + offset).replace(tzinfo=None)
        wall_stop = (piece_stop + offset).replace(tzinfo=None)
        day = wall_start.date()
        while day <= wall_stop.date():
            opens = max(datetime.combine(day, window.start), wall_start)
            closes = min(datetime.combine(day, window.end), wall_stop)
            if day.weekday() in window.weekdays and opens < closes:
                spans.append(
                    (
                        (opens - offset).replace(tzinfo=UTC),
                        (closes - offset).replace(tzinfo=UTC),
                    )
                )
            day += timedelta(days=1)
    return _merge(spans)


def _offset_pieces(
    zone: ZoneInfo, start: datetime, stop: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """Split [start, stop) where the zone's UTC offset changes."""
    pieces = []
    piece_start = probe = start
    offset = _offset(zone, start)
    while True:
        step = min(probe + PROBE_STEP, stop)
        if _offset(zone, step) != offset:
            change = _first_change(zone, probe, step, offset)
            pieces.append((piece_start, change, offset))
            piece_start = probe = change
            offset = _offset(zone, change)
            continue
        if step >= stop:
            break
        probe = step
    pieces.append((piece_start, stop, offset))
    return pieces


def _first_change(
    zone: ZoneInfo, before: datetime, after: datetime, offset: timedelta
) -> datetime:
    """The first whole second in (before, after] whose offset is not `offset`."""
    while after - before > ONE_SECOND:
        middle = (before + (after - before) / 2).replace(microsecond=0)
        if _offset(zone, middle) == offset:
            before = middle
        else:
            after = middle
    return after


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset()


def _merge(spans: list[Span]) -> list[Span]:
    """Join spans that touch, as at an offset change inside the window."""
    merged: list[Span] = []
    for start, stop in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _intersect(first: list[Span], second: list[Span]) -> list[Span]:
    """The spans covered by both sorted lists of disjoint spans."""
    common = []
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        stop = min(first[i][1], second[j][1])
        if start < stop:
            common.append((start, stop))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return common
