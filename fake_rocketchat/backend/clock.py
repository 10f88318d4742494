"""The stand-in's notion of "now", shiftable by tests.

TOTP windows, login-token expiry, 2FA "remember for" and rate-limit windows
all read this clock, so a test can move the server 31 seconds ahead to probe
a TOTP step edge without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class Clock:
    """Wall clock plus an adjustable offset in seconds."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = float(offset)
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def time(self) -> float:
        """Seconds since the epoch, shifted."""
        return time.time() + self._offset

    def ms(self) -> int:
        return int(self.time() * 1000)

    def now(self) -> datetime:
        """Timezone-aware UTC datetime, shifted."""
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def shift(self, seconds: float) -> float:
        """Move the clock by `seconds` (may be negative); returns the new offset."""
        with self._lock:
            self._offset += float(seconds)
            return self._offset

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = float(seconds)
