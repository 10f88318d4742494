"""Django settings of the bundled site (demo and tests).

Everything that differs between machines comes from the environment, so the
test suite, the Celery worker subprocesses it starts and the demo all load the
same module and agree on the database, the broker and the Redis key prefix.
Secrets (the Rocket.Chat service account) are never read here: the bridge reads
them from the environment itself (`bridge.config.BridgeConfig.from_env`).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "rcsync-bundled-site-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_hooks",
    "settings.accounts",
]

# The site's own user model, like the community site in DESIGN.md: a `role`
# field with owner / moderator / store_owner / store_admin / user.
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "settings.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("RCSYNC_DB_NAME", "rcsync"),
        "USER": os.environ.get("RCSYNC_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("RCSYNC_PG_PASSWORD", ""),
        "HOST": os.environ.get("RCSYNC_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("RCSYNC_PG_PORT", "5432"),
        # Workers reuse their connection between tasks (Celery's Django fixup closes stale ones).
        "CONN_MAX_AGE": int(os.environ.get("RCSYNC_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The bundled site's language: `RCSYNC_DEMO_LANGUAGE=ru make demo` (or `runserver` with it set) shows the
# admin and rcsync's task UI and command output in Russian (django_hooks/locale). A site of its own just
# sets LANGUAGE_CODE (and adds django.middleware.locale.LocaleMiddleware if each admin's browser should choose).
LANGUAGE_CODE = os.environ.get("RCSYNC_DEMO_LANGUAGE") or "en-us"
TIME_ZONE = os.environ.get("RCSYNC_TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# --- Celery (read by sync_tasks.celery with namespace "CELERY") -------------
REDIS_URL = os.environ.get("RCSYNC_REDIS_URL", "redis://127.0.0.1:6379/0")
# A key prefix isolates one site (or one test run) on a shared Redis.
REDIS_KEY_PREFIX = os.environ.get("RCSYNC_REDIS_PREFIX", "rcsync:")

# The broker may be another server than the locks' Redis (e.g. RabbitMQ: amqp://...).
CELERY_BROKER_URL = os.environ.get("RCSYNC_BROKER_URL", REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": REDIS_KEY_PREFIX,
    # Must exceed the longest task (a full reconcile of a large site) or Redis
    # hands the still-running task to a second worker.
    "visibility_timeout": int(os.environ.get("RCSYNC_VISIBILITY_TIMEOUT", "7200")),
}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- rcsync -----------------------------------------------------------------
# The policy keys are validated by sync_tasks.config (docs/settings.md); the
# Celery/Django keys under "TASKS" are documented in django_hooks/conf.py.
# The Rocket.Chat service account comes from RCSYNC_RC_* environment
# variables (bridge.config.BridgeConfig.from_env), never from this file.
RCSYNC: dict = {
    "SERVER": {"url": os.environ.get("RCSYNC_RC_URL", "http://127.0.0.1:3000")},
    # How this site says an email is verified (docs/settings.md, IDENTITY.email_verified): "auto" uses
    # django-allauth's EmailAddress when installed, else a user attribute `email_verified`.
    "IDENTITY": {"email_verified": os.environ.get("RCSYNC_EMAIL_VERIFIED", "auto")},
    "TASKS": {
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": REDIS_KEY_PREFIX,
        # A worker drains up to this many pending people into one engine pass (docs/settings.md).
        "BATCH_SIZE": int(os.environ.get("RCSYNC_BATCH_SIZE", "5000")),
    },
}
# Sign-in through the site's OAuth provider and workspace settings as code (docs/settings.md, SSO and
# SETTINGS; docs/real-rocketchat.md §7 has the whole Custom OAuth block). Off unless the service is named:
#   RCSYNC_SSO_SERVICE=besedka RCSYNC_SSO_MODE=create_ahead|wait_for_login
#   RCSYNC_SITE_URL=https://chat.example.org RCSYNC_OAUTH_SECRET_FILE=/run/secrets/besedka_oauth_secret
if os.environ.get("RCSYNC_SSO_SERVICE"):
    from sync_tasks.sso import oauth_setting_name

    _svc = os.environ["RCSYNC_SSO_SERVICE"]
    _block = "Accounts_OAuth_Custom-" + oauth_setting_name(_svc)
    RCSYNC["SSO"] = {"service": _svc, "mode": os.environ.get("RCSYNC_SSO_MODE", "create_ahead")}
    RCSYNC["SETTINGS"] = {
        _block: True,
        f"{_block}-merge_users": RCSYNC["SSO"]["mode"] == "create_ahead",
        f"{_block}-merge_users_distinct_services": RCSYNC["SSO"]["mode"] == "create_ahead",
        f"{_block}-key_field": "username",
        f"{_block}-username_field": "username",  # else the login makes accounts without a username
        f"{_block}-email_field": "email",
        f"{_block}-name_field": "name",
        **({"Site_Url": os.environ["RCSYNC_SITE_URL"]} if os.environ.get("RCSYNC_SITE_URL") else {}),
        **({f"{_block}-secret": {"file": os.environ["RCSYNC_OAUTH_SECRET_FILE"]}}
           if os.environ.get("RCSYNC_OAUTH_SECRET_FILE") else {}),
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # The handler is the root's, and rcsync's loggers only set their level: a Celery worker replaces
    # the root's handlers with its own, so each line is written once there too (a handler of rcsync's
    # own wrote every line twice in a worker: once here, once through the root).
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "rcsync": {"level": os.environ.get("RCSYNC_LOG_LEVEL", "INFO")},
        "django_hooks": {"level": os.environ.get("RCSYNC_LOG_LEVEL", "INFO")},
        # httpx logs a line per request at INFO, and a Celery worker started with `-l INFO` lets INFO through
        # the root: a line per Rocket.Chat call (the bridge drops their query strings, bridge/log_privacy.py).
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Django's own console handler (DEBUG only) would print its lines a second time through the root
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
