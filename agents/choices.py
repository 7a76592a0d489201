from django.db import models


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class MessageStatus(models.TextChoices):
    # Regal's own, before Twilio has the message.
    PENDING = "pending", "Waiting to be sent"
    DISPATCHING = "dispatching", "Being handed to Twilio"
    BLOCKED = "blocked", "Not sent: no consent"
    ERROR = "error", "Not sent: gateway error"
    # Twilio's, as its API and status callbacks report them.
    ACCEPTED = "accepted", "Accepted"
    QUEUED = "queued", "Queued at Twilio"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    RECEIVED = "received", "Received"


# How far along a message is; a late status callback never moves it back.
STATUS_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.DISPATCHING: 1,
    MessageStatus.ACCEPTED: 2,
    MessageStatus.QUEUED: 3,
    MessageStatus.SENDING: 4,
    MessageStatus.SENT: 5,
    MessageStatus.DELIVERED: 6,
    MessageStatus.UNDELIVERED: 6,
    MessageStatus.FAILED: 6,
    MessageStatus.CANCELED: 6,
    MessageStatus.BLOCKED: 6,
    MessageStatus.ERROR: 6,
    MessageStatus.RECEIVED: 6,
}


class CallTaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class CallTaskPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# The order agents work tasks in: the most pressing first.
PRIORITY_RANK = {
    CallTaskPriority.URGENT: 0,
    CallTaskPriority.HIGH: 1,
    CallTaskPriority.NORMAL: 2,
    CallTaskPriority.LOW: 3,
}


def priority_rank(field: str = "priority") -> models.Case:
    """An expression for ordering by priority, urgent first (see PRIORITY_RANK)."""
    return models.Case(
        *(
            models.When(**{field: priority}, then=models.Value(rank))
            for priority, rank in PRIORITY_RANK.items()
        ),
        default=models.Value(len(PRIORITY_RANK)),
        output_field=models.IntegerField(),
    )


class CallDisposition(models.TextChoices):
    """How a call ended, as the agent records it."""

    REACHED = "reached", "Reached"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"
