"""Role rules: assignment (global and room scope), custom roles, role listings.

Follows `app/authorization/server/methods/{addUserToRole,removeUserFromRole}.ts`,
`app/authorization/server/functions/{addUserRoles,removeUserFromRoles}.ts` and
`ee/server/lib/roles/insertRole.ts`. A Subscriptions-scope role given without
a room lands in `users.roles` (global), as upstream.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .errors import MeteorError

if TYPE_CHECKING:
    from .state import State


class RolesMixin:
    """Mixed into `State`; `self` is the State."""

    custom_roles_licensed: bool = True

    def role_doc(self: "State", role_id_or_name: str | None, allow_name: bool = True) -> dict[str, Any] | None:
        """The stored role by id, else (when `allow_name`, as 6.x) by name; None if neither matches."""
        if not role_id_or_name:
            return None
        role = self.roles.get(role_id_or_name)
        if role is None and allow_name:
            role = next((r for r in self.roles.values() if r["name"] == role_id_or_name), None)
        return role

    def user_has_role(self: "State", user_id: str, role_id: str, scope: str | None = None) -> bool:
        """`Roles.isUserInRoles`: room-scoped roles checked on the subscription."""
        with self.lock:
            role = self.roles.get(role_id)
            user = self.users.get(user_id)
            if not role or not user:
                return False
            if role["scope"] == "Subscriptions" and scope:
                sub = self.subscription_doc(scope, user_id)
                return bool(sub and role_id in sub.get("roles", []))
            return role_id in user.get("roles", [])

    def _add_role(self: "State", user: dict[str, Any], role: dict[str, Any], scope: str | None) -> None:
        if role["scope"] == "Subscriptions" and scope:
            sub = self.subscription_doc(scope, user["_id"])
            if sub is None:
                return
            roles = sub.setdefault("roles", [])
            if role["_id"] not in roles:
                roles.append(role["_id"])
                sub["_updatedAt"] = self.now()
                self.publish("stream-notify-user", f"{user['_id']}/subscriptions-changed", ["updated", sub])
        elif role["_id"] not in user["roles"]:
            user["roles"].append(role["_id"])
            user["_updatedAt"] = self.now()

    def _remove_role(self: "State", user: dict[str, Any], role: dict[str, Any], scope: str | None) -> None:
        if role["scope"] == "Subscriptions" and scope:
            sub = self.subscription_doc(scope, user["_id"])
            if sub and role["_id"] in sub.get("roles", []):
                sub["roles"].remove(role["_id"])
                sub["_updatedAt"] = self.now()
                self.publish("stream-notify-user", f"{user['_id']}/subscriptions-changed", ["updated", sub])
        elif role["_id"] in user["roles"]:
            user["roles"].remove(role["_id"])
            user["_updatedAt"] = self.now()

    def assign_role(self: "State", user: dict[str, Any], role: dict[str, Any], scope: str | None) -> None:
        """`addUserRoles` plus the `roles-change` broadcast, with no permission checks: the callers
        (method `authorization:addUserToRole`, REST `roles.addUserToRole`) check differently upstream."""
        with self.lock:
            self._add_role(user, role, scope)
            self._broadcast_role_change("added", role["_id"], user, scope)

    def unassign_role(self: "State", user: dict[str, Any], role: dict[str, Any], scope: str | None) -> None:
        """`removeUserFromRoles` plus the `roles-change` broadcast, with no permission checks: the
        method and REST `roles.removeUserFromRole` each check their own way first."""
        with self.lock:
            self._remove_role(user, role, scope)
            self._broadcast_role_change("removed", role["_id"], user, scope)

    def add_user_to_role(self: "State", actor_id: str, role_id: str, username: str, scope: str | None = None) -> bool:
        """Method `authorization:addUserToRole`; broadcasts roles-change (UI_DisplayRoles)."""
        with self.lock:
            method = "authorization:addUserToRole"
            if not self.has_permission(actor_id, "access-permissions"):
                raise MeteorError("error-action-not-allowed", "Accessing permissions is not allowed", {"method": method, "action": "Accessing_permissions"})
            if not role_id or not isinstance(role_id, str) or not username or not isinstance(username, str):
                raise MeteorError("error-invalid-arguments", "Invalid arguments", {"method": method})
            role = self.role_doc(role_id, allow_name=self.compat == 6)
            if not role:
                raise MeteorError("error-invalid-role", "Invalid Role", {"method": method})
            if role["_id"] == "admin" and not self.has_permission(actor_id, "assign-admin-role"):
                raise MeteorError("error-action-not-allowed", "Assigning admin is not allowed", {"method": method, "action": "Assign_admin"})
            user = self.user_doc_by_username_ci(username)
            if not user:
                raise MeteorError("error-user-not-found", "User not found", {"method": method})
            if scope and role["scope"] == "Subscriptions" and not self.subscription_doc(scope, user["_id"]):
                raise MeteorError("error-invalid-user", "User is not part of given room", {"method": method})
            self.assign_role(user, role, scope)
            return True

    def remove_user_from_role(self: "State", actor_id: str, role_id: str, username: str, scope: str | None = None) -> bool:
        """Method `authorization:removeUserFromRole`; refuses removing the last admin."""
        with self.lock:
            method = "authorization:removeUserFromRole"
            if not self.has_permission(actor_id, "access-permissions"):
                raise MeteorError("error-action-not-allowed", "Access permissions is not allowed", {"method": method, "action": "Accessing_permissions"})
            if not role_id or not isinstance(role_id, str) or not username or not isinstance(username, str):
                raise MeteorError("error-invalid-arguments", "Invalid arguments", {"method": method})
            role = self.role_doc(role_id, allow_name=self.compat == 6)
            if not role:
                raise MeteorError("error-invalid-role", "Invalid Role", {"method": method})
            user = self.user_doc_by_username_ci(username)
            if not user:
                raise MeteorError("error-invalid-user", "Invalid user", {"method": method})
            if role["_id"] == "admin":
                admins = sum(1 for u in self.users.values() if "admin" in u.get("roles", []))
                if admins == 1 and "admin" in user.get("roles", []):
                    raise MeteorError("error-action-not-allowed", "Leaving the app without admins is not allowed", {"method": method, "action": "Remove_last_admin"})
            self.unassign_role(user, role, scope)
            return True

    def users_in_role(self: "State", role_id: str, scope: str | None = None) -> list[dict[str, Any]]:
        """Users holding a role (room-scoped when `scope` is a room id), sorted by username."""
        with self.lock:
            role = self.roles.get(role_id)
            if not role:
                return []
            if role["scope"] == "Subscriptions" and scope:
                ids = [s["u"]["_id"] for s in self.room_subscription_docs(scope) if role_id in s.get("roles", [])]
                users = [self.users[i] for i in ids if i in self.users]
            else:
                users = [u for u in self.users.values() if role_id in u.get("roles", [])]
            return copy.deepcopy(sorted(users, key=lambda u: u.get("username") or ""))

    def users_in_role_page(self: "State", role_id: str, scope: str | None, offset: int, count: int) -> tuple[list[dict[str, Any]], int]:
        """One page of `users_in_role` and the total: a global role walks the username index (no sort,
        copies only the page), so paging 100k holders is not a sort and a deep copy per request."""
        with self.lock:
            role = self.roles.get(role_id)
            if role and role["scope"] == "Subscriptions" and scope:
                holders = self.users_in_role(role_id, scope)
                return (holders[offset:] if count == 0 else holders[offset : offset + count]), len(holders)
            if not role:
                return [], 0
            ids = [i for i in self.listing.users if role_id in self.users[i].get("roles", ())]
            chosen = ids[offset:] if count == 0 else ids[offset : offset + count]
            return copy.deepcopy([self.users[i] for i in chosen]), len(ids)

    def create_role(self: "State", name: str, scope: str = "Users", description: str = "", mandatory2fa: bool | None = None) -> dict[str, Any]:
        """Insert a custom role (random 17-char id) and broadcast it on stream-roles."""
        with self.lock:
            if any(r["name"] == name or r["_id"] == name for r in self.roles.values()):
                raise MeteorError("error-duplicate-role-names-not-allowed", "Role name already exists")
            role: dict[str, Any] = {
                "_id": self._new_id(self.roles),
                "name": name,
                "scope": scope or "Users",
                "description": description or "",
                "protected": False,
                "mandatory2fa": bool(mandatory2fa) if mandatory2fa is not None else False,
                "_updatedAt": self.now(),
            }
            self.roles[role["_id"]] = role
            self.publish("stream-roles", "roles", [{"type": "changed", **role}])
            return copy.deepcopy(role)

    def update_role(self: "State", role_id: str, name: str | None, scope: str | None, description: str,
                    mandatory2fa: bool | None) -> dict[str, Any]:
        """`updateRole` (ee/server/lib/roles/updateRole.ts): a protected role keeps its name and scope;
        names stay unique; `Roles.updateById` writes name, scope, description and mandatory2fa (default
        false); broadcasts `user.roleUpdate` (stream-roles) while `UI_DisplayRoles`."""
        with self.lock:
            role = self.roles.get(role_id)
            if not role:
                raise MeteorError("error-invalid-roleId", "This role does not exist")
            if role.get("protected") and ((name and name != role["name"]) or (scope and scope != role["scope"])):
                raise MeteorError("error-role-protected", "Role is protected")
            if name:
                other = next((r for r in self.roles.values() if r["name"] == name), None)
                if other and other["_id"] != role_id:
                    raise MeteorError("error-duplicate-role-names-not-allowed", "Role name already exists")
            if scope and scope not in ("Users", "Subscriptions"):
                raise MeteorError("error-invalid-scope", "Invalid scope")
            role.update({"name": name or role["name"], "scope": scope or role["scope"],
                         "description": description or "", "mandatory2fa": bool(mandatory2fa),
                         "_updatedAt": self.now()})
            if self.settings.get("UI_DisplayRoles"):
                self.publish("stream-roles", "roles", [{"type": "changed", **role}])
            return copy.deepcopy(role)

    def delete_role(self: "State", role_id: str) -> None:
        """`roles.delete` rules: unknown, protected or in-use roles are refused."""
        with self.lock:
            role = self.roles.get(role_id)
            if not role:
                raise MeteorError("error-invalid-roleId", "This role does not exist")
            if role.get("protected"):
                raise MeteorError("error-role-protected", "Cannot delete a protected role")
            in_use = any(role_id in u.get("roles", []) for u in self.users.values()) or any(
                role_id in s.get("roles", []) for s in self.subscriptions.values()
            )
            if in_use:
                raise MeteorError("error-role-in-use", "Cannot delete role because it's in use")
            del self.roles[role_id]
            self.deleted_roles.append({**role, "_deletedAt": self.now()})
            self.publish("stream-roles", "roles", [{"type": "removed", "_id": role_id, "name": role["name"]}])
