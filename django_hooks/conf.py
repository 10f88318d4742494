"""The one accessor for rcsync's settings (`settings.RCSYNC`), with documented defaults.

The sync policy itself (roles, rooms, identity, safety limits) is validated by
`sync_tasks.config.load_config`; the keys only the Django/Celery side reads
live in the sub-block ``RCSYNC["TASKS"]`` and are validated here, so a typo
is reported by ``manage.py check`` (rcsync.E003) with a clear message instead of at 03:00.

``RCSYNC["TASKS"]`` keys (all optional):

=====================  =========================  =======================================================
key                    default                    meaning
=====================  =========================  =======================================================
REDIS_URL              CELERY_BROKER_URL or        Redis for the per-user and reconcile locks
                       redis://127.0.0.1:6379/0
REDIS_KEY_PREFIX       ``"rcsync:"``              prefix of every lock key (isolates sites/test runs)
LOCK_TTL               30 (s)                     per-user lock lifetime; renewed while a sync runs, so a
                                                  killed worker blocks that user for at most this long
COALESCE_QUIET         0.15 (s)                   a burst (changes to one user less than this apart)
                                                  is synced once it has paused this long …
COALESCE_MAX_WAIT      5.0 (s)                    … but never later than this after the first change
                                                  (or the last sync), so long bursts cost one sync each
RETRY_BACKOFF_BASE     1.0 (s)                    first retry delay after a failed sync (doubles)
RETRY_BACKOFF_MAX      300 (s)                    cap of that delay
RELAY_INTERVAL         30 (s)                     how often beat re-enqueues pending rows
RELAY_STALE_AFTER      60 (s)                     a queued row not picked up for this long is re-enqueued
NIGHTLY_TIME           ``"03:00"``                nightly reconcile, in settings.TIME_ZONE
NIGHTLY_MIN_INTERVAL   3600 (s)                   a second nightly trigger within this window is a
                                                  duplicate (two beat processes) and is skipped
TRIGGER_IGNORE_FIELDS  ``["last_login"]``         a save touching only these fields triggers nothing
TRIGGER_MODELS         ``{}``                     extra models whose changes mean "sync this user":
                                                  ``{"app.Model": "path.to.user"}`` (e.g. a profile)
DRIFT_RECONNECT_BASE   1.0 (s)                    first back-off of ``rcsync listen`` after a failure (doubles, jittered)
DRIFT_RECONNECT_MAX    30 (s)                     longest back-off of ``rcsync listen`` between reconnects
DRIFT_CATCH_UP_WINDOW  600 (s)                    at most one catch-up reconcile per this window, asked
                                                  only after the feed is connected and logged in again
QUEUE                  ``"rcsync"``               the Celery queue every rcsync message is sent to (at
                                                  send time, whichever app sends it); run a worker with
                                                  ``-Q rcsync`` so a site's generic worker never sees them
CELERY_APP             the site's current app      dotted path of the Celery app rcsync sends with, e.g.
                                                  ``"besedka.celery.app"``; by default the app the site
                                                  created (Django layout), else ``sync_tasks.celery.app``
HEALTH_PENDING_MAX_AGE 900 (s)                    ``rcsync health`` fails when a pending sync is older
HEALTH_NIGHTLY_GRACE   7200 (s)                   … or no nightly run succeeded for 24 h plus this
RUNS_KEEP_DAYS         90 (days)                  the nightly task deletes sync runs (and their audit
                                                  rows) older than this; 0 keeps them forever
BATCH_SIZE             5000                       a worker drains up to this many pending people into
                                                  one engine pass (1: one sync per person)
=====================  =========================  =======================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from django.conf import settings
from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.translation import gettext

from sync_tasks.config import ConfigError, load_config


@dataclass(frozen=True)
class HookSettings:
    """The Django/Celery side's settings, validated."""

    redis_url: str
    redis_key_prefix: str = "rcsync:"
    lock_ttl: float = 30.0
    coalesce_quiet: float = 0.15
    coalesce_max_wait: float = 5.0
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 300.0
    relay_interval: float = 30.0
    relay_stale_after: float = 60.0
    nightly_hour: int = 3
    nightly_minute: int = 0
    nightly_min_interval: float = 3600.0
    trigger_ignore_fields: frozenset[str] = frozenset({"last_login"})
    trigger_models: Mapping[str, str] = field(default_factory=dict)
    drift_reconnect_max: float = 30.0
    drift_reconnect_base: float = 1.0
    drift_catch_up_window: float = 600.0
    queue: str = "rcsync"
    celery_app: str = ""
    health_pending_max_age: float = 900.0
    health_nightly_grace: float = 7200.0
    runs_keep_days: float = 90.0
    batch_size: int = 5000


