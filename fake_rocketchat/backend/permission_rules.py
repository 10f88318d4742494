"""Permission rules: the listings and the all-or-nothing update of `permissions.*`.

Follows `apps/meteor/app/api/server/v1/permissions.ts` (7.x copy) and
`app/authorization/server/streamer/permissions.ts` (`permissionsGetMethod`): `permissions.update` looks up
all ids at once and fails unless it found as many permissions as entries were sent (so an unknown id, and
also a repeated one, is "Invalid permission"), then checks the distinct role ids ("Invalid role"), and only
then writes every entry. The bodies are `permission_table.PERMISSION_UPDATE_ERRORS`.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

from .errors import RestFailure
from .locking import locked
from .permission_table import PERMISSION_UPDATE_ERRORS

if TYPE_CHECKING:
    from .state import State


class PermissionRulesMixin:
    """Mixed into `State`; `self` is the State."""

    @locked
    def permission_list(self: "State") -> list[dict[str, Any]]:
        """Every permission document (`permissionsGetMethod()` without a date), copies."""
        return [copy.deepcopy(p) for p in self.permissions.values()]

    @locked
    def permissions_changed_since(self: "State", since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`permissionsGetMethod(updatedSince)`: `(update, remove)`, the changed and the removed since then."""
        update = [copy.deepcopy(p) for p in self.permissions.values() if p["_updatedAt"] > since]
        remove = [copy.deepcopy(p) for p in self.deleted_permissions if p["_deletedAt"] > since]
        return update, remove

    @locked
    def update_permissions(self: "State", entries: Iterable[tuple[str, Iterable[str]]]) -> list[dict[str, Any]]:
        """`permissions.update` after its body check: all-or-nothing; returns every permission."""
        entries = [(pid, list(roles)) for pid, roles in entries]
        found = {pid for pid, _ in entries if pid in self.permissions}
        if len(found) != len(entries):
            raise RestFailure(400, dict(PERMISSION_UPDATE_ERRORS["unknown_permission"]))
        role_ids = {r for _, roles in entries for r in roles}
        if any(r not in self.roles for r in role_ids):
            raise RestFailure(400, dict(PERMISSION_UPDATE_ERRORS["unknown_role"]))
        now = self.now()
        for pid, roles in entries:
            # `Permissions.setRoles`: `$set: {roles}` (the list as sent).
            self.permissions[pid]["roles"] = roles
            self.permissions[pid]["_updatedAt"] = now
        return self.permission_list()
