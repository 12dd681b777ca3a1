"""One socket: it subscribes to ``ticket:<id>`` streams and receives their comments, and to
``conversation:<id>`` streams (its member's conversations) and receives their messages."""
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from chat import services as chat
from feed.models import Ticket


def group_of(ticket_id):
    return f"ticket_{ticket_id}"


@database_sync_to_async
def ticket_exists(ticket_id):
    return Ticket.objects.filter(pk=ticket_id).exists()


class StreamConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        if self.scope.get("member") is None:
            await self.close(code=4001)
            return
        self.joined = set()
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
        except ValueError:
            await self.error(400, "not JSON")
            return
        if not isinstance(message, dict) or message.get("type") != "subscribe":
            await self.error(400, "only subscribe is understood")
            return
        stream = str(message.get("stream", ""))
        kind, _, ident = stream.partition(":")
        if kind == "ticket" and ident.isdigit() and await ticket_exists(int(ident)):
            group = group_of(int(ident))
        elif (
            kind == "conversation"
            and ident.isdigit()
            and await chat.participant_of(self.scope["member"], int(ident))
        ):
            group = chat.group_of(int(ident))
        else:
            await self.error(404, "no such stream", stream)
            return
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)
        await self.send(text_data=json.dumps({"type": "subscribed", "stream": stream}))

    async def ticket_event(self, message):
        await self.send(text_data=json.dumps(message["event"]))

    async def conversation_event(self, message):
        await self.send(text_data=json.dumps(message["event"]))

    async def error(self, status, title, stream=None):
        answer = {"type": "error", "status": status, "title": title}
        if stream is not None:
            answer["stream"] = stream
        await self.send(text_data=json.dumps(answer))
