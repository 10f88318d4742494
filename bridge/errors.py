"""The whole error vocabulary of `bridge`, and the one place that maps Rocket.Chat's error strings to it.

Rocket.Chat reports failures in several shapes (see the wire contract §1.2): a `Meteor.Error` becomes
400 `{"error": "<reason> [<code>]", "errorType": "<code>"}`, some handlers pass `failure(a, b)` the wrong
way round (roles: `error:"error-role-not-found", errorType:"Role not found"`), 401/403 carry plain text,
and a 429 has neither `errorType` nor `details`. Callers should never parse those strings themselves:
they catch one of the classes below.

Messages never contain request bodies or headers, so no secret can leak through an exception.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

__all__ = [
    "RocketChatError",
    "AuthError",
    "TwoFactorError",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "RateLimited",
    "InvalidInput",
    "ServerError",
    "Unavailable",
    "OutcomeUnknown",
    "error_from_response",
    "error_code",
]


class RocketChatError(Exception):
    """Base class: Rocket.Chat refused a call, or could not be asked."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        route: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.route = route
        self.details = dict(details or {})


class AuthError(RocketChatError):
    """Login failed or the session is no longer valid even after one fresh login."""


class TwoFactorError(AuthError):
    """A second factor was demanded and could not be supplied or was rejected (wrong TOTP secret, email 2FA)."""


class PermissionDenied(RocketChatError):
    """The service account lacks a permission (named in `.permission` when it is known) or a licence."""

    def __init__(self, message: str, *, permission: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.permission = permission


class NotFound(RocketChatError):
    """The user, room, role or membership does not exist, or is invisible to the caller (private groups)."""


class Conflict(RocketChatError):
    """The change clashes with existing state: duplicate username/email/room/role, last owner or admin."""


class RateLimited(RocketChatError):
    """Too many calls; `.retry_at` is the epoch second when the route accepts calls again."""

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class InvalidInput(RocketChatError):
    """Rocket.Chat rejected the request's parameters (schema, invalid name, blocked username, empty list)."""


class ServerError(RocketChatError):
    """Rocket.Chat answered 5xx, or answered something that is not its JSON."""


class Unavailable(RocketChatError):
    """Rocket.Chat could not be reached (connection refused, timeouts, 502/503/504) after the retries."""


class OutcomeUnknown(Unavailable):
    """A non-idempotent write was sent but no answer came: it may or may not have been applied."""


# --- mapping -------------------------------------------------------------------------------------

_SUFFIX = re.compile(r"\[([A-Za-z0-9_.:-]+)\]\s*$")

_TWO_FACTOR = {"totp-required", "totp-invalid", "totp-max-attempts", "totp-user-not-found"}

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

# Bare texts Rocket.Chat sends without any code (users.info, users.setActiveStatus, notFound()).
_NOT_FOUND_TEXTS = {"user not found", "user not found.", "resource not found"}

# Which permission a route needs when Rocket.Chat's answer does not say (wire contract §3.1, §4.2, §5.3).
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
    known = _TWO_FACTOR | _CONFLICT | _NOT_FOUND | _PERMISSION | _INVALID | _RATE
    for candidate in candidates:  # roles.* swap error/errorType: prefer whichever is a known code
        if candidate.lower() in known:
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
    import time

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
