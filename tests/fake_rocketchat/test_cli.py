"""`python -m fake_rocketchat` as a real subprocess (stand-in CLI; the env-driven admin mirrors
Rocket.Chat's ADMIN_USERNAME/ADMIN_PASS in `apps/meteor/server/startup/initialData.js`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pyotp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_PASSWORD = "cli-admin-Pa55word"


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_rocketchat", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server prints its URL (or exits)
    match = re.fullmatch(r"fake_rocketchat listening on (http://127\.0\.0\.1:\d+)\n", line)
    if not match:
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(1)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def cli_server() -> Iterator[tuple[str, str]]:
    secret = pyotp.random_base32()
    proc, url = _start(
        "--admin-username", "svc", "--rate-limit", "off", "--auth-failure-delay-ms", "0",
        env={"FAKE_RC_ADMIN_PASSWORD": SECRET_PASSWORD, "FAKE_RC_ADMIN_TOTP_SECRET": secret},
    )
    try:
        yield url, secret
    finally:
        out, err = _stop(proc)
        assert SECRET_PASSWORD not in out + err and secret not in out + err


def test_cli_prints_url_serves_and_admin_has_totp(cli_server: tuple[str, str]) -> None:
    url, secret = cli_server
    assert httpx.get(url + "/api/info").json()["success"] is True
    challenge = httpx.post(url + "/api/v1/login", json={"user": "svc", "password": SECRET_PASSWORD})
    assert challenge.status_code == 401 and challenge.json()["error"] == "totp-required"
    ok = httpx.post(url + "/api/v1/login", json={"user": "svc", "password": SECRET_PASSWORD, "code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200
    me = ok.json()["data"]["me"]
    assert me["roles"] == ["admin"]


def test_cli_fresh_workspace_first_registration_is_admin_and_rate_limit_on(tmp_path: Path) -> None:
    proc, url = _start("--auth-failure-delay-ms", "0")
    try:
        r = httpx.post(url + "/api/v1/users.register", json={"username": "boss", "email": "b@example.org", "pass": "pw", "name": "Boss"})
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "1"  # limiter on by default
        login = httpx.post(url + "/api/v1/login", json={"user": "boss", "password": "pw"}).json()
        assert "admin" in login["data"]["me"]["roles"]
        general = httpx.get(url + "/api/v1/channels.info", params={"roomId": "GENERAL"},
                            headers={"X-User-Id": login["data"]["userId"], "X-Auth-Token": login["data"]["authToken"]})
        assert general.json()["channel"]["default"] is True
    finally:
        _stop(proc)


def test_cli_seed_file_and_compat_6(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "users": [{"username": "alice", "password": "pw", "email": "alice@example.org"}],
        "rooms": [{"name": "vip", "type": "p", "owner": "alice", "members": []}],
        "settings": {"API_Upper_Count_Limit": 3},
    }))
    proc, url = _start("--seed", str(seed), "--compat", "6", "--auth-failure-delay-ms", "0")
    try:
        login = httpx.post(url + "/api/v1/login", json={"user": "alice", "password": "pw"}).json()
        assert login["status"] == "success" and "success" not in login  # 6.x login body
        headers = {"X-User-Id": login["data"]["userId"], "X-Auth-Token": login["data"]["authToken"]}
        assert httpx.get(url + "/api/v1/groups.info", params={"roomName": "vip"}, headers=headers).status_code == 200
        assert httpx.get(url + "/api/v1/me").json() == {"status": "error", "message": "You must be logged in to do this."}
    finally:
        _stop(proc)


def test_cli_rejects_bad_options() -> None:
    bad = subprocess.run([sys.executable, "-m", "fake_rocketchat", "--compat", "5"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--compat" in bad.stderr
    half = subprocess.run([sys.executable, "-m", "fake_rocketchat", "--admin-username", "x"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert half.returncode == 2 and "go together" in half.stderr
    missing = subprocess.run([sys.executable, "-m", "fake_rocketchat", "--port", "0", "--seed", "/nonexistent.json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "cannot start" in missing.stderr
