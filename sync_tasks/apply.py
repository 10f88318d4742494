"""The executor: applies a plan through the bridge client and reports every operation's outcome.

* Phases run in the plan's order (roles and rooms, then accounts, then invites, room roles, kicks,
  deactivations); inside a phase operations are independent and run with bounded concurrency
  (``RCSYNC["BATCH"]["concurrency"]`` threads over the thread-safe ``bridge.RocketChat`` facade); a
  phase of one operation runs in the calling thread.
* Invites are batched per room, at most ``BATCH.invite_batch`` (<= 100) user ids per call. If a batch
  call fails, its users are retried one by one so only the guilty one is marked failed.
* One failing operation fails that operation only; the person's later operations that depend on it
  (everything after a failed ``CreateUser``, ops on a room or role that could not be created) are
  reported as skipped with the reason. Nothing else stops.
* ``on_operation(outcome)`` and ``on_progress(done, total)`` are called from the calling thread (safe
  for Django ORM writes), once per operation, in completion order.
Passwords for new accounts are random, used once and never stored, logged or reported.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from bridge.errors import Conflict, TransientError

from .config import SyncConfig
from .ops import (AddOAuthService, AddRole, AddRoomRole, CreateRole, CreateRoom, CreateUser, DeleteUser, InviteToRoom,
                  KickFromRoom, Operation, RemoveRole, RemoveRoomRole, SetActive, SetSetting, UpdateProfile, op_kind,
                  phase, sort_key)
from .pool import executor
from .secrets import reveal, shown
from .sso import SSO_SETTING_SUFFIXES, oauth_setting_name
from .state import ObservedState

log = logging.getLogger("rcsync.apply")

__all__ = ["WriteClient", "OperationOutcome", "apply_plan"]


class WriteClient(Protocol):
    """The write methods of ``bridge.RocketChat`` the executor uses."""

    def create_role(self, name: str, scope: str = "Users", description: str = "") -> Any: ...
    def create_room(self, name: str, type: str, members: Iterable[str] = ()) -> Any: ...
    def room_info(self, *, room_id: str | None = None, name: str | None = None) -> Any: ...
    def create_user(self, username: str, name: str, email: str, password: Any, *, roles: Iterable[str] | None = None,
                    active: bool = True, verified: bool = False, join_default_channels: bool = False) -> Any: ...
    def update_user(self, user_id: str, **fields: Any) -> Any: ...
    def set_active(self, user_id: str, active: bool, confirm_relinquish: bool = True) -> None: ...
    def delete_user(self, user_id: str, confirm_relinquish: bool = True) -> None: ...
    def add_user_to_role(self, role_id: str, username: str, room_id: str | None = None) -> None: ...
    def remove_user_from_role(self, role_id: str, username: str, room_id: str | None = None) -> None: ...
    def invite(self, room: Any, user_ids: Iterable[str], *, batch_size: int = 100) -> int: ...
    def kick(self, room: Any, user_id: str) -> None: ...
    def add_moderator(self, room: Any, user_id: str) -> None: ...
    def remove_moderator(self, room: Any, user_id: str) -> None: ...
    def add_owner(self, room: Any, user_id: str) -> None: ...
    def remove_owner(self, room: Any, user_id: str) -> None: ...
    def settings_set(self, setting_id: str, value: Any) -> None: ...
    def add_custom_oauth(self, name: str) -> None: ...


@dataclass(frozen=True)
class OperationOutcome:
    """What happened to one planned operation; the Django side persists these as audit rows.

    ``status`` is ``"ok"``, ``"failed"`` (Rocket.Chat refused; ``error`` says why) or ``"skipped"``
    (not attempted because an operation it depends on failed). ``rc_user_id`` is the account the
    operation was about (for ``CreateUser``: the new account's id, once created). ``transient`` marks
    a failure that says nothing about the operation itself (the bridge raised a
    :class:`~bridge.errors.TransientError`: Rocket.Chat away, overloaded or rate limiting), so trying
    the same change later may succeed; a queue retries those and gives up on the rest.
    """

    op: Operation
    kind: str
    site_id: str | None
    status: str
    rc_user_id: str | None = None
    rc_username: str | None = None
    error: str | None = None
    error_class: str | None = None  # bridge error class name, e.g. "Conflict", "NotFound", "RateLimited"
    transient: bool = False
    conflict: bool = False  # the bridge raised Conflict: the name or email is taken by another account

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (no secrets: operations never carry passwords)."""
        fields = dataclasses.asdict(self.op)
        if isinstance(self.op, SetSetting):
            fields["value"], fields["current"] = self.op.shown_value, shown(self.op.current)
        return {"kind": self.kind, "site_id": self.site_id, "status": self.status, "rc_user_id": self.rc_user_id,
                "rc_username": self.rc_username, "error": self.error, "error_class": self.error_class,
                "transient": self.transient, "conflict": self.conflict,
                "op": {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}}


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "error_type", None)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" + (f" [{code}]" if code and code not in text else "")


