"""The demo's stand-in Rocket.Chat: `python -m fake_rocketchat`, plus the service account set up the
way docs/real-rocketchat.md tells an operator to on a real server.

The seed file cannot do this part: a custom role gets a random id and permissions name role ids,
so the role, its grants and the account are made here with the stand-in's set-up helpers, then
served exactly like `python -m fake_rocketchat` serves (rate limiter on, 7.x behaviour).

    python scripts/demo_standin.py --port 3000     (secrets from RCSYNC_RC_PASSWORD_FILE /
                                                     RCSYNC_RC_TOTP_SECRET_FILE, never printed)
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_people import SERVICE_PERMISSIONS, SERVICE_ROLE, SERVICE_USERNAME  # noqa: E402
from fake_rocketchat.harness.app import create_app  # noqa: E402
from fake_rocketchat.harness.faults import Faults, RequestLog  # noqa: E402
from fake_rocketchat.harness.server_thread import serve  # noqa: E402
from fake_rocketchat.harness.testing import build_state  # noqa: E402


HUMAN_ADMIN = "rc-admin"


def build(password: str, totp_secret: str, admin_password: str | None = None):  # -> fake_rocketchat.backend.state.State
    state = build_state(rate_limit=True)
    role = state.create_role(SERVICE_ROLE, "Users", "rcsync service account")
    for permission in SERVICE_PERMISSIONS:
        state.grant_permission(permission, role["_id"])
    user = state.create_user(SERVICE_USERNAME, name="rcsync", email=f"{SERVICE_USERNAME}@example.org",
                             password=password, roles=["user", "bot", role["_id"]], totp_secret=totp_secret)
    # Rocket.Chat skips the second factor for accounts younger than RememberFor (1800 s); a real
    # service account is older than that, so make this one older too and TOTP is really asked for.
    with state.lock:
        state.users[user["_id"]]["createdAt"] = state.now() - timedelta(days=1)
    if admin_password:  # a person's admin account, for making changes by hand (drift)
        state.create_user(HUMAN_ADMIN, name="Rocket.Chat admin", email=f"{HUMAN_ADMIN}@example.org",
                          password=admin_password, roles=["admin"])
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    password = Path(os.environ["RCSYNC_RC_PASSWORD_FILE"]).read_text().strip()
    totp_secret = Path(os.environ["RCSYNC_RC_TOTP_SECRET_FILE"]).read_text().strip()
    admin_file = os.environ.get("RCSYNC_DEMO_RC_ADMIN_PASSWORD_FILE")
    state = build(password, totp_secret, Path(admin_file).read_text().strip() if admin_file else None)
    faults = Faults(state)
    return serve(create_app(state, faults=faults, request_log=RequestLog()), faults, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
