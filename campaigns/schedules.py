import logging

from django.db import DEFAULT_DB_ALIAS

logger = logging.getLogger(__name__)

TICKER_NAME = "campaigns.tick"


def ensure_schedules(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Create the q cluster's schedule for the due-step ticker if it is missing."""
    from django_q.models import Schedule

    if using != DEFAULT_DB_ALIAS:
        return
    _, created = Schedule.objects.using(using).get_or_create(
        name=TICKER_NAME,
        defaults={
            "func": "campaigns.tasks.tick_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    if created:
        logger.info("created the q cluster schedule %s", TICKER_NAME)
