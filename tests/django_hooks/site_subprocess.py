"""Run a piece of Django code in a fresh process, on a site whose settings differ from the suite's
(another user model, another database engine): those are fixed per process.

The process creates and drops its own test database, serves a stand-in Rocket.Chat that its bridge
client uses, cleans its Redis keys, and prints one JSON line that `run_site` returns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parents[2]

_FRAME = r"""
import json, os, sys
sys.path.insert(0, "tests/e2e")
import django
django.setup()
from django.conf import settings
from django.test.runner import DiscoverRunner
runner = DiscoverRunner(verbosity=0, interactive=False)
old = runner.setup_databases()
try:
    import e2e_support
    with e2e_support.StandIn() as rc:
        os.environ.update(rc.env())
{body}
finally:
    runner.teardown_databases(old)
    import redis
    conn = redis.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*"))
    if keys:
        conn.delete(*keys)
"""


def run_site(body: str, env: Mapping[str, str], timeout: float = 120) -> Any:
    """Run `body` (with `rc`, the running e2e_support.StandIn, in scope) under `env`; it must print
    its result as JSON on its last line."""
    script = _FRAME.format(body=textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8))
    env = dict(env, PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def stock_user_env() -> dict[str, str]:
    """The suite's environment for settings/test_stock_user.py, minus this run's database name and key
    prefix, so the subprocess makes its own."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="settings.test_stock_user")
    for key in ("RCSYNC_DB_NAME", "RCSYNC_REDIS_PREFIX"):
        env.pop(key, None)
    return env
