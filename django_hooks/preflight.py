"""`rcsync check` and `rcsync bootstrap`: can the service account do what the policy needs?

`check` logs in (TOTP included), then compares what the policy will ask of
Rocket.Chat with what the service account may do: the permissions behind
each REST route rcsync calls (wire contract §3–§5; `bridge._wire_errors.ROUTE_PERMISSIONS`),
whether the managed rooms and roles exist, whether the declared workspace
settings exist (values never printed), and, with ``RCSYNC["SSO"]``, whether the
Custom OAuth service's login rules fit the chosen mode (`sync_tasks.sso_check`).
It never writes. `bootstrap` registers the OAuth service, writes the declared
settings and creates the missing rooms and roles through the engine (an empty
targeted sync with settings plans exactly those), and the nightly periodic task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
    warnings: list[str] = field(default_factory=list)  # risks to decide on; they do not fail the check

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        # The markers "ok:", "WARNING:", "MISSING:" stay English (scripts grep them); the rest is translated.
        out = [_("server: %(url)s") % {"url": self.server}, _("service account: %(account)s") % {"account": self.account}]
        out += [f"  ok: {note}" for note in self.notes]
        out += [f"  WARNING: {warning}" for warning in self.warnings]
        out += [f"  MISSING: {problem}" for problem in self.problems]
        return out


def required_permissions(config: Any, private_rooms_not_joined: list[str], rooms_to_create: list[str]) -> dict[str, str]:
    """Pure: permission -> why the policy needs it."""
    need = {
        "create-user": _("create accounts (users.create)"),
        "edit-other-user-info": _("update profiles (users.update)"),
        "edit-other-user-active-status": _("activate/deactivate accounts (users.setActiveStatus)"),
        "view-full-other-user-info": _("read accounts with their rooms (users.info, users.list)"),
        "access-permissions": _("grant and revoke global roles (roles.addUserToRole)"),
        "remove-user": _("remove people from managed rooms (channels.kick / groups.kick)"),
    }
    if any(room.type == "c" for room in config.rooms):
        need["add-user-to-any-c-room"] = _("add people to public managed rooms (channels.invite)")
    if private_rooms_not_joined:
        need["add-user-to-any-p-room"] = (
            _("add people to private managed rooms the service account is not in: %(rooms)s")
            % {"rooms": ", ".join(private_rooms_not_joined)}
        )
    if "moderator" in config.managed_room_roles:
        need["set-moderator"] = _("grant the room role moderator")
    if "owner" in config.managed_room_roles:
        need["set-owner"] = _("grant the room role owner")
    for key in rooms_to_create:
        spec = config.room(key)
        need["create-c" if spec.type == "c" else "create-p"] = _("create missing room %(room)s") % {"room": spec.name}
    if config.deprovision == "delete":
        need["delete-user"] = _("delete accounts of removed site users (DEPROVISION='delete')")
    if config.settings or config.sso is not None:
        need["view-privileged-setting"] = _("read the declared workspace settings and the SSO login rules (GET settings/:_id)")
    if config.settings:
        need["edit-privileged-setting"] = _("write the declared workspace settings (POST settings/:_id)")
    if config.sso is not None or any(s.setting_id.startswith("Accounts_OAuth_Custom-") for s in config.settings):
        need["add-oauth-service"] = _("register the Custom OAuth service when it is missing (settings.addCustomOAuth)")
    return need


def run_check() -> CheckReport:
    config = engine_config()
    bridge = bridge_config()
    report = CheckReport(server=bridge.url, account=bridge.account)
    rc = client()
    try:
        me = rc.me()
    except RocketChatError as exc:
        report.problems.append(_("cannot log in: %(kind)s: %(error)s") % {"kind": type(exc).__name__, "error": exc})
        return report
    listed = rc.list_roles()
    # A user's `roles` holds role ids; a custom role's id is random (roles.create), so show its name.
    names = {role.id: role.name for role in listed}
    report.notes.append(_("logged in as %(user)s (roles: %(roles)s)") % {
        "user": me.username, "roles": ", ".join(names.get(r, r) for r in me.roles) or _("none")})

    roles = {role.name for role in listed}
    missing_roles = [r for r in config.managed_roles if r not in roles]
    for role in missing_roles:
        report.problems.append(_("managed role %(role)r does not exist (`rcsync bootstrap` creates it)") % {"role": role})

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
                    _("private room %(room)r exists but the service account is not a member: add it as owner") % {"room": spec.name}
                )
            else:
                to_create.append(spec.key)
                report.problems.append(_("managed room %(room)r does not exist (`rcsync bootstrap` creates it)") % {"room": spec.name})
            continue
        report.notes.append((_("room %(room)s (public) exists") if room.type == "c" else _("room %(room)s (private) exists"))
                            % {"room": spec.name})

    if config.settings or config.sso is not None:
        _check_workspace(rc, config, me, report)

    granted = _granted_permissions(rc, set(me.roles))
    if granted is None:
        report.notes.append(_("permissions could not be listed (permissions.listAll); skipped that part"))
    else:
        for permission, why in sorted(required_permissions(config, private_not_joined, to_create).items()):
            if permission not in granted:
                report.problems.append(_("permission %(permission)r: needed to %(why)s") % {"permission": permission, "why": why})
    return report


def _check_workspace(rc: Any, config: Any, me: Any, report: CheckReport) -> None:
    """Declared settings (exist? differ?) and the SSO service's login rules. Values are never printed."""
    from sync_tasks.sso import oauth_setting_name
    from sync_tasks.workspace import oauth_services_to_add, read_settings, same_value, setting_ids_to_read

    values, why = read_settings(rc, config, setting_ids_to_read(config))
    if values is None:
        report.problems.append(why)
    else:
        adding = {f"Accounts_OAuth_Custom-{oauth_setting_name(name)}" for name in oauth_services_to_add(config, values)}
        differ = []
        for s in config.settings:
            if s.setting_id in values:
                if not same_value(values[s.setting_id], s.value):
                    differ.append(s.setting_id + (" " + _("(secret)") if s.secret else ""))
            elif not any(s.setting_id.startswith(base) for base in adding):
                report.problems.append(_("setting %(id)r (RCSYNC['SETTINGS']) does not exist in Rocket.Chat: "
                                         "a typo, or a setting of a newer version or of an app") % {"id": s.setting_id})
        for base in sorted(adding):
            report.notes.append(_("OAuth service %(service)s is not registered yet "
                                  "(`rcsync bootstrap` or the next reconcile registers it)")
                                % {"service": base[len("Accounts_OAuth_Custom-"):]})
        if differ:
            report.notes.append(ngettext("%(n)d declared setting differs and will be written: %(ids)s",
                                         "%(n)d declared settings differ and will be written: %(ids)s", len(differ))
                                % {"n": len(differ), "ids": ", ".join(differ)})
        elif config.settings:
            report.notes.append(ngettext("the %(n)d declared setting holds its declared value",
                                         "all %(n)d declared settings hold their declared values", len(config.settings))
                                % {"n": len(config.settings)})
    if config.sso is None:
        return
    from sync_tasks.sso_check import sso_findings

    privileged, linked, identities = _sso_accounts(rc, config)
    problems, warnings, notes = sso_findings(config.sso, _with_declared(config, values), why_unreadable=why,
                                             privileged=privileged, linked_to=linked, identities=identities,
                                             service_user_id=me.id)
    report.problems += problems
    report.warnings += warnings
    report.notes += notes


