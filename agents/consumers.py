from datetime import datetime, timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from agents import queries
from agents.realtime import DESK_GROUP, message_payload, task_payload

# A desk that missed more than this is told to reload instead of replaying.
MAX_REPLAY = 500
# A change stamps updated_at before its transaction commits, and the web and
# worker processes may run on machines whose clocks differ a little: replaying
# changes from a bit earlier than asked covers both. The desk keeps the newest
# state of a message, so what it gets twice costs nothing.
REPLAY_SLACK = timedelta(seconds=30)
# Closing codes the desk's script acts on (4000-4999 are the application's).
CLOSE_NOT_SIGNED_IN = 4401


class DeskConsumer(AsyncJsonWebsocketConsumer):
    """Pushes new and changed messages to a signed-in agent's desk.

    `?after=<message id>` on the URL replays what the desk missed while it
    was disconnected, before live updates start: the messages stored after
    that id. A thread, which shows statuses, adds `&conversation=<id>&since=
    <ISO time>` to get its messages whose status changed since then too; the
    task list adds `&tasks=1&since=<ISO time>` to get the call tasks opened or
    changed since then. The desk joins the group first, so nothing stored
    during the replay falls between the two, and a message or task sent twice
    is one the desk shows once.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accepted, then closed: a handshake refused outright reaches the
            # browser as a bare 1006, which the desk cannot tell from a
            # server that is down, and it would retry for ever.
            await self.accept()
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        await self.channel_layer.group_add(DESK_GROUP, self.channel_name)
        await self.accept()
        await self.replay()

    async def replay(self):
        after = self.int_param("after")
        if after is None:
            return
        since = self.changed_since()
        messages = await missed_messages(
            after, conversation_id=self.int_param("conversation"), changed_since=since
        )
        tasks = []
        if self.query_param("tasks") == "1" and since is not None:
            tasks = await missed_tasks(since)
        if len(messages) > MAX_REPLAY or len(tasks) > MAX_REPLAY:
            await self.send_json({"type": "reload"})
            return
        for payload in messages:
            await self.send_json({"type": "message", "message": payload})
        for payload in tasks:
            await self.send_json({"type": "task", "task": payload})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DESK_GROUP, self.channel_name)

    async def message_changed(self, event):
        await self.send_json({"type": "message", "message": event["message"]})

    async def task_changed(self, event):
        await self.send_json({"type": "task", "task": event["task"]})

    def int_param(self, name: str) -> int | None:
        value = self.query_param(name)
        return int(value) if value.isdigit() else None

    def changed_since(self) -> datetime | None:
        try:
            since = datetime.fromisoformat(self.query_param("since"))
        except ValueError:
            return None
        return since - REPLAY_SLACK if timezone.is_aware(since) else None

    def query_param(self, name: str) -> str:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        return query.get(name, [""])[0]


@database_sync_to_async
def missed_messages(
    after: int, *, conversation_id: int | None, changed_since: datetime | None
) -> list[dict]:
    """Up to MAX_REPLAY + 1 missed messages: one more says "too many"."""
    missed = queries.list_messages_after(
        after,
        limit=MAX_REPLAY + 1,
        conversation_id=conversation_id,
        changed_since=changed_since,
    )
    return [message_payload(message) for message in missed]


@database_sync_to_async
def missed_tasks(changed_since: datetime) -> list[dict]:
    """Up to MAX_REPLAY + 1 call tasks opened or changed since then."""
    missed = queries.list_tasks_changed_since(changed_since, limit=MAX_REPLAY + 1)
    return [task_payload(task) for task in missed]
