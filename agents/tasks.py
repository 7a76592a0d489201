from agents import services


def send_sms_task(message_id: int) -> None:
    """Send one pending SMS; safe to run more than once."""
    services.send_pending_sms(message_id)
