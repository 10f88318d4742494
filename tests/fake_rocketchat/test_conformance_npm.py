"""The stand-in driven by Rocket.Chat's own npm clients (issue 2, "checked by independent clients").

Each node script in tests/conformance/ runs once per compat mode (7, the default, and 6) against one
stand-in over loopback and reports every check in a single JSON line; the tests here turn each
reported check into its own pytest item, so a failure names the exact behaviour (request,
expectation, what came back).

- api-client.mjs: `@rocket.chat/api-client` RestClient, including its 2FA challenge-and-retry
  (`handleTwoFactorChallenge`) fed with TOTP codes from otplib (independent of the server's pyotp).
- api-client-email2fa.mjs: the same client against an email-2FA account; the stand-in's outbox plays
  the mailbox (codes are written to the script's stdin as they are "sent").
- ddp-client.mjs: `@rocket.chat/ddp-client` DDPSDK over /websocket.
- Every request the REST client put on the wire is then validated by rest-typings (see
  test_rest_typings.py for the validator itself).

The accounts are aged by shifting the stand-in's clock: Rocket.Chat skips 2FA for a user created
less than `Accounts_TwoFactorAuthentication_RememberFor` (1800 s) ago (app/2fa/server/code/index.ts,
"remember right after registration"), and the challenge is what these tests are about.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pyotp
import pytest

CONFORMANCE_DIR = Path(__file__).resolve().parents[1] / "conformance"
NODE = shutil.which("node")
NODE_TIMEOUT_S = 60
AGE_SECONDS = 3600  # older than RememberFor (1800 s), so fresh-registration 2FA leniency is over

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")

ADMIN_USERNAME = "conformance.admin"
PLAIN_USERNAME = "conformance.plain"
MAIL_USERNAME = "conformance.mail"

API_CLIENT_CHECKS = [
    "login without code answers 401 totp-required",
    "login with TOTP code in body",
    "me",
    "users.create (no 2FA)",
    "users.update: totp-required -> handler -> retried with x-2fa-code",
    "users.update again: remembered, no second challenge",
    "wrong code: totp-invalid -> handler asked again with invalidAttempt",
    "PAT with bypassTwoFactor skips the challenge",
    'password fallback: method "password" answered with sha256 hex',
    "users.create x3 for room checks",
    "users.info by userId and by username",
    "users.list pages with count/offset/total",
    "channels.create with members",
    "channels.invite with userIds list",
    "channels.members lists members with total",
    "channels.addModerator / addOwner and channels.roles",
    "channels.kick removes the member",
    "channels.info and rooms.info",
    "channels.setDefault",
    "groups.create / invite / addOwner / members / info",
    "groups.listAll and channels.list",
    "subscriptions.get",
    "roles.list / addUserToRole / getUsersInRole / removeUserFromRole",
    "permissions.listAll",
    "method.call wraps a DDP method result",
    "users.setActiveStatus then users.delete",
]

EMAIL_2FA_CHECKS = [
    "login without code -> totp-required, method email, code sent",
    "login with the emailed code",
    "2FA route: handler asked for method email (with emailOrUsername), answered from the mailbox",
]

DDP_CLIENT_CHECKS = [
    "connect",
    "login with password digest alone -> totp-required",
    "login with TOTP wrapper",
    "DDP token works for REST (sdk.rest /v1/me)",
    "resume login on a second connection",
    "login with password digest (account without 2FA)",
    "create a target user over REST",
    "roles-change event after authorization:addUserToRole",
    "stream-room-messages 'au' after addUsersToRoom",
    "own stream-notify-user subscriptions-changed after channels.create",
    "2FA-wrapped method: totp-required, then trailing {twoFactorCode, twoFactorMethod}",
    "Users:NameChanged after users.update over sdk.rest",
    "stream-notify-user for another uid is refused (nosub)",
    "dropped websocket: SDK reconnects, resumes login, stream keeps delivering",
    "Users:Deleted event after deleteUser",
    "unknown method -> 404 error",
    "logout",
]

# Checks the stand-in is known to fail, with the finding (request, Rocket.Chat's behaviour, ours).
# Keep this empty when the stand-in conforms; strict xfail turns a fixed finding into a failure.
KNOWN_FINDINGS: dict[str, str] = {}


@dataclass(frozen=True)
class NodeRun:
    """One finished node script: its parsed JSON line plus raw output for diagnostics."""

    payload: dict[str, Any]
    returncode: int
    stdout: str
    stderr: str

    def check(self, name: str) -> dict[str, Any]:
        found = [c for c in self.payload.get("checks", []) if c["name"] == name]
        assert found, f"script did not report check {name!r}; error: {self.payload.get('error')}; stderr: {self.stderr[-2000:]}"
        return found[0]


def run_node_script(
    script: str,
    env: dict[str, str],
    *,
    node_flags: tuple[str, ...] = (),
    stdin: str | None = None,
    feed: Callable[[], list[str]] | None = None,
) -> NodeRun:
    """Run tests/conformance/<script> with node and parse its one-line JSON result.

    `stdin` is written at once; `feed` is polled while the script runs and each line it returns is
    written to the script's stdin (e.g. email codes as the stand-in "sends" them).
    The npm packages are installed by `make install` (npm ci); their absence is a broken setup, not
    a reason to skip, so it fails with the command that fixes it.
    """
    assert NODE is not None
    if not (CONFORMANCE_DIR / "node_modules" / "@rocket.chat" / "api-client").is_dir():
        pytest.fail(f"npm packages missing in {CONFORMANCE_DIR}: run `make install` (or `npm ci` there)")
    proc = subprocess.Popen(
        [NODE, *node_flags, "--import", "./register.mjs", script],
        cwd=CONFORMANCE_DIR,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    output: dict[str, str] = {}
    drains = [threading.Thread(target=lambda n=n, f=f: output.__setitem__(n, f.read()), daemon=True)
              for n, f in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for drain in drains:
        drain.start()
    assert proc.stdin is not None
    if feed is None:
        proc.stdin.write(stdin or "")
        proc.stdin.close()
    else:
        threading.Thread(target=_pump, args=(proc, feed), daemon=True).start()
    try:
        proc.wait(timeout=NODE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{script} did not finish within {NODE_TIMEOUT_S} s")
    for drain in drains:
        drain.join()
    stdout, stderr = output.get("stdout", ""), output.get("stderr", "")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"{script} printed no JSON line (exit {proc.returncode}); stderr:\n{stderr[-4000:]}"
    payload = json.loads(lines[-1])
    assert proc.returncode in (0, 1), f"{script} could not run (exit {proc.returncode}): {payload.get('error')}\n{stderr[-4000:]}"
    return NodeRun(payload, proc.returncode, stdout, stderr)


def _pump(proc: subprocess.Popen[str], feed: Callable[[], list[str]]) -> None:
    """Write what `feed` yields to the script's stdin until it exits (polling, 20 ms)."""
    assert proc.stdin is not None
    while proc.poll() is None:
        try:
            for line in feed():
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            return
        time.sleep(0.02)


