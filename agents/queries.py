from datetime import datetime

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from agents.choices import CallTaskStatus, Direction, MessageStatus, priority_rank
from agents.models import CallTask, Conversation, Message
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


def task_for_update(task_id: int) -> CallTask:
    """Lock a call task while it is completed or cancelled."""
    return (
        CallTask.objects.select_for_update(of=("self",))
        .select_related("contact")
        .get(pk=task_id)
    )


def get_task(task_id: int) -> CallTask:
    """The call task with its contact; raises CallTask.DoesNotExist."""
    return CallTask.objects.select_related("contact").get(pk=task_id)


def open_tasks_for_update(contact_id: int, *, opener_key: str) -> list[CallTask]:
    """Lock a contact's open call tasks opened under `opener_key`, oldest first."""
    return list(
        CallTask.objects.select_for_update()
        .filter(
            contact_id=contact_id, opener_key=opener_key, status=CallTaskStatus.OPEN
        )
        .order_by("id")
    )


def list_open_tasks() -> QuerySet[CallTask]:
    """Open call tasks, the most pressing first, then by when they are due.

    Each has its `priority_rank` (see agents.choices.PRIORITY_RANK).

    A task with no due time comes after those of its priority that have one:
    no time means "when you can", not "now".
    """
    return (
        CallTask.objects.filter(status=CallTaskStatus.OPEN)
        .select_related("contact__conversation")
        .annotate(priority_rank=priority_rank())
        .order_by(
            "priority_rank",
            F("due_at").asc(nulls_last=True),
            "created_at",
            "id",
        )
    )


def list_tasks_changed_since(since: datetime, *, limit: int) -> QuerySet[CallTask]:
    """Call tasks opened or changed since `since`, oldest change first."""
    return (
        CallTask.objects.select_related("contact__conversation")
        .filter(updated_at__gte=since)
        .order_by("updated_at", "id")[:limit]
    )


def count_outbound_sms(contact_id: int, *, since: datetime) -> int:
    """SMS queued or sent to a contact since then, for frequency caps.

    Messages that were never sent (blocked, or a gateway error) do not count.
    """
    return (
        Message.objects.filter(
            conversation__contact_id=contact_id,
            direction=Direction.OUTBOUND,
            created_at__gte=since,
        )
        .exclude(status__in=[MessageStatus.BLOCKED, MessageStatus.ERROR])
        .count()
    )
