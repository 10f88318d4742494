"""Run the app under uvicorn in a background thread (tests, CLI), with a
listener that can be paused to make connections fail (`outage(mode="refuse")`)."""

from __future__ import annotations

import asyncio
import signal
import sys
import functools
import socket
import threading
import time
from typing import Any

import uvicorn


def _listen(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP; with proto 0 every reply waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ServerThread:
    """uvicorn serving `app` on host:port (0 = a free port) in a daemon thread."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.host = host
        self._sock = _listen(host, port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2, ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=f"fake_rocketchat:{self.port}", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self._sock])

        asyncio.run(main())

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake_rocketchat did not start")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def pause_listening(self, seconds: float) -> None:
        """Close the listening socket and open connections; listen again after `seconds`."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._pause, seconds)

    def _pause(self, seconds: float) -> None:
        for srv in self.server.servers:
            srv.close()
        for connection in list(self.server.server_state.connections):
            connection.shutdown()
        assert self.loop is not None
        self.loop.call_later(seconds, lambda: asyncio.ensure_future(self._resume()))

    async def _resume(self) -> None:
        config = self.server.config
        protocol = functools.partial(
            config.http_protocol_class, config=config, server_state=self.server.server_state, app_state=self.server.lifespan.state
        )
        sock = _listen(self.host, self.port)
        srv = await asyncio.get_running_loop().create_server(protocol, sock=sock)
        self.server.servers.append(srv)


def serve(app: Any, faults: Any, host: str, port: int, log_level: str = "warning") -> int:
    """The CLI loop (`python -m fake_rocketchat`, the demo): serve until SIGINT/SIGTERM, printing the
    URL line callers wait for once it accepts connections; an unbindable port is exit code 2."""
    try:
        server = ServerThread(app, host=host, port=port, log_level=log_level)
    except OSError as exc:
        print(f"fake_rocketchat: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    faults.refuse_hook = server.pause_listening
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"fake_rocketchat listening on http://{host}:{server.port}", flush=True)
    stop.wait()
    server.stop()
    return 0
