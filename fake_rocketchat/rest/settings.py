"""`GET/POST settings/:_id`, `permissions.listAll`, `permissions.update`
(`app/api/server/v1/{settings,permissions}.ts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..backend.errors import MeteorError, failure
from .base import Ctx, Routes, forbidden


def get_setting(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-privileged-setting"):
        raise forbidden()
    setting_id = ctx.path_params["_id"]
    if setting_id not in ctx.state.settings:
        raise _bare_failure()
    return {"_id": setting_id, "value": ctx.state.settings.get(setting_id)}


def _bare_failure() -> Exception:
    """`API.v1.failure()` with no argument: `{"success":false}`."""
    from ..backend.errors import RestFailure

    return RestFailure(400, {"success": False})


def post_setting(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("edit-privileged-setting"):
        raise forbidden()
    setting_id = ctx.path_params["_id"]
    state = ctx.state
    if setting_id not in state.settings:
        raise _bare_failure()
    if "value" not in ctx.body:
        raise MeteorError("error-invalid-params", "Invalid params")
    value = ctx.body["value"]
    if not state.settings.accepts(setting_id, value):
        raise failure(f"Invalid value for setting {setting_id}", "error-invalid-setting-value")
    state.set_setting(setting_id, value)
    return {}


def _permission_docs(ctx: Ctx) -> list[dict[str, Any]]:
    return [dict(p, roles=list(p["roles"])) for p in ctx.state.permissions.values()]


def list_all(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.query.get("updatedSince")
    docs = _permission_docs(ctx)
    if raw:
        try:
            since = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if since.tzinfo is None:
                raise ValueError
        except ValueError:
            raise MeteorError("error-updatedSince-param-invalid", 'The "updatedSince" query parameter must be a valid date.')
        docs = [d for d in docs if d["_updatedAt"] > since]
    return {"update": docs, "remove": []}


def update(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("access-permissions"):
        raise failure("Editing permissions is not allowed", "error-edit-permissions-not-allowed")
    perms = ctx.body.get("permissions")
    valid = isinstance(perms, list) and all(
        isinstance(p, dict) and isinstance(p.get("_id"), str) and isinstance(p.get("roles"), list)
        and all(isinstance(r, str) for r in p["roles"]) and set(p) <= {"_id", "roles"}
        for p in perms
    ) and set(ctx.body) <= {"permissions"}
    if not valid:
        raise failure("Invalid body params", "error-invalid-body-params")
    state = ctx.state
    if any(p["_id"] not in state.permissions for p in perms):
        raise failure("Invalid permission", "error-invalid-permission")
    if any(r not in state.roles for p in perms for r in p["roles"]):
        raise failure("Invalid role", "error-invalid-role")
    for p in perms:
        state.permissions[p["_id"]]["roles"] = list(dict.fromkeys(p["roles"]))
        state.permissions[p["_id"]]["_updatedAt"] = state.now()
    return {"permissions": _permission_docs(ctx)}


def register_routes(routes: Routes) -> None:
    routes.add("settings/:_id", ["GET"], get_setting)
    routes.add("settings/:_id", ["POST"], post_setting, two_factor=True)
    routes.add("permissions.listAll", ["GET"], list_all)
    routes.add("permissions.update", ["POST"], update)
