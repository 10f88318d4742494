"""The error vocabulary of the stand-in (moto's `exceptions.py`).

`MeteorError` is what Rocket.Chat's server code throws; REST renders it as a
400 `{"success":false,"error":"<reason> [<code>]","errorType":<code>,"details"?}`
(`app/api/server/api.ts`, `failure()` after a caught `Meteor.Error`) and DDP
renders it as a method `error` object. `RestFailure` is a REST-only reply that
a route handler builds directly (`API.v1.failure/unauthorized/notFound`).
"""

from __future__ import annotations

from typing import Any


class MeteorError(Exception):
    """A `Meteor.Error(error, reason, details)`; `error` may be a string or a number."""

    def __init__(self, error: str | int, reason: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(error, reason)
        self.error = error
        self.reason = reason
        self.details = details

    @property
    def message(self) -> str:
        return f"{self.reason} [{self.error}]" if self.reason else f"[{self.error}]"

    def __str__(self) -> str:
        return self.message

    def rest_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"success": False, "error": self.message, "errorType": self.error}
        if self.details is not None:
            body["details"] = self.details
        return body

    def ddp_error(self) -> dict[str, Any]:
        """As realtime.protocol.meteor_error: an empty reason was `undefined` in JavaScript, so it is omitted."""
        body: dict[str, Any] = {"isClientSafe": True, "error": self.error}
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["message"] = self.message
        body["errorType"] = "Meteor.Error"
        return body


class RestFailure(Exception):
    """A ready REST error reply: HTTP status plus exact JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body.get("error") or body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def failure(error: Any, error_type: Any = None, status: int = 400) -> RestFailure:
    """`API.v1.failure(error, errorType?)`."""
    body: dict[str, Any] = {"success": False, "error": error}
    if error_type is not None:
        body["errorType"] = error_type
    return RestFailure(status, body)


def not_found(message: str = "Resource not found") -> RestFailure:
    return RestFailure(404, {"success": False, "error": message})