def assert_check(run: NodeRun, name: str) -> None:
    result = run.check(name)
    assert result["ok"], f"{run.payload['script']}: {name}: {result['detail']}"


def known_finding(name: str) -> Any:
    """pytest.param for a check, strict-xfailed when it is a recorded finding about the stand-in."""
    if name in KNOWN_FINDINGS:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FINDINGS[name]))
    return name


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    totp_secret: str
    plain_password: str
    mail_password: str

    def secrets(self) -> list[str]:
        return [self.admin_password, self.totp_secret, self.plain_password, self.mail_password]


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    return Credentials(
        admin_password=f"adm-{secrets.token_urlsafe(12)}",
        totp_secret=pyotp.random_base32(),
        plain_password=f"pln-{secrets.token_urlsafe(12)}",
        mail_password=f"mail-{secrets.token_urlsafe(12)}",
    )


@pytest.fixture(scope="module", params=[7, 6], ids=["compat7", "compat6"])
def server(request: pytest.FixtureRequest, credentials: Credentials) -> Iterator[Any]:
    """A stand-in per compat mode: a TOTP admin and a plain user (no 2FA method), both aged."""
    from fake_rocketchat.harness.testing import running_server

    with running_server(
        admin_username=ADMIN_USERNAME,
        admin_password=credentials.admin_password,
        admin_totp_secret=credentials.totp_secret,
        rate_limit=False,
        compat=request.param,
    ) as srv:
        # No verified email and no TOTP: Rocket.Chat falls back to the password check.
        srv.state.create_user(PLAIN_USERNAME, password=credentials.plain_password, verified=False)
        # A verified email with email 2FA on, as Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In makes it.
        srv.state.create_user(MAIL_USERNAME, password=credentials.mail_password, verified=True, email2fa=True)
        srv.faults.shift_clock(AGE_SECONDS)
        yield srv


def script_env(server: Any, credentials: Credentials) -> dict[str, str]:
    return {
        "RC_URL": server.url,
        "RC_USERNAME": ADMIN_USERNAME,
        "RC_PASSWORD": credentials.admin_password,
        "RC_TOTP_SECRET": credentials.totp_secret,
        "RC_CLOCK_OFFSET": str(server.state.clock.offset),
        "RC_PLAIN_USERNAME": PLAIN_USERNAME,
        "RC_PLAIN_PASSWORD": credentials.plain_password,
        "RC_FAKE_CONTROL": "1",  # the scripts may use the stand-in's /_fake fault API
    }


@pytest.fixture(scope="module")
def api_client_run(server: Any, credentials: Credentials) -> NodeRun:
    return run_node_script("api-client.mjs", script_env(server, credentials))


