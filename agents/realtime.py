"""Broadcasts to the desk. Called on commit, from the web process or a worker.

Payloads are small and carry ids; a desk that missed some reconnects with the
last message id it saw (and, for tasks, the time of the last change it saw)
and the consumer sends the rest from the database.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from agents.choices import PRIORITY_RANK
from agents.models import CallTask, Message

logger = logging.getLogger(__name__)

DESK_GROUP = "agents.desk.all"


def message_payload(message: Message) -> dict:
    contact = message.conversation.contact
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "contact": {"id": contact.pk, "name": str(contact), "phone": contact.phone},
        "direction": message.direction,
        "body": message.body,
        "status": message.status,
        "status_label": message.get_status_display(),
        "created_at": message.created_at.isoformat(),
        # Fixed width, so that the desk compares them as strings.
        "updated_at": message.updated_at.isoformat(timespec="microseconds"),
    }


def broadcast_message(message_id: int) -> None:
    """Tell every open desk about a new or changed message.

    Never raises (see send_to_desk). A desk that missed a new message gets it
    when it reconnects.
    """
    send_to_desk(
        "message",
        message_id,
        lambda: message_payload(
            Message.objects.select_related("conversation__contact").get(pk=message_id)
        ),
    )


def task_payload(task: CallTask) -> dict:
    """A call task as the desk shows it; `task.contact` should be loaded with it."""
    contact = task.contact
    conversation = getattr(contact, "conversation", None)
    return {
        "id": task.pk,
        "contact": {"id": contact.pk, "name": str(contact), "phone": contact.phone},
        "conversation_id": conversation.pk if conversation else None,
        "status": task.status,
        "priority": task.priority,
        "priority_label": task.get_priority_display(),
        "priority_rank": PRIORITY_RANK[task.priority],
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "due_by": task.due_by.isoformat() if task.due_by else None,
        "notes": task.notes,
        "script": task.script,
        "opened_by": task.opened_by,
        # Fixed width, so that the desk compares them as strings.
        "updated_at": task.updated_at.isoformat(timespec="microseconds"),
    }


def broadcast_task(task_id: int) -> None:
    """Tell every open desk about a new, completed or cancelled call task.

    Never raises (see send_to_desk). A desk that missed the change gets it
    when it reconnects.
    """
    send_to_desk(
        "task",
        task_id,
        lambda: task_payload(
            CallTask.objects.select_related("contact__conversation").get(pk=task_id)
        ),
    )


def send_to_desk(kind: str, object_id: int, payload) -> None:
    """Send `{kind}.changed` with `payload()` to every open desk; never raise.

    Broadcasts run on commit, before other on-commit callbacks (the events
    that campaigns react to), and Django skips those that follow one that
    raised: an unreachable channel layer must cost the desk a live update,
    not the campaigns their events.
    """
    try:
        async_to_sync(get_channel_layer().group_send)(
            DESK_GROUP, {"type": f"{kind}.changed", kind: payload()}
        )
    except Exception:
        logger.warning(
            "could not broadcast %s %s to the desk", kind, object_id, exc_info=True
        )
        return
    logger.debug("broadcast %s %s to the desk", kind, object_id)