class _Usernames:
    """account id -> username: the observation's, under those of the accounts this run creates. A view,
    not a copy: a full reconcile observes every account (a million entries would be ~40 MB more)."""

    def __init__(self, accounts: Mapping[str, Any]) -> None:
        self._accounts = accounts
        self._created: dict[str, str] = {}

    def get(self, uid: str, default: str | None = None) -> str | None:
        if uid in self._created:
            return self._created[uid]
        acct = self._accounts.get(uid)
        return acct.username if acct is not None else default

    def __getitem__(self, uid: str) -> str:
        name = self.get(uid)
        if name is None:
            raise KeyError(uid)
        return name

    def __setitem__(self, uid: str, username: str) -> None:
        self._created[uid] = username


class _Run:
    def __init__(self, client: WriteClient, observed: ObservedState, rc_rooms: dict[str, Any], config: SyncConfig,
                 on_operation: Callable[[OperationOutcome], Any] | None,
                 on_progress: Callable[[int, int], Any] | None, total: int) -> None:
        self.client = client
        self.config = config
        self.rooms = dict(rc_rooms)
        self.roles = dict(observed.roles)
        self.usernames = _Usernames(observed.accounts)
        self.created: dict[str, str] = {}  # site_id -> new user id
        self.failed_rooms: dict[str, str] = {}
        self.failed_roles: dict[str, str] = {}
        self.failed_creates: dict[str, str] = {}
        self.failed_services: dict[str, str] = {}  # OAuth setting name ("Besedka") -> why
        self.failed_settings: dict[str, str] = {}
        self.outcomes: list[OperationOutcome] = []
        self.on_operation = on_operation
        self.on_progress = on_progress
        self.total = total

    # -- reporting (calling thread only) --
    def report(self, outcome: OperationOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.status != "ok":
            about = f"site user {outcome.site_id}" if outcome.site_id is not None else repr(outcome.op)
            log.info("%s for %s: %s: %s", outcome.kind, about, outcome.status, outcome.error)
        if self.on_operation is not None:
            self.on_operation(outcome)
        if self.on_progress is not None:
            self.on_progress(len(self.outcomes), self.total)

    def user_id(self, op: Operation) -> str | None:
        uid = getattr(op, "user_id", None)
        return uid if uid is not None else self.created.get(op.site_id or "")

    def blocker(self, op: Operation) -> str | None:
        """Why ``op`` cannot be attempted, or None."""
        if isinstance(op, SetSetting):
            for svc, why in self.failed_services.items():
                if op.setting_id.startswith(f"Accounts_OAuth_Custom-{svc}"):
                    return f"skipped: registering the OAuth service {svc} failed ({why})"
            return None
        if isinstance(op, CreateUser) and self.config.sso is not None and self.failed_settings:
            sso = self.config.sso
            critical = {sso.setting_id(sfx) for sfx in SSO_SETTING_SUFFIXES}
            failed = sorted(critical & self.failed_settings.keys())
            if failed or oauth_setting_name(sso.service) in self.failed_services:
                return (f"skipped: {', '.join(failed) or sso.setting_id()} could not be written, so the first "
                        f"sign-in through {sso.service} might not attach to a pre-created account")
        if op.site_id in self.failed_creates and not isinstance(op, CreateUser):
            return f"skipped: creating the account failed ({self.failed_creates[op.site_id]})"
        room = getattr(op, "room", None)
        if room is not None and not isinstance(op, CreateRoom):
            if room in self.failed_rooms:
                return f"skipped: room {room!r} could not be created ({self.failed_rooms[room]})"
            if room not in self.rooms:
                return f"skipped: room {room!r} does not exist in Rocket.Chat"
        if isinstance(op, (AddRole, RemoveRole)):
            if op.role in self.failed_roles:
                return f"skipped: role {op.role!r} could not be created ({self.failed_roles[op.role]})"
            if op.role not in self.roles:
                return f"skipped: role {op.role!r} does not exist in Rocket.Chat"
        if getattr(op, "site_id", None) is not None and not isinstance(op, CreateUser) and self.user_id(op) is None:
            return "skipped: the account does not exist"
        return None

    # -- the calls (worker threads) --
    def call(self, op: Operation) -> tuple[str | None, str | None]:
        """Perform ``op``; returns (rc_user_id, rc_username) on success, raises on failure."""
        c = self.client
        if isinstance(op, AddOAuthService):
            c.add_custom_oauth(op.name)
            return None, None
        if isinstance(op, SetSetting):
            value = reveal(op.value)
            c.settings_set(op.setting_id, list(value) if isinstance(value, tuple) else value)
            return None, None
        if isinstance(op, CreateRole):
            role = c.create_role(op.name, "Users", "managed by rcsync")
            self.roles[op.name] = role.id
            return None, None
        if isinstance(op, CreateRoom):
            self.rooms[op.room] = self.create_room(op)
            return None, None
        if isinstance(op, CreateUser):
            user = c.create_user(op.username, op.name, op.email, secrets.token_urlsafe(32),
                                 roles=[self.roles.get(r, r) for r in op.roles] or None, active=True,
                                 verified=op.verified, join_default_channels=False)
            self.created[op.site_id] = user.id
            self.usernames[user.id] = user.username or op.username
            return user.id, user.username or op.username
        uid = self.user_id(op)
        assert uid is not None
        username = getattr(op, "username", None) or self.usernames.get(uid)
        if isinstance(op, UpdateProfile):
            fields = {k: v for k, v in (("name", op.name), ("email", op.email), ("verified", op.email_verified))
                      if v is not None}
            c.update_user(uid, **fields)
        elif isinstance(op, SetActive):
            c.set_active(uid, op.active)
        elif isinstance(op, DeleteUser):
            c.delete_user(uid)
        elif isinstance(op, AddRole):
            c.add_user_to_role(self.roles[op.role], self.usernames.get(uid, op.username))
        elif isinstance(op, RemoveRole):
            c.remove_user_from_role(self.roles[op.role], self.usernames.get(uid, op.username))
        elif isinstance(op, InviteToRoom):
            c.invite(self.rooms[op.room], [uid], batch_size=1)
        elif isinstance(op, KickFromRoom):
            c.kick(self.rooms[op.room], uid)
        elif isinstance(op, (AddRoomRole, RemoveRoomRole)):
            self.room_role(op, uid)
        else:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown operation {op!r}")
        return uid, username

    def create_room(self, op: CreateRoom) -> Any:
        """Create the managed room; if another run created it since this run looked (two workers, or a
        run and ``bootstrap``, on a fresh Rocket.Chat), Rocket.Chat answers a duplicate name: read the
        room back and go on with it when it is what the config asks for (same type, not archived, and
        visible to the service account), so the loser of the race applies its memberships instead of
        failing them. Anything else keeps the original error."""
        try:
            return self.client.create_room(op.name, op.type, ())
        except Conflict as exc:
            try:
                room = self.client.room_info(name=op.name)
            except Exception:  # cannot see it (e.g. someone else's private group): the conflict stands
                raise exc from None
            if getattr(room, "type", None) != op.type or getattr(room, "archived", False):
                raise
            log.info("create_room %s: created meanwhile by another run (%s), using it", op.name, room.id)
            return room

    def room_role(self, op: AddRoomRole | RemoveRoomRole, uid: str) -> None:
        room, add = self.rooms[op.room], isinstance(op, AddRoomRole)
        if op.role == "moderator":
            (self.client.add_moderator if add else self.client.remove_moderator)(room, uid)
        elif op.role == "owner":
            (self.client.add_owner if add else self.client.remove_owner)(room, uid)
        else:  # leader has no dedicated facade method: the Subscriptions-scope role with a room id
            fn = self.client.add_user_to_role if add else self.client.remove_user_from_role
            fn(self.roles.get(op.role, op.role), self.usernames[uid], room.id)

    def outcome(self, op: Operation, result: tuple[str | None, str | None] | None, exc: BaseException | None
                ) -> OperationOutcome:
        kind = op_kind(op)
        if exc is not None and _already_done(op, exc):
            # Another run (a second worker, bootstrap) made this very change since this run observed:
            # Rocket.Chat's "already" answer means the wanted state holds.
            log.info("%s: already done by another run (%s)", kind, getattr(exc, "error_type", ""))
            uid = self.user_id(op) if op.site_id is not None else None
            exc, result = None, (uid, self.usernames.get(uid or ""))
        if exc is None:
            uid, uname = result or (None, None)
            return OperationOutcome(op, kind, op.site_id, "ok", uid, uname)
        reason = _reason(exc)
        if isinstance(op, CreateUser):
            self.failed_creates[op.site_id] = reason
        elif isinstance(op, CreateRoom):
            self.failed_rooms[op.room] = reason
        elif isinstance(op, CreateRole):
            self.failed_roles[op.name] = reason
        elif isinstance(op, AddOAuthService):
            self.failed_services[oauth_setting_name(op.name)] = reason
        elif isinstance(op, SetSetting):
            self.failed_settings[op.setting_id] = reason
        uid = self.user_id(op) if op.site_id is not None else None
        return OperationOutcome(op, kind, op.site_id, "failed", uid, self.usernames.get(uid or ""), reason,
                                type(exc).__name__, isinstance(exc, TransientError),
                                isinstance(exc, Conflict))


# Rocket.Chat's answers meaning "this change is already made" (roles.ts, addRoomModerator.ts & co,
# removeUserFromRoom.ts), per operation kind; the room-role codes carry the role name.
_ALREADY = {
    "add_role": ("error-user-already-in-role",),
    "remove_role": ("error-user-not-in-role",),
    "kick": ("error-user-not-in-room",),
}


def _already_done(op: Operation, exc: BaseException) -> bool:
    code = getattr(exc, "error_type", None)
    if not code:
        return False
    if isinstance(op, AddRoomRole):
        return code in (f"error-user-already-{op.role}", "error-user-already-in-role")
    if isinstance(op, RemoveRoomRole):
        return code in (f"error-user-not-{op.role}", "error-user-not-in-role")
    return code in _ALREADY.get(op_kind(op), ())


def _invite_batches(ops: Sequence[InviteToRoom], run: _Run) -> list[tuple[str, list[InviteToRoom]]]:
    by_room: dict[str, list[InviteToRoom]] = {}
    for op in ops:
        by_room.setdefault(op.room, []).append(op)
    size = run.config.batch.invite_batch
    return [(room, group[i:i + size]) for room, group in sorted(by_room.items()) for i in range(0, len(group), size)]


def apply_plan(ops: Sequence[Operation], client: WriteClient, observed: ObservedState, rc_rooms: dict[str, Any],
               config: SyncConfig, *, on_operation: Callable[[OperationOutcome], Any] | None = None,
               on_progress: Callable[[int, int], Any] | None = None) -> list[OperationOutcome]:
    """Apply ``ops`` (a plan from :func:`sync_tasks.plan.plan_changes`) and return every outcome.

    ``rc_rooms`` maps managed room keys to the bridge's room values (from the observation).
    """
    ops = sorted(ops, key=sort_key)
    run = _Run(client, observed, rc_rooms, config, on_operation, on_progress, len(ops))
    phases: list[list[Operation]] = []
    for op in ops:
        if phases and phase(phases[-1][0]) == phase(op):
            phases[-1].append(op)
        else:
            phases.append([op])
    pool = _Pool(config.batch.concurrency)
    try:
        for group in phases:
            ready: list[Operation] = []
            for op in group:
                why = run.blocker(op)
                if why is not None:
                    if isinstance(op, SetSetting):
                        run.failed_settings[op.setting_id] = why
                    run.report(OperationOutcome(op, op_kind(op), op.site_id, "skipped", run.user_id(op), None, why))
                else:
                    ready.append(op)
            if ready and isinstance(ready[0], InviteToRoom):
                _run_invites(pool, run, ready)  # type: ignore[arg-type]
            else:
                _run_each(pool, run, ready)
    finally:
        pool.close()
    return run.outcomes


class _Pool:
    """Bounded concurrency for a phase, with the threads used only when a phase has two calls or more.

    A single-person sync's phases hold one operation each: those run in the calling thread, so such a
    sync starts no thread (a pool per sync was a tenth of its CPU). The threads are the process's
    (`sync_tasks.pool`), started once, not per run: the calls mostly wait on Rocket.Chat."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._submitted: list[Future] = []

    def submit_all(self, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Future]:
        if not calls:
            return []
        if len(calls) == 1:
            fn, args = calls[0]
            done: Future = Future()
            try:
                done.set_result(fn(*args))
            except Exception as exc:  # handed over like a pool thread's failure
                done.set_exception(exc)
            return [done]
        if self._pool is None:
            self._pool = executor("rcsync-apply", self._workers)
        futures = [self._pool.submit(fn, *args) for fn, args in calls]
        self._submitted += futures
        return futures

    def close(self) -> None:
        """Wait for every call this run submitted (they are all done unless the run stopped on an exception:
        nothing of it writes after the run ends, as when the pool was shut down); the threads stay."""
        if self._submitted:
            wait(self._submitted)
        self._pool, self._submitted = None, []


def _drain(futures: dict[Future, Any], handle: Callable[[Any, Future], None]) -> None:
    """Handle each future in the calling thread as it completes (those found done together in
    submission order). Each future reports itself once into a queue: waiting again and again for the
    first of the pending ones (``wait(FIRST_COMPLETED)``) put a waiter on every pending future per
    wake-up, quadratic in a phase of thousands of kicks and all of it in the thread holding the GIL."""
    finished: SimpleQueue[Future] = SimpleQueue()
    for f in futures:
        f.add_done_callback(finished.put)
    left = len(futures)
    while left:
        done = [finished.get()]
        while not finished.empty():
            done.append(finished.get())
        for f in sorted(done, key=lambda f: futures[f][0] if isinstance(futures[f], tuple) else 0):
            handle(futures[f], f)
        left -= len(done)


def _run_each(pool: _Pool, run: _Run, ops: Sequence[Operation]) -> None:
    submitted = pool.submit_all([(run.call, (op,)) for op in ops])
    futures = {f: (i, op) for i, (f, op) in enumerate(zip(submitted, ops))}

    def handle(item: tuple[int, Operation], f: Future) -> None:
        op = item[1]
        exc = f.exception()
        run.report(run.outcome(op, None if exc else f.result(), exc))

    _drain(futures, handle)


def _run_invites(pool: _Pool, run: _Run, ops: Sequence[InviteToRoom]) -> None:
    def send(room: str, batch: list[InviteToRoom]) -> None:
        ids = [run.user_id(op) for op in batch]
        run.client.invite(run.rooms[room], ids, batch_size=len(ids))

    batches = _invite_batches(ops, run)
    submitted = pool.submit_all([(send, (room, batch)) for room, batch in batches])
    futures = {f: (i, batch) for i, (f, (room, batch)) in enumerate(zip(submitted, batches))}
    retry: list[InviteToRoom] = []

    def handle(item: tuple[int, list[InviteToRoom]], f: Future) -> None:
        batch = item[1]
        if f.exception() is None:
            for op in batch:
                uid = run.user_id(op)
                run.report(OperationOutcome(op, "invite", op.site_id, "ok", uid, run.usernames.get(uid or "")))
        elif len(batch) == 1:
            run.report(run.outcome(batch[0], None, f.exception()))
        else:
            retry.extend(batch)  # isolate the failing user(s)

    _drain(futures, handle)
    if retry:
        _run_each(pool, run, retry)
