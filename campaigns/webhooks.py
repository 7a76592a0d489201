"""Webhook steps' deliveries: POST the rendered JSON, record what came back.

A delivery is a row written by the step; the ticker delivers due rows. A
timeout, a refused connection, a 5xx or a 429 is retried with exponential
backoff up to MAX_ATTEMPTS; any other 4xx is final, as retrying cannot help.
"""

import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from campaigns.choices import DeliveryStatus
from campaigns.models import CampaignWebhookDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_BACKOFF = timedelta(seconds=30)
# Enough of the answer to debug with; a webhook's answer is not ours to keep.
MAX_RESPONSE_CHARS = 2000


def deliver_due_webhooks(*, limit: int = 20) -> int:
    """Attempt every pending delivery whose time has come; return how many."""
    due = list(
        CampaignWebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        deliver_webhook(delivery_id)
    return len(due)


def deliver_webhook(delivery_id: int) -> CampaignWebhookDelivery | None:
    """Make one attempt at a pending delivery; safe to run twice."""
    with transaction.atomic():
        delivery = (
            CampaignWebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None or delivery.next_attempt_at > timezone.now():
            return None
        delivery.attempts += 1
        # Claimed: another tick will not pick it up while this attempt runs.
        delivery.next_attempt_at = timezone.now() + timedelta(
            seconds=delivery.timeout_seconds + 60
        )
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])

    status, body, error = post_json(
        delivery.url, delivery.payload, timeout=delivery.timeout_seconds
    )
    return record_attempt(delivery.pk, status=status, body=body, error=error)


def post_json(url: str, payload: str, *, timeout: int) -> tuple[int | None, str, str]:
    request = urllib.request.Request(  # noqa: S310 (admins configure the URL)
        url,
        data=payload.encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Regal-Webhook"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return (
                response.status,
                response.read(MAX_RESPONSE_CHARS).decode(errors="replace"),
                "",
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(MAX_RESPONSE_CHARS).decode(errors="replace"), ""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, "", str(exc)


def record_attempt(
    delivery_id: int, *, status: int | None, body: str, error: str
) -> CampaignWebhookDelivery:
    with transaction.atomic():
        delivery = CampaignWebhookDelivery.objects.select_for_update().get(
            pk=delivery_id
        )
        delivery.response_status = status
        delivery.response_body = body
        delivery.error = error
        retryable = status is None or status >= 500 or status == 429
        if status is not None and 200 <= status < 300:
            delivery.status = DeliveryStatus.DELIVERED
        elif retryable and delivery.attempts < MAX_ATTEMPTS:
            delivery.next_attempt_at = timezone.now() + FIRST_BACKOFF * 2 ** (
                delivery.attempts - 1
            )
        else:
            delivery.status = DeliveryStatus.FAILED
        delivery.save()
    level = (
        logging.WARNING if delivery.status == DeliveryStatus.FAILED else logging.INFO
    )
    logger.log(
        level,
        "webhook delivery %s: attempt %d answered %s, now %s",
        delivery.pk,
        delivery.attempts,
        status or error,
        delivery.status,
        extra={"attempt": delivery.attempts},
    )
    return delivery
