"""`make demo`: rcsync doing its job on this machine, from an empty start to live changes.

Starts the stand-in Rocket.Chat (TOTP service account, rate limiter on), the bundled
Django site (PostgreSQL or SQLite), a Celery worker, beat and the drift listener; seeds
the site's people; runs `rcsync bootstrap`, `rcsync check` and the first reconcile;
promotes the regular user to moderator and shows how fast Rocket.Chat follows; then
prints every Rocket.Chat change until Ctrl-C, which stops everything it started.

Environment (all optional):
  RCSYNC_DEMO_SITE_PORT  site port (default 8000; 0 = any free port)
  RCSYNC_DEMO_RC_PORT    stand-in port (default 3000; 0 = any free port)
  RCSYNC_DEMO_DB         auto | postgresql | sqlite      (default auto: PostgreSQL when reachable)
  RCSYNC_DEMO_REDIS      auto | off                      (default auto: Redis when reachable)
  RCSYNC_DEMO_LOCK_STORE auto | fakeredis                (without Redis: a private redis-server if installed)
  RCSYNC_DEMO_DIR        logs, secrets, SQLite file      (default $TMPDIR/rcsync-demo-$UID)
  RCSYNC_DEMO_EXIT_AFTER promote | <seconds>             (bounded run, for tests and CI)
  RCSYNC_DEMO_ADMIN_PASSWORD  the demo admin's password  (default: a fresh random one, printed)
  RCSYNC_DEMO_LANGUAGE   en-us | ru                      (the site's LANGUAGE_CODE; ru: the admin, the task UI
                                                         and the rcsync commands' output in Russian)
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_procs import DemoError, ProcessSet, pick_port, tcp_open, wait_for  # noqa: E402

HOST = "127.0.0.1"
PY = sys.executable
PROMOTE_TIMEOUT = 15.0


class Interrupted(BaseException):
    """SIGINT/SIGTERM arrived: unwind to the clean-up."""


def say(text: str = "") -> None:
    print(text, flush=True)


def step(text: str) -> None:
    say(f"[demo] {text}")


# --- choosing the services -------------------------------------------------------------------------


def choose_database(mode: str, env: dict[str, str], workdir: Path) -> str:
    """PostgreSQL (its own database, created if missing) when reachable, else SQLite in workdir."""
    name = env.setdefault("RCSYNC_DB_NAME", "rcsync_demo")
    host, port = env.get("RCSYNC_PG_HOST", "127.0.0.1"), int(env.get("RCSYNC_PG_PORT", "5432"))
    if mode in ("auto", "postgresql"):
        problem = None
        if tcp_open(host, port):
            try:
                import psycopg

                with psycopg.connect(host=host, port=port, user=env.get("RCSYNC_PG_USER", "postgres"),
                                     password=env.get("RCSYNC_PG_PASSWORD", ""), dbname="postgres",
                                     connect_timeout=3, autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{name}"')
                env["RCSYNC_DEMO_DB"] = "postgresql"
                return f"PostgreSQL at {host}:{port}, database {name}" + ("" if exists else " (created)")
            except Exception as exc:  # auth, permissions: fall back, saying why
                problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        else:
            problem = f"nothing listens on {host}:{port}"
        if mode == "postgresql":
            raise DemoError(f"RCSYNC_DEMO_DB=postgresql but PostgreSQL is not usable ({problem})")
        step(f"PostgreSQL not usable ({problem}): using SQLite instead")
    env["RCSYNC_DEMO_DB"] = "sqlite"
    path = env.setdefault("RCSYNC_DEMO_SQLITE", str(workdir / "demo.sqlite3"))
    return f"SQLite at {path}"


def choose_broker(mode: str, env: dict[str, str], workdir: Path) -> tuple[str, Any]:
    """Redis (DB 13 unless RCSYNC_REDIS_URL says otherwise) when reachable; else kombu's filesystem
    transport for Celery plus an in-process Redis stand-in (fakeredis) for rcsync's locks."""
    url = env.setdefault("RCSYNC_REDIS_URL", "redis://127.0.0.1:6379/13")
    prefix = env.setdefault("RCSYNC_REDIS_PREFIX", "rcsync-demo:")
    if mode == "auto":
        import redis

        try:
            conn = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
            conn.ping()
            env["RCSYNC_DEMO_BROKER"] = "redis"
            return f"Redis at {url} (key prefix {prefix!r})", None
        except redis.RedisError as exc:
            step(f"Redis not reachable at {url} ({type(exc).__name__})")
    embedded = start_lock_store(env, workdir)
    env["RCSYNC_DEMO_BROKER"] = "filesystem"
    broker_dir = workdir / "broker"
    for sub in ("queue", "processed"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    for stale in (broker_dir / "queue").iterdir():
        stale.unlink()
    env["RCSYNC_DEMO_BROKER_DIR"] = str(broker_dir)
    step("NO REDIS: using an embedded broker (kombu filesystem transport in "
         f"{broker_dir}) and a private lock store. Fine for a demo; production needs Redis (or RabbitMQ + Redis).")
    return f"embedded: filesystem broker {broker_dir}, locks on {env['RCSYNC_REDIS_URL']}", embedded


def start_lock_store(env: dict[str, str], workdir: Path) -> Any:
    """rcsync's per-user and reconcile locks need Redis commands: a private redis-server on a free
    port when the binary is installed, else fakeredis' TCP server in this process (best effort)."""
    import shutil
    import subprocess

    port = pick_port(HOST, 0, "", "")
    env["RCSYNC_REDIS_URL"] = f"redis://{HOST}:{port}/0"
    exe = shutil.which("redis-server") if env.get("RCSYNC_DEMO_LOCK_STORE", "auto") == "auto" else None
    if exe:
        (workdir / "redis").mkdir(exist_ok=True)
        proc = subprocess.Popen([exe, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
                                 "--dir", str(workdir / "redis")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: tcp_open(HOST, port), 15, "the private redis-server")
        step(f"locks: private redis-server on port {port} (not used as the broker)")
        return proc
    import threading

    from fakeredis import TcpFakeServer

    server = TcpFakeServer((HOST, port), server_type="redis")
    server.daemon_threads = True  # open client connections must not keep the demo from exiting
    threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True).start()
    # fakeredis' TCP server drops the connection on a NOSCRIPT reply, so redis-py's lock scripts
    # (EVALSHA first) would fail to release; loading them up front avoids that path.
    import redis
    from redis.lock import Lock

    loader = redis.Redis(host=HOST, port=port)
    for script in (Lock.LUA_RELEASE_SCRIPT, Lock.LUA_EXTEND_SCRIPT, Lock.LUA_REACQUIRE_SCRIPT):
        loader.script_load(script)
    loader.close()
    step("locks: fakeredis in the demo process (no redis-server installed)")
    return server


def stop_lock_store(store: Any) -> None:
    if hasattr(store, "shutdown"):
        store.shutdown()
        store.server_close()
    else:
        store.terminate()
        store.wait(10)


# --- secrets ---------------------------------------------------------------------------------------


def write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def make_service_account(workdir: Path, env: dict[str, str]) -> None:
    """Fresh password + TOTP secret in 0600 files, read through RCSYNC_RC_*_FILE (never printed)."""
    import pyotp

    from demo_people import SERVICE_USERNAME

    secret_dir = workdir / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    write_secret(secret_dir / "rc_password", secrets.token_urlsafe(18))
    write_secret(secret_dir / "rc_totp_secret", pyotp.random_base32())
    write_secret(secret_dir / "rc_admin_password", secrets.token_urlsafe(9))  # the stand-in's human admin
    for name in ("RCSYNC_RC_PASSWORD", "RCSYNC_RC_TOTP_SECRET", "RCSYNC_RC_TOKEN", "RCSYNC_RC_USER_ID"):
        env.pop(name, None)
    env.update(
        RCSYNC_RC_USERNAME=SERVICE_USERNAME,
        RCSYNC_RC_PASSWORD_FILE=str(secret_dir / "rc_password"),
        RCSYNC_RC_TOTP_SECRET_FILE=str(secret_dir / "rc_totp_secret"),
        RCSYNC_DEMO_RC_ADMIN_PASSWORD_FILE=str(secret_dir / "rc_admin_password"),
    )


# --- the run ---------------------------------------------------------------------------------------


def manage(procs: ProcessSet, name: str, *args: str, timeout: float = 120.0, show: bool = True) -> str:
    """Run `manage.py ARGS` to completion (in its own process group, so clean-up can stop it)."""
    proc = procs.start(name, [PY, "manage.py", *args])
    wait_for(lambda: not proc.alive(), timeout, f"manage.py {' '.join(args)}")
    out = proc.log_text()
    procs.forget(proc)
    if show:
        for line in out.rstrip().splitlines():
            say(f"    {line}")
    if proc.popen.returncode != 0:
        raise DemoError(f"manage.py {' '.join(args)} failed with exit code {proc.popen.returncode} (log: {proc.log_path})")
    return out


def declare_queues() -> None:
    """Declare Celery's queues before the first publish: on a fresh Redis key prefix nothing is bound
    yet until a worker starts, and kombu's Redis transport drops messages sent to an unbound queue
    (the relay would resend them, but only after RELAY_STALE_AFTER)."""
    from sync_tasks.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in app.amqp.queues.values():
            queue.bind(channel).declare()


_WORKDIR_LOCK: Any = None


def hold_workdir(workdir: Path) -> None:
    """One demo per working directory (and so per database and key prefix): a second `make demo`
    would share the first one's queue and database and confuse both."""
    import fcntl

    global _WORKDIR_LOCK
    _WORKDIR_LOCK = open(workdir / "demo.lock", "a+")
    try:
        fcntl.flock(_WORKDIR_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _WORKDIR_LOCK.seek(0)
        other = _WORKDIR_LOCK.read().strip() or "?"
        raise DemoError(f"another demo (pid {other}) is running in {workdir}; stop it with Ctrl-C, or give this "
                        "one its own RCSYNC_DEMO_DIR, RCSYNC_DB_NAME and RCSYNC_REDIS_PREFIX") from None
    _WORKDIR_LOCK.truncate(0)
    _WORKDIR_LOCK.write(str(os.getpid()))
    _WORKDIR_LOCK.flush()


def run(env_in: dict[str, str]) -> int:
    exit_after = env_in.get("RCSYNC_DEMO_EXIT_AFTER", "").strip()
    workdir = Path(env_in.get("RCSYNC_DEMO_DIR") or Path(tempfile.gettempdir()) / f"rcsync-demo-{os.getuid()}")
    logdir = workdir / "logs"
    env = dict(env_in)
    env.update(DJANGO_SETTINGS_MODULE="settings.demo", RCSYNC_DEMO_DIR=str(workdir), PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))

    site_port = pick_port(HOST, int(env.get("RCSYNC_DEMO_SITE_PORT", "8000")), "the Django site", "RCSYNC_DEMO_SITE_PORT")
    rc_port = pick_port(HOST, int(env.get("RCSYNC_DEMO_RC_PORT", "3000")), "the stand-in Rocket.Chat", "RCSYNC_DEMO_RC_PORT")
    if site_port == rc_port:
        raise DemoError("RCSYNC_DEMO_SITE_PORT and RCSYNC_DEMO_RC_PORT must differ")
    logdir.mkdir(parents=True, exist_ok=True)
    hold_workdir(workdir)
    step(f"working directory {workdir} (logs in {logdir})")

    db_line = choose_database(env.get("RCSYNC_DEMO_DB", "auto"), env, workdir)
    step(f"database: {db_line}")
    procs = ProcessSet(logdir, ROOT, env)
    embedded = None
    watcher = None
    try:
        broker_line, embedded = choose_broker(env.get("RCSYNC_DEMO_REDIS", "auto"), env, workdir)
        step(f"broker and locks: {broker_line}")
        procs.env.update(env)

        make_service_account(workdir, env)
        rc_url = f"http://{HOST}:{rc_port}"
        env["RCSYNC_RC_URL"] = rc_url
        procs.env.update(env)
        step("starting the stand-in Rocket.Chat (rate limiter on, service account rcsync-bot with TOTP, "
             "roles bot + rcsync)")
        standin = procs.start("stand-in", [PY, "scripts/demo_standin.py", "--host", HOST, "--port", str(rc_port)])
        procs.wait_log(standin, "listening on", 30)
        from demo_sso import standin_supports

        scenes = standin_supports(rc_url)
        if scenes["login"]:
            # The site signs people in through its OAuth provider "besedka" (settings/base.py reads these).
            write_secret(workdir / "secrets" / "oauth_secret", secrets.token_urlsafe(24))
            env.update(RCSYNC_SSO_SERVICE="besedka", RCSYNC_SSO_MODE="create_ahead",
                       RCSYNC_SITE_URL=f"http://{HOST}:{site_port}",
                       RCSYNC_OAUTH_SECRET_FILE=str(workdir / "secrets" / "oauth_secret"))
            procs.env.update(env)
            step("the site signs people in through its OAuth provider besedka (Custom OAuth, mode create_ahead)")
        else:
            step("this stand-in has no simulated Custom OAuth login: the sign-in scene is skipped")

        os.environ.update(env)  # this process is a site process too (seeding, the feed)
        step("migrating the site's database")
        manage(procs, "migrate", "migrate", "--noinput", show=False)
        import django

        django.setup()
        declare_queues()
        from demo_people import DEMO_ADMIN, REGULAR_USER, promote, seed_people

        admin_password = env.get("RCSYNC_DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
        step("seeding the site's people (owner, moderator, store owner, store admin, regular user, VIP)")
        for line in seed_people(admin_password):
            say(f"    {line}")

        step("manage.py rcsync bootstrap   (OAuth service and settings, managed rooms and roles, nightly task)")
        manage(procs, "bootstrap", "rcsync", "bootstrap")
        step("manage.py rcsync check       (login with TOTP, permissions, rooms)")
        manage(procs, "check", "rcsync", "check")
        step("manage.py rcsync reconcile --yes   (the first full reconcile)")
        manage(procs, "reconcile", "rcsync", "reconcile", "--yes", timeout=300)

        step("starting a Celery worker, beat, the drift listener and the site")
        worker = procs.start("worker", [PY, "-m", "celery", "-A", "sync_tasks.celery", "worker", "-P", "prefork",
                                        "-c", "2", "-n", "demo@%h", "-Q", "rcsync", "--without-gossip",
                                        "--without-mingle", "--without-heartbeat", "-l", "INFO"])
        beat = procs.start("beat", [PY, "-m", "celery", "-A", "sync_tasks.celery", "beat", "-l", "INFO",
                                    "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--pidfile="])
        listener = procs.start("listener", [PY, "manage.py", "rcsync", "listen"])
        site = procs.start("site", [PY, "manage.py", "runserver", "--noreload", "--insecure", f"{HOST}:{site_port}"])
        procs.wait_log(worker, " ready.", 60)
        procs.wait_log(beat, "beat: Starting", 60)
        procs.wait_log(listener, "rcsync listen: ready", 60)
        wait_for(lambda: site.alive() and tcp_open(HOST, site_port) or _dead(site), 60, "the site to listen")

        from demo_watch import Watcher

        watcher = Watcher()
        watcher.start()

        say("")
        say("=" * 78)
        say(f"  admin (task UI):  http://{HOST}:{site_port}/admin/   login {DEMO_ADMIN} / {admin_password}")
        say(f"  stand-in Rocket.Chat: {rc_url}   (REST /api/v1, realtime {rc_url.replace('http', 'ws')}/websocket)")
        rc_admin_password = Path(env["RCSYNC_DEMO_RC_ADMIN_PASSWORD_FILE"]).read_text()
        say(f"  stand-in admin for changes by hand: rc-admin / {rc_admin_password}   (a person, not rcsync)")
        say(f"  service account: rcsync-bot, password and TOTP secret in {workdir / 'secrets'} (not printed)")
        say(f"  logs: {logdir}")
        say("  Ctrl-C stops everything the demo started.")
        say("=" * 78)
        say("")

        step(f"promoting {REGULAR_USER} from user to moderator on the site (a plain user.save())")
        started = time.monotonic()
        promote(REGULAR_USER, "moderator")
        seen = _wait_change(watcher, procs, lambda c: c.username == REGULAR_USER and c.room == "moderators"
                            and c.action == "added", started, "the promotion")
        step(f"PROMOTED: {REGULAR_USER} appeared in moderators {seen.at - started:.2f} s after the site saved the change")
        step("a change by hand in Rocket.Chat: rc-admin removes sofia from general (channels.kick)")
        started = time.monotonic()
        kick_by_hand(rc_url, rc_admin_password, "sofia", "GENERAL")
        seen = _wait_change(watcher, procs, lambda c: c.username == "sofia" and c.room == "general"
                            and c.action == "added", started, "the drift repair")
        step(f"REPAIRED: the drift listener had rcsync add sofia back to general {seen.at - started:.2f} s later")
        if scenes["login"]:
            sign_in_scene(rc_url)
        if scenes["restart"]:
            recovery_scene(procs, rc_url)
        else:
            step("this stand-in has no empty restart: the recovery scene is skipped")
        if exit_after == "promote":
            _drain(watcher, 1.0)
            return 0
        step("live: one line per Rocket.Chat change (edit people in the admin, or change Rocket.Chat by hand "
             "and watch the listener repair it)")
        deadline = time.monotonic() + float(exit_after) if exit_after.replace(".", "", 1).isdigit() else None
        while deadline is None or time.monotonic() < deadline:
            _drain(watcher, 0.5)
            dead = procs.dead()
            if dead:
                raise DemoError(f"{dead[0].name} stopped unexpectedly; see {dead[0].log_path}")
            if watcher.error is not None:
                raise DemoError(f"the realtime feed failed: {watcher.error!r}")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        step("stopping everything the demo started ...")
        if watcher is not None:
            watcher.stop()
        procs.stop_all()
        if embedded is not None:
            stop_lock_store(embedded)
        step("stopped; nothing left running")


def sign_in_scene(rc_url: str) -> None:
    """A person signs in through the site's OAuth and lands in the account rcsync prepared."""
    from demo_sso import identity_of, sign_in, user_id_in

    from django_hooks.models import AccountLink

    person = "victor"
    link = AccountLink.objects.get(site_username=person)
    step(f"{person} signs in to Rocket.Chat through the site (besedka's simulated OAuth login)")
    started = time.monotonic()
    try:
        reply = sign_in(rc_url, identity_of(person))
    except Exception as exc:  # shown, not hidden: the scene failed
        step(f"SIGN-IN FAILED: {type(exc).__name__}: {exc}")
        return
    took = time.monotonic() - started
    uid = user_id_in(reply)
    if uid == link.rc_user_id:
        step(f"SIGNED IN: {person} landed in the account rcsync prepared ({uid}: already in general and vip) "
             f"in {took:.2f} s; no duplicate account")
    else:
        step(f"SIGN-IN MISMATCH: the login answered account {uid}, rcsync prepared {link.rc_user_id}")


def recovery_scene(procs: ProcessSet, rc_url: str) -> None:
    """Rocket.Chat restarts with nothing (no settings, rooms or accounts); one reconcile restores it."""
    from demo_sso import empty_restart

    from django_hooks.runs import ReconcileBusy, run_reconcile

    step("Rocket.Chat restarts and comes back EMPTY (the stand-in's empty restart: no settings, rooms or accounts)")
    empty_restart(rc_url)
    started = time.monotonic()
    run = None
    deadline = started + 120
    while run is None:
        try:
            run = run_reconcile(kind="manual", triggered_by="demo: recovery after an empty restart")
        except ReconcileBusy:  # the drift listener's catch-up reconcile may hold the lock just now
            if time.monotonic() > deadline:
                step("RECOVERY FAILED: a reconcile kept the lock for two minutes")
                return
            time.sleep(0.5)
    took = time.monotonic() - started
    counts = ", ".join(f"{k} {v}" for k, v in sorted((run.summary.get("applied") or {}).items()))
    if run.status != "succeeded":
        step(f"RECOVERY FAILED: reconcile #{run.pk} ended {run.status}: {run.error or run.summary.get('problems')}")
        return
    again = run_reconcile(kind="manual", dry_run=True, triggered_by="demo: second run after the recovery")
    planned = sum((again.counts or {}).values())
    step(f"RESTORED in {took:.2f} s by one reconcile ({counts}); a second run "
         f"{'plans nothing' if planned == 0 else f'still plans {again.counts}'}")


def kick_by_hand(rc_url: str, password: str, username: str, room_id: str) -> None:
    """What a person does in Rocket.Chat's UI, over REST: log in as rc-admin and kick someone."""
    import httpx

    with httpx.Client(base_url=rc_url + "/api/v1", timeout=10) as http:
        login = http.post("/login", json={"user": "rc-admin", "password": password}).raise_for_status().json()["data"]
        http.headers.update({"X-User-Id": login["userId"], "X-Auth-Token": login["authToken"]})
        user_id = http.get("/users.info", params={"username": username}).raise_for_status().json()["user"]["_id"]
        http.post("/channels.kick", json={"roomId": room_id, "userId": user_id}).raise_for_status()
        http.post("/logout")


def _dead(proc: Any) -> bool:
    if not proc.alive():
        raise DemoError(f"{proc.name} exited early; see {proc.log_path}")
    return False


def _print_change(change: Any) -> None:
    say(f"  [rocket.chat {time.strftime('%H:%M:%S')}] {change.text}")


def _drain(watcher: Any, wait: float) -> None:
    import queue

    end = time.monotonic() + wait
    while True:
        try:
            _print_change(watcher.changes.get(timeout=max(0.0, end - time.monotonic())))
        except queue.Empty:
            return


def _wait_change(watcher: Any, procs: ProcessSet, match: Any, started: float, what: str) -> Any:
    import queue

    while time.monotonic() - started < PROMOTE_TIMEOUT:
        try:
            change = watcher.changes.get(timeout=0.2)
        except queue.Empty:
            if procs.dead():
                raise DemoError(f"{procs.dead()[0].name} stopped unexpectedly; see {procs.dead()[0].log_path}")
            continue
        _print_change(change)
        if match(change):
            return change
    raise DemoError(f"{what} did not reach Rocket.Chat within {PROMOTE_TIMEOUT:.0f} s; see the worker and listener logs")


def main() -> int:
    def interrupted(signum: int, frame: Any) -> None:
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return run(dict(os.environ))
    except Interrupted:
        return 130
    except DemoError as exc:
        print(f"[demo] ERROR: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
