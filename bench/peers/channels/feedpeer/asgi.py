"""HTTP through Django, WebSockets through Channels, both in one daphne process."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "feedpeer.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before the consumers (and their models) are imported.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402
from feed.auth import TokenAuthMiddleware  # noqa: E402
from feed.consumers import StreamConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": TokenAuthMiddleware(
            URLRouter(
                [
                    path("stream", StreamConsumer.as_asgi()),
                    path(
                        "ws/support/chat/<int:conversation_id>/",
                        ChatConsumer.as_asgi(),
                    ),
                ]
            )
        ),
    }
)
