"""Settings of the Django Channels comparison peer.

Configured from the environment so the Rust bench can drive it:

- ``FEED_DB``: the SQLite file (default ``feed.sqlite3`` here), or a
  ``postgres://user@host:port/name`` URL (the chat comparison on PostgreSQL).
- ``FEED_LAYER``: ``memory`` (Channels' in-memory layer, one process) or ``redis``
  (channels_redis on ``FEED_REDIS_URL``, default ``redis://127.0.0.1:6379/0``, keys under
  ``FEED_REDIS_PREFIX`` so two peers or other users of that Redis do not meet).
- ``FEED_SECRET_KEY``: Django's signing key (fixed fallback: it is a bench).
"""
import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get(
    "FEED_SECRET_KEY", "bench-only-secret-key-not-for-production-fedcba9876543210"
)
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "channels",
    "feed",
    "chat",
]

# An API and a socket: no sessions, no CSRF (tokens in the Authorization header).
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "feedpeer.urls"
ASGI_APPLICATION = "feedpeer.asgi.application"
TEMPLATES = []


def database_from_env(value):
    """A Django DATABASES entry from ``FEED_DB`` (a postgres URL or a SQLite path)."""
    if value.startswith(("postgres://", "postgresql://")):
        url = urlsplit(value)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(url.path.lstrip("/")),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
            # Under ASGI each request runs its database work on a thread of its own, so
            # persistent connections (CONN_MAX_AGE) pile up one per thread until PostgreSQL
            # refuses more ("too many clients"); Django's answer is its pool (5.1+), as
            # large as TicketFlower's (16).
            "OPTIONS": {
                **dict(parse_qsl(url.query)),
                "pool": {"min_size": 2, "max_size": 16, "timeout": 30},
            },
            "CONN_MAX_AGE": 0,
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": value,
        "OPTIONS": {
            # The same durability as TicketFlower on SQLite: WAL, synchronous=FULL.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "CONN_MAX_AGE": 600,
    }


DATABASES = {
    "default": database_from_env(os.environ.get("FEED_DB", str(BASE_DIR / "feed.sqlite3")))
}


def channel_layer_from_env(layer):
    """A CHANNEL_LAYERS entry for ``FEED_LAYER``."""
    if layer == "memory":
        return {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    if layer == "redis":
        return {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": os.environ.get("FEED_REDIS_URL", "redis://127.0.0.1:6379/0"),
                        # redis-py 8 caps a pool at 100 connections and raises (not waits)
                        # beyond them: a few hundred sockets joining their group at once
                        # failed with "Too many connections".
                        "max_connections": 4096,
                        # Its default 5 s read timeout equals channels_redis's 5 s BZPOPMIN,
                        # so idle receive loops failed with "Timeout reading" and their
                        # consumers died.
                        "socket_timeout": 15,
                    }
                ],
                "prefix": os.environ.get("FEED_REDIS_PREFIX", "feedpeer"),
            },
        }
    raise ValueError(f"FEED_LAYER must be memory or redis, not {layer!r}")


CHANNEL_LAYERS = {"default": channel_layer_from_env(os.environ.get("FEED_LAYER", "memory"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Warnings and errors to stderr, never a line per request or per socket.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {"django.request": {"level": "ERROR"}},
}
