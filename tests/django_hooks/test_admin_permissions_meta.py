"""The admin's two permissions come from `SyncRun.Meta.permissions` (migration 0003), not from an
import-time hook: `migrate` on a fresh database creates them on a site without Django's admin, so
nothing of `django_hooks.admin` is imported; and an install whose rows the old post_migrate hook
made keeps those rows (same content type and codename) and the grants on them.

Runs in a subprocess: INSTALLED_APPS (here without `django.contrib.admin`) is fixed per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from django_hooks.models import SyncRun

ROOT = Path(__file__).resolve().parents[2]

_SITE = r"""
import json, sys
from django.conf import settings
from settings import base
values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
values["INSTALLED_APPS"] = [app for app in base.INSTALLED_APPS if app != "django.contrib.admin"]
values["DATABASES"] = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}}
settings.configure(**values)
import django
django.setup()
from django.core.management import call_command
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

def rows():
    return sorted(
        [p.content_type.app_label, p.content_type.model, p.codename, p.pk]
        for p in Permission.objects.filter(codename__in=["view_sync_state", "start_resync"])
    )
"""

FRESH = _SITE + r"""
call_command("migrate", verbosity=0)
print(json.dumps({"rows": rows(), "admin_imported": sorted(m for m in sys.modules if m.startswith("django_hooks.admin"))}))
"""

UPGRADE = _SITE + r"""
call_command("migrate", "django_hooks", "0002", verbosity=0)
call_command("migrate", "auth", verbosity=0)
from django_hooks.models import SyncRun
# What the old `admin_perms` post_migrate hook made: SyncRun's content type, these codenames.
ct = ContentType.objects.get_for_model(SyncRun)
made = [Permission.objects.create(content_type=ct, codename="view_sync_state",
                                  name="Can view Rocket.Chat sync state (accounts, runs, plans, audit)"),
        Permission.objects.create(content_type=ct, codename="start_resync",
                                  name="Can start Rocket.Chat resyncs and reconciles")]
staff = Group.objects.create(name="sync staff")
staff.permissions.add(*made)
before = rows()
call_command("migrate", verbosity=0)
print(json.dumps({"before": before, "after": rows(),
                  "granted": sorted(staff.permissions.values_list("codename", flat=True))}))
"""


def _run(script: str, db: Path) -> Any:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(db)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_permissions_are_declared_on_the_model() -> None:
    codenames = [codename for codename, _ in SyncRun._meta.permissions]
    assert codenames == ["view_sync_state", "start_resync"]


def test_migrate_creates_them_on_a_fresh_database_without_the_admin(tmp_path: Path) -> None:
    result = _run(FRESH, tmp_path / "fresh.sqlite3")
    assert result["admin_imported"] == []
    assert [row[:3] for row in result["rows"]] == [
        ["django_hooks", "syncrun", "start_resync"],
        ["django_hooks", "syncrun", "view_sync_state"],
    ]


def test_an_existing_install_keeps_its_permission_rows_and_grants(tmp_path: Path) -> None:
    result = _run(UPGRADE, tmp_path / "old.sqlite3")
    assert len(result["before"]) == 2
    assert result["after"] == result["before"]  # same rows (same ids), no duplicates
    assert result["granted"] == ["start_resync", "view_sync_state"]
