"""DDP framing for the stand-in: EJSON, message validation, version negotiation, error shapes.

Pure functions only (no sockets), so the wire rules can be unit-tested and shared
with REST `method.call`, which carries the same DDP messages inside a JSON string
(`apps/meteor/app/api/server/v1/misc.ts`).

Sources: meteor/meteor `packages/ddp/DDP.md`, `packages/ddp-server/livedata_server.js`
(`sendError`, `_handleConnect`, `protocol_handlers`, `wrapInternalException`),
`packages/ddp-common/utils.js` (`SUPPORTED_DDP_VERSIONS`), `packages/ejson/ejson.js`.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from typing import Any

# packages/ddp-common/utils.js: DDPCommon.SUPPORTED_DDP_VERSIONS, best first.
SUPPORTED_DDP_VERSIONS: tuple[str, ...] = ("1", "pre2", "pre1")

# The first frame Meteor's stream server writes on every new socket (stream_server.js).
SERVER_ID_FRAME: dict[str, Any] = {"server_id": "0"}


class ProtocolError(Exception):
    """A message the session answers with `{"msg":"error","reason":...}` (livedata_server.js `sendError`)."""

    def __init__(self, reason: str, offending: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offending = offending

    def frame(self) -> dict[str, Any]:
        return error_frame(self.reason, self.offending)


# ---------------------------------------------------------------------------- EJSON


def _to_ejson(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return {"$date": int(round(value.timestamp() * 1000))}
    if isinstance(value, date):
        return {"$date": int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp() * 1000)}
    if isinstance(value, dict):
        return {str(k): _to_ejson(v) for k, v in value.items() if v is not _OMIT}
    if isinstance(value, (list, tuple)):
        return [_to_ejson(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        # EJSON encodes NaN/±Infinity as {"$InfNaN": ...}; nothing here should produce them.
        return {"$InfNaN": 0 if math.isnan(value) else (1 if value > 0 else -1)}
    return value


def _from_ejson(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$date" in value and isinstance(value["$date"], (int, float)):
            return datetime.fromtimestamp(value["$date"] / 1000, tz=timezone.utc)
        if len(value) == 1 and "$escape" in value and isinstance(value["$escape"], dict):
            return {k: _from_ejson(v) for k, v in value["$escape"].items()}
        return {k: _from_ejson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ejson(v) for v in value]
    return value


class _Omit:
    """Marker for a key JavaScript would drop from JSON (an `undefined` value)."""

    def __repr__(self) -> str:
        return "OMIT"


_OMIT = _Omit()
OMIT = _OMIT


def ejson_dumps(message: Any) -> str:
    """Serialize like `DDPCommon.stringifyDDP`: datetimes become `{"$date": <ms>}`."""
    return json.dumps(_to_ejson(message), separators=(",", ":"), ensure_ascii=False)


def ejson_loads(text: str | bytes) -> Any:
    """Parse like `DDPCommon.parseDDP`; raises ValueError on bad JSON."""
    return _from_ejson(json.loads(text))


def to_ejson_value(value: Any) -> Any:
    """The JSON-ready form of a value (for embedding EJSON in another JSON body)."""
    return _to_ejson(value)


# ---------------------------------------------------------------------------- frames


def error_frame(reason: str, offending: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"msg": "error", "reason": reason}
    if offending is not None:
        msg["offendingMessage"] = offending
    return msg


def parse_client_frame(text: str | bytes) -> dict[str, Any]:
    """Decode one client frame; the errors are the exact reasons Meteor sends back."""
    try:
        msg = ejson_loads(text)
    except (ValueError, TypeError):
        raise ProtocolError("Parse error") from None
    if not isinstance(msg, dict) or not msg.get("msg"):
        # livedata_server.js: `if (msg === null || !msg.msg) sendError('Bad request', msg)`
        raise ProtocolError("Bad request", msg if msg is not None else None)
    return msg


def negotiate_version(msg: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """`Server._handleConnect`: returns (version, None) on success or (None, failed-frame).

    The client must propose a version it lists in `support`; the server picks the
    first of the client's `support` that it knows and refuses a proposal that is not
    that one, telling the client which to use.
    """
    version = msg.get("version")
    support = msg.get("support")
    if not (
        isinstance(version, str)
        and isinstance(support, list)
        and all(isinstance(v, str) for v in support)
        and version in support
    ):
        return None, {"msg": "failed", "version": SUPPORTED_DDP_VERSIONS[0]}
    best = next((v for v in support if v in SUPPORTED_DDP_VERSIONS), SUPPORTED_DDP_VERSIONS[0])
    if version != best:
        return None, {"msg": "failed", "version": best}
    return version, None


def validate_method(msg: dict[str, Any]) -> None:
    """`protocol_handlers.method` rejects these before looking up the method."""
    if (
        not isinstance(msg.get("id"), str)
        or not isinstance(msg.get("method"), str)
        or ("params" in msg and not isinstance(msg["params"], list))
        or ("randomSeed" in msg and not isinstance(msg["randomSeed"], str))
    ):
        raise ProtocolError("Malformed method invocation", msg)


def validate_sub(msg: dict[str, Any]) -> None:
    if (
        not isinstance(msg.get("id"), str)
        or not isinstance(msg.get("name"), str)
        or ("params" in msg and not isinstance(msg["params"], list))
    ):
        raise ProtocolError("Malformed subscription", msg)


# ---------------------------------------------------------------------------- errors


def meteor_error(error: str | int, reason: str | None = None, details: Any = None) -> dict[str, Any]:
    """The EJSON of `new Meteor.Error(error, reason, details)` as DDP sends it.

    Keys follow the constructor's assignment order; `reason`/`details` that are
    undefined in JavaScript are absent from the JSON.
    """
    body: dict[str, Any] = {"isClientSafe": True, "error": error}
    if reason is not None:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["message"] = f"{reason} [{error}]" if reason else f"[{error}]"
    body["errorType"] = "Meteor.Error"
    return body


def is_meteor_error(exc: BaseException) -> bool:
    """Duck-typed: anything carrying `error` and `reason` like a `Meteor.Error` (e.g. errors.MeteorError)."""
    return hasattr(exc, "error") and hasattr(exc, "reason") and not isinstance(exc, ProtocolError)


def error_for_client(exc: BaseException) -> dict[str, Any]:
    """`wrapInternalException`: client-safe errors pass through, the rest become 500."""
    if is_meteor_error(exc):
        reason = getattr(exc, "reason", None)
        return meteor_error(getattr(exc, "error"), reason if reason not in ("",) else None, getattr(exc, "details", None))
    return meteor_error(500, "Internal server error")


def method_not_found(name: str) -> dict[str, Any]:
    return meteor_error(404, f"Method '{name}' not found")


def subscription_not_found(name: str) -> dict[str, Any]:
    return meteor_error(404, f"Subscription '{name}' not found")


def result_frame(method_id: str, result: Any = OMIT, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"msg":"result"}`; `result` is left out when the method returned undefined (None here)."""
    frame: dict[str, Any] = {"msg": "result", "id": method_id}
    if error is not None:
        frame["error"] = error
    elif result is not OMIT and result is not None:
        frame["result"] = result
    return frame


def updated_frame(method_id: str) -> dict[str, Any]:
    return {"msg": "updated", "methods": [method_id]}


def ready_frame(sub_ids: list[str]) -> dict[str, Any]:
    return {"msg": "ready", "subs": list(sub_ids)}


def nosub_frame(sub_id: Any, error: dict[str, Any] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"msg": "nosub", "id": sub_id}
    if error is not None:
        frame["error"] = error
    return frame
