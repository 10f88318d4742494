"""RCSYNC['TASKS'] parsing: defaults, and every bad value named in a clear error."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_hooks.conf import parse_hook_settings


def test_defaults() -> None:
    cfg = parse_hook_settings({}, "redis://example:6379/2")
    assert cfg.redis_url == "redis://example:6379/2"
    assert (cfg.nightly_hour, cfg.nightly_minute) == (3, 0)
    assert cfg.relay_interval == 30
    assert cfg.trigger_ignore_fields == {"last_login"}


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"NIGHTLY_TIME": "25:00"}, "NIGHTLY_TIME"),
        ({"NIGHTLY_TIME": "3am"}, "NIGHTLY_TIME"),
        ({"LOCK_TTL": 0}, "LOCK_TTL"),
        ({"LOCK_TTL": True}, "LOCK_TTL"),
        ({"RELAY_INTERVAL": "30"}, "RELAY_INTERVAL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"TRIGGER_MODELS": {"Profile": "user"}}, "TRIGGER_MODELS"),
        ({"TRIGGER_IGNORE_FIELDS": "last_login"}, "TRIGGER_IGNORE_FIELDS"),
        ({"COALESCE_QUIET": 3, "COALESCE_MAX_WAIT": 1}, "COALESCE_MAX_WAIT"),
        ({"LOCK_TLL": 3}, "LOCK_TLL"),
    ],
)
def test_bad_values_are_named(raw: dict, needle: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=needle):
        parse_hook_settings(raw)


def test_nightly_time_parsed() -> None:
    cfg = parse_hook_settings({"NIGHTLY_TIME": "4:30"})
    assert (cfg.nightly_hour, cfg.nightly_minute) == (4, 30)


def test_validate_reports_policy_and_task_problems_together(settings) -> None:
    from django_hooks.conf import validate

    settings.RCSYNC = {"ROOMS": {"vip": {"type": "secret"}}, "TASKS": {}}
    with pytest.raises(ImproperlyConfigured, match="ROOMS.vip.type"):
        validate()
    settings.RCSYNC = {"TASKS": {"NIGHTLY_TIME": "noon"}}
    with pytest.raises(ImproperlyConfigured, match="NIGHTLY_TIME"):
        validate()
    settings.RCSYNC = {"TASKS": {}}
    validate()


def test_a_site_with_a_broken_rcsync_block_does_not_start(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "broken_settings.py").write_text(
        "from settings.test import *\nRCSYNC = {'RULES': [{'when': {'role': ['wizard']}, 'rooms': ['vip']}]}\n"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="broken_settings", PYTHONPATH=f"{tmp_path}{os.pathsep}{root}")
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "RULES[0].when.role" in done.stderr and "wizard" in done.stderr
