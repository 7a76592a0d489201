from campaigns import services

# Shorter than a minute, so that ticks started once a minute overlap little.
TICK_WINDOW_SECONDS = 58


def evaluate_events_task(event_ids: list[int]) -> None:
    """Enroll and exit contacts for newly stored events."""
    services.evaluate_events(event_ids)


def tick_task() -> None:
    """Run due campaign steps for about a minute."""
    services.tick(window=TICK_WINDOW_SECONDS)
