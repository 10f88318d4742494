"""TLS: verification is on by default, a private CA bundle is honoured, and REST and DDP both use it.

The stand-in is served over HTTPS by uvicorn with a throw-away self-signed certificate for 127.0.0.1
(made with the openssl CLI).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import uvicorn

from bridge import AsyncRocketChat, Unavailable
from bridge.ddp import RealtimeClient
from bridge_support import ADMIN, ADMIN_PASSWORD, make_config
from fake_rocketchat.harness.app import create_app
from fake_rocketchat.harness.testing import build_state

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a certificate"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_server(certificate) -> Iterator[str]:
    cert, key = certificate
    app = create_app(build_state(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, rate_limit=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="warning",
                                           lifespan="off", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "HTTPS stand-in did not start"
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


async def test_unknown_certificate_is_refused_by_default(https_server):
    cfg = make_config(None, url=https_server, totp_secret=None, max_retries=0)
    async with AsyncRocketChat(cfg) as rc:
        with pytest.raises(Unavailable):
            await rc.me()


async def test_private_ca_bundle_is_trusted_by_rest_and_realtime(https_server, certificate):
    cfg = make_config(None, url=https_server, totp_secret=None, ca_bundle=str(certificate[0]))
    assert cfg.ws_url.startswith("wss://")
    async with AsyncRocketChat(cfg) as rc:
        assert (await rc.me()).username == ADMIN
        async with RealtimeClient(cfg, rest=rc) as rt:
            assert rt.connected and rt.user_id


async def test_verification_can_be_turned_off(https_server):
    cfg = make_config(None, url=https_server, totp_secret=None, verify_tls=False)
    async with AsyncRocketChat(cfg) as rc:
        assert (await rc.me()).username == ADMIN
