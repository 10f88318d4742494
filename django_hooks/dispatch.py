"""Which Celery app rcsync sends with, and the queue every rcsync message goes to.

A Django site normally has its own Celery app (``proj/celery.py``, imported from ``proj/__init__.py``);
Celery's Django fix-up makes it the process-wide default, so that is the app rcsync sends with and the
one whose workers run rcsync's tasks (registered app-agnostically with ``shared_task``). The bundled
``sync_tasks.celery.app`` is only the fallback for a site without an app (and the demo): it is
imported here lazily, never at module import, so it can never displace the site's app as the default.

Routing is applied at send time rather than through ``task_routes``: whichever app sends, an rcsync
message names ``RCSYNC["TASKS"]["QUEUE"]`` (``"rcsync"``) unless the caller chose a destination, so a
site's generic worker (``-Q celery``) never receives one and discards it as unregistered.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.local import Proxy

RCSYNC_TASK_PREFIX = "rcsync."


def rcsync_queue() -> str:
    """The queue rcsync's messages go to (``RCSYNC["TASKS"]["QUEUE"]``)."""
    from django_hooks.conf import hook_settings

    return hook_settings().queue


def is_fallback_app(app: Celery) -> bool:
    # Celery's global fallback app (created on first use of `current_app` when nobody made one):
    # named "default" and built with no fix-ups, unlike any app a site or sync_tasks.celery creates.
    return app.main == "default" and not app.fixups


def celery_app() -> Celery:
    """The app to send with: RCSYNC["TASKS"]["CELERY_APP"], else the site's default app, else the bundled one."""
    from django.utils.module_loading import import_string

    from django_hooks.conf import hook_settings

    path = hook_settings().celery_app
    if path:
        return import_string(path)
    from celery import current_app

    app = current_app._get_current_object()
    if is_fallback_app(app):
        from sync_tasks.celery import app as bundled

        return bundled
    return app


#: For code that needs an app object at import time (django-celery-beat's admin): resolved on use.
rcsync_app: Any = Proxy(celery_app)


def destination(options: dict[str, Any]) -> dict[str, Any]:
    """`options` with rcsync's queue filled in unless the caller named a queue, exchange or routing key.

    Empty values count as unnamed and are dropped (django-celery-beat stores "" for "default").
    """
    keys = ("queue", "exchange", "routing_key")
    chosen = {k: v for k, v in options.items() if k not in keys or v}
    if not any(chosen.get(k) for k in keys):
        chosen["queue"] = rcsync_queue()
    return chosen


def send_task(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
    """Send an rcsync task by name on the rcsync queue (the web process need not import the tasks)."""
    return celery_app().send_task(name, args=args, kwargs=kwargs, **destination(options))


def route_task(name: str, args: Any = None, kwargs: Any = None, options: Any = None, task: Any = None,
               **kw: Any) -> dict[str, str] | None:
    """A Celery router (``CELERY_TASK_ROUTES = ["django_hooks.dispatch.route_task"]``) for code that sends
    rcsync's tasks by name without going through :func:`send_task`; rcsync itself never needs it."""
    if name.startswith(RCSYNC_TASK_PREFIX):
        return {"queue": rcsync_queue()}
    return None
