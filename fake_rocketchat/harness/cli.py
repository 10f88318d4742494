"""The command line of the stand-in (`python -m fake_rocketchat`): serve until interrupted.

Every option has an environment variable (FAKE_RC_<NAME>); secrets are best
passed that way (FAKE_RC_ADMIN_PASSWORD, FAKE_RC_ADMIN_TOTP_SECRET) and are
never printed. With no admin options the workspace is fresh: the first user
who registers through `users.register` becomes admin.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .app import create_app
from .faults import Faults, RequestLog
from .server_thread import serve
from ..backend import persistence
from ..backend.state import State
from .testing import StartOptions, build_state


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"FAKE_RC_{name}", default)


def _on_off(value: str) -> bool:
    low = value.strip().lower()
    if low in ("on", "true", "1", "yes"):
        return True
    if low in ("off", "false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError("expected on or off")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fake_rocketchat", description="Stand-in Rocket.Chat server (REST + DDP).")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="bind address [FAKE_RC_HOST] (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(_env("PORT", "3000") or 3000), help="port, 0 = any free [FAKE_RC_PORT] (default 3000)")
    p.add_argument("--admin-username", default=_env("ADMIN_USERNAME"), help="create this admin [FAKE_RC_ADMIN_USERNAME]")
    p.add_argument("--admin-password", default=_env("ADMIN_PASSWORD"), help="its password [FAKE_RC_ADMIN_PASSWORD]")
    p.add_argument("--admin-email", default=_env("ADMIN_EMAIL"), help="its email [FAKE_RC_ADMIN_EMAIL]")
    p.add_argument("--admin-totp-secret", default=_env("ADMIN_TOTP_SECRET"), help="BASE32 secret: the admin has TOTP on [FAKE_RC_ADMIN_TOTP_SECRET]")
    p.add_argument("--seed", default=_env("SEED"), help="JSON file with users, rooms, roles, settings [FAKE_RC_SEED]")
    p.add_argument("--data", default=_env("DATA"),
                   help="keep the whole workspace in this file across restarts: loaded on start if present "
                        "(then --seed is not applied), written atomically on shutdown [FAKE_RC_DATA]")
    p.add_argument("--rate-limit", type=_on_off, default=_on_off(_env("RATE_LIMIT", "on") or "on"), help="REST rate limiter on|off [FAKE_RC_RATE_LIMIT] (default on)")
    p.add_argument("--latency-ms", type=float, default=float(_env("LATENCY_MS", "0") or 0), help="added latency per request [FAKE_RC_LATENCY_MS]")
    p.add_argument("--compat", type=int, choices=(6, 7), default=int(_env("COMPAT", "7") or 7), help="Rocket.Chat behaviour 6 (6.14) or 7 (7.x) [FAKE_RC_COMPAT] (default 7)")
    p.add_argument("--auth-failure-delay-ms", default=_env("AUTH_FAILURE_DELAY_MS", "500-1000"),
                   help="random delay before 401/403 as MIN-MAX ms, like Rocket.Chat [FAKE_RC_AUTH_FAILURE_DELAY_MS] (default 500-1000)")
    p.add_argument("--log-level", default=_env("LOG_LEVEL", "warning"), help="uvicorn log level [FAKE_RC_LOG_LEVEL]")
    args = p.parse_args(argv)
    if bool(args.admin_username) != bool(args.admin_password):
        p.error("--admin-username and --admin-password go together")
    try:
        low, _, high = str(args.auth_failure_delay_ms).partition("-")
        args.auth_failure_delay = (float(low) / 1000, float(high or low) / 1000)
    except ValueError:
        p.error("--auth-failure-delay-ms must look like 500-1000 or 0")
    return args


def _state(args: argparse.Namespace, start: StartOptions) -> State:
    """A kept workspace from `--data` if the file exists (the start options apply as on a restart of a
    Rocket.Chat with its MongoDB: the admin only if none exists), else a first start (admin, seed)."""
    if args.data:
        state = State(compat=args.compat)
        if persistence.load(state, args.data):
            start.apply(state)
            return state
    return build_state(
        admin_username=args.admin_username, admin_password=args.admin_password, admin_email=args.admin_email,
        admin_totp_secret=args.admin_totp_secret, seed=args.seed, rate_limit=args.rate_limit, compat=args.compat,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = StartOptions(args.admin_username, args.admin_password, args.admin_email, args.admin_totp_secret, args.rate_limit)
    try:
        state = _state(args, start)
    except (OSError, ValueError, KeyError) as exc:
        print(f"fake_rocketchat: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    faults, log = Faults(state), RequestLog()
    if args.latency_ms:
        faults.set_latency(args.latency_ms)
    app = create_app(state, faults=faults, request_log=log, auth_failure_delay=args.auth_failure_delay, start_options=start)
    code = serve(app, faults, args.host, args.port, log_level=args.log_level)
    if args.data and code == 0:
        persistence.save(state, args.data)
    return code
