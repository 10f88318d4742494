"""Process helpers for the end-to-end tests and benchmarks: Celery workers/beats, a private redis-server,
polling with deadlines. Real processes, real signals; nothing here fakes rcsync itself."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, TypeVar

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], T], timeout: float, what: "str | Callable[[], str]", interval: float = 0.05) -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds
    (`what` may be a callable, evaluated only then, e.g. to attach process logs)."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a transient read error while services restart
            last_exc = exc
        time.sleep(interval)
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {described}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def settled() -> bool:
    """No pending sync left (every change has reached Rocket.Chat or failed for good)."""
    from django_hooks.models import PendingSync

    return not PendingSync.objects.exists()


def children_of(pid: int) -> list[int]:
    """Direct child pids (from /proc), e.g. a prefork worker's pool processes."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(out)


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL it when the process that started it dies, so a bench or
    test killed by a timeout leaves no worker, beat or listener behind polling a broker that is gone."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the explicit stop() calls still clean up
        pass


class Proc:
    """A subprocess in its own process group with its output in a log file; it dies with its starter."""

    def __init__(self, args: list[str], env: Mapping[str, str], name: str, logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        else:
            self.kill(signal.SIGKILL)  # leftover children of a dead leader
        self._log.close()


def piped_python(args: list[str], env: Mapping[str, str], name: str, logdir: Path) -> subprocess.Popen:
    """A Python subprocess that talks to its starter over stdin/stdout (text, line-buffered; stderr in
    `logdir`/<name>.log); it dies with its starter, like a `Proc`."""
    log = open(logdir / f"{name}.log", "ab")
    try:
        return subprocess.Popen(
            [PYTHON, *args], cwd=ROOT, env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True, bufsize=1, start_new_session=True, preexec_fn=_die_with_parent,
        )
    finally:
        log.close()  # the child has its own descriptor


def celery_worker(env: Mapping[str, str], name: str, logdir: Path, concurrency: int = 1, extra: list[str] | None = None,
                  pool: str = "prefork", queue: str | None = None) -> Proc:
    """A worker of the bundled app consuming rcsync's queue (RCSYNC["TASKS"]["QUEUE"]: "rcsync", or this
    run's own, RCSYNC_QUEUE in `env`)."""
    queue = queue or env.get("RCSYNC_QUEUE", "rcsync")
    args = [
        PYTHON, "-m", "celery", "-A", "sync_tasks.celery", "worker", "-P", pool, "-c", str(concurrency),
        "-n", f"{name}@%h", "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        *(extra or []),
    ]
    return Proc(args, env, name, logdir)


def celery_beat(env: Mapping[str, str], name: str, logdir: Path, max_interval: int = 1) -> Proc:
    args = [
        PYTHON, "-m", "celery", "-A", "sync_tasks.celery", "beat", "-l", "INFO",
        "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", str(max_interval),
        "--pidfile", "",
    ]
    return Proc(args, env, name, logdir)


def wait_log(proc: Proc, text: str, timeout: float = 30) -> Proc:
    """Wait until `text` shows up in the process's output."""
    wait_until(lambda: text in proc.log() or not proc.alive(), timeout, f"{proc.name} to log {text!r}")
    if not proc.alive():
        raise AssertionError(f"{proc.name} died:\n{proc.log()[-4000:]}")
    return proc


def wait_ready(proc: Proc, timeout: float = 30) -> Proc:
    wait_until(lambda: " ready." in proc.log() or not proc.alive(), timeout, f"{proc.name} to be ready")
    if not proc.alive():
        raise AssertionError(f"{proc.name} died:\n{proc.log()[-4000:]}")
    return proc


class RedisServer:
    """A private redis-server on a free port (so a test may stop and restart it); no persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="rcsync-redis-")
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (scripts/ensure-services.sh installs it)")
        self.popen = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(up, 10, f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(5)
        self.popen = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_bindir() -> Path | None:
    """The directory with initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parent.parent.name)
    return candidates[-1].parent if candidates else None


