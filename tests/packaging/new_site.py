"""A new user's Django site, built the way docs/install.md says: a wheel built from a copy of this tree,
installed with setup.cfg's ranges (not the lock) into a fresh venv, `django-admin startproject besedka`,
the apps and an RCSYNC block added to its settings, and its own Celery app in `besedka/celery.py`.

Nothing of this repository's bundled site (settings/, manage.py, the suite's venv) is on the site's path:
every command runs with the venv's interpreter in the new project's directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parents[2]

# What a wheel must carry besides Python modules: every file under these package folders.
DATA_DIRS = ("django_hooks/templates", "django_hooks/static", "django_hooks/locale", "django_hooks/migrations")
# Not copied into the build tree: the suite's venv, node packages, caches, the git metadata.
IGNORED = shutil.ignore_patterns(".venv*", "node_modules", "__pycache__", "*.pyc", ".git", "build", "dist",
                                 "*.egg-info", ".pytest_cache")


def run(args: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=dict(env or os.environ), capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done.stdout


def build_wheel(workdir: Path) -> Path:
    """Copy the tree (so nothing is built into the checkout) and build the wheel from the copy."""
    src = workdir / "src"
    shutil.copytree(ROOT, src, ignore=IGNORED)
    dist = workdir / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        cwd=workdir)
    [wheel] = dist.glob("rcsync-*.whl")
    return wheel


def expected_data_files() -> set[str]:
    """Every file under DATA_DIRS in the tree (bytecode aside)."""
    out = set()
    for folder in DATA_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                out.add(path.relative_to(ROOT).as_posix())
    return out


def make_venv(venv: Path, wheel: Path, *, extras: str = "fake") -> Path:
    """A fresh venv with the wheel and what its ranges resolve to (pip picks the newest allowed)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[{extras}]"],
        cwd=venv, env=env, timeout=900)
    run([str(py), "-m", "pip", "check"], cwd=venv, env=env)
    return py


CELERY_PY = '''\
"""The site's own Celery app, the usual Django way (Celery's "First steps with Django")."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "besedka.settings")

app = Celery("besedka")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="besedka.ping")
def ping():
    return "pong"
'''

INIT_PY = '''\
from .celery import app as celery_app

__all__ = ("celery_app",)
'''

SETTINGS_TAIL = '''

# --- added for rcsync (docs/install.md) ---------------------------------------------------------
import os as _os

INSTALLED_APPS += ["django_celery_beat", "django_hooks"]
ALLOWED_HOSTS += ["127.0.0.1", "localhost", "testserver"]  # testserver: the checks use Django's test client
DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
TIME_ZONE = "Europe/Berlin"
_REDIS = _os.environ["BESEDKA_REDIS_URL"]
_PREFIX = _os.environ["BESEDKA_PREFIX"]
CELERY_BROKER_URL = _os.environ.get("BESEDKA_BROKER_URL", _REDIS)
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": _PREFIX, "visibility_timeout": 7200}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
RCSYNC = {
    "SERVER": {"url": _os.environ["RCSYNC_RC_URL"]},
    "TASKS": {"REDIS_URL": _REDIS, "REDIS_KEY_PREFIX": _PREFIX, "RELAY_INTERVAL": 5},
}
'''


URLS_TAIL = '''

# --- added for rcsync (docs/install.md): the metrics endpoint -------------------------------------
from django.urls import include

urlpatterns += [path("rcsync/", include("django_hooks.urls"))]
'''


def start_project(py: Path, where: Path) -> Path:
    """`django-admin startproject besedka` plus the edits docs/install.md asks for."""
    where.mkdir(parents=True, exist_ok=True)
    run([str(py.parent / "django-admin"), "startproject", "besedka", str(where)], cwd=where)
    pkg = where / "besedka"
    (pkg / "celery.py").write_text(CELERY_PY)
    (pkg / "__init__.py").write_text(INIT_PY)
    with open(pkg / "settings.py", "a") as f:
        f.write(textwrap.dedent(SETTINGS_TAIL))
    with open(pkg / "urls.py", "a") as f:
        f.write(URLS_TAIL)
    return where


def site_env(base: Mapping[str, str]) -> dict[str, str]:
    """The site's environment: its own settings, nothing of this repository importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    env.update(base)
    env["DJANGO_SETTINGS_MODULE"] = "besedka.settings"
    env["PYTHONUNBUFFERED"] = "1"
    return env
