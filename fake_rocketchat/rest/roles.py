"""`roles.*` routes (`app/api/server/v1/roles.ts`, `ee/server/api/roles.ts`, reference §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..backend.errors import MeteorError, failure
from ..backend.views import role as role_view
from .base import Ctx, Routes, paginate, permission_denied
from .users import get_user_from_params
from .validate import check


def _props(ctx: Ctx, required: dict[str, str], optional: dict[str, str]) -> None:
    check(ctx.body, required, optional, error="error-invalid-role-properties")


def list_roles(ctx: Ctx) -> dict[str, Any]:
    return {"roles": [role_view(r, with_updated=False) for r in ctx.state.roles.values()]}


def sync(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.query.get("updatedSince")
    try:
        since = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if since.tzinfo is None:
            raise ValueError
    except ValueError:
        raise MeteorError("error-updatedSince-param-invalid", 'The "updatedSince" query parameter must be a valid date.')
    state = ctx.state
    return {"roles": {"update": [role_view(r) for r in state.roles.values() if r["_updatedAt"] > since],
                      "remove": [dict(r) for r in state.deleted_roles if r["_deletedAt"] > since]}}


def create(ctx: Ctx) -> dict[str, Any]:
    _props(ctx, {"name": "string"}, {"description": "string", "scope": "string", "mandatory2fa": "boolean"})
    state = ctx.state
    if not state.custom_roles_licensed:
        raise MeteorError("error-action-not-allowed", "This is an enterprise feature")
    if not ctx.can("access-permissions"):
        raise MeteorError("error-action-not-allowed", "Accessing permissions is not allowed")
    scope = ctx.body.get("scope", "Users")
    if scope not in ("Users", "Subscriptions"):
        raise MeteorError("error-invalid-role-properties", "The role properties are invalid.")
    return {"role": role_view(state.create_role(ctx.body["name"], scope, ctx.body.get("description", ""), ctx.body.get("mandatory2fa")))}


def update(ctx: Ctx) -> dict[str, Any]:
    """`roles.update` (ee/server/api/roles.ts): schema, access-permissions, licence only for unprotected roles."""
    body = ctx.body
    try:
        nullable = ("description", "scope", "mandatory2fa")
        check({k: v for k, v in body.items() if not (k in nullable and v is None)}, {"roleId": "string", "name": "string"},
              {"description": "string", "scope": "string", "mandatory2fa": "boolean"})
        if body.get("scope") is not None and body["scope"] not in ("Users", "Subscriptions"):
            raise MeteorError("enum")
    except MeteorError:
        raise MeteorError("error-invalid-role-properties", "The role properties are invalid.")
    if not ctx.can("access-permissions"):
        raise MeteorError("error-action-not-allowed", "Accessing permissions is not allowed")
    state = ctx.state
    role = state.role_doc(body["roleId"], allow_name=False)
    if not state.custom_roles_licensed and not (role and role.get("protected")):
        raise MeteorError("error-action-not-allowed", "This is an enterprise feature")
    updated = state.update_role(body["roleId"], body["name"], body.get("scope"), body.get("description") or "",
                                body.get("mandatory2fa"))
    return {"role": role_view(updated)}


def delete(ctx: Ctx) -> dict[str, Any]:
    _props(ctx, {"roleId": "string"}, {})
    if not ctx.can("access-permissions"):
        if ctx.compat >= 7:
            raise permission_denied()
        raise MeteorError("error-action-not-allowed", "Accessing permissions is not allowed")
    ctx.state.delete_role(ctx.body["roleId"])
    return {}


def _resolve_role(ctx: Ctx) -> dict[str, Any] | None:
    body = ctx.body
    state = ctx.state
    if body.get("roleId"):
        return state.roles.get(body["roleId"])
    return state.role_doc(body.get("roleName"))


def add_user_to_role(ctx: Ctx) -> dict[str, Any]:
    # rest-typings up to 7.13.x still allow roleName in the schema; 7.x's handler then
    # insists on roleId (reference §9.4). Only 8.0's schema drops roleName.
    _props(ctx, {"username": "string"}, {"roleId": "string", "roomId": "string", "roleName": "string"})
    user = get_user_from_params(ctx)
    body = ctx.body
    if not body.get("roleId") and (ctx.compat >= 7 or not body.get("roleName")):
        raise failure("error-invalid-role-properties")
    role = _resolve_role(ctx)
    if not role:
        raise failure("error-role-not-found", "Role not found")
    state = ctx.state
    if state.user_has_role(user["_id"], role["_id"], body.get("roomId")):
        raise MeteorError("error-user-already-in-role", "User already in role")
    state.add_user_to_role(ctx.user_id, role["_id"], user["username"], body.get("roomId"))
    return {"role": role_view(role)}


def remove_user_from_role(ctx: Ctx) -> dict[str, Any]:
    _props(ctx, {"username": "string"}, {"roleId": "string", "scope": "string", "roomId": "string", "roleName": "string"})
    body = ctx.body
    if not body.get("roleId") and (ctx.compat >= 7 or not body.get("roleName")):
        raise failure("error-invalid-role-properties")
    state = ctx.state
    user = state.user_doc_by_username(body["username"])
    if not user:
        raise MeteorError("error-invalid-user", "There is no user with this username")
    role = _resolve_role(ctx)
    if not role:
        raise MeteorError("error-invalid-roleId", "This role does not exist")
    if not ctx.can("access-permissions"):
        raise MeteorError("error-not-allowed", "Accessing permissions is not allowed")
    scope = body.get("scope")  # roomId is accepted by the schema but ignored upstream
    if not state.user_has_role(user["_id"], role["_id"], scope):
        raise MeteorError("error-user-not-in-role", "User is not in this role")
    if role["_id"] == "admin" and len(state.users_in_role("admin")) == 1:
        raise MeteorError("error-admin-required", "You need to have at least one admin")
    state.unassign_role(user, role, scope)
    return {"role": role_view(role)}


def users_in_role(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    role_param = q.get("role")
    if ctx.compat >= 7 and not ctx.can("access-permissions"):
        raise permission_denied()
    if not role_param:
        raise MeteorError("error-param-not-provided", 'Query param "role" is required')
    if not ctx.can("access-permissions"):
        raise MeteorError("error-not-allowed", "Not allowed")
    if q.get("roomId") and not ctx.can("view-other-user-channels"):
        raise MeteorError("error-not-allowed", "Not allowed")
    state = ctx.state
    role = state.role_doc(role_param, allow_name=ctx.compat == 6)
    if not role:
        raise MeteorError("error-invalid-roleId", "This role does not exist")
    offset, count = paginate(ctx)
    users, total = state.users_in_role_page(role["_id"], q.get("roomId"), offset, count)
    fields = ("_id", "name", "username", "emails", "avatarETag", "createdAt", "_updatedAt")
    items = [{k: u[k] for k in fields if k in u} for u in users]
    return {"users": items, "total": total}


def register_routes(routes: Routes) -> None:
    routes.add("roles.list", ["GET"], list_roles)
    routes.add("roles.sync", ["GET"], sync)
    routes.add("roles.create", ["POST"], create)
    routes.add("roles.update", ["POST"], update)
    routes.add("roles.delete", ["POST"], delete)
    routes.add("roles.addUserToRole", ["POST"], add_user_to_role)
    routes.add("roles.removeUserFromRole", ["POST"], remove_user_from_role)
    routes.add("roles.getUsersInRole", ["GET"], users_in_role)
