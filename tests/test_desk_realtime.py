import logging

import pytest
from django.db import transaction

from agents import realtime, services
from tests.factories import next_phone
from tests.live import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_channel_layer(settings):
    # A port nothing listens on: every group_send fails to connect.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }


@pytest.mark.usefixtures("unreachable_channel_layer")
def test_broadcast_failure_does_not_stop_the_next_on_commit_callbacks(
    django_capture_on_commit_callbacks, caplog
):
    ran = []
    message = services.receive_sms(from_number=next_phone(), body="Hi", sid="SM1")

    with django_capture_on_commit_callbacks(execute=True):
        transaction.on_commit(lambda: realtime.broadcast_message(message.pk))
        transaction.on_commit(lambda: ran.append("next"))

    assert ran == ["next"]
    assert [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "agents.realtime"
    ] == [
        (logging.WARNING, f"could not broadcast message {message.pk} to the desk"),
    ]
