from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents import queries
from agents.realtime import DESK_GROUP, message_payload

# A desk that was away longer than this reloads instead of replaying.
MAX_REPLAY = 500


class DeskConsumer(AsyncJsonWebsocketConsumer):
    """Pushes new and changed messages to a signed-in agent's desk.

    `?after=<message id>` on the URL replays what the desk missed while it
    was disconnected, before live updates start.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(DESK_GROUP, self.channel_name)
        await self.accept()
        after = self.after_id()
        if after is not None:
            for payload in await missed_messages(after):
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
    return [
        message_payload(message)
        for message in queries.list_messages_after(after, limit=MAX_REPLAY)
    ]
