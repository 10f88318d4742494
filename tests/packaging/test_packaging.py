"""rcsync as a new user installs it: the wheel from a copy of this tree, setup.cfg's ranges (not the lock),
a `startproject` site with its own Celery app (tests/packaging/new_site.py), a stand-in started from the
wheel's [fake] extra. Checks what issue 15 found broken: the wheel's templates, every admin task page,
a worker of the SITE'S app running a sync off the rcsync queue, beat starting with the relay entry.

The wheel and venv are built once per session (about a minute with a warm pip cache).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Iterator

import httpx
import pyotp
import pytest
import redis as redis_lib

import new_site

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _support():
    name = "rcsync_e2e_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, new_site.ROOT / "tests" / "e2e" / "e2e_support.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


wait_until = _support().wait_until
REDIS_URL = os.environ.get("RCSYNC_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVICE = "rcsync-bot"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    return new_site.build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def venv_python(wheel, tmp_path_factory) -> Path:
    return new_site.make_venv(tmp_path_factory.mktemp("venv") / "venv", wheel)


class Proc:
    """A process of the new site (own session, output in a log file)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "ab")
        self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


class Site:
    def __init__(self, py: Path, root: Path, env: dict[str, str], logdir: Path, rc_url: str, token: dict) -> None:
        self.py, self.root, self.env, self.logdir, self.rc_url, self._token = py, root, env, logdir, rc_url, token
        self.procs: list[Proc] = []

    def manage(self, *args: str, timeout: float = 300) -> str:
        return new_site.run([str(self.py), "manage.py", *args], cwd=self.root, env=self.env, timeout=timeout)

    def shell(self, code: str) -> object:
        """Run `code` in the site's `manage.py shell`; its last printed line is JSON."""
        out = self.manage("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def start(self, name: str, *args: str) -> Proc:
        proc = Proc([str(self.py.parent / args[0]), *args[1:]], self.root, self.env, self.logdir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def rc_user(self, username: str) -> dict | None:
        """The stand-in's account (REST users.info as the service account: the stand-in is the observer)."""
        r = httpx.get(f"{self.rc_url}/api/v1/users.info", params={"username": username}, headers=self._token)
        return r.json()["user"] if r.status_code == 200 and r.json().get("success") else None


@pytest.fixture(scope="module")
def site(venv_python, tmp_path_factory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("newsite")
    root = new_site.start_project(venv_python, work / "besedka")
    password, secret = "pw-" + uuid.uuid4().hex, pyotp.random_base32()
    stand_in = subprocess.Popen(
        [str(venv_python), "-m", "fake_rocketchat", "--host", "127.0.0.1", "--port", "0",
         "--admin-username", SERVICE, "--rate-limit", "off", "--auth-failure-delay-ms", "0"],
        cwd=work, env={**new_site.site_env({}), "FAKE_RC_ADMIN_PASSWORD": password, "FAKE_RC_ADMIN_TOTP_SECRET": secret},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    prefix = f"rcsync-pkg-{uuid.uuid4().hex[:10]}:"
    try:
        line = stand_in.stdout.readline()
        match = re.fullmatch(r"fake_rocketchat listening on (http://\S+)\n", line)
        assert match, f"stand-in did not start: {line!r}"
        url = match.group(1)
        # The observer's own login, before any worker uses this TOTP window.
        login = httpx.post(f"{url}/api/v1/login", json={"user": SERVICE, "password": password,
                                                          "code": pyotp.TOTP(secret).now()}).json()
        token = {"X-Auth-Token": login["data"]["authToken"], "X-User-Id": login["data"]["userId"]}
        env = new_site.site_env({
            "RCSYNC_RC_URL": url, "RCSYNC_RC_USERNAME": SERVICE, "RCSYNC_RC_PASSWORD": password,
            "RCSYNC_RC_TOTP_SECRET": secret, "BESEDKA_REDIS_URL": REDIS_URL, "BESEDKA_PREFIX": prefix,
        })
        s = Site(venv_python, root, env, work, url, token)
        yield s
        for proc in s.procs:
            proc.stop()
    finally:
        os.killpg(stand_in.pid, signal.SIGTERM)
        stand_in.wait(15)
        conn = redis_lib.Redis.from_url(REDIS_URL)
        keys = list(conn.scan_iter(match=prefix + "*", count=500))
        if keys:
            conn.delete(*keys)


def test_wheel_ships_every_template_static_file_translation_and_migration(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = new_site.expected_data_files()
    assert {n for n in expected if n.endswith(".html")} and {n for n in expected if "/migrations/0" in n}
    assert expected - names == set()
    # The compiled translations, not only their sources: Django reads the .mo files, never the .po.
    assert {f"django_hooks/locale/ru/LC_MESSAGES/{domain}.mo" for domain in ("django", "djangojs")} <= names
    packages = {"bridge", "sync_tasks", "django_hooks", "fake_rocketchat"}
    assert {n.split("/")[0] for n in names} - {n for n in {n.split("/")[0] for n in names} if n.endswith(".dist-info")} == packages
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert re.search(r"^Requires-Dist: celery\[redis\]", metadata, re.M), "the Redis transport's extra is missing"


ADMIN_SCRIPT = r"""
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django_hooks.models import SyncRun
User = get_user_model()
User.objects.bulk_create([User(username="olga", email="olga@example.org")])  # no signal: nothing enqueued
boss = User.objects.create_superuser("boss", "boss@example.org", "pw")
nobody = User.objects.create_user("nobody", "nobody@example.org", "pw", is_staff=True)
client = Client()
client.force_login(boss)
base = "/admin/django_hooks"
olga = User.objects.get(username="olga")
status = {}
def get(url):
    r = client.get(url)
    status[url] = r.status_code
    return r
for url in ["/admin/", f"{base}/accountlink/", f"{base}/accountlink/person/{olga.pk}/", f"{base}/syncrun/",
            f"{base}/syncrun/reconcile/", f"{base}/syncoperation/", f"{base}/pendingsync/",
            "/admin/django_celery_beat/periodictask/"]:
    get(url)
metrics = get("/rcsync/metrics")
preview = client.post(f"{base}/accountlink/", {"action": "preview_changes", "_selected_action": [olga.pk]})
status["accounts preview"] = preview.status_code
started = client.post(f"{base}/syncrun/reconcile/")
status["reconcile POST"] = started.status_code
run = SyncRun.objects.get(dry_run=True)
page = get(started["Location"])
finished = SyncRun.objects.create(kind="manual", scope="all")  # a preview's change page redirects to it
get(f"{base}/syncrun/{finished.pk}/change/")
get(f"{base}/syncrun/progress.json?ids={run.pk}")
other = Client()
other.force_login(nobody)
forbidden = other.get(f"{base}/accountlink/")
status["forbidden"] = forbidden.status_code
from django.utils import translation
with translation.override("ru"):  # the wheel's compiled Russian catalog, as a site with LANGUAGE_CODE="ru" sees it
    ru = client.get(f"{base}/syncrun/reconcile/").content.decode()
print(json.dumps({"status": status, "preview": "Create account" in page.content.decode(), "ru": "Сверить всё" in ru,
                  "forbidden": "permission" in forbidden.content.decode().lower(),
                  "accounts_preview": "Preview changes" in preview.content.decode(),
                  "metrics": "rcsync_pending_syncs{" in metrics.content.decode()}))
"""


def test_migrate_bootstrap_and_every_admin_task_page_renders(site) -> None:
    site.manage("migrate", "--noinput")
    site.manage("check")
    site.manage("rcsync", "bootstrap")
    out = site.shell(ADMIN_SCRIPT)
    status = out.pop("status")
    assert status.pop("reconcile POST") == 302 and status.pop("forbidden") == 403
    assert status == {url: 200 for url in status}, status
    assert out == {"preview": True, "ru": True, "forbidden": True, "accounts_preview": True, "metrics": True}


SIGN_UP = r"""
import json
from django.contrib.auth import get_user_model
get_user_model().objects.create_user("alice", "alice@example.org", "pw")
print(json.dumps(True))
"""


def test_a_worker_of_the_sites_own_app_runs_the_sync_from_the_rcsync_queue(site) -> None:
    prefix = site.env["BESEDKA_PREFIX"]
    conn = redis_lib.Redis.from_url(REDIS_URL)
    site.shell(SIGN_UP)  # the signal's on-commit hook sends through besedka's app
    waiting = [json.loads(raw)["headers"]["task"] for raw in conn.lrange(prefix + "rcsync", 0, -1)]
    assert waiting and set(waiting) == {"rcsync.sync_user"}, waiting  # alice's (and the admin page test's users')
    assert not conn.exists(prefix + "celery"), "an rcsync message went to the site's default queue"

    generic = site.start("worker-generic", "celery", "-A", "besedka", "worker", "-n", "generic@%h", "-c", "1",
                         "--without-gossip", "--without-mingle", "-l", "INFO")
    # Ready (consuming) before rcsync's own worker starts: it has every chance to take the message, and the
    # check below reads what it received after "ready." (before that, its log ends in the task list).
    wait_until(lambda: "ready." in generic.log(), 90, lambda: "the generic worker to start:\n" + generic.log()[-4000:])
    worker = site.start("worker", "celery", "-A", "besedka", "worker", "-Q", "rcsync", "-n", "rcsync@%h", "-c", "1",
                        "--without-gossip", "--without-mingle", "-l", "INFO")
    wait_until(lambda: site.rc_user("alice"), 90, lambda: "alice in the stand-in; worker log:\n" + worker.log()[-4000:])
    log = worker.log()
    assert "[tasks]" in log and "rcsync.sync_user" in log and "besedka.ping" in log  # one app, both sites' tasks
    assert "unregistered" not in log + generic.log()
    assert "users.info" not in log  # no lookup URL (and its username) in the log of a worker at -l INFO
    assert "rcsync.sync_user" not in generic.log().split("[tasks]")[-1].split("ready.")[-1]  # never received


def test_beat_of_the_sites_app_starts_with_the_relay_and_nightly_entries(site) -> None:
    beat = site.start("beat", "celery", "-A", "besedka", "beat", "-l", "INFO", "--pidfile=",
                      "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler")
    wait_until(lambda: "beat: Starting" in beat.log() or beat.popen.poll() is not None, 60, "beat to start")
    assert beat.popen.poll() is None, beat.log()[-4000:]
    query = ("import json; from django_celery_beat.models import PeriodicTask; "
             "print(json.dumps(sorted(PeriodicTask.objects.filter(task__startswith='rcsync.')"
             ".values_list('name', 'task'))))")
    wait_until(lambda: len(site.shell(query)) >= 2, 60, lambda: "the relay entry; beat log:\n" + beat.log()[-4000:])
    tasks = dict(site.shell(query))
    assert tasks["rcsync: relay pending syncs"] == "rcsync.relay_pending"
    assert "rcsync.reconcile_all" in tasks.values()
    wait_until(lambda: "rcsync.relay_pending" in beat.log(), 30, lambda: "beat to send the relay:\n" + beat.log()[-3000:])
    assert beat.popen.poll() is None and "Traceback" not in beat.log()
