"""Settings of the Django comparison peer.

Configured from the environment so the Rust bench can drive it:

- ``DESK_DB``: ``postgres://user:pass@host:port/name`` (or ``postgresql://``) selects
  PostgreSQL; anything else is a SQLite file path (default ``desk.sqlite3`` here).
- ``DESK_SECRET_KEY``: signing key for sessions and JWTs (fixed fallback: it is a bench).
"""
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get(
    "DESK_SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789abcdef"
)
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "desk",
]

# API only: no sessions, no CSRF (JWT in the Authorization header), no templates.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "deskpeer.urls"
WSGI_APPLICATION = "deskpeer.wsgi.application"

TEMPLATES = []


def database_from_env(value):
    """A Django DATABASES entry from ``DESK_DB`` (a postgres URL or a SQLite path)."""
    if value.startswith(("postgres://", "postgresql://")):
        url = urlsplit(value)
        options = dict(parse_qsl(url.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(url.path.lstrip("/")),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "",
            "PORT": str(url.port or ""),
            "OPTIONS": options,
            # Persistent connections, as any production deployment sets.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": value,
        "OPTIONS": {
            # Same durability as the Rust server: WAL, synchronous=FULL.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            # Writers take the lock when the transaction begins (Django 5.1+).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "CONN_MAX_AGE": 600,
    }


DATABASES = {
    "default": database_from_env(os.environ.get("DESK_DB", str(BASE_DIR / "desk.sqlite3")))
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "desk.User"

# Django's default hashers (PBKDF2 first).
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
}

SIMPLE_JWT = {
    # As the seed's DRF build: access 60 min, refresh 1 day.
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=60),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}

# Minimal logging: warnings and errors to stderr, never a line per request.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    # 4xx answers are part of the workload; only server errors are worth a line.
    "loggers": {"django.request": {"level": "ERROR"}},
}
