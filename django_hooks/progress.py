"""Progress output for long runs: a redrawn bar on a terminal, plain throttled lines otherwise (logs, cron)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """Call with (done, total); `finish()` ends the line. Never raises on a closed or odd stream."""

    def __init__(self, stream: TextIO, label: str = "reconcile", width: int = 30, min_interval: float = 0.1) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.min_interval = min_interval if self.tty else 2.0
        self._last_emit = 0.0
        self._last_decile = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.tty:
            if now - self._last_emit < self.min_interval and done < total:
                return
            fraction = done / total if total else 1.0
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self._write(f"\r{self.label} [{bar}] {done}/{total} ({fraction:4.0%})")
            self._drawn = True
        else:
            decile = int(10 * done / total) if total else 10
            if decile == self._last_decile and now - self._last_emit < self.min_interval:
                return
            if decile == self._last_decile and done < total:
                return
            self._last_decile = decile
            self._write(f"{self.label}: {done}/{total}\n")
        self._last_emit = now

    def finish(self) -> None:
        if self.tty and self._drawn:
            self._write("\n")
            self._drawn = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass
