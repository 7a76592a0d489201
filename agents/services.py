"""SMS in and out, the conversations they make up, and call tasks."""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from agents import queries, realtime
from agents.choices import (
    STATUS_RANK,
    CallDisposition,
    CallTaskPriority,
    CallTaskStatus,
    Direction,
    MessageStatus,
)
from agents.clients.twilio import GatewayError, get_sms_gateway, status_callback_url
from agents.errors import CallTaskNotOpenError, InvalidCallTaskError
from agents.models import CallTask, Conversation, Message
from contacts import services as contact_services
from contacts.choices import Channel
from contacts.models import Contact
from contacts.phones import mask_phone, normalize_phone
from events import services as event_services

logger = logging.getLogger(__name__)

# Whole-message keywords carriers and Twilio treat as opt-out and opt-in.
STOP_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_KEYWORDS = frozenset({"START", "UNSTOP"})
MAX_SEND_ATTEMPTS = 5
# Twilio refuses a message body longer than this.
MAX_SMS_LENGTH = 1600
# Twilio's Messages API takes a ValidityPeriod of 1 to 36000 seconds.
TWILIO_MAX_VALIDITY_SECONDS = 36000
# If the task queue loses a send (a worker killed between commit and enqueue),
# the ticker finds the pending row again after this long.
REDELIVERY_DELAY = timedelta(minutes=2)


def get_or_create_conversation(contact: Contact) -> Conversation:
    conversation, _ = Conversation.objects.get_or_create(contact=contact)
    return conversation


def queue_sms(
    contact: Contact,
    *,
    body: str,
    idempotency_key: str,
    media_url: str = "",
    send_before: datetime | None = None,
    requires_consent: bool = True,
) -> Message:
    """Record an outbound SMS under its key and have the q cluster send it.

    Calling this twice with one key returns the first message and queues
    nothing more: the key is what makes a step's SMS go out once. A message
    not handed to Twilio by `send_before` is not sent at all, and Twilio is
    told to drop it then too (its ValidityPeriod).
    """
    with transaction.atomic():
        conversation = get_or_create_conversation(contact)
        message, created = Message.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "conversation": conversation,
                "direction": Direction.OUTBOUND,
                "body": body,
                "media_url": media_url,
                "send_before": send_before,
                "requires_consent": requires_consent,
                "status": MessageStatus.PENDING,
                "next_attempt_at": timezone.now() + REDELIVERY_DELAY,
            },
        )
        if not created:
            logger.debug("SMS %s already queued under %s", message.pk, idempotency_key)
            return message
        touch_conversation(conversation, message)
        transaction.on_commit(lambda: enqueue_send(message.pk))
        transaction.on_commit(lambda: realtime.broadcast_message(message.pk))
    logger.info("contact %s: SMS %s queued", contact.pk, message.pk)
    return message


def enqueue_send(message_id: int) -> None:
    async_task("agents.tasks.send_sms_task", message_id, group="sms")


def send_pending_sms(message_id: int) -> Message:
    """Hand a pending SMS to the gateway, once, if the contact still consents.

    Safe to run twice: the row is claimed under a lock before the gateway is
    called, and a claimed or finished message is left alone.
    """
    with transaction.atomic():
        message = queries.message_for_update(message_id)
        if message.status != MessageStatus.PENDING:
            logger.debug("SMS %s is %s, not sending", message.pk, message.status)
            return message
        contact = message.conversation.contact
        refusal = send_refusal(message, contact)
        if refusal:
            set_message_status(message, MessageStatus.BLOCKED, error=refusal)
            logger.info(
                "contact %s: SMS %s not sent: %s", contact.pk, message.pk, refusal
            )
            return message
        message.status = MessageStatus.DISPATCHING
        message.attempts += 1
        message.save(update_fields=["status", "attempts", "updated_at"])

    # Outside the transaction: no lock is held across the network call.
    try:
        sent = get_sms_gateway().send_sms(
            to=contact.phone,
            body=message.body,
            status_callback=status_callback_url(),
            media_url=message.media_url or None,
            validity_period=validity_period(message),
        )
    except GatewayError as exc:
        return record_send_failure(message.pk, exc)
    except Exception as exc:
        # Whether Twilio took the message is unknown: never retry it, and leave
        # it marked for a human rather than "dispatching" for ever.
        logger.exception("SMS %s: the gateway failed unexpectedly", message.pk)
        return record_send_failure(
            message.pk, GatewayError(f"unexpected error: {exc!r}", retryable=False)
        )
    return record_send_success(message.pk, sid=sent.sid, status=sent.status)


def send_refusal(message: Message, contact: Contact) -> str:
    """Why this message may not go out now, or "" if it may."""
    if message.requires_consent and not contact.has_consent(Channel.SMS):
        return "the contact has no SMS consent"
    # Even a transactional message does not go to someone who said STOP.
    if contact.has_opted_out(Channel.SMS):
        return "the contact opted out of SMS"
    if message.send_before and timezone.now() >= message.send_before:
        return "the contact's quiet hours began before it could be sent"
    return ""


def validity_period(message: Message) -> int | None:
    """Seconds Twilio may keep trying, so it never delivers in quiet hours."""
    if message.send_before is None:
        return None
    seconds = int((message.send_before - timezone.now()).total_seconds())
    return max(1, min(seconds, TWILIO_MAX_VALIDITY_SECONDS))


def record_send_success(message_id: int, *, sid: str, status: str) -> Message:
    with transaction.atomic():
        message = queries.message_for_update(message_id)
        message.twilio_sid = sid
        message.sent_at = timezone.now()
        message.save(update_fields=["twilio_sid", "sent_at", "updated_at"])
        set_message_status(message, twilio_status(status))
        event_services.record_system_event(
            message.conversation.contact_id,
            name="sms.sent",
            properties={"message_id": message.pk, "sid": sid},
            message_id=f"sms.sent:{message.pk}",
        )
    logger.info(
        "contact %s: SMS %s sent as %s",
        message.conversation.contact_id,
        message.pk,
        sid,
        extra={"message_sid": sid, "attempt": message.attempts},
    )
    return message


def record_send_failure(message_id: int, exc: GatewayError) -> Message:
    with transaction.atomic():
        message = queries.message_for_update(message_id)
        if exc.retryable and message.attempts < MAX_SEND_ATTEMPTS:
            backoff = timedelta(seconds=30 * 2 ** (message.attempts - 1))
            message.status = MessageStatus.PENDING
            message.next_attempt_at = timezone.now() + backoff
            message.error = str(exc)
            message.save(
                update_fields=["status", "next_attempt_at", "error", "updated_at"]
            )
            logger.warning(
                "SMS %s: attempt %d failed, retrying in %s: %s",
                message.pk,
                message.attempts,
                backoff,
                exc,
                extra={"attempt": message.attempts},
            )
            return message
        set_message_status(message, MessageStatus.ERROR, error=str(exc))
    logger.error(
        "SMS %s: gave up after %d attempts: %s",
        message.pk,
        message.attempts,
        exc,
        extra={"attempt": message.attempts},
    )
    return message


