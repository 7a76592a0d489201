from campaigns import services


def evaluate_events_task(event_ids: list[int]) -> None:
    """Enroll and exit contacts for newly stored events."""
    services.evaluate_events(event_ids)


def tick_task(chain_id: str | None = None) -> None:
    """Run due campaign steps for a few seconds, then enqueue the next tick."""
    services.tick(chain_id=chain_id)
