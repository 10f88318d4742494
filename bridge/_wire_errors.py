"""Rocket.Chat's failure replies → `errors.py` classes: the wire tables and the one mapping function.

Private to the transport (`rest.py`, `auth.py`, `ddp.py`), like httpx's `map_httpcore_exceptions`
next to its transport: callers catch classes from `errors.py` and never see these strings.

Rocket.Chat reports failures in several shapes (see the wire contract §1.2): a `Meteor.Error` becomes
400 `{"error": "<reason> [<code>]", "errorType": "<code>"}`, some handlers pass `failure(a, b)` the wrong
way round (roles: `error:"error-role-not-found", errorType:"Role not found"`), 401/403 carry plain text,
and a 429 has neither `errorType` nor `details`. A DDP method error is `{"error": <code>, "reason": ...}`
(§7.3), and REST's `method.call` wraps the same object (§8.4).
"""

from __future__ import annotations

import re
import time
from typing import Any, Mapping

from .errors import (
    AuthError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    RocketChatError,
    ServerError,
    TwoFactorError,
    Unavailable,
)

__all__ = [
    "TWO_FACTOR_CHALLENGES",
    "ROUTE_PERMISSIONS",
    "error_code",
    "error_from_response",
    "error_from_ddp",
    "wait_seconds_from_text",
]

#: The codes of a second-factor challenge, on REST (400 `errorType`, 401 on login) and DDP alike
#: (wire contract §2.3, `app/2fa/server/code/index.ts`): the client answers them through
#: `twofactor.SecondFactor`, which gives up on `totp-max-attempts`. Unanswered, they map to `TwoFactorError`.
TWO_FACTOR_CHALLENGES = ("totp-required", "totp-invalid", "totp-max-attempts")

_TWO_FACTOR = frozenset(TWO_FACTOR_CHALLENGES) | {"totp-user-not-found"}

_SUFFIX = re.compile(r"\[([A-Za-z0-9_.:-]+)\]\s*$")

_CONFLICT = {
    "error-field-unavailable",  # duplicate username / email on users.create (A/app/lib/server/functions/saveUser.js)
    "error-could-not-save-identity",  # duplicate username on users.update (saveUserIdentity.ts)
    "error-duplicate-channel-name",
    "error-archived-duplicate-name",
    "error-duplicate-role-names-not-allowed",
    "error-user-already-in-role",
    "error-user-already-moderator",
    "error-user-already-owner",
    "error-user-already-leader",
    "error-token-already-exists",
    "error-2fa-already-enabled",
    "user-last-owner",  # deactivate/delete the last owner of rooms without confirmRelinquish
    "error-you-are-last-owner",
    "error-remove-last-owner",
    "error-admin-required",
    "error-role-in-use",
}

_NOT_FOUND = {
    "error-room-not-found",
    "error-invalid-room",
    "error-invalid-user",
    "error-user-not-found",
    "error-role-not-found",
    "error-invalid-roleid",
    "error-user-not-in-room",
    "error-user-not-in-role",
    "error-user-not-moderator",
    "error-user-not-owner",
    "error-user-not-leader",
    "error-invalid-username",
}

_PERMISSION = {
    "error-action-not-allowed",
    "error-not-allowed",
    "not-allowed",
    "error-unauthorized",
    "unauthorized",
    "forbidden",
    "not-authorized",
    "error-not-authorized",
    "error-role-protected",
    "error-cannot-delete-app-user",
    "edit_federated_user_not_allowed",
}

_INVALID = {
    "invalid-params",
    "error-invalid-params",
    "error-invalid-role-properties",
    "error-input-is-not-a-valid-field",
    "error-the-field-is-required",
    "error-invalid-email",
    "error-invalid-domain",
    "error-blocked-username",
    "error-invalid-room-name",
    "invalid-user-invite-list",
    "error-empty-invite-list",
    "error-invalid-query",
    "error-roomid-param-invalid",
    "error-room-archived",
    "error-cant-invite-for-direct-room",
    "error-password-policy-not-met",
    "error-bio-size-exceeded",
    "error-nickname-size-exceeded",
    "error-user-registration-custom-field",
    "error-invalid-name",
}

_RATE = {"error-too-many-requests", "too-many-requests"}

_KNOWN = _TWO_FACTOR | _CONFLICT | _NOT_FOUND | _PERMISSION | _INVALID | _RATE

# Bare texts Rocket.Chat sends without any code (users.info, users.setActiveStatus, notFound()).
_NOT_FOUND_TEXTS = {"user not found", "user not found.", "resource not found"}

