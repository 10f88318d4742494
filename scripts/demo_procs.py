"""Processes of the demo: each in its own process group, logged to a file, stopped as a group.

Why process groups: a Celery prefork worker has pool children and `runserver`
has its own; stopping only the leader would leave them running. Each child is
started with `start_new_session=True` (so a Ctrl-C on the terminal reaches only
the demo runner, which then stops everything in order) and stopped with
`killpg`: SIGTERM first, SIGKILL for whatever is still there after a grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence


class DemoError(Exception):
    """Something the person running the demo has to fix; the message says what."""


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, wanted: int, what: str, env_name: str) -> int:
    """`wanted`, or any free port when 0; a taken fixed port is a clear error, not a crash later."""
    if wanted == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            return s.getsockname()[1]
    if not port_free(host, wanted):
        raise DemoError(
            f"port {wanted} on {host} ({what}) is taken by another program. "
            f"Stop it, or run with {env_name}=0 (any free port) or {env_name}=<port>."
        )
    return wanted


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll until `predicate()` is truthy; DemoError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Proc:
    """One started program: its own session/process group, output appended to `<logdir>/<name>.log`."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], logdir: Path, cwd: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # one run per log file
        self.popen = subprocess.Popen(
            list(args), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pgid = self.popen.pid  # session leader: pgid == pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, wait for it to empty, then SIGKILL what is left."""
        self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.popen.poll()  # reap the leader so the group can empty
            if not self.group_alive():
                break
            time.sleep(0.05)
        else:
            self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class ProcessSet:
    """Everything the demo started, stopped in reverse order of start."""

    def __init__(self, logdir: Path, cwd: Path, env: Mapping[str, str]) -> None:
        self.logdir = logdir
        self.cwd = cwd
        self.env = dict(env)
        self.procs: list[Proc] = []

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> Proc:
        proc = Proc(name, args, {**self.env, **(env or {})}, self.logdir, self.cwd)
        self.procs.append(proc)
        return proc

    def wait_log(self, proc: Proc, text: str, timeout: float) -> None:
        def seen() -> bool:
            if not proc.alive():
                raise DemoError(f"{proc.name} exited early; last lines of {proc.log_path}:\n{_tail(proc.log_text())}")
            return text in proc.log_text()

        wait_for(seen, timeout, f"{proc.name} to log {text!r} (see {proc.log_path})")

    def forget(self, proc: Proc) -> None:
        """A one-shot command that has finished: no longer part of what must stay up."""
        proc.stop()
        self.procs.remove(proc)

    def dead(self) -> list[Proc]:
        return [p for p in self.procs if not p.alive()]

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
