"""The seed's chat socket (ease_backend's ``ws/support/chat/<id>/``, du-soc-chat-svc's
``ws/chat/<thread_id>/``): a participant of the conversation connects, sends
``{"type": "message", "content"}``, and the consumer saves it, broadcasts it to the
conversation's group and confirms it to the sender with
``{"type": "confirmation", "status": "saved", "message_id", "seq"}``."""
import json

from channels.generic.websocket import AsyncWebsocketConsumer

from chat import services


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        member = self.scope.get("member")
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        if member is None:
            await self.close(code=4001)
            return
        if not await services.participant_of(member, self.conversation_id):
            await self.close(code=4006)
            return
        self.group = services.group_of(self.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "")
            content = message["content"]
        except (ValueError, KeyError, TypeError):
            await self.send(text_data=json.dumps({"type": "error", "detail": "not a message"}))
            return
        if not isinstance(content, str) or not content.strip() or len(content) > services.MAX_CHARS:
            await self.send(text_data=json.dumps({"type": "error", "detail": "bad content"}))
            return
        saved = await services.save_message(self.conversation_id, self.scope["member"], content.strip())
        if saved is None:
            await self.send(text_data=json.dumps({"type": "error", "detail": "Failed to save message."}))
            return
        await services.broadcast(saved)
        await self.send(
            text_data=json.dumps(
                {"type": "confirmation", "status": "saved", "message_id": saved.id, "seq": saved.seq}
            )
        )

    async def conversation_event(self, message):
        await self.send(text_data=json.dumps(message["event"]))
