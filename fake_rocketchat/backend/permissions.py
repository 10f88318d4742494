"""The permissions and roles a fresh workspace starts with, built from `permission_table`.

Why a module between the table and the State: the table is transcribed data (Rocket.Chat 7.x's
`constant/permissions.ts`, every id with its default roles, plus the built-in roles); this module turns it
into the documents `upsertPermissions` writes on first start, including one `change-setting-<id>`
permission per non-hidden setting (`level: 'settings'`, no roles). The 8.x-only `federated-external`
grants are not part of the 7.x table, so no default grant names a role `roles.list` lacks.
Traps a provisioning client hits: `add-user-to-any-p-room` and `kick-user-from-any-p-room` are granted to
nobody, and `api-bypass-rate-limit` only to admin, bot and app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from .permission_table import PERMISSIONS, ROLES, setting_permission_id
from .settings_registry import SettingSpec

DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = dict(PERMISSIONS)

# (_id, scope, description) of the protected roles a fresh workspace has, `_id == name`.
BUILTIN_ROLES: tuple[tuple[str, str, str], ...] = tuple((r.name, r.scope, r.description) for r in ROLES)


def role_documents(now: datetime) -> dict[str, dict[str, Any]]:
    """`createOrUpdateProtectedRoleAsync` for every built-in role."""
    return {r.name: {**r.as_document(), "_updatedAt": now} for r in ROLES}


def permission_documents(now: datetime, settings: Iterable[SettingSpec]) -> dict[str, dict[str, Any]]:
    """The table's permissions, then one setting permission per non-hidden setting (`upsertPermissions`)."""
    docs = {pid: {"_id": pid, "roles": list(roles), "_updatedAt": now} for pid, roles in PERMISSIONS.items()}
    for spec in settings:
        docs.update(setting_permission_documents(now, spec))
    return docs


def setting_permission_documents(now: datetime, spec: SettingSpec) -> dict[str, dict[str, Any]]:
    """`createSettingPermission`: `change-setting-<id>`, no roles, for a setting that is not hidden."""
    if spec.hidden:
        return {}
    pid = setting_permission_id(spec.id)
    doc: dict[str, Any] = {"_id": pid, "roles": [], "_updatedAt": now, "level": "settings", "settingId": spec.id,
                           "group": spec.group}
    if spec.section:
        doc["section"] = spec.section
    return {pid: doc}