def _(message: str) -> str:
    """gettext, or the English text while the app registry still loads (a Celery worker may read TASKS
    that early, and a configuration error must still say what is wrong)."""
    try:
        return gettext(message)
    except AppRegistryNotReady:
        return message


def _positive(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ImproperlyConfigured(_("RCSYNC['TASKS'][%(key)r] must be a positive number of seconds, got %(value)r")
                                   % {"key": key, "value": value})
    return float(value)


KNOWN_KEYS = {
    "REDIS_URL", "REDIS_KEY_PREFIX", "LOCK_TTL", "COALESCE_QUIET", "COALESCE_MAX_WAIT", "RETRY_BACKOFF_BASE",
    "RETRY_BACKOFF_MAX", "RELAY_INTERVAL", "RELAY_STALE_AFTER", "NIGHTLY_TIME", "NIGHTLY_MIN_INTERVAL",
    "TRIGGER_IGNORE_FIELDS", "TRIGGER_MODELS", "DRIFT_RECONNECT_MAX",
    "DRIFT_RECONNECT_BASE", "DRIFT_CATCH_UP_WINDOW", "QUEUE", "CELERY_APP", "HEALTH_PENDING_MAX_AGE",
    "HEALTH_NIGHTLY_GRACE", "RUNS_KEEP_DAYS", "BATCH_SIZE",
}


def parse_hook_settings(raw: Mapping[str, Any], broker_url: str | None = None) -> HookSettings:
    """Pure: an ``RCSYNC["TASKS"]`` block → HookSettings, or ImproperlyConfigured naming the key."""
    unknown = sorted(set(raw) - KNOWN_KEYS, key=str)
    if unknown:
        raise ImproperlyConfigured(
            _("RCSYNC['TASKS'] has unknown key(s) %(unknown)s; known: %(known)s") % {"unknown": unknown, "known": sorted(KNOWN_KEYS)}
        )
    redis_url = raw.get("REDIS_URL") or broker_url or "redis://127.0.0.1:6379/0"
    if not isinstance(redis_url, str) or not redis_url.startswith(("redis://", "rediss://", "unix://")):
        hint = "" if raw.get("REDIS_URL") else " " + _("(it defaults to CELERY_BROKER_URL: with another broker, set it)")
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['REDIS_URL'] must be a redis:// URL%(hint)s, got %(value)r")
                                   % {"hint": hint, "value": redis_url})
    queue = raw.get("QUEUE", "rcsync")
    if not isinstance(queue, str) or not re.fullmatch(r"[\w.:-]+", queue):
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['QUEUE'] must be a queue name, got %(value)r") % {"value": queue})
    celery_app = raw.get("CELERY_APP", "")
    if not isinstance(celery_app, str) or (celery_app and "." not in celery_app):
        raise ImproperlyConfigured(
            _("RCSYNC['TASKS']['CELERY_APP'] must be the dotted path of a Celery app, got %(value)r") % {"value": celery_app})
    prefix = raw.get("REDIS_KEY_PREFIX", "rcsync:")
    if not isinstance(prefix, str):
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['REDIS_KEY_PREFIX'] must be a string"))
    nightly = raw.get("NIGHTLY_TIME", "03:00")
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(nightly))
    if not match:
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['NIGHTLY_TIME'] must be HH:MM (24 h), got %(value)r") % {"value": nightly})
    ignore = raw.get("TRIGGER_IGNORE_FIELDS", ["last_login"])
    if isinstance(ignore, str) or not all(isinstance(f, str) for f in ignore):
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['TRIGGER_IGNORE_FIELDS'] must be a list of field names"))
    models = raw.get("TRIGGER_MODELS", {})
    if not isinstance(models, Mapping) or not all(
        isinstance(k, str) and "." in k and isinstance(v, str) and v for k, v in models.items()
    ):
        raise ImproperlyConfigured(
            _("RCSYNC['TASKS']['TRIGGER_MODELS'] must map 'app_label.Model' to the attribute path of its user, "
              "e.g. {'profiles.Profile': 'user'}")
        )
    keep_days = raw.get("RUNS_KEEP_DAYS", 90)
    if isinstance(keep_days, bool) or not isinstance(keep_days, (int, float)) or keep_days < 0:
        raise ImproperlyConfigured(
            f"RCSYNC['TASKS']['RUNS_KEEP_DAYS'] must be a number of days (0 keeps runs forever), got {keep_days!r}")
    quiet = _positive(raw, "COALESCE_QUIET", 0.15)
    max_wait = _positive(raw, "COALESCE_MAX_WAIT", 5.0)
    if max_wait < quiet:
        raise ImproperlyConfigured(_("RCSYNC['TASKS']['COALESCE_MAX_WAIT'] must be at least COALESCE_QUIET"))
    batch_size = raw.get("BATCH_SIZE", 5000)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 100_000:
        raise ImproperlyConfigured(
            _("RCSYNC['TASKS']['BATCH_SIZE'] must be a whole number from 1 to 100000, got %(value)r") % {"value": batch_size})
    return HookSettings(
        redis_url=redis_url,
        redis_key_prefix=prefix,
        lock_ttl=_positive(raw, "LOCK_TTL", 30.0),
        coalesce_quiet=quiet,
        coalesce_max_wait=max_wait,
        retry_backoff_base=_positive(raw, "RETRY_BACKOFF_BASE", 1.0),
        retry_backoff_max=_positive(raw, "RETRY_BACKOFF_MAX", 300.0),
        relay_interval=_positive(raw, "RELAY_INTERVAL", 30.0),
        relay_stale_after=_positive(raw, "RELAY_STALE_AFTER", 60.0),
        nightly_hour=int(match.group(1)),
        nightly_minute=int(match.group(2)),
        nightly_min_interval=_positive(raw, "NIGHTLY_MIN_INTERVAL", 3600.0),
        trigger_ignore_fields=frozenset(ignore),
        trigger_models=dict(models),
        drift_reconnect_max=_positive(raw, "DRIFT_RECONNECT_MAX", 30.0),
        drift_reconnect_base=_positive(raw, "DRIFT_RECONNECT_BASE", 1.0),
        drift_catch_up_window=_positive(raw, "DRIFT_CATCH_UP_WINDOW", 600.0),
        queue=queue,
        celery_app=celery_app,
        health_pending_max_age=_positive(raw, "HEALTH_PENDING_MAX_AGE", 900.0),
        health_nightly_grace=_positive(raw, "HEALTH_NIGHTLY_GRACE", 7200.0),
        runs_keep_days=float(keep_days),
        batch_size=batch_size,
    )


