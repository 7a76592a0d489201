from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents import queries
from agents.realtime import DESK_GROUP, message_payload

# A desk that missed more than this is told to reload instead of replaying.
MAX_REPLAY = 500
# Closing codes the desk's script acts on (4000-4999 are the application's).
CLOSE_NOT_SIGNED_IN = 4401


class DeskConsumer(AsyncJsonWebsocketConsumer):
    """Pushes new and changed messages to a signed-in agent's desk.

    `?after=<message id>` on the URL replays what the desk missed while it
    was disconnected, before live updates start: the desk joins the group
    first, so nothing stored during the replay falls between the two, and a
    message sent twice is one the desk shows once.
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
        after = self.after_id()
        if after is None:
            return
        # TODO: replay status changes too, and messages whose transaction
        # committed after a higher id's did; both show only on reload now.
        # Message ids cannot say what changed since: that needs a sequence
        # number taken per change, at commit.
        missed = await missed_messages(after)
        if len(missed) > MAX_REPLAY:
            await self.send_json({"type": "reload"})
            return
        for payload in missed:
            await self.send_json({"type": "message", "message": payload})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DESK_GROUP, self.channel_name)

    async def message_changed(self, event):
        await self.send_json({"type": "message", "message": event["message"]})

    def after_id(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        value = query.get("after", [""])[0]
        return int(value) if value.isdigit() else None


@database_sync_to_async
def missed_messages(after: int) -> list[dict]:
    """Up to MAX_REPLAY + 1 messages after `after`: one more says "too many"."""
    return [
        message_payload(message)
        for message in queries.list_messages_after(after, limit=MAX_REPLAY + 1)
    ]
