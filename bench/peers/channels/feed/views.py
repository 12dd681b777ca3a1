import json

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.http import HttpResponse, JsonResponse

from feed.auth import bearer, member_for
from feed.consumers import group_of
from feed.models import Comment, Ticket


def healthz(request):
    return HttpResponse("ok")


@database_sync_to_async
def save_comment(ticket_id, member, body):
    with transaction.atomic():
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is None:
            return None
        return Comment.objects.create(ticket=ticket, author=member, body=body)


async def add_comment(request, ticket_id):
    """Saves a comment, then hands it to every socket subscribed to its ticket."""
    if request.method != "POST":
        return JsonResponse({"title": "method not allowed"}, status=405)
    member = await member_for(bearer(request.headers.get("Authorization")))
    if member is None:
        return JsonResponse({"title": "unauthorized"}, status=401)
    try:
        body = json.loads(request.body)["body"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"title": "body must be JSON with a body"}, status=400)
    if not isinstance(body, str) or not body.strip():
        return JsonResponse({"title": "body must be a non-empty string"}, status=400)
    comment = await save_comment(ticket_id, member, body)
    if comment is None:
        return JsonResponse({"title": "no such ticket"}, status=404)
    event = {
        "type": "event",
        "id": comment.id,
        "stream": f"ticket:{ticket_id}",
        "kind": "comment.added",
        "actor_id": member.id,
        "payload": {"comment_id": comment.id, "body": body, "internal": False},
        "created_at": comment.created_at.isoformat(),
    }
    await get_channel_layer().group_send(
        group_of(ticket_id), {"type": "ticket.event", "event": event}
    )
    return JsonResponse({"id": comment.id, "body": body}, status=201)
