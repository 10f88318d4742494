"""Tiny request-schema checks with ajv's wording (`additionalProperties:false` routes).

Legacy `addRoute` routes throw `Meteor.Error('invalid-params', <ajv messages>)`,
i.e. 400 `"<messages> [invalid-params]"` (reference §3.2, §9.2).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..backend.errors import MeteorError

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


def matches(body: Mapping[str, Any], required: Mapping[str, str], optional: Mapping[str, str] | None = None) -> bool:
    """Whether `body` satisfies one `additionalProperties:false` object schema."""
    try:
        check(body, required, optional)
    except MeteorError:
        return False
    return True


def check_one_of(body: Mapping[str, Any], variants: list[tuple[Mapping[str, str], Mapping[str, str]]], error: str = "invalid-params") -> None:
    """ajv `oneOf` of object schemas: exactly one variant must match."""
    if sum(1 for required, optional in variants if matches(body, required, optional)) != 1:
        raise MeteorError(error, "must match exactly one schema in oneOf")


def room_one_of(**extra: str) -> Any:
    """A `validateParams` check for the `oneOf [{roomId, ...extra}, {roomName, ...extra}]`,
    additionalProperties:false schemas of channels.ts (isChannelsDeleteProps, ...ArchiveProps,
    ...JoinProps, ...): a key ending in `?` is optional and `nullable` (a JSON null counts as absent)."""
    required = {k: v for k, v in extra.items() if not k.endswith("?")}
    optional = {k.rstrip("?"): v for k, v in extra.items() if k.endswith("?")}

    def validate(ctx: Any) -> None:
        params = {k: v for k, v in ctx.params.items() if not (v is None and k in optional)}
        check_one_of(params, [({"roomId": "string", **required}, optional), ({"roomName": "string", **required}, optional)])

    return validate
