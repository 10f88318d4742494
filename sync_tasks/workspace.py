"""Workspace settings as code: read the declared settings, plan what differs. Observation is I/O (one
``GET settings/:_id`` per declared or SSO-relevant id); planning is pure.

Why per id and not ``GET /settings``: that listing is paged over every setting (hundreds) and hides the
privileged ones without ``view-privileged-setting`` instead of refusing; a declared id must be read
exactly, and a refusal must be reported, not read as "unset".

Comparison is by value and type (``True`` is not ``1``); secret values stay in
:class:`~sync_tasks.secrets.Masked` boxes on both sides, so "does Rocket.Chat hold exactly this?" is
answered without either value being printed. Settings the service account cannot read are never planned
(writing blind would make every run write them again); the run reports why instead.
"""
from __future__ import annotations

from typing import Any, Iterable

from bridge.errors import NotFound, PermissionDenied, RocketChatError

from .config_types import SyncConfig
from .config_workspace import is_secret_id
from .ops import AddOAuthService, Operation, SetSetting
from .secrets import Masked
from .sso import GLOBAL_SSO_SETTINGS, SSO_SETTING_SUFFIXES, SsoObserved

__all__ = ["setting_ids_to_read", "read_settings", "plan_settings", "effective_sso", "same_value",
           "oauth_services_to_add", "planned_values"]

#: What ``settings.addCustomOAuth`` registers for the settings SsoObserved reads (reference §11.4).
_OAUTH_DEFAULTS = {"": False, "-key_field": "username", "-merge_users": False,
                   "-merge_users_distinct_services": False, "-username_field": "", "-email_field": ""}


def same_value(a: Any, b: Any) -> bool:
    """Equal value of the same JSON type (``True`` ≠ ``1``; lists compare element-wise)."""
    if isinstance(a, Masked) or isinstance(b, Masked):
        return isinstance(a, Masked) and isinstance(b, Masked) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b)


def setting_ids_to_read(config: SyncConfig, *, declared: bool = True) -> list[str]:
    ids: list[str] = [s.setting_id for s in config.settings] if declared else []
    if config.sso is not None:
        ids += [config.sso.setting_id(sfx) for sfx in SSO_SETTING_SUFFIXES] + list(GLOBAL_SSO_SETTINGS)
    return list(dict.fromkeys(ids))


def _box(config: SyncConfig, setting_id: str, value: Any) -> Any:
    if isinstance(value, list):
        value = tuple(value)
    secret = is_secret_id(setting_id) or any(s.secret for s in config.settings if s.setting_id == setting_id)
    return Masked(value) if secret else value


def read_settings(client: Any, config: SyncConfig, ids: Iterable[str]) -> tuple[dict[str, Any] | None, str]:
    """(id -> value for the ids Rocket.Chat knows, or None when settings cannot be read; why not)."""
    values: dict[str, Any] = {}
    for sid in ids:
        try:
            values[sid] = _box(config, sid, client.settings_get(sid))
        except NotFound:
            continue
        except PermissionDenied as exc:
            return None, (f"cannot read workspace settings: the service account lacks "
                          f"{exc.permission or 'view-privileged-setting'!r} ({exc})")
        except RocketChatError as exc:
            return None, f"cannot read setting {sid}: {type(exc).__name__}: {exc}"
    return values, ""


def oauth_services_to_add(config: SyncConfig, current: dict[str, Any]) -> list[str]:
    """Custom OAuth services the plan must register: the SSO one, and any whose block SETTINGS declares."""
    from .sso import oauth_setting_name

    names: dict[str, str] = {}
    if config.sso is not None:
        names[oauth_setting_name(config.sso.service)] = config.sso.service
    prefix = "Accounts_OAuth_Custom-"
    for s in config.settings:
        if s.setting_id.startswith(prefix):
            svc = s.setting_id[len(prefix):].split("-", 1)[0]
            if svc and svc == oauth_setting_name(svc):
                names.setdefault(svc, svc.lower())
    return [name for svc, name in sorted(names.items()) if f"{prefix}{svc}" not in current]


def plan_settings(config: SyncConfig, current: dict[str, Any] | None) -> list[Operation]:
    """``AddOAuthService`` for each missing service, then ``SetSetting`` for each declared id whose value
    differs (or that does not exist yet). Nothing when settings were not read."""
    if current is None:
        return []
    ops: list[Operation] = [AddOAuthService(name) for name in oauth_services_to_add(config, current)]
    for s in config.settings:
        if s.setting_id in current:
            if not same_value(current[s.setting_id], s.value):
                ops.append(SetSetting(s.setting_id, s.value, current[s.setting_id], True))
        else:
            ops.append(SetSetting(s.setting_id, s.value, None, False))
    return ops


def planned_values(config: SyncConfig, current: dict[str, Any]) -> dict[str, Any]:
    """The settings as they will be once this plan is applied: a missing SSO service registered with its
    defaults (``settings.addCustomOAuth``), then every declared value written."""
    values = dict(current)
    if config.sso is not None:
        base = config.sso.setting_id()
        if base not in values:
            values.update({base + sfx: v for sfx, v in _OAUTH_DEFAULTS.items()})
    values.update({s.setting_id: s.value for s in config.settings})
    return values


def effective_sso(config: SyncConfig, current: dict[str, Any] | None, *, planned: bool, why: str = ""
                  ) -> SsoObserved | None:
    """The SSO login rules once the plan's settings are written (``planned``: this run writes them)."""
    sso = config.sso
    if sso is None:
        return None
    if current is None:
        return SsoObserved(readable=False, why_unreadable=why)
    return SsoObserved.from_values(sso, planned_values(config, current) if planned else current)
