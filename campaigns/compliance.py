"""The rules no campaign step may break, checked when each step runs.

Consent for the channel, quiet hours in the contact's own local time and the
frequency cap per contact. A step asks `check_sms` before it texts anyone and
does what the verdict says: send (within a validity period), wait until the
window opens, or skip with the reason.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings

from agents import queries as agent_queries
from campaigns.models import Campaign
from campaigns.quiet_hours import (
    NoAllowedTimeError,
    Window,
    is_allowed,
    next_allowed,
    window_closes,
)
from contacts.choices import Channel
from contacts.models import Contact
from contacts.timezones import contact_zones


@dataclass(frozen=True)
class Verdict:
    """What a step may do now: `send`, `defer` until `until`, or `skip`.

    A `send` in a campaign with quiet hours carries `send_before`, the instant
    the contact's window closes: the message must not go out after it.
    """

    action: str
    reason: str = ""
    until: datetime | None = None
    send_before: datetime | None = None


def quiet_hours_window(campaign: Campaign) -> Window | None:
    """The hours a campaign may reach people; None when it has no quiet hours.

    A campaign without its own hours uses the global REGAL_QUIET_HOURS; one
    whose start equals its end has none, which only an admin can set.
    """
    start = campaign.quiet_hours_start or parse_time(settings.REGAL_QUIET_HOURS[0])
    end = campaign.quiet_hours_end or parse_time(settings.REGAL_QUIET_HOURS[1])
    if start == end:
        return None
    return Window(start, end)


def parse_time(text: str) -> time:
    return time.fromisoformat(text)


def sms_cap(campaign: Campaign) -> tuple[int, timedelta]:
    count, period = settings.REGAL_SMS_CAP
    return (
        count if campaign.sms_cap_count is None else campaign.sms_cap_count,
        campaign.sms_cap_period or timedelta(hours=period),
    )


def check_sms(campaign: Campaign, contact: Contact, *, now: datetime) -> Verdict:
    """May this campaign text this contact now?

    Consent first (a transactional campaign needs none, but nobody who said
    STOP is texted), then quiet hours, which only defer, then the frequency
    cap, counted when the SMS would really go out.
    """
    if contact.has_opted_out(Channel.SMS):
        return Verdict("skip", "the contact opted out of SMS")
    if not campaign.is_transactional and not contact.has_consent(Channel.SMS):
        return Verdict("skip", "no SMS consent")
    window = quiet_hours_window(campaign)
    zones = contact_zones(contact) if window else []
    try:
        if window and not is_allowed(now, zones, window):
            until = next_allowed(now, zones, window)
            return Verdict(
                "defer", f"quiet hours until {until:%Y-%m-%d %H:%M} UTC", until
            )
    except NoAllowedTimeError as exc:
        return Verdict("skip", exc.message)
    count, period = sms_cap(campaign)
    sent = agent_queries.count_outbound_sms(contact.pk, since=now - period)
    if sent >= count:
        return Verdict("skip", f"frequency cap: {sent} SMS in the last {period}")
    if window is None:
        return Verdict("send")
    # The close itself, not now plus Twilio's longest ValidityPeriod: a window
    # longer than ten hours would otherwise refuse the send in its last hour.
    # agents.services.validity_period clamps what Twilio is told.
    return Verdict("send", send_before=window_closes(now, zones, window))


def check_call(campaign: Campaign, contact: Contact) -> Verdict:
    """May this campaign put a call to this contact in front of an agent?

    Voice consent, as SMS consent for texts: a transactional campaign needs
    none, but nobody who opted out of calls is called. The task's due time
    keeps the call inside quiet hours.
    """
    if contact.has_opted_out(Channel.VOICE):
        return Verdict("skip", "the contact opted out of calls")
    if not campaign.is_transactional and not contact.has_consent(Channel.VOICE):
        return Verdict("skip", "no voice consent")
    return Verdict("send")
