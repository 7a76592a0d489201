from django.db.models import F, OuterRef, QuerySet, Subquery

from agents.models import Conversation, Message


def message_for_update(message_id: int) -> Message:
    """Lock an outbound message while its send is claimed."""
    return (
        Message.objects.select_for_update()
        .select_related("conversation__contact")
        .get(pk=message_id)
    )


def list_conversations() -> QuerySet[Conversation]:
    """Conversations, latest first, each with the body of its last message."""
    last_body = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("body")[:1]
    )
    return (
        Conversation.objects.select_related("contact")
        .annotate(last_body=Subquery(last_body))
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def get_conversation(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("contact").get(pk=conversation_id)


def list_messages_after(message_id: int, *, limit: int) -> QuerySet[Message]:
    """Messages newer than the one a desk saw last, oldest first."""
    return (
        Message.objects.select_related("conversation__contact")
        .filter(pk__gt=message_id)
        .order_by("pk")[:limit]
    )


def latest_message_id() -> int:
    return Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
