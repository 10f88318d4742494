"""The progress script's strings: Django's JavaScriptCatalog for django_hooks (djangojs), served on the
admin site (``admin:django_hooks_jsi18n``) so it works on any AdminSite rcsync is registered on.

Every task page loads it before rcsync-admin.js starts polling, and Django's view reads and merges the
catalog files on each request; so it is built once per language (and again when a .mo file changes),
and browsers may keep it five minutes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.views.i18n import JavaScriptCatalog

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_VIEW = JavaScriptCatalog.as_view(packages=["django_hooks"])
_BUILT: dict[str, tuple[tuple[float, ...], bytes]] = {}  # language -> (the .mo files' mtimes, the script)


def javascript_catalog(request: Any) -> HttpResponse:
    """The catalog in the request's language."""
    language = get_language() or ""
    mtimes = tuple(p.stat().st_mtime for p in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/djangojs.mo")))
    built = _BUILT.get(language)
    if built is None or built[0] != mtimes:
        built = _BUILT[language] = (mtimes, _VIEW(request).content)
    response = HttpResponse(built[1], content_type="text/javascript; charset=utf-8")
    patch_cache_control(response, private=True, max_age=300)
    return response
