"""Settings and permissions over REST (`app/api/server/v1/{settings,permissions}.ts`, reference §11.3).

7.x (`--compat 7`, the copy of settings.ts read for §11.3):
* `settings/:_id`: route `permissionsRequired` GET `view-privileged-setting`, POST `edit-privileged-setting`
  (403 "User does not have the permissions required ..."); 6.14 checked inside the handler (403 "unauthorized").
  GET of an unknown or hidden id, and a POST body that fits none of the shapes, answer the bare
  `{"success": false}` (`API.v1.failure()`). POST needs 2FA; an action setting runs with `{"execute": true}`,
  a colour takes `{"value", "editor"}`, anything with a `value` key is stored as is (no type check).
* `settings` (auth, `isSettingsGetParams`): non-hidden settings, public ones only without
  `view-privileged-setting`, paged, sorted by `_id`, `includeDefaults` adds `packageValue`.
* `settings.public` (no auth, `isSettingsPublicWithPaginationProps`): public non-hidden settings, `_id=a,b`.
* `settings.addCustomOAuth` (auth + 2FA, `addOAuthService` needs `add-oauth-service`).
* `settings.oauth` (no auth): the enabled login services, custom ones whole minus `secret`.
* `permissions.listAll` (`updatedSince` → changes and removals since), `permissions.update`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..backend.errors import MeteorError, RestFailure, failure
from .base import Ctx, Routes, forbidden, page, paginate, parse_sort, permission_denied, sort_docs
from .validate import check


def _bare_failure() -> RestFailure:
    """`API.v1.failure()` with no argument: `{"success":false}`."""
    return RestFailure(400, {"success": False})


def _query_keys(ctx: Ctx, allowed: tuple[str, ...]) -> None:
    """The legacy `validateParams` on a query string (ajv with `coerceTypes`): unknown keys fail. 7.x only:
    6.14's settings.ts has no schema for these routes (rest-typings 6.13.1 exports none)."""
    if ctx.compat >= 7:
        check(ctx.query, {}, {k: "any" for k in allowed})


# ---------------------------------------------------------------------------- settings/:_id
def get_setting(ctx: Ctx) -> dict[str, Any]:
    if ctx.compat < 7 and not ctx.can("view-privileged-setting"):
        raise forbidden()
    setting_id = ctx.path_params["_id"]
    if not ctx.state.settings.visible(setting_id):
        raise _bare_failure()
    return {"_id": setting_id, "value": ctx.state.settings.get(setting_id)}


def post_setting(ctx: Ctx) -> dict[str, Any]:
    if ctx.compat < 7 and not ctx.can("edit-privileged-setting"):
        raise forbidden()
    setting_id = ctx.path_params["_id"]
    state = ctx.state
    if not state.settings.visible(setting_id):
        raise _bare_failure()
    kind = state.settings.type_of(setting_id)
    body = ctx.body
    if kind == "action" and "execute" in body and body["execute"]:
        # `Meteor.callAsync(setting.value)`: the stand-in has no server method behind an action setting
        # (e.g. `restart_server`), so running it is a no-op success.
        return {}
    if kind == "color" and "editor" in body and "value" in body:
        state.set_setting(setting_id, body["value"])
        state.settings.set_option(setting_id, "editor", body["editor"])
        return {}
    if "value" in body:
        state.set_setting(setting_id, body["value"])
        return {}
    raise _bare_failure()


# ---------------------------------------------------------------------------- listings
def _settings_page(ctx: Ctx, ids: list[str], include_defaults: bool) -> dict[str, Any]:
    offset, count = paginate(ctx)
    docs = [ctx.state.settings.document(i, include_default=include_defaults) for i in ids]
    sort = parse_sort(ctx, {"_id": 1})
    docs = sort_docs(docs, sort, ci_fields=())
    chosen = page(docs, offset, count)
    return {"settings": chosen, "count": len(chosen), "offset": offset, "total": len(docs)}


def list_settings(ctx: Ctx) -> dict[str, Any]:
    _query_keys(ctx, ("includeDefaults", "count", "offset", "sort", "fields", "query"))
    public_only = not ctx.can("view-privileged-setting")
    include_defaults = str(ctx.query.get("includeDefaults", "")).lower() in ("true", "1")
    return _settings_page(ctx, ctx.state.settings.listing(public_only=public_only), include_defaults)


def public_settings(ctx: Ctx) -> dict[str, Any]:
    _query_keys(ctx, ("count", "offset", "sort", "_id", "query"))
    raw = ctx.query.get("_id")
    ids = [i.strip() for i in raw.split(",")] if isinstance(raw, str) and raw else None
    return _settings_page(ctx, ctx.state.settings.listing(public_only=True, ids=ids), False)


# ---------------------------------------------------------------------------- OAuth services
def add_custom_oauth(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MeteorError("error-name-param-not-provided", 'The parameter "name" is required')
    ctx.state.add_oauth_service_by(ctx.user_id, name)  # type: ignore[arg-type]
    return {}


def oauth_services(ctx: Ctx) -> dict[str, Any]:
    return {"services": ctx.state.login_service_configurations()}


# ---------------------------------------------------------------------------- permissions
def _parse_since(raw: Any) -> datetime:
    try:
        since = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if since.tzinfo is None:
            raise ValueError
        return since
    except ValueError:
        raise MeteorError("error-roomId-param-invalid", 'The "updatedSince" query parameter must be a valid date.')


def list_all(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.query.get("updatedSince")
    state = ctx.state
    if raw:
        since = _parse_since(raw)
        update, remove = state.permissions_changed_since(since)
        return {"update": update, "remove": remove}
    return {"update": state.permission_list(), "remove": []}


def update(ctx: Ctx) -> dict[str, Any]:
    if ctx.compat < 7 and not ctx.can("access-permissions"):
        raise failure("Editing permissions is not allowed", "error-edit-permissions-not-allowed")
    perms = ctx.body.get("permissions")
    valid = isinstance(perms, list) and all(
        isinstance(p, dict) and isinstance(p.get("_id"), str) and isinstance(p.get("roles"), list)
        and all(isinstance(r, str) for r in p["roles"]) and set(p) <= {"_id", "roles"}
        for p in perms
    ) and set(ctx.body) <= {"permissions"}
    if not valid:
        raise failure("Invalid body params", "error-invalid-body-params")
    return {"permissions": ctx.state.update_permissions([(p["_id"], p["roles"]) for p in perms])}


def register_routes(routes: Routes) -> None:
    routes.add("settings/:_id", ["GET"], get_setting,
               permissions_required=("view-privileged-setting",), permissions_required_compat=7)
    routes.add("settings/:_id", ["POST"], post_setting, two_factor=True,
               permissions_required=("edit-privileged-setting",), permissions_required_compat=7)
    routes.add("settings", ["GET"], list_settings)
    routes.add("settings.public", ["GET"], public_settings, auth=False)
    routes.add("settings.oauth", ["GET"], oauth_services, auth=False)
    routes.add("settings.addCustomOAuth", ["POST"], add_custom_oauth, two_factor=True)
    routes.add("permissions.listAll", ["GET"], list_all)
    routes.add("permissions.update", ["POST"], update,
               permissions_required=("access-permissions",), permissions_required_compat=7)
