"""Saving a message and handing it to the conversation's group: what both the HTTP view and
the requester's socket do (du-soc-chat-svc did both, ease_backend the socket)."""
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Count, Q

from chat.models import Conversation, Message, link
from feed.models import Member

MAX_CHARS = 5000


def group_of(conversation_id):
    return f"conversation_{conversation_id}"


def participant_filter(member):
    return Q(requester=member) | Q(agent=member)


@database_sync_to_async
def get_or_create(member, subject):
    """The requester's active conversation, or a new one given to the agent with the fewest
    active conversations (ease_backend picked an admin at random); answers it and whether it
    is new."""
    with transaction.atomic():
        existing = Conversation.objects.filter(requester=member, is_active=True).first()
        if existing is not None:
            return existing, False
        agent = (
            Member.objects.filter(is_agent=True)
            .annotate(
                queue=Count("answering", filter=Q(answering__is_active=True))
            )
            .order_by("queue", "id")
            .first()
        )
        return Conversation.objects.create(requester=member, agent=agent, subject=subject), True


@database_sync_to_async
def participant_of(member, conversation_id):
    return (
        Conversation.objects.filter(pk=conversation_id)
        .filter(participant_filter(member))
        .exists()
    )


@database_sync_to_async
def save_message(conversation_id, member, content):
    """The message, saved and chained, or None when the member is not in the conversation."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation_id, is_active=True)
            .filter(participant_filter(member))
            .first()
        )
        if conversation is None:
            return None
        previous = (
            Message.objects.filter(conversation=conversation).order_by("-seq").first()
        )
        previous_hash = previous.hash if previous else ""
        message = Message.objects.create(
            conversation=conversation,
            sender=member,
            seq=(previous.seq + 1) if previous else 1,
            content=content,
            previous_hash=previous_hash,
            hash=link(previous_hash, member.id, content),
        )
        conversation.save(update_fields=["updated_at"])
        return message


def event_of(message):
    """The event every socket of the conversation's group receives: TicketFlower's shape."""
    return {
        "type": "event",
        "id": message.id,
        "stream": f"conversation:{message.conversation_id}",
        "kind": "message.posted",
        "actor_id": message.sender_id,
        "payload": {
            "message_id": message.id,
            "seq": message.seq,
            "body": message.content,
            "internal": False,
        },
        "created_at": message.created_at.isoformat(),
    }


async def broadcast(message):
    await get_channel_layer().group_send(
        group_of(message.conversation_id),
        {"type": "conversation.event", "event": event_of(message)},
    )


@database_sync_to_async
def verify(member, conversation_id):
    """Re-computes the chain (agents of the conversation): ``{ok, checked, broken_at}``, or
    None when the conversation is not the member's to verify."""
    if not Conversation.objects.filter(pk=conversation_id, agent=member).exists():
        return None
    previous_hash, checked = "", 0
    for message in Message.objects.filter(conversation_id=conversation_id).order_by("seq"):
        checked += 1
        intact = (
            message.seq == checked
            and message.previous_hash == previous_hash
            and message.hash == link(previous_hash, message.sender_id, message.content)
        )
        if not intact:
            return {"ok": False, "checked": checked, "broken_at": message.seq}
        previous_hash = message.hash
    return {"ok": True, "checked": checked, "broken_at": None}
