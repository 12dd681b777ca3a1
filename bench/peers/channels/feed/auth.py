"""Token authentication for sockets and the API, the way the seed's chat services did it:
a middleware that reads the token and looks it up in the database when a socket connects."""
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from feed.models import Token


def bearer(header):
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if header and header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return None


@database_sync_to_async
def member_for(key):
    if not key:
        return None
    token = Token.objects.select_related("member").filter(key=key).first()
    return token.member if token else None


class TokenAuthMiddleware(BaseMiddleware):
    """Puts the token's member (or None) into ``scope["member"]``; the token comes from the
    Authorization header or, for browsers that cannot set one, ``?token=``."""

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        key = bearer(headers.get(b"authorization", b"").decode("latin-1"))
        if key is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            key = (query.get("token") or [None])[0]
        scope = dict(scope, member=await member_for(key))
        return await super().__call__(scope, receive, send)