def requeue_lost_sms(*, limit: int = 500) -> int:
    """Enqueue pending messages whose next attempt is due: retries and lost sends."""
    due = list(
        Message.objects.filter(
            status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in due:
        Message.objects.filter(pk=message_id).update(
            next_attempt_at=timezone.now() + REDELIVERY_DELAY
        )
        enqueue_send(message_id)
    if due:
        logger.info("requeued %d pending SMS", len(due))
    return len(due)


def twilio_status(status: str) -> MessageStatus:
    try:
        return MessageStatus(status)
    except ValueError:
        return MessageStatus.QUEUED


def set_message_status(message: Message, status: str, *, error: str = "") -> bool:
    """Move a message forward to `status`; a late, older status is ignored."""
    if STATUS_RANK.get(status, 0) < STATUS_RANK.get(message.status, 0):
        return False
    message.status = status
    message.error = error or message.error
    message.save(update_fields=["status", "error", "updated_at"])
    transaction.on_commit(lambda: realtime.broadcast_message(message.pk))
    return True


def update_sms_status(sid: str, *, status: str, error_code: str = "") -> Message | None:
    """Apply a Twilio status callback to the message it names."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(twilio_sid=sid).first()
        if message is None:
            logger.warning("status %s for unknown SMS sid %s", status, sid)
            return None
        error = f"Twilio error {error_code}" if error_code else ""
        if not set_message_status(message, twilio_status(status), error=error):
            return message
        if status in {"delivered", "failed", "undelivered"}:
            event_services.record_system_event(
                message.conversation.contact_id,
                name=f"sms.{'delivered' if status == 'delivered' else 'failed'}",
                properties={"message_id": message.pk, "sid": sid},
                message_id=f"sms.{status}:{message.pk}",
            )
    logger.info("SMS %s is %s", message.pk, message.status, extra={"message_sid": sid})
    return message


def receive_sms(*, from_number: str, body: str, sid: str) -> Message | None:
    """Store an inbound SMS in the sender's conversation and act on keywords.

    Twilio retries a webhook it did not see answered, so a sid seen before
    stores nothing and returns None. A sender never seen before becomes a
    contact, without any consent.
    """
    phone = normalize_phone(from_number)
    with transaction.atomic():
        contact = contact_services.get_or_create_contact_for_phone(phone)
        conversation = get_or_create_conversation(contact)
        message, created = Message.objects.get_or_create(
            twilio_sid=sid,
            defaults={
                "conversation": conversation,
                "direction": Direction.INBOUND,
                "body": body,
                "status": MessageStatus.RECEIVED,
            },
        )
        if not created:
            logger.info("inbound SMS %s seen before", sid, extra={"message_sid": sid})
            return None
        touch_conversation(conversation, message)
        apply_keyword(contact, body=body, sid=sid)
        event_services.record_system_event(
            contact.pk,
            name="sms.received",
            properties={"message_id": message.pk, "sid": sid},
            message_id=f"sms.received:{sid}",
        )
        transaction.on_commit(lambda: realtime.broadcast_message(message.pk))
    logger.info(
        "contact %s: inbound SMS %s from %s",
        contact.pk,
        message.pk,
        mask_phone(phone),
        extra={"message_sid": sid, "contact_id": contact.pk},
    )
    return message


def apply_keyword(contact: Contact, *, body: str, sid: str) -> None:
    # "Stop." and "STOP!" mean STOP: people punctuate.
    keyword = body.strip().strip(".!?,;:'\" ").upper()
    if keyword in STOP_KEYWORDS:
        subscribed = False
    elif keyword in START_KEYWORDS:
        subscribed = True
    else:
        return
    changed = contact_services.set_consent(
        contact,
        channel=Channel.SMS,
        subscribed=subscribed,
        source=f"sms keyword {keyword}",
        text=body,
    )
    if changed:
        name = "contact.subscribed" if subscribed else "contact.unsubscribed"
        event_services.record_system_event(
            contact.pk,
            name=name,
            properties={"channel": Channel.SMS, "keyword": keyword},
            message_id=f"{name}:{sid}",
        )


def touch_conversation(conversation: Conversation, message: Message) -> None:
    conversation.last_message_at = message.created_at
    conversation.save(update_fields=["last_message_at", "updated_at"])


def open_call_task(
    contact: Contact,
    *,
    idempotency_key: str,
    opener_key: str,
    opened_by: str,
    priority: str = CallTaskPriority.NORMAL,
    due_at: datetime | None = None,
    due_by: datetime | None = None,
    notes: str = "",
    script: str = "",
) -> CallTask:
    """Open a call task for the contact under its key, and show it on the desk.

    Calling this twice with one key returns the first task, as it is now, and
    changes nothing: the key is what makes a campaign step's task open once.
    `opener_key` names the opener for cancel_call_tasks; `opened_by` is what
    people read.
    """
    # TODO: the desk shows neither the contact's voice consent nor its local
    # time, which an agent about to dial needs; not checked here because a
    # task is a reminder, not a call, and the check belongs where calls are made.
    if priority not in CallTaskPriority.values:
        raise InvalidCallTaskError(f"unknown priority {priority!r}")

    with transaction.atomic():
        task, created = CallTask.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "contact": contact,
                "opener_key": opener_key,
                "opened_by": opened_by,
                "priority": priority,
                "due_at": due_at,
                "due_by": due_by,
                "notes": notes,
                "script": script,
            },
        )
        if not created:
            logger.debug("call task %s already open under %s", task.pk, idempotency_key)
            return task
        transaction.on_commit(lambda: realtime.broadcast_task(task.pk))

    logger.info(
        "contact %s: call task %s opened by %s",
        contact.pk,
        task.pk,
        opener_key,
        extra={"contact_id": contact.pk, "task_id": task.pk},
    )
    return task


def cancel_call_tasks(contact: Contact, *, opener_key: str, reason: str) -> int:
    """Cancel the contact's open call tasks opened under `opener_key`.

    Returns how many were cancelled; completed tasks, and those of other
    openers or contacts, are left alone. Each cancelled task keeps the reason
    and time, and leaves the desk.
    """
    with transaction.atomic():
        tasks = queries.open_tasks_for_update(contact.pk, opener_key=opener_key)
        if not tasks:
            return 0
        now = timezone.now()
        task_ids = [task.pk for task in tasks]
        CallTask.objects.filter(pk__in=task_ids).update(
            status=CallTaskStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=reason,
            updated_at=now,
        )
        for task_id in task_ids:
            transaction.on_commit(partial(realtime.broadcast_task, task_id))

    logger.info(
        "contact %s: %d call tasks of %s cancelled",
        contact.pk,
        len(task_ids),
        opener_key,
        extra={"contact_id": contact.pk},
    )
    return len(task_ids)


def complete_call_task(
    task: CallTask, *, agent: AbstractBaseUser, disposition: str, notes: str = ""
) -> CallTask:
    """Record that `agent` made the call, how it ended, and close the task.

    Only an open task can be completed: a completed or cancelled one raises
    CallTaskNotOpenError and is left as it was. Records the contact's
    `task.completed` event, which campaigns may react to. Returns the task as
    now stored; the `task` passed in is not updated.
    """
    if disposition not in CallDisposition.values:
        raise InvalidCallTaskError(f"unknown disposition {disposition!r}")

    with transaction.atomic():
        task = queries.task_for_update(task.pk)
        if task.status != CallTaskStatus.OPEN:
            raise CallTaskNotOpenError(
                f"call task {task.pk} is {task.status}, it cannot be completed"
            )
        task.status = CallTaskStatus.COMPLETED
        task.disposition = disposition
        task.completion_notes = notes
        task.completed_by = agent
        task.completed_at = timezone.now()
        task.save(
            update_fields=[
                "status",
                "disposition",
                "completion_notes",
                "completed_by",
                "completed_at",
                "updated_at",
            ]
        )

        event_services.record_system_event(
            task.contact_id,
            name="task.completed",
            properties={
                "task_id": task.pk,
                "disposition": disposition,
                "opened_by": task.opened_by,
            },
            message_id=f"task.completed:{task.pk}",
        )
        transaction.on_commit(partial(realtime.broadcast_task, task.pk))

    logger.info(
        "contact %s: call task %s completed by user %s as %s",
        task.contact_id,
        task.pk,
        agent.pk,
        disposition,
        extra={"contact_id": task.contact_id, "task_id": task.pk},
    )
    return task


# Twilio's final call statuses: the call is over, however it went.
FINAL_CALL_STATUSES = frozenset(
    {"completed", "busy", "no-answer", "failed", "canceled"}
)


def record_call_status(
    call_sid: str,
    *,
    status: str,
    direction: str,
    to_number: str,
    from_number: str,
    duration: str = "",
) -> bool:
    """Record a finished call as the contact's `call.completed` event.

    Twilio calls this URL (set as a call's StatusCallback) at every status
    change; only a final status is recorded, once per CallSid. The contact is
    the party that is not us: the callee of an outbound call, the caller of
    an inbound one. Return whether an event was recorded.
    """
    if status not in FINAL_CALL_STATUSES or not call_sid:
        return False
    inbound = direction == "inbound"
    phone = normalize_phone(from_number if inbound else to_number)
    with transaction.atomic():
        contact = contact_services.get_or_create_contact_for_phone(phone)
        event = event_services.record_system_event(
            contact.pk,
            name="call.completed",
            properties={
                "call_sid": call_sid,
                "status": status,
                "direction": "inbound" if inbound else "outbound",
                "duration_seconds": int(duration) if duration.isdigit() else None,
            },
            message_id=f"call.completed:{call_sid}",
        )
    if event:
        logger.info(
            "contact %s: call %s ended %s",
            contact.pk,
            call_sid,
            status,
            extra={"contact_id": contact.pk},
        )
    return event is not None
