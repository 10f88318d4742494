"""The items of one array of a JSON object, decoded as its bytes arrive. Pure (no I/O).

Why: an unpaged listing (``count=0``, Rocket.Chat's ``API_Allow_Infinite_Count``) of a million accounts is
one ~200 MB body; decoding it whole would hold the text and every decoded document at once (~1.8 GB).
:class:`ArrayItems` keeps only the undecoded tail of what arrived and hands out each element of the
wanted top-level array as soon as it is complete; the object's other top-level members (``total``,
``count``, ``success``) are kept in :attr:`ArrayItems.rest`. Each value is decoded by the standard
library's C scanner (``json.JSONDecoder.raw_decode``); only the walk between values is Python.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

__all__ = ["ArrayItems"]

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()


class ArrayItems:
    """Feed bytes with :meth:`feed` (it returns the elements of ``key`` completed so far), then call
    :meth:`close`. Raises ``ValueError`` for a body that is not a JSON object."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rest: dict[str, Any] = {}
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._state = "start"  # start -> key -> colon -> value | array -> ... -> done
        self._current: str | None = None

    def feed(self, data: bytes) -> list[Any]:
        self._buf = self._buf[self._pos:] + self._text.decode(data)
        self._pos = 0
        return self._walk(final=False)

    def close(self) -> list[Any]:
        """The last elements; raises ``ValueError`` if the body ended before the object did."""
        self._buf = self._buf[self._pos:] + self._text.decode(b"", final=True)
        self._pos = 0
        out = self._walk(final=True)
        if self._state != "done":
            raise ValueError("the JSON body ended early")
        return out

    # --- the walk -----------------------------------------------------------------------------
    def _skip(self) -> str | None:
        """Skip whitespace; the next character, or None if more input is needed."""
        buf, pos = self._buf, self._pos
        while pos < len(buf) and buf[pos] in _WS:
            pos += 1
        self._pos = pos
        return buf[pos] if pos < len(buf) else None

    def _value(self, final: bool) -> tuple[bool, Any]:
        """Decode one value at the position: (False, None) if it may not be complete yet. A value that
        ends exactly at the end of what arrived is only taken at the end (a number may go on)."""
        try:
            value, end = _DECODER.raw_decode(self._buf, self._pos)
        except json.JSONDecodeError:
            if final:
                raise ValueError("invalid JSON in the body") from None
            return False, None
        if end >= len(self._buf) and not final:
            return False, None
        self._pos = end
        return True, value

    def _walk(self, final: bool) -> list[Any]:
        out: list[Any] = []
        while True:
            c = self._skip()
            if c is None:
                return out
            state = self._state
            if state == "start":
                if c != "{":
                    raise ValueError("the body is not a JSON object")
                self._pos += 1
                self._state = "key"
            elif state == "key":
                if c == "}":
                    self._pos += 1
                    self._state = "done"
                elif c == ",":
                    self._pos += 1
                else:
                    ok, name = self._value(final)
                    if not ok:
                        return out
                    if not isinstance(name, str):
                        raise ValueError("a JSON object key is not a string")
                    self._current, self._state = name, "colon"
            elif state == "colon":
                if c != ":":
                    raise ValueError("expected ':' in the JSON body")
                self._pos += 1
                self._state = "value"
            elif state == "value":
                if self._current == self.key and c == "[":
                    self._pos += 1
                    self._state = "array"
                    continue
                ok, value = self._value(final)
                if not ok:
                    return out
                self.rest[self._current or ""] = value
                self._state = "key"
            elif state == "array":
                if c == "]":
                    self._pos += 1
                    self._state = "key"
                elif c == ",":
                    self._pos += 1
                else:
                    ok, item = self._value(final)
                    if not ok:
                        return out
                    out.append(item)
            else:  # done: only whitespace may follow
                raise ValueError("data after the JSON object")
