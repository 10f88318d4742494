"""Role endpoints (`roles.*`) of `AsyncRocketChat`, as a mixin over the call layer in rest.py.

Roles are addressed by id (7.x dropped `roleName`); built-in roles have `_id == name`, custom roles a
random id, so look them up with `list_roles()` first (wire contract §4, §9.4).
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from . import direct
from .errors import InvalidInput, OutcomeUnknown
from .models import RcRole, RcUser

__all__ = ["RolesMixin"]

log = logging.getLogger("bridge.roles")


class RolesMixin:
    _call: Any
    _get: Any
    _paged: Any
    _retry: Any

    async def list_roles(self) -> list[RcRole]:
        return [RcRole.from_api(doc) for doc in (await self._get("roles.list")).get("roles") or []]

    async def permissions(self) -> dict[str, frozenset[str]]:
        """Every permission id with the role ids granted it (`permissions.listAll`), so a preflight
        can name what the service account lacks instead of failing mid-run."""
        body = await self._get("permissions.listAll")
        # Rocket.Chat answers {update: [...], remove: [...]}; some older builds used `permissions`.
        items = body.get("update") or body.get("permissions") or []
        return {item["_id"]: frozenset(item.get("roles") or ()) for item in items}

    async def create_role(self, name: str, scope: str = "Users", description: str = "") -> RcRole:
        """Create a custom role. Community servers refuse with PermissionDenied(permission="license"):
        custom roles are an Enterprise feature in 6.x ("This is an enterprise feature")."""
        if scope not in ("Users", "Subscriptions"):
            raise InvalidInput(f"roles.create: scope must be 'Users' or 'Subscriptions', not {scope!r}",
                               route="roles.create")
        body = {"name": name, "scope": scope, "description": description}
        try:
            doc = await self._call("POST", "roles.create", json=body, idempotent=False)
        except OutcomeUnknown:
            await direct.pause(self._retry.delay(1))
            for role in await self.list_roles():
                if role.name == name:
                    return role
            doc = await self._call("POST", "roles.create", json=body, idempotent=False)
        return RcRole.from_api(doc.get("role") or {})

    async def add_user_to_role(self, role_id: str, username: str, room_id: str | None = None) -> None:
        """Give `username` the role (globally, or in `room_id` for a Subscriptions-scope role)."""
        body: dict[str, Any] = {"roleId": role_id, "username": username}
        if room_id is not None:
            body["roomId"] = room_id
        await self._call("POST", "roles.addUserToRole", json=body, idempotent=True,
                         already_ok=("error-user-already-in-role",))

    async def remove_user_from_role(self, role_id: str, username: str, room_id: str | None = None) -> None:
        """Take the role away. The room goes in `scope`: `roomId` is accepted but ignored by Rocket.Chat."""
        body: dict[str, Any] = {"roleId": role_id, "username": username}
        if room_id is not None:
            body["scope"] = room_id
        await self._call("POST", "roles.removeUserFromRole", json=body, idempotent=True,
                         already_ok=("error-user-not-in-role",))

    async def iter_users_in_role(
        self, role_id: str, room_id: str | None = None, page_size: int = 100
    ) -> AsyncIterator[RcUser]:
        """Holders of a role (the reply has `total` but no count/offset keys)."""
        params = {"role": role_id, "roomId": room_id}
        async for doc in self._paged("roles.getUsersInRole", "users", params, page_size):
            yield RcUser.from_api(doc)
