"""`manage.py rcsync`: every expected failure is one line and its documented exit code, no traceback
(the table is in the command's docstring and docs/operations.md); reports name roles, not role ids."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from django_hooks.rc import reset_client

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
RC_VARS = ("RCSYNC_RC_URL", "RCSYNC_RC_USERNAME", "RCSYNC_RC_PASSWORD", "RCSYNC_RC_TOTP_SECRET", "RCSYNC_RC_USER_ID",
           "RCSYNC_RC_TOKEN")


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py rcsync ARGS` in a subprocess on this run's test database, without RCSYNC_RC_* unless given."""
    from django.db import connection

    full = {k: v for k, v in os.environ.items() if k not in RC_VARS}
    full.update({"DJANGO_SETTINGS_MODULE": "settings.test", "RCSYNC_DB_NAME": connection.settings_dict["NAME"],
                 "PYTHONPATH": str(ROOT), **env})
    return subprocess.run([sys.executable, "manage.py", "rcsync", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def one_line(done: subprocess.CompletedProcess) -> str:
    """The error line; log records (timestamped, from the logging config) may come before it."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert len(lines) == 1, done.stderr
    return lines[0]


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_without_service_account_secrets_is_one_line_78() -> None:
    done = manage("check")
    assert done.returncode == 78
    line = one_line(done)
    assert "no usable Rocket.Chat service account" in line and "RCSYNC_RC_" in line


def test_rocketchat_unreachable_is_one_line_69() -> None:
    done = manage("check", RCSYNC_RC_URL=f"http://127.0.0.1:{closed_port()}", RCSYNC_RC_USERNAME="bot",
                  RCSYNC_RC_PASSWORD="some-Pw-5", RCSYNC_RC_MAX_RETRIES="0")
    assert done.returncode == 69, done.stderr
    assert "Rocket.Chat unreachable" in one_line(done)
    assert "some-Pw-5" not in done.stderr + done.stdout


def test_a_reconcile_with_rocketchat_unreachable_is_one_line_69() -> None:
    done = manage("reconcile", "--dry-run", RCSYNC_RC_URL=f"http://127.0.0.1:{closed_port()}",
                  RCSYNC_RC_USERNAME="bot", RCSYNC_RC_PASSWORD="some-Pw-5", RCSYNC_RC_MAX_RETRIES="0")
    assert done.returncode == 69, done.stderr
    assert "reconcile failed: Unavailable" in one_line(done)


def test_a_refused_login_is_one_line_77(stand_in) -> None:
    env = dict(stand_in.env(), RCSYNC_RC_PASSWORD="wrong-Pw-1")
    done = manage("check", **env)
    assert done.returncode == 77, done.stderr
    assert "refuses the service account" in one_line(done)
    for secret in stand_in.secrets + ["wrong-Pw-1"]:
        assert secret not in done.stderr + done.stdout


@pytest.mark.parametrize("args, text", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["sync"], "the following arguments are required: USER"),
    (["reconcile", "--colour"], "unrecognized arguments: --colour"),
    (["health", "--timeout", "soon"], "invalid float value: 'soon'"),
])
def test_bad_arguments_are_one_line_64(args: list[str], text: str) -> None:
    done = manage(*args)
    assert done.returncode == 64
    assert text in one_line(done)


def test_an_unknown_user_is_64_through_call_command(stand_in) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("rcsync", "sync", "nobody-at-all", stdout=io.StringIO())
    assert caught.value.returncode == 64 and "nobody-at-all" in str(caught.value)


def test_a_broken_rcsync_block_is_78_through_call_command(settings, stand_in) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "RULES": [{"when": {"role": ["wizard"]}, "rooms": ["general"]}]}
    with pytest.raises(CommandError) as caught:
        call_command("rcsync", "reconcile", "--dry-run", stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 78
    assert "\n" not in str(caught.value) and "RULES[0].when.role" in str(caught.value)
    out = io.StringIO()
    call_command("rcsync", "status", stdout=out)  # status still answers with a broken block
    assert "pending syncs" in out.getvalue()


def test_the_database_unavailable_is_one_line_75() -> None:
    done = manage("status", RCSYNC_DB_NAME="rcsync_no_such_database_here")
    assert done.returncode == 75
    assert one_line(done).startswith("CommandError: the database unavailable")


def test_check_names_the_service_accounts_roles_not_their_ids(fresh_stand_in) -> None:
    state = fresh_stand_in.server.state
    role_id = state.create_role("rcsync-operator", "Users")["_id"]
    assert role_id != "rcsync-operator"  # custom roles get random ids, as in Rocket.Chat
    assert state.add_user_to_role(state.find_user_by_username("rcsync-bot")["_id"], role_id, "rcsync-bot")
    out = io.StringIO()
    with pytest.raises(CommandError):  # the managed rooms are missing in a fresh stand-in
        call_command("rcsync", "check", stdout=out)
    logged_in = next(line for line in out.getvalue().splitlines() if "logged in as" in line)
    assert "rcsync-operator" in logged_in and role_id not in logged_in
