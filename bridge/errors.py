"""The error vocabulary of `bridge`: what a caller may catch, and nothing else.

```
RocketChatError                 base: .status, .error_type (Rocket.Chat's code), .route, .details
├── AuthError                   login failed, or a token was refused (wrong credentials, revoked PAT)
│   ├── TwoFactorError          2FA demanded and not satisfiable (wrong secret, email 2FA, no secret)
│   └── SessionLost             a token Rocket.Chat had just issued was refused too (also a TransientError)
├── PermissionDenied            .permission names the missing permission ("license" for Enterprise-only)
├── NotFound                    user/room/role/membership missing, or a private group we are not in
├── Conflict                    duplicate username/email/room/role, last owner/admin
├── InvalidInput                schema errors, invalid or reserved names, empty invite lists
└── TransientError              Rocket.Chat was busy or away: the same call may succeed later
    ├── RateLimited             .retry_at (epoch seconds)
    ├── ServerError             5xx, or a reply that is not Rocket.Chat's JSON
    └── Unavailable             unreachable after retries (connect errors, timeouts, 502/503/504)
        └── OutcomeUnknown      a non-idempotent write got no answer: it may or may not have happened
```

The split that matters to a caller that retries (a queue, a task) is `TransientError` against the
rest, like httpx's `TransportError` against `HTTPStatusError`: a transient failure says nothing about
the request and may go away by itself; every other class is Rocket.Chat's verdict on the request, or
on our credentials, and repeating it unchanged gets the same answer. Test with `isinstance`, never by
class name.

Turning Rocket.Chat's reply shapes into these classes is the transport's job (`_wire_errors.py`,
used by `rest.py` and `ddp.py`). Messages never contain request bodies or headers, so no secret can
leak through an exception.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "RocketChatError",
    "AuthError",
    "TwoFactorError",
    "SessionLost",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "InvalidInput",
    "TransientError",
    "RateLimited",
    "ServerError",
    "Unavailable",
    "OutcomeUnknown",
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


class TransientError(RocketChatError):
    """Rocket.Chat was unreachable, overloaded or rate limiting: nothing was said about the request
    itself, so the same call may succeed later without anyone changing anything."""


class AuthError(RocketChatError):
    """Login failed or the session is no longer valid even after one fresh login."""


class TwoFactorError(AuthError):
    """A second factor was demanded and could not be supplied or was rejected (wrong TOTP secret, email 2FA)."""


class SessionLost(AuthError, TransientError):
    """Rocket.Chat refused a login token it had just issued (after one fresh login). The credentials
    worked a moment ago, so this is the server's trouble (a restart, sessions not shared behind a load
    balancer), not a verdict on them: a later call logs in afresh."""


class PermissionDenied(RocketChatError):
    """The service account lacks a permission (named in `.permission` when it is known) or a licence."""

    def __init__(self, message: str, *, permission: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.permission = permission


class NotFound(RocketChatError):
    """The user, room, role or membership does not exist, or is invisible to the caller (private groups)."""


class Conflict(RocketChatError):
    """The change clashes with existing state: duplicate username/email/room/role, last owner or admin."""


class InvalidInput(RocketChatError):
    """Rocket.Chat rejected the request's parameters (schema, invalid name, blocked username, empty list)."""


class RateLimited(TransientError):
    """Too many calls; `.retry_at` is the epoch second when the route accepts calls again."""

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class ServerError(TransientError):
    """Rocket.Chat answered 5xx, or answered something that is not its JSON."""


class Unavailable(TransientError):
    """Rocket.Chat could not be reached (connection refused, timeouts, 502/503/504) after the retries."""


class OutcomeUnknown(Unavailable):
    """A non-idempotent write was sent but no answer came: it may or may not have been applied."""
