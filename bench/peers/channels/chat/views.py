import json

from django.http import JsonResponse

from chat import services
from feed.auth import bearer, member_for


def problem(title, status):
    return JsonResponse({"title": title}, status=status)


def conversation_json(conversation):
    return {
        "id": conversation.id,
        "requester_id": conversation.requester_id,
        "assignee_id": conversation.agent_id,
        "subject": conversation.subject,
    }


async def open_conversation(request):
    """The seed's get-or-create: 200 with the requester's active conversation, or 201."""
    if request.method != "POST":
        return problem("method not allowed", 405)
    member = await member_for(bearer(request.headers.get("Authorization")))
    if member is None:
        return problem("unauthorized", 401)
    try:
        subject = str((json.loads(request.body or b"{}") or {}).get("subject") or "")[:200]
    except (ValueError, AttributeError):
        return problem("the body must be a JSON object", 400)
    conversation, created = await services.get_or_create(member, subject)
    return JsonResponse(conversation_json(conversation), status=201 if created else 200)


async def post_message(request, conversation_id):
    """Saves a message, then hands it to every socket of the conversation's group; 201 once
    it is committed."""
    if request.method != "POST":
        return problem("method not allowed", 405)
    member = await member_for(bearer(request.headers.get("Authorization")))
    if member is None:
        return problem("unauthorized", 401)
    try:
        body = json.loads(request.body)["body"]
    except (ValueError, KeyError, TypeError):
        return problem("body must be JSON with a body", 400)
    if not isinstance(body, str) or not body.strip() or len(body) > services.MAX_CHARS:
        return problem("body must be a non-empty string of at most 5000 characters", 422)
    message = await services.save_message(conversation_id, member, body.strip())
    if message is None:
        return problem("no such conversation", 404)
    await services.broadcast(message)
    return JsonResponse(
        {"id": message.id, "seq": message.seq, "body": message.content, "hash": message.hash},
        status=201,
    )


async def verify(request, conversation_id):
    member = await member_for(bearer(request.headers.get("Authorization")))
    if member is None:
        return problem("unauthorized", 401)
    answer = await services.verify(member, conversation_id)
    if answer is None:
        return problem("no such conversation", 404)
    return JsonResponse(answer)
