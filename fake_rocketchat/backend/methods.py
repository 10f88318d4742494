"""Server methods shared by DDP (`/websocket`) and REST `method.call/:method`.

`METHODS` maps a Meteor method name to `handler(state, caller, params) -> result`;
handlers raise `MeteorError`. They follow the upstream method files (§7.4 of
the reference): `app/lib/server/methods/{insertOrUpdateUser,addUsersToRoom,
createChannel,createPrivateGroup}.ts`, `server/methods/{setUserActiveStatus,
deleteUser,removeUserFromRoom,addRoomModerator,...,saveRoomSettings}.ts`,
`app/authorization/server/methods/*UserToRole.ts`, `app/2fa/server/methods/*.ts`,
`imports/personal-access-tokens/server/api/methods/*.ts`,
`app/lib/server/methods/saveSetting(s).ts`. Methods marked 2FA are wrapped like
`app/2fa/server/twoFactorRequired.ts`: an optional last param
`{twoFactorCode, twoFactorMethod}` is popped, else the caller's x-2fa-* headers.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pyotp

from .errors import MeteorError
from .ids import hash_login_token
from .twofactor import check_code_for_user, verify_totp
from .views import room as room_view

if TYPE_CHECKING:
    from .state import State


@dataclass(frozen=True)
class Caller:
    """Who calls a method: user, plain login token, and where from (never printed)."""

    user_id: str | None
    token: str | None = None
    user_agent: str | None = None
    client_ip: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Caller(user_id={self.user_id!r})"


Method = Callable[["State", Caller, list[Any]], Any]
METHODS: dict[str, Method] = {}


def lookup(name: str) -> Method | None:
    return METHODS.get(name)


def method(name: str, *, two_factor: bool = False, disable_remember_me: bool = False) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        if not two_factor:
            METHODS[name] = fn
            return fn

        def wrapped(state: "State", caller: Caller, params: list[Any]) -> Any:
            if not caller.user_id:  # app/2fa/server/twoFactorRequired.ts checks the login first
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "twoFactorRequired"})
            params = list(params)
            code = method_name = None
            if params and isinstance(params[-1], dict) and params[-1].get("twoFactorCode") and params[-1].get("twoFactorMethod"):
                extra = params.pop()
                code, method_name = extra["twoFactorCode"], extra["twoFactorMethod"]
            headers = {k.lower(): v for k, v in caller.headers.items()}
            check_code_for_user(
                state,
                caller.user_id,
                token=caller.token,
                code=code or headers.get("x-2fa-code"),
                method=method_name or headers.get("x-2fa-method"),
                user_agent=caller.user_agent,
                client_ip=caller.client_ip,
                disable_remember_me=disable_remember_me,
            )
            return fn(state, caller, params)

        METHODS[name] = wrapped
        return fn

    return register


def _arg(params: list[Any], index: int, default: Any = None) -> Any:
    return params[index] if len(params) > index else default


def _logged_in(caller: Caller, name: str) -> str:
    if not caller.user_id:
        raise MeteorError("error-invalid-user", "Invalid user", {"method": name})
    return caller.user_id


def _match(condition: bool) -> None:
    if not condition:
        raise MeteorError(400, "Match failed")


# ------------------------------------------------------------------------------ users
@method("insertOrUpdateUser", two_factor=True)
def insert_or_update_user(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0)
    _match(isinstance(data, dict))
    actor = _logged_in(caller, "insertOrUpdateUser")
    data = dict(data)
    if data.get("_id"):
        uid = data.pop("_id")
        with state.lock:
            if uid not in state.users:
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "insertOrUpdateUser"})
            state.update_user(actor, uid, data)
        return True
    return state.insert_user(actor, data)


@method("setUserActiveStatus")
def set_user_active_status(state: "State", caller: Caller, params: list[Any]) -> Any:
    user_id, active = _arg(params, 0), _arg(params, 1)
    _match(isinstance(user_id, str) and isinstance(active, bool))
    _logged_in(caller, "setUserActiveStatus")
    state.set_user_active_status(caller.user_id, user_id, active, bool(_arg(params, 2, False)))
    return True


@method("deleteUser")
def delete_user(state: "State", caller: Caller, params: list[Any]) -> Any:
    user_id = _arg(params, 0)
    _match(isinstance(user_id, str))
    _logged_in(caller, "deleteUser")
    return state.delete_user(caller.user_id, user_id, bool(_arg(params, 1, False)))


# ------------------------------------------------------------------------------ roles
@method("authorization:addUserToRole")
def add_user_to_role(state: "State", caller: Caller, params: list[Any]) -> Any:
    return state.add_user_to_role(caller.user_id, _arg(params, 0), _arg(params, 1), _arg(params, 2))  # type: ignore[arg-type]


@method("authorization:removeUserFromRole")
def remove_user_from_role(state: "State", caller: Caller, params: list[Any]) -> Any:
    return state.remove_user_from_role(caller.user_id, _arg(params, 0), _arg(params, 1), _arg(params, 2))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ rooms
def _create(room_type: str, name_: str) -> Method:
    def create(state: "State", caller: Caller, params: list[Any]) -> Any:
        name, members = _arg(params, 0), _arg(params, 1, [])
        _match(isinstance(name, str) and isinstance(members, list))
        actor = _logged_in(caller, name_)
        extra = _arg(params, 4) or {}
        room = state.create_room_by(actor, name, room_type, members, read_only=bool(_arg(params, 2, False)), extra_data=extra)
        return {"rid": room["_id"], **room_view(room)}

    return create


METHODS["createChannel"] = _create("c", "createChannel")
METHODS["createPrivateGroup"] = _create("p", "createPrivateGroup")


@method("addUsersToRoom")
def add_users_to_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0)
    _match(isinstance(data, dict) and isinstance(data.get("rid"), str) and isinstance(data.get("users"), list))
    actor = _logged_in(caller, "addUsersToRoom")
    return state.add_users_to_room(actor, data["rid"], data["users"])


@method("removeUserFromRoom")
def remove_user_from_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0)
    _match(isinstance(data, dict) and isinstance(data.get("rid"), str) and isinstance(data.get("username"), str))
    actor = _logged_in(caller, "removeUserFromRoom")
    return state.remove_user_from_room(actor, data["rid"], data["username"])


@method("leaveRoom")
def leave_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid = _arg(params, 0)
    _match(isinstance(rid, str))
    return state.leave_room(_logged_in(caller, "leaveRoom"), rid)


def _room_role(role: str, add: bool, name_: str) -> Method:
    def handler(state: "State", caller: Caller, params: list[Any]) -> Any:
        rid, uid = _arg(params, 0), _arg(params, 1)
        _match(isinstance(rid, str) and isinstance(uid, str))
        actor = _logged_in(caller, name_)
        return state.set_room_role_by(actor, rid, uid, role, add)

    return handler


for _role, _label in (("moderator", "Moderator"), ("owner", "Owner"), ("leader", "Leader")):
    METHODS[f"addRoom{_label}"] = _room_role(_role, True, f"addRoom{_label}")
    METHODS[f"removeRoom{_label}"] = _room_role(_role, False, f"removeRoom{_label}")


@method("saveRoomSettings")
def save_room_settings(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid = _arg(params, 0)
    actor = _logged_in(caller, "saveRoomSettings")
    settings = _arg(params, 1)
    if isinstance(settings, str):
        settings = {settings: _arg(params, 2)}
    _match(isinstance(rid, str) and isinstance(settings, dict))
    return state.save_room_settings(actor, rid, settings)


@method("archiveRoom")
def archive_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid = _arg(params, 0)
    _match(isinstance(rid, str))
    state.archive_room(_logged_in(caller, "archiveRoom"), rid)
    return None


@method("unarchiveRoom")
def unarchive_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid = _arg(params, 0)
    _match(isinstance(rid, str))
    state.unarchive_room(_logged_in(caller, "unarchiveRoom"), rid)
    return None


@method("eraseRoom")
def erase_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid = _arg(params, 0)
    _match(isinstance(rid, str))
    state.erase_room(_logged_in(caller, "eraseRoom"), rid)
    return True


@method("addAllUserToRoom")
def add_all_user_to_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid, active_only = _arg(params, 0), _arg(params, 1, False)
    if not caller.user_id:
        raise MeteorError(403, "Access to Method Forbidden", {"method": "addAllToRoom"})
    _match(isinstance(rid, str) and isinstance(active_only, bool))
    return state.add_all_users_to_room(caller.user_id, rid, active_only)


@method("joinRoom")
def join_room(state: "State", caller: Caller, params: list[Any]) -> Any:
    rid, code = _arg(params, 0), _arg(params, 1)
    _match(isinstance(rid, str))
    state.join_room(_logged_in(caller, "joinRoom"), rid, code)
    return True


# ------------------------------------------------------------------------------ settings
@method("saveSetting", two_factor=True)
def save_setting(state: "State", caller: Caller, params: list[Any]) -> Any:
    setting_id, value = _arg(params, 0), _arg(params, 1)
    _match(isinstance(setting_id, str))
    with state.lock:
        if not state.has_permission(caller.user_id, "edit-privileged-setting"):
            raise MeteorError("error-action-not-allowed", "Editing settings is not allowed", {"method": "saveSetting"})
        if not state.settings.visible(setting_id):  # unknown or hidden
            raise MeteorError("error-setting-not-found", "Setting not found", {"method": "saveSetting"})
        state.set_setting(setting_id, value)
    return True


@method("saveSettings", two_factor=True)
def save_settings(state: "State", caller: Caller, params: list[Any]) -> Any:
    changes = _arg(params, 0)
    _match(isinstance(changes, list))
    for change in changes:
        save_setting(state, caller, [change.get("_id"), change.get("value")])
    return True


# ------------------------------------------------------------------------------ personal access tokens
@method("personalAccessTokens:generateToken", two_factor=True)
def pat_generate(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0) or {}
    _match(isinstance(data, dict) and isinstance(data.get("tokenName"), str))
    return state.generate_personal_access_token(caller.user_id, data["tokenName"], bool(data.get("bypassTwoFactor")))  # type: ignore[arg-type]


@method("personalAccessTokens:regenerateToken", two_factor=True)
def pat_regenerate(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0) or {}
    _match(isinstance(data, dict) and isinstance(data.get("tokenName"), str))
    return state.regenerate_personal_access_token(caller.user_id, data["tokenName"])  # type: ignore[arg-type]


@method("personalAccessTokens:removeToken", two_factor=True)
def pat_remove(state: "State", caller: Caller, params: list[Any]) -> Any:
    data = _arg(params, 0) or {}
    _match(isinstance(data, dict) and isinstance(data.get("tokenName"), str))
    state.remove_personal_access_token(caller.user_id, data["tokenName"])  # type: ignore[arg-type]
    return None


# ------------------------------------------------------------------------------ TOTP enrolment
def _backup_codes() -> tuple[list[str], list[str]]:
    codes = [secrets.token_hex(4) for _ in range(12)]
    return codes, [hashlib.sha256(c.encode()).hexdigest() for c in codes]


@method("2fa:enable")
def totp_enable(state: "State", caller: Caller, params: list[Any]) -> Any:
    if not caller.user_id:
        raise MeteorError("not-authorized")
    with state.lock:
        user = state.users.get(caller.user_id)
        if not user or not user.get("username"):
            raise MeteorError("error-invalid-user", "Invalid user", {"method": "2fa:enable"})
        if any(not e.get("verified") for e in user.get("emails", [])):
            raise MeteorError("error-invalid-user", "You need to verify your emails before setting up 2FA", {"method": "2fa:enable"})
        if (user["services"].get("totp") or {}).get("enabled"):
            raise MeteorError("error-2fa-already-enabled")
        secret = pyotp.random_base32()
        user["services"]["totp"] = {"enabled": False, "tempSecret": secret}
        url = pyotp.TOTP(secret).provisioning_uri(name=user["username"], issuer_name="Rocket.Chat")
        return {"secret": secret, "url": url}


@method("2fa:validateTempToken")
def totp_validate_temp(state: "State", caller: Caller, params: list[Any]) -> Any:
    code = _arg(params, 0)
    _match(isinstance(code, str))
    if not caller.user_id:
        raise MeteorError("not-authorized")
    with state.lock:
        user = state.users[caller.user_id]
        temp = (user["services"].get("totp") or {}).get("tempSecret")
        if not temp:
            raise MeteorError("invalid-totp")
        delta = int(state.settings.get("Accounts_TwoFactorAuthentication_MaxDelta") or 0)
        if not pyotp.TOTP(temp).verify(code, for_time=state.clock.time(), valid_window=max(0, delta)):
            raise MeteorError("invalid-totp")
        codes, hashed = _backup_codes()
        user["services"]["totp"] = {"enabled": True, "secret": temp, "hashedBackup": hashed}
        keep = hash_login_token(caller.token) if caller.token else None
        user["services"]["resume"]["loginTokens"] = [
            t for t in user["services"]["resume"]["loginTokens"]
            if t.get("type") == "personalAccessToken" or t.get("hashedToken") == keep
        ]
        return {"codes": codes}


@method("2fa:disable")
def totp_disable(state: "State", caller: Caller, params: list[Any]) -> Any:
    code = _arg(params, 0)
    _match(isinstance(code, str))
    if not caller.user_id:
        raise MeteorError("not-authorized")
    with state.lock:
        user = state.users[caller.user_id]
        if not verify_totp(state, user, code):
            return False
        user["services"].pop("totp", None)
        return True


@method("2fa:regenerateCodes")
def totp_regenerate(state: "State", caller: Caller, params: list[Any]) -> Any:
    code = _arg(params, 0)
    _match(isinstance(code, str))
    with state.lock:
        user = state.users.get(caller.user_id or "")
        if not user or not (user["services"].get("totp") or {}).get("enabled"):
            raise MeteorError("invalid-totp")
        if not verify_totp(state, user, code):
            raise MeteorError("invalid-totp")
        codes, hashed = _backup_codes()
        user["services"]["totp"]["hashedBackup"] = hashed
        return {"codes": codes}


@method("2fa:checkCodesRemaining")
def totp_codes_remaining(state: "State", caller: Caller, params: list[Any]) -> Any:
    with state.lock:
        user = state.users.get(caller.user_id or "")
        if not user or not (user["services"].get("totp") or {}).get("enabled"):
            raise MeteorError("invalid-totp")
        return {"remaining": len(user["services"]["totp"].get("hashedBackup", []))}
