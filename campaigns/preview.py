"""The builder's preview: an SMS step rendered for a real contact, and test sends.

A test send goes straight to the SMS gateway. It records no message, no
consent and no enrollment: the phone it goes to is the admin's, not a
contact's, and nothing about the contact it was rendered for changes.
"""

import logging
from dataclasses import dataclass

from agents.clients.twilio import GatewayError, get_sms_gateway
from campaigns.choices import StepKind
from campaigns.errors import PreviewError
from campaigns.models import CampaignStep
from campaigns.sms_encoding import SmsInfo, describe, sms_info
from campaigns.templating import InvalidTemplateError, render_template
from contacts import queries as contact_queries
from contacts.choices import Channel
from contacts.errors import InvalidPhoneError
from contacts.models import Contact
from contacts.phones import mask_phone, normalize_phone
from events import queries as event_queries
from events.models import Event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepPreview:
    """An SMS step's text for one contact, or why it cannot be rendered.

    `event` is the contact's latest trigger event, which the template read as
    `event`; None when the contact never sent one.
    """

    text: str
    info: SmsInfo | None
    error: str = ""
    event: Event | None = None

    @property
    def description(self) -> str:
        """E.g. "31 characters, GSM-7, 1 segment"."""
        return describe(self.info) if self.info else ""


def find_contact(text: str) -> Contact | None:
    """Return the contact with this phone number (any format) or this id."""
    text = text.strip()
    try:
        contact = contact_queries.get_contact_by_phone(normalize_phone(text))
    except InvalidPhoneError:
        contact = None
    if contact is None and text.isdigit():
        contact = contact_queries.get_contact(int(text))
    return contact


def preview_step(step: CampaignStep, contact: Contact) -> StepPreview:
    """Render an SMS step's text for `contact`, with its encoding and segments.

    The template reads the contact's latest trigger event of the campaign as
    `event`, as it would at a send. A template that fails on this contact's
    data gives an error rather than raising.
    """
    if step.kind != StepKind.SEND_SMS:
        raise ValueError(f"step {step.pk} is not an SMS step")
    campaign = step.campaign
    event = event_queries.get_latest_event_for_contact(
        contact.pk, campaign.trigger_event
    )
    try:
        text = render_template(
            step.body, contact=contact, event=event, campaign=campaign
        )
    except InvalidTemplateError as exc:
        return StepPreview(text="", info=None, error=exc.message, event=event)
    except Exception as exc:
        # Filters run on whatever the brand sent: "|divisibleby:2" on a name
        # raises ValueError, and other filters raise other things.
        return StepPreview(
            text="",
            info=None,
            error=f"The text fails on this contact's data: {exc!r}",
            event=event,
        )
    if not text:
        return StepPreview(
            text="",
            info=sms_info(""),
            error="The text is empty for this contact: there is nothing to send.",
            event=event,
        )
    return StepPreview(text=text, info=sms_info(text), event=event)


def test_send(
    step: CampaignStep, *, contact: Contact, to_phone: str, sent_by: str
) -> str:
    """Text `step` as rendered for `contact` to the admin's `to_phone`; return
    the gateway's message sid.

    Raises InvalidPhoneError for a number that is not one, PreviewError when
    the text cannot be rendered or the gateway refuses it.
    """
    phone = normalize_phone(to_phone)
    owner = contact_queries.get_contact_by_phone(phone)
    if owner is not None and owner.has_opted_out(Channel.SMS):
        # A test is still a text: nobody who said STOP gets one.
        raise PreviewError(f"{phone} opted out of SMS; test with another number.")
    preview = preview_step(step, contact)
    if preview.error:
        raise PreviewError(preview.error)
    try:
        sent = get_sms_gateway().send_sms(
            to=phone,
            body=preview.text,
            status_callback=None,
            media_url=step.media_url or None,
        )
    except GatewayError as exc:
        raise PreviewError(f"The SMS gateway did not send it: {exc}") from exc
    logger.info(
        "test SMS %s of campaign %s step %s, rendered for contact %s, sent by %s to %s",
        sent.sid,
        step.campaign_id,
        step.pk,
        contact.pk,
        sent_by,
        mask_phone(phone),
        extra={
            "campaign_id": step.campaign_id,
            "contact_id": contact.pk,
            "message_sid": sent.sid,
        },
    )
    return sent.sid