def _with_declared(config: Any, values: dict | None) -> dict | None:
    """The SSO settings as they will be after `rcsync bootstrap` (the service registered, the declared
    values written): check judges what the login will do then, and notes what is still to be written."""
    from sync_tasks.workspace import planned_values

    return None if values is None else planned_values(config, values)


def _sso_accounts(rc: Any, config: Any) -> tuple[list[Any], dict[str, str], list[tuple[str, Any]]]:
    from bridge.errors import RocketChatError
    from django_hooks.models import AccountLink
    from django_hooks.people import iter_people
    from sync_tasks.policy import PolicyError, desired_account
    from sync_tasks.sso_check import PrivilegedAccount

    privileged: dict[str, Any] = {}
    for role in sorted(config.identity.privileged_roles):
        try:
            for u in rc.iter_users_in_role(role):
                privileged[u.id] = PrivilegedAccount(u.id, u.username or "", u.email, frozenset(u.roles or (role,)))
        except RocketChatError:
            continue
    linked = {rc_id: key for key, rc_id in AccountLink.objects.exclude(rc_user_id="").values_list("user_key", "rc_user_id")}
    identities = []
    for person in iter_people():
        if not person.wants_account:
            continue
        try:
            desired = desired_account(person, config)
        except PolicyError:
            continue
        if desired.sso is not None:
            identities.append((person.site_id, desired.sso))
    return list(privileged.values()), linked, identities


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
    report = sync_people([], client(), engine_config(), settings=True)
    for op in report.plan:
        if op.kind == "set_setting":
            lines.append(_("setting %(change)s") % {"change": op.describe()})  # describe() masks secret values
    for kind in ("add_oauth_service", "set_setting", "create_role", "create_room"):
        if report.counts.get(kind):
            lines.append(_("%(kind)s: planned %(planned)s, applied %(applied)s, failed %(failed)s") % {
                "kind": kind, "planned": report.counts[kind], "applied": report.applied.get(kind, 0),
                "failed": report.failed.get(kind, 0)})
    for problem in report.problems:
        lines.append(_("problem: %(problem)s") % {"problem": problem})
    if not lines:
        lines.append(_("managed rooms and roles: all present"))
    try:  # in-function: django-celery-beat is optional (its models import only when it is installed)
        from django_celery_beat.models import CrontabSchedule, PeriodicTask
    except (ImportError, RuntimeError):
        lines.append(_("django_celery_beat is not installed: schedule rcsync.reconcile_all yourself"))
        return lines
    cfg = hook_settings()
    task, created = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=cfg.nightly_hour, minute=cfg.nightly_minute,
                                        timezone=settings.TIME_ZONE or "UTC")
    lines.append((_("nightly periodic task %(name)r: created") if created else _("nightly periodic task %(name)r: already present"))
                 % {"name": task.name})
    return lines
