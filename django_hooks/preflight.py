"""`rcsync check` and `rcsync bootstrap`: can the service account do what the policy needs?

`check` logs in (TOTP included), then compares what the policy will ask of
Rocket.Chat with what the service account may do: the permissions behind
each REST route rcsync calls (wire contract §3–§5; `bridge._wire_errors.ROUTE_PERMISSIONS`),
and whether the managed rooms and roles exist. It never writes. `bootstrap`
creates the missing rooms and roles through the engine (an empty targeted
sync plans exactly those) and the nightly periodic task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from bridge.errors import NotFound, RocketChatError
from django_hooks.conf import engine_config, hook_settings
from django_hooks.rc import bridge_config, client
from django_hooks.schedule import ensure_nightly_task
from sync_tasks.engine import sync_people


@dataclass
class CheckReport:
    server: str = ""
    account: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"server: {self.server}", f"service account: {self.account}"]
        out += [f"  ok: {note}" for note in self.notes]
        out += [f"  MISSING: {problem}" for problem in self.problems]
        return out


def required_permissions(config: Any, private_rooms_not_joined: list[str], rooms_to_create: list[str]) -> dict[str, str]:
    """Pure: permission -> why the policy needs it."""
    need = {
        "create-user": "create accounts (users.create)",
        "edit-other-user-info": "update profiles (users.update)",
        "edit-other-user-active-status": "activate/deactivate accounts (users.setActiveStatus)",
        "view-full-other-user-info": "read accounts with their rooms (users.info, users.list)",
        "access-permissions": "grant and revoke global roles (roles.addUserToRole)",
        "remove-user": "remove people from managed rooms (channels.kick / groups.kick)",
    }
    if any(room.type == "c" for room in config.rooms):
        need["add-user-to-any-c-room"] = "add people to public managed rooms (channels.invite)"
    if private_rooms_not_joined:
        need["add-user-to-any-p-room"] = (
            "add people to private managed rooms the service account is not in: " + ", ".join(private_rooms_not_joined)
        )
    if "moderator" in config.managed_room_roles:
        need["set-moderator"] = "grant the room role moderator"
    if "owner" in config.managed_room_roles:
        need["set-owner"] = "grant the room role owner"
    for key in rooms_to_create:
        spec = config.room(key)
        need["create-c" if spec.type == "c" else "create-p"] = f"create missing room {spec.name}"
    if config.deprovision == "delete":
        need["delete-user"] = "delete accounts of removed site users (DEPROVISION='delete')"
    return need


def run_check() -> CheckReport:
    config = engine_config()
    bridge = bridge_config()
    report = CheckReport(server=bridge.url, account=bridge.account)
    rc = client()
    try:
        me = rc.me()
    except RocketChatError as exc:
        report.problems.append(f"cannot log in: {type(exc).__name__}: {exc}")
        return report
    report.notes.append(f"logged in as {me.username} (roles: {', '.join(me.roles) or 'none'})")

    roles = {role.name for role in rc.list_roles()}
    missing_roles = [r for r in config.managed_roles if r not in roles]
    for role in missing_roles:
        report.problems.append(f"managed role {role!r} does not exist (`rcsync bootstrap` creates it)")

    private_not_joined: list[str] = []
    to_create: list[str] = []
    for spec in config.rooms:
        try:
            room = rc.room_info(room_id=spec.room_id) if spec.room_id else rc.room_info(name=spec.name)
        except NotFound:
            if spec.type == "p" and _hidden_group_exists(rc, spec.name):
                # Rocket.Chat hides private groups from non-members, admins included (wire contract §5.2,
                # A/app/api/server/v1/groups.ts findPrivateGroupByIdOrName).
                private_not_joined.append(spec.name)
                report.problems.append(
                    f"private room {spec.name!r} exists but the service account is not a member: add it as owner"
                )
            else:
                to_create.append(spec.key)
                report.problems.append(f"managed room {spec.name!r} does not exist (`rcsync bootstrap` creates it)")
            continue
        report.notes.append(f"room {spec.name} ({'public' if room.type == 'c' else 'private'}) exists")

    granted = _granted_permissions(rc, set(me.roles))
    if granted is None:
        report.notes.append("permissions could not be listed (permissions.listAll); skipped that part")
    else:
        for permission, why in sorted(required_permissions(config, private_not_joined, to_create).items()):
            if permission not in granted:
                report.problems.append(f"permission {permission!r}: needed to {why}")
    return report


def _hidden_group_exists(rc: Any, name: str) -> bool:
    try:
        return any(group.name == name for group in rc.iter_all_groups())
    except RocketChatError:  # no view-room-administration: cannot tell
        return False


def _granted_permissions(rc: Any, my_roles: set[str]) -> set[str] | None:
    try:
        granted = rc.permissions()
    except RocketChatError:
        return None
    return {permission for permission, roles in granted.items() if my_roles & roles}


def run_bootstrap() -> list[str]:

    lines = []
    report = sync_people([], client(), engine_config())
    for kind in ("create_role", "create_room"):
        if report.counts.get(kind):
            lines.append(f"{kind}: planned {report.counts[kind]}, applied {report.applied.get(kind, 0)}, failed {report.failed.get(kind, 0)}")
    for problem in report.problems:
        lines.append(f"problem: {problem}")
    if not lines:
        lines.append("managed rooms and roles: all present")
    try:  # in-function: django-celery-beat is optional (its models import only when it is installed)
        from django_celery_beat.models import CrontabSchedule, PeriodicTask
    except (ImportError, RuntimeError):
        lines.append("django_celery_beat is not installed: schedule rcsync.reconcile_all yourself")
        return lines
    cfg = hook_settings()
    task, created = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=cfg.nightly_hour, minute=cfg.nightly_minute,
                                        timezone=settings.TIME_ZONE or "UTC")
    lines.append(f"nightly periodic task {task.name!r}: {'created' if created else 'already present'}")
    return lines