@pytest.fixture(scope="module")
def email2fa_run(server: Any, credentials: Credentials, ddp_client_run: NodeRun) -> NodeRun:
    """The stand-in's outbox plays the mailbox: each code it "sends" is written to the script's stdin."""
    delivered = 0

    def new_codes() -> list[str]:
        nonlocal delivered
        codes = server.state.sent_email_codes(MAIL_USERNAME)
        fresh, delivered = codes[delivered:], len(codes)
        return fresh

    env = {"RC_URL": server.url, "RC_USERNAME": MAIL_USERNAME, "RC_PASSWORD": credentials.mail_password}
    return run_node_script("api-client-email2fa.mjs", env, feed=new_codes)


def websocket_flags() -> tuple[str, ...]:
    """Node 20 has the global WebSocket (used by ddp-client) only behind a flag; 22+ has it built in."""
    assert NODE is not None
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0])
    return ("--experimental-websocket",) if major < 22 else ()


@pytest.fixture(scope="module")
def ddp_client_run(server: Any, credentials: Credentials, api_client_run: NodeRun) -> NodeRun:
    # After the REST run: both share the server, and the DDP script must not race its rate limits.
    return run_node_script("ddp-client.mjs", script_env(server, credentials), node_flags=websocket_flags())


@pytest.mark.parametrize("name", [known_finding(n) for n in API_CLIENT_CHECKS])
def test_api_client(api_client_run: NodeRun, name: str) -> None:
    assert_check(api_client_run, name)


@pytest.mark.parametrize("name", [known_finding(n) for n in DDP_CLIENT_CHECKS])
def test_ddp_client(ddp_client_run: NodeRun, name: str) -> None:
    assert_check(ddp_client_run, name)


@pytest.mark.parametrize("name", [known_finding(n) for n in EMAIL_2FA_CHECKS])
def test_api_client_email_two_factor(email2fa_run: NodeRun, name: str) -> None:
    assert_check(email2fa_run, name)


def assert_reports_exactly(run: NodeRun, expected: list[str]) -> None:
    """A check renamed or dropped in a script must not silently vanish from the suite."""
    assert [c["name"] for c in run.payload["checks"]] == expected
    failed = [c["name"] for c in run.payload["checks"] if not c["ok"]]
    assert run.returncode == (1 if failed else 0), "exit code disagrees with the reported checks"


def test_api_client_reports_exactly_the_expected_checks(api_client_run: NodeRun) -> None:
    assert_reports_exactly(api_client_run, API_CLIENT_CHECKS)


def test_ddp_client_reports_exactly_the_expected_checks(ddp_client_run: NodeRun) -> None:
    assert_reports_exactly(ddp_client_run, DDP_CLIENT_CHECKS)


def test_email_two_factor_reports_exactly_the_expected_checks(email2fa_run: NodeRun) -> None:
    assert_reports_exactly(email2fa_run, EMAIL_2FA_CHECKS)


def test_no_secret_in_script_output(credentials: Credentials, api_client_run: NodeRun, ddp_client_run: NodeRun, email2fa_run: NodeRun) -> None:
    for run in (api_client_run, ddp_client_run, email2fa_run):
        for secret in credentials.secrets():
            assert secret not in run.stdout and secret not in run.stderr, f"{run.payload['script']} printed a secret"


def test_requests_sent_by_the_rest_client_are_valid_by_rest_typings(api_client_run: NodeRun) -> None:
    """Every body/query the official client sent (as the bridge would) passes Rocket.Chat's schemas."""
    from test_rest_typings import assert_all_valid, validate_requests

    requests = api_client_run.payload["requests"]
    assert len(requests) >= 40, f"only {len(requests)} requests recorded"
    results = validate_requests(requests)
    covered = {r["endpoint"] for r in results if r["covered"]}
    assert {
        "POST /v1/users.create", "POST /v1/users.update", "POST /v1/roles.addUserToRole", "POST /v1/groups.invite",
        "POST /v1/channels.kick", "GET /v1/users.list", "POST /v1/method.call/:method",
    } <= covered
    assert_all_valid(requests, results)


def test_the_two_factor_retry_happened_on_the_wire(server: Any, api_client_run: NodeRun) -> None:
    """The stand-in saw each challenge and the client's retry with x-2fa-* headers (code masked in the log).

    users.update sequence of the api-client run: challenged + retried; remembered; new token
    challenged + wrong code (totp-invalid) + right code; PAT bypass. (The DDP run, always later,
    appends its own users.update.)
    """
    assert_check(api_client_run, "PAT with bypassTwoFactor skips the challenge")
    entries = server.request_log.entries(route="users.update", method="POST")
    assert [e.status for e in entries][:7] == [400, 200, 200, 400, 400, 200, 200]
    retried = {k.lower(): v for k, v in entries[1].headers.items()}
    assert retried.get("x-2fa-method") == "totp" and retried.get("x-2fa-code") == "***"
    first = {k.lower(): v for k, v in entries[0].headers.items()}
    assert "x-2fa-code" not in first