class PostgresServer:
    """A private PostgreSQL cluster on a free port (trust auth, user postgres), so a soak may restart it
    without touching the machine's server. As root, the cluster runs as the `postgres` system user
    (PostgreSQL refuses to run as root)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rcsync-pg-"))
        self.data = self.dir / "data"
        bindir = _pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed "
                               "(Debian: apt-get install postgresql)")
        self.bindir = bindir
        self._as: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root needs runuser to start PostgreSQL as the postgres user")
            self._as = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o700)

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> "PostgresServer":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> "PostgresServer":
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (closing every client connection, as a real restart does), wait, start again."""
        self.stop()
        time.sleep(down_seconds)  # the outage itself: clients keep trying meanwhile
        self.start()

    def env(self) -> dict[str, str]:
        return {"RCSYNC_PG_HOST": "127.0.0.1", "RCSYNC_PG_PORT": str(self.port), "RCSYNC_PG_USER": "postgres"}

    def close(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- RabbitMQ as the broker (Redis still holds the locks) ---------------------------------------

AMQP_HOST = os.environ.get("RCSYNC_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("RCSYNC_AMQP_PORT", "5672"))
#: The Celery app this test process sends with while a test runs on RabbitMQ
#: (RCSYNC["TASKS"]["CELERY_APP"] = "e2e_support.RABBITMQ_SENDER", the documented knob).
RABBITMQ_SENDER = None
#: Brokers the convergence and redelivery tests run on (test ids: ...[redis], ...[rabbitmq]).
BROKERS = ["redis", "rabbitmq"]


def _rabbitmqctl(*args: str) -> bool:
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        return False
    return subprocess.run([exe, "-q", *args], capture_output=True, timeout=60).returncode == 0


@contextmanager
def rabbitmq_broker() -> Iterator[dict[str, str]]:
    """This run's own vhost on the local RabbitMQ (made and removed with rabbitmqctl), or, where
    rabbitmqctl cannot (not root, no management rights), its own queue name on the default vhost.
    Yields the environment for workers: RCSYNC_BROKER_URL and RCSYNC_QUEUE (settings/base.py, test.py)."""
    import uuid

    with socket.socket() as s:
        if s.connect_ex((AMQP_HOST, AMQP_PORT)) != 0:
            raise AssertionError(f"RabbitMQ is not reachable at {AMQP_HOST}:{AMQP_PORT}: "
                                 "run scripts/ensure-services.sh rabbitmq (it says what is missing)")
    tag = f"rcsync-test-{uuid.uuid4().hex[:10]}"
    own_vhost = _rabbitmqctl("add_vhost", tag) and _rabbitmqctl("set_permissions", "-p", tag, "guest", ".*", ".*", ".*")
    vhost = tag if own_vhost else ""
    env = {"RCSYNC_BROKER_URL": f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}",
           "RCSYNC_QUEUE": "rcsync" if own_vhost else tag}
    try:
        yield env
    finally:
        if own_vhost:
            _rabbitmqctl("delete_vhost", tag)
        else:  # drop our queue from the shared vhost
            from kombu import Connection

            with Connection(env["RCSYNC_BROKER_URL"]) as conn:
                try:
                    conn.default_channel.queue_delete(env["RCSYNC_QUEUE"])
                except Exception:
                    pass


def sender_app(broker_url: str):
    """A Celery app like the bundled one but on `broker_url`, for this process's sends. No Django
    fix-up and not made current: it must not become the process's default app for other tests."""
    from celery import Celery

    from django.conf import settings

    app = Celery("rcsync-e2e-sender", fixups=[], set_as_current=False)
    # The site's CELERY_* settings, but this broker (with the namespace, CELERY_BROKER_URL would win).
    conf = {k[len("CELERY_"):].lower(): getattr(settings, k) for k in dir(settings) if k.startswith("CELERY_")}
    app.config_from_object({**conf, "broker_url": broker_url})
    return app


# --- the stand-in Rocket.Chat ------------------------------------------------------------------

SERVICE_USERNAME = "rcsync-bot"


class StandIn:
    """A running stand-in plus the service account's credentials (as RCSYNC_RC_* variables)."""

    def __init__(self, **kwargs: object) -> None:
        import secrets

        import pyotp

        self.password = "pw-" + secrets.token_urlsafe(12)
        self.totp_secret = pyotp.random_base32()
        self._kwargs = kwargs
        self._cm = None
        self.server = None

    def __enter__(self) -> "StandIn":
        from fake_rocketchat.harness.testing import running_server

        self._cm = running_server(
            admin_username=SERVICE_USERNAME, admin_password=self.password, admin_totp_secret=self.totp_secret,
            **self._kwargs,
        )
        self.server = self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._cm is not None
        self._cm.__exit__(*exc)

    @property
    def secrets(self) -> list[str]:
        return [self.password, self.totp_secret]

    def env(self) -> dict[str, str]:
        assert self.server is not None
        return {
            "RCSYNC_RC_URL": self.server.url,
            "RCSYNC_RC_USERNAME": SERVICE_USERNAME,
            "RCSYNC_RC_PASSWORD": self.password,
            "RCSYNC_RC_TOTP_SECRET": self.totp_secret,
        }

    # --- reading Rocket.Chat's side (direct state reads: the stand-in is the observer here) ---

    def user(self, username: str) -> dict | None:
        return self.server.state.find_user_by_username(username)

    def room_id(self, name: str) -> str | None:
        room = self.server.state.find_room_by_name(name)
        return room["_id"] if room else None

    def rooms_of(self, username: str) -> set[str]:
        out = set()
        for name in ("general", "vip", "moderators"):
            rid = self.room_id(name)
            if rid and username in self.server.state.room_members(rid, include_inactive=True):
                out.add(name)
        return out

    def summary(self, username: str) -> tuple | None:
        """(active, sorted global roles, sorted managed rooms, moderator in general) or None."""
        user = self.user(username)
        if user is None:
            return None
        rid = self.room_id("general")
        mod = bool(rid) and "moderator" in self.server.state.room_roles(rid, username)
        return (bool(user.get("active")), tuple(sorted(user.get("roles") or [])), tuple(sorted(self.rooms_of(username))), mod)


@contextmanager
def serving_stand_in(**kwargs: object) -> Iterator[StandIn]:
    """A StandIn whose credentials this process's own bridge client uses meanwhile (RCSYNC_RC_* in
    os.environ, client cache reset on both sides), restoring the environment afterwards."""
    from django_hooks.rc import reset_client

    with StandIn(**kwargs) as rc:
        saved = {k: os.environ.get(k) for k in rc.env()}
        os.environ.update(rc.env())
        reset_client()
        try:
            yield rc
        finally:
            reset_client()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def make_env(test_db_name: str, stand_in: "StandIn", **extra: str) -> dict[str, str]:
    """Environment for a worker/beat/site subprocess: this run's test database, key prefix, stand-in."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(stand_in.env())
    env.update(
        DJANGO_SETTINGS_MODULE="settings.test",
        RCSYNC_DB_NAME=test_db_name,
        RCSYNC_REDIS_PREFIX=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"],
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        RCSYNC_LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env
