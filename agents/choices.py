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
