from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from agents.models import Conversation, Message
from contacts.choices import Channel


def message_for_update(message_id: int) -> Message:
    """Lock an outbound message while its send is claimed."""
    return (
        Message.objects.select_for_update()
        .select_related("conversation__contact")
        .get(pk=message_id)
    )


def list_conversations() -> QuerySet[Conversation]:
    """Conversations, latest first, with their last message's id, body, direction."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by(
        "-created_at", "-id"
    )
    return (
        Conversation.objects.select_related("contact")
        .annotate(
            last_message_pk=Subquery(last.values("pk")[:1]),
            last_body=Subquery(last.values("body")[:1]),
            last_direction=Subquery(last.values("direction")[:1]),
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def get_conversation(conversation_id: int) -> Conversation:
    """The conversation with its contact; raises Conversation.DoesNotExist."""
    return Conversation.objects.select_related("contact").get(pk=conversation_id)


def list_messages_for_conversation(conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages, oldest first."""
    return conversation.messages.order_by("created_at", "id")


def conversation_has_sms_consent(conversation: Conversation) -> bool:
    """Whether the contact would get an SMS sent now; sending checks again."""
    return conversation.contact.has_consent(Channel.SMS)


def list_messages_after(
    message_id: int,
    *,
    limit: int,
    conversation_id: int | None = None,
    changed_since: datetime | None = None,
) -> QuerySet[Message]:
    """Messages after `message_id`, and the conversation's changed since, by id."""
    missed = Q(pk__gt=message_id)
    if conversation_id is not None and changed_since is not None:
        missed |= Q(conversation_id=conversation_id, updated_at__gte=changed_since)
    return (
        Message.objects.select_related("conversation__contact")
        .filter(missed)
        .order_by("pk")[:limit]
    )


def desk_watermark() -> dict:
    """What a desk page has seen: the newest message id and the time now.

    Read it before the rows a page shows: a message stored or changed in
    between is then replayed to the page's websocket rather than lost.
    """
    now = timezone.now()
    latest = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
    return {"after": latest or 0, "since": now.isoformat(timespec="microseconds")}
