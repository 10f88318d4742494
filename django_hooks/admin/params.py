"""Parsing what an admin request says: ids in query strings, site user keys in URLs and forms.

One strict parser for every view, because the loose ones failed on hostile input (issue 14):
``"²".isdigit()`` is true and ``int("²")`` raises (a 500), ``int("٣")`` is 3 (an Arabic-Indic digit
accepted as an id), and a ``user_key`` over 64 characters or with a NUL reached PostgreSQL (a 500).
Ids are ASCII digits only; a user key is what rcsync itself writes (``str(user.pk)``): at most 64
characters, no control characters, and the user model's primary key as ``str()`` writes it. Anything else
is a :class:`BadParameter`, which the views answer with 400 and the message.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

_ASCII_ID = re.compile(r"[0-9]{1,18}")  # [0-9], not \d: \d matches every script's digits
USER_KEY_MAX = 64  # AccountLink.user_key, PendingSync.user_key


class BadParameter(ValueError):
    """A request parameter that is not what the view takes; the message says which and why."""


def ascii_id(text: Any, name: str) -> int:
    """A positive id written in ASCII digits (at most 18 of them), else BadParameter."""
    value = str(text).strip()
    if not _ASCII_ID.fullmatch(value):
        raise BadParameter(_("%(name)s must be a number written with the digits 0-9, got %(value)r") % {
            "name": name, "value": value[:40]})
    return int(value)


def ascii_ids(text: str, name: str, limit: int) -> list[int]:
    """A comma-separated list of ids (empty items skipped), at most ``limit`` of them."""
    ids = [ascii_id(part, name) for part in text.split(",") if part.strip()]
    if len(ids) > limit:
        raise BadParameter(_("%(name)s takes at most %(limit)d ids") % {"name": name, "limit": limit})
    return ids


def optional_id(params: Any, name: str, default: int | None = None) -> int | None:
    """``params[name]`` as an id, or ``default`` when it is absent or empty."""
    raw = params.get(name, "")
    return default if raw in ("", None) else ascii_id(raw, name)


def user_key(text: Any) -> str:
    """A site user key as rcsync stores it, else BadParameter (never a database error)."""
    key = str(text)
    if not key:
        raise BadParameter(_("the site user key is empty"))
    if len(key) > USER_KEY_MAX:
        raise BadParameter(_("a site user key has at most %(max)d characters, this one has %(length)d") % {
            "max": USER_KEY_MAX, "length": len(key)})
    if any(unicodedata.category(ch).startswith("C") or ch.isspace() for ch in key):
        raise BadParameter(_("a site user key has no spaces or control characters"))
    pk_field = get_user_model()._meta.pk
    try:
        canonical = str(pk_field.to_python(key))
    except (ValidationError, ValueError, TypeError):
        canonical = None
    if canonical != key:  # also "007" or "٣" for 7 and 3: rcsync only ever writes str(user.pk)
        raise BadParameter(_("%(key)r is not a site user key (the user model's %(field)s)") % {
            "key": key, "field": pk_field.name})
    return key


def bad_request(exc: BadParameter, *, as_json: bool = False) -> HttpResponse:
    """The 400 answer: ``{"error": ...}`` for a JSON endpoint, else plain text (the reason may quote
    what was sent, so it is never rendered as HTML)."""
    if as_json:
        return JsonResponse({"error": str(exc)}, status=400)
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
