"""Tiny request-schema checks with ajv's wording (`additionalProperties:false` routes).

Legacy `addRoute` routes throw `Meteor.Error('invalid-params', <ajv messages>)`,
i.e. 400 `"<messages> [invalid-params]"` (reference §3.2, §9.2).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import MeteorError

_TYPES = {"string": str, "boolean": bool, "object": dict, "array": list, "number": (int, float), "integer": int}


def check(
    body: Mapping[str, Any],
    required: Mapping[str, str],
    optional: Mapping[str, str] | None = None,
    *,
    additional: bool = False,
    error: str = "invalid-params",
    path: str = "",
) -> None:
    """Raise MeteorError(error, ajv-style message) for the first problems found."""
    optional = optional or {}
    messages: list[str] = []
    for key in required:
        if key not in body:
            messages.append(f"must have required property '{key}'")
    if not messages and not additional:
        for key in body:
            if key not in required and key not in optional:
                messages.append("must NOT have additional properties")
                break
    if not messages:
        for key, kind in {**required, **optional}.items():
            if key in body and kind != "any":
                value = body[key]
                expected = _TYPES[kind]
                bad = not isinstance(value, expected) or (kind in ("number", "integer") and isinstance(value, bool))
                if bad:
                    messages.append(f"{path}/{key} must be {kind}")
                    break
    if messages:
        raise MeteorError(error, "\n".join(messages))