#: Which permission a route needs when Rocket.Chat's answer does not say (wire contract §3.1, §4.2, §5.3).
ROUTE_PERMISSIONS: dict[str, str] = {
    "users.create": "create-user",
    "users.update": "edit-other-user-info",
    "users.setActiveStatus": "edit-other-user-active-status",
    "users.delete": "delete-user",
    "users.list": "view-d-room",
    "users.info": "view-full-other-user-info",
    "roles.create": "access-permissions",
    "roles.addUserToRole": "access-permissions",
    "roles.removeUserFromRole": "access-permissions",
    "roles.getUsersInRole": "access-permissions",
    "channels.create": "create-c",
    "groups.create": "create-p",
    "channels.invite": "add-user-to-any-c-room",
    "groups.invite": "add-user-to-any-p-room",
    "channels.kick": "remove-user",
    "groups.kick": "remove-user",
    "channels.addModerator": "set-moderator",
    "channels.removeModerator": "set-moderator",
    "groups.addModerator": "set-moderator",
    "groups.removeModerator": "set-moderator",
    "channels.addOwner": "set-owner",
    "channels.removeOwner": "set-owner",
    "groups.addOwner": "set-owner",
    "groups.removeOwner": "set-owner",
    "groups.listAll": "view-room-administration",
}

_WAIT_SECONDS = re.compile(r"wait\s+(\d+(?:\.\d+)?)\s+seconds?", re.IGNORECASE)


def error_code(body: Mapping[str, Any]) -> str | None:
    """The machine code of a Rocket.Chat error body, whichever way round the handler wrote it."""
    candidates: list[str] = []
    for key in ("errorType", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            match = _SUFFIX.search(value)
            candidates.append(match.group(1) if match else value)
    for candidate in candidates:  # roles.* swap error/errorType: prefer whichever is a known code
        if candidate.lower() in _KNOWN:
            return candidate
    for candidate in candidates:
        if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", candidate):
            return candidate
    return next((c for c in candidates if c and " " not in c and not c.endswith(".")), None)


def wait_seconds_from_text(text: str) -> float | None:
    """Seconds from Rocket.Chat's "You must wait N seconds before trying this endpoint again." text."""
    match = _WAIT_SECONDS.search(text or "")
    return float(match.group(1)) if match else None


def _text(body: Mapping[str, Any]) -> str:
    for key in ("error", "message", "reason"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    value = body.get("errorType")
    return value if isinstance(value, str) else ""


def error_from_response(
    status: int,
    body: Mapping[str, Any] | None,
    *,
    route: str,
    now: float | None = None,
    reset_ms: int | None = None,
) -> RocketChatError:
    """Turn one failed Rocket.Chat reply into the matching exception (pure: no I/O, no secrets)."""
    body = body or {}
    code = error_code(body)
    lowered = (code or "").lower()
    text = _text(body)
    details = body.get("details") if isinstance(body.get("details"), Mapping) else None
    common: dict[str, Any] = {"status": status, "error_type": code, "route": route, "details": details}
    message = f"{route}: {text or 'HTTP ' + str(status)}"
    if code and code not in message:
        message += f" [{code}]"

    if status == 429 or lowered in _RATE:
        now = time.time() if now is None else now
        wait = wait_seconds_from_text(text)
        retry_at = now + wait if wait is not None else (reset_ms / 1000 if reset_ms else now + 60)
        return RateLimited(message, retry_at=retry_at, **common)
    if lowered in _TWO_FACTOR:
        return TwoFactorError(message, **common)
    if "enterprise feature" in text.lower():
        return PermissionDenied(
            f"{route}: needs a Rocket.Chat Enterprise licence ({text})", permission="license", **common
        )
    if status == 401 and lowered != "unauthorized":
        return AuthError(message, **common)
    if status in (401, 403) or lowered in _PERMISSION:
        permission = None
        if details:
            permission = details.get("permission") or details.get("action")
        return PermissionDenied(message, permission=permission or ROUTE_PERMISSIONS.get(route), **common)
    if status == 404 or lowered in _NOT_FOUND or text.strip().lower() in _NOT_FOUND_TEXTS:
        return NotFound(message, **common)
    if lowered in _CONFLICT:
        return Conflict(message, **common)
    if lowered in _INVALID or status in (400, 405, 413, 415, 422):
        if lowered in _INVALID or status != 400:
            return InvalidInput(message, **common)
    if status in (502, 503, 504):
        return Unavailable(message, **common)
    if status >= 500:
        return ServerError(message, **common)
    return RocketChatError(message, **common)


def error_from_ddp(name: str, error: Any) -> RocketChatError:
    """Map a DDP method error object (`{"error": code, "reason": ..., "details": ...}`) to the same
    classes as a REST reply; a numeric code is Meteor's HTTP-like one (403 for a missing permission)."""
    if not isinstance(error, Mapping):
        return ServerError(f"{name}: {error!r}", route=name)
    code = error.get("error")
    if isinstance(code, int):
        status = 404 if code == 404 else (403 if code == 403 else 500 if code >= 500 else 400)
        return error_from_response(status, {"error": error.get("reason") or str(code)}, route=name)
    body = {"error": f"{error.get('reason') or code} [{code}]", "errorType": code, "details": error.get("details")}
    return error_from_response(400, body, route=name)
