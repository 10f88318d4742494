"""Rocket.Chat's default permission grants (who holds what on a fresh server).

Data from `apps/meteor/app/authorization/server/constant/permissions.ts`
(livechat/omnichannel permissions left out). Note the traps a provisioning
client hits: `add-user-to-any-p-room` and `kick-user-from-any-p-room` are
granted to nobody, and `api-bypass-rate-limit` only to admin, bot and app.
"""

from __future__ import annotations

_A = "admin"
_O = "owner"
_M = "moderator"
_U = "user"
_B = "bot"
_P = "app"
_G = "guest"
_N = "anonymous"
_F = "federated-external"

DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "access-permissions": (_A,),
    "access-marketplace": (_A, _U),
    "access-setting-permissions": (_A,),
    "add-oauth-service": (_A,),
    "add-user-to-joined-room": (_A, _O, _M),
    "add-user-to-any-c-room": (_A,),
    "add-user-to-any-p-room": (),
    "kick-user-from-any-c-room": (_A,),
    "kick-user-from-any-p-room": (),
    "api-bypass-rate-limit": (_A, _B, _P),
    "archive-room": (_A, _O),
    "assign-admin-role": (_A,),
    "assign-roles": (_A,),
    "ban-user": (_A, _O, _M),
    "bulk-register-user": (_A,),
    "create-c": (_A, _U, _F, _B, _P),
    "create-d": (_A, _U, _F, _B, _P),
    "create-p": (_A, _U, _F, _B, _P),
    "create-personal-access-tokens": (_A, _U),
    "create-user": (_A,),
    "clean-channel-history": (_A,),
    "delete-c": (_A, _O),
    "delete-d": (_A,),
    "delete-message": (_A, _O, _M),
    "delete-own-message": (_A, _U, _F),
    "delete-p": (_A, _O),
    "delete-user": (_A,),
    "edit-message": (_A, _O, _M),
    "edit-other-user-active-status": (_A,),
    "edit-other-user-info": (_A,),
    "edit-other-user-password": (_A,),
    "edit-other-user-avatar": (_A,),
    "edit-other-user-e2ee": (_A,),
    "edit-other-user-totp": (_A,),
    "edit-privileged-setting": (_A,),
    "edit-room": (_A, _O, _M),
    "edit-room-avatar": (_A, _O, _M),
    "edit-room-retention-policy": (_A,),
    "force-delete-message": (_A, _O),
    "join-without-join-code": (_A, _B, _P),
    "leave-c": (_A, _U, _F, _B, _N, _P),
    "leave-p": (_A, _U, _F, _B, _N, _P),
    "logout-other-user": (_A,),
    "manage-assets": (_A,),
    "manage-emoji": (_A,),
    "manage-user-status": (_A,),
    "manage-oauth-apps": (_A,),
    "manage-selected-settings": (_A,),
    "mention-all": (_A, _O, _M, _U, _F),
    "mention-here": (_A, _O, _M, _U, _F),
    "mute-user": (_A, _O, _M),
    "remove-user": (_A, _O, _M),
    "run-import": (_A,),
    "run-migration": (_A,),
    "set-moderator": (_A, _O),
    "set-owner": (_A, _O),
    "send-many-messages": (_A, _B, _P),
    "set-leader": (_A, _O),
    "start-discussion": (_A, _U, _F, _G, _P),
    "start-discussion-other-user": (_A, _U, _F, _O, _P),
    "unarchive-room": (_A,),
    "view-c-room": (_A, _U, _F, _B, _P, _N),
    "user-generate-access-token": (_A,),
    "view-d-room": (_A, _U, _F, _B, _P, _G),
    "view-device-management": (_A,),
    "view-full-other-user-info": (_A,),
    "view-joined-room": (_G, _B, _P, _N),
    "view-join-code": (_A,),
    "view-logs": (_A,),
    "view-other-user-channels": (_A,),
    "view-p-room": (_A, _U, _F, _N, _G),
    "view-privileged-setting": (_A,),
    "view-room-administration": (_A,),
    "view-statistics": (_A,),
    "view-user-administration": (_A,),
    "preview-c-room": (_A, _U, _F, _N),
    "view-outside-room": (_A, _O, _M, _U, _F),
    "view-broadcast-member-list": (_A, _O, _M),
    "create-invite-links": (_A, _O, _M),
    "create-team": (_A, _U),
    "delete-team": (_A, _O),
    "edit-team": (_A, _O),
    "add-team-member": (_A, _O, _M),
    "manage-apps": (_A,),
    "post-readonly": (_A, _O, _M),
    "set-readonly": (_A, _O),
    "set-react-when-readonly": (_A, _O),
    "manage-cloud": (_A,),
    "add-all-to-room": (_A,),
    "get-server-info": (_A,),
    "view-moderation-console": (_A,),
    "manage-moderation-actions": (_A,),
    "bypass-time-limit-edit-and-delete": (_B, _P),
}

# (_id, scope, description) of the protected built-in roles, `_id == name`
# (`app/authorization/server/functions/upsertPermissions.ts`).
BUILTIN_ROLES: tuple[tuple[str, str, str], ...] = (
    ("admin", "Users", "Admin"),
    ("moderator", "Subscriptions", "Moderator"),
    ("leader", "Subscriptions", "Leader"),
    ("owner", "Subscriptions", "Owner"),
    ("user", "Users", ""),
    ("bot", "Users", ""),
    ("app", "Users", ""),
    ("guest", "Users", ""),
    ("anonymous", "Users", ""),
    ("livechat-agent", "Users", "Livechat Agent"),
    ("livechat-manager", "Users", "Livechat Manager"),
)
