"""`Masked`: a workspace-setting value that must never be shown (the OAuth client secret).

Why not ``bridge.config.Secret``: that one pickles with its value (Celery hands it between processes on
purpose). A setting value travels through plans, reports, audit rows and admin pages instead, so this box
refuses to pickle, prints as ``***`` and is compared by value (the planner needs "does Rocket.Chat hold
exactly this?") without anyone having to reveal it. :meth:`reveal` is called at the one place that writes it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = ["Masked", "MASK", "reveal", "shown"]

MASK = "***"


class Masked:
    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value.reveal() if isinstance(value, Masked) else value

    def reveal(self) -> Any:
        return self._value

    def _canon(self) -> bytes:
        return json.dumps(self._value, sort_keys=True, default=str).encode()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Masked):
            return hmac.compare_digest(self._canon(), other._canon())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Masked", hashlib.sha256(self._canon()).digest()))

    def __repr__(self) -> str:
        return f"Masked({MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a masked setting value is not pickled")

    def __deepcopy__(self, memo: dict) -> "Masked":
        return self  # immutable for our purposes; dataclasses.asdict deep-copies fields


def reveal(value: Any) -> Any:
    """The plain value (for the one write that needs it)."""
    return value.reveal() if isinstance(value, Masked) else value


def shown(value: Any) -> Any:
    """The value as it may be displayed: a masked one as ``***``."""
    return MASK if isinstance(value, Masked) else value