def _raw() -> Mapping[str, Any]:
    raw = getattr(settings, "RCSYNC", {}) or {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(_("settings.RCSYNC must be a dict"))
    return raw


def _tasks_block() -> Mapping[str, Any]:
    tasks = _raw().get("TASKS", {}) or {}
    if not isinstance(tasks, Mapping):
        raise ImproperlyConfigured(_("settings.RCSYNC['TASKS'] must be a dict"))
    return tasks


@lru_cache(maxsize=1)
def hook_settings() -> HookSettings:
    """The Django-side settings (cached; reset when tests override settings)."""
    return parse_hook_settings(_tasks_block(), getattr(settings, "CELERY_BROKER_URL", None))


@lru_cache(maxsize=1)
def engine_config() -> Any:
    """The validated sync policy: `sync_tasks.config.load_config(settings.RCSYNC)` (ConfigError lists problems)."""
    return load_config(_raw())


def hook_settings_or_defaults() -> HookSettings:
    """`hook_settings()`, or the defaults while ``RCSYNC["TASKS"]`` is broken (check rcsync.E003 says why).

    Only the change triggers use this: they keep recording pending rows with the default trigger
    rules meanwhile, so a typo loses no change; everything that syncs calls `hook_settings()` and refuses.
    """
    try:
        return hook_settings()
    except ImproperlyConfigured:
        return HookSettings(redis_url="redis://127.0.0.1:6379/0")


def validate() -> None:
    """Check the whole RCSYNC block now: every problem in one clear error.

    Start-up no longer calls this (a broken block is reported by `manage.py check`, see
    django_hooks/checks.py); the sync paths meet the same errors and refuse to run."""
    hook_settings()
    try:
        engine_config()
    except ConfigError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def _reset(**kwargs: Any) -> None:
    if kwargs.get("setting") in ("RCSYNC", "CELERY_BROKER_URL"):
        hook_settings.cache_clear()
        engine_config.cache_clear()


setting_changed.connect(_reset)
