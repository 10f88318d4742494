"""Rocket.Chat 7.x's default permission table and its built-in roles, as data.

Why a table of its own: a third-party client (or rcsync's own `permissions.update` round trip) may name any permission
of a stock workspace, and Rocket.Chat answers "Invalid permission" for an id it does not have. The stand-in can only
accept exactly what Rocket.Chat accepts if it holds the whole table, not the part rcsync happens to use.

Sources (transcribed as data, `RocketChat/Rocket.Chat`):

* `apps/meteor/app/authorization/server/constant/permissions.ts` at commit
  `7dd565531895bdf38d8db88adf6172125f76f444` (`apps/meteor/package.json` there says `7.8.0-develop`: the develop
  branch just after 7.7 was cut, the closest stored tree to the 7.7.1 the site runs; the 7.7.1 tag itself was not
  available). `PERMISSIONS` keeps the file's order; the file lists `remove-livechat-department` twice with the same
  roles, so the dict has one entry fewer than the file has lines.
* Built-in roles: `defaultRoles` in `apps/meteor/app/authorization/server/functions/upsertPermissions.ts`, each
  created through `createOrUpdateProtectedRoleAsync` (`apps/meteor/server/lib/roles/createOrUpdateProtectedRole.ts`:
  a new role is inserted as `{_id: name, scope: 'Users', description: '', mandatory2fa: false, ...data,
  protected: true}`).
* `livechat-monitor` is named by 28 core grants (`view-l-room`, ...) but is not a core role: it is created by
  `createPermissions()` in `apps/meteor/ee/app/livechat-enterprise/server/permissions.ts` (stored at commit
  `04ecbd5acfac57daabf6a03b7bd2aeefcd83ccff`) with only a name, so scope `Users`, description `''`, protected. On a
  workspace without that enterprise module a client that writes `permissions.listAll` back unchanged gets
  `error-invalid-role` from real Rocket.Chat too. The stand-in models the role as present (see `ROLES`) so that every
  grant it lists can be written back.
* `federated-external` is **not** a 7.x role. It arrived with RocketChat/Rocket.Chat PR #39548 ("feat: add new role
  for federated users", 2026-03) and its grants with PR #39854 (a one-time update in
  `apps/meteor/server/startup/migrations/xrun.ts`, `setPermissionsToNewRole`). `FEDERATED_EXTERNAL_GRANTS` records
  that list for a stand-in that models the newer line; the 7.x table grants it nothing.
* Setting permissions: besides this table, `upsertPermissions` creates one permission per non-hidden setting,
  `change-setting-<settingId>` (`getSettingPermissionId`), with `level: 'settings'`, `settingId`, `group`, `section`,
  `sorter`, `groupPermissionId`/`sectionPermissionId` and no roles. `setting_permission_id()` names them.

`permissions.update` (`apps/meteor/app/api/server/v1/permissions.ts`; the same checks in every copy read, from the
`addRoute` form with `permissionsRequired: ['access-permissions']` to the typed-route form): the body is validated
first (`isBodyParamsValidPermissionUpdate`, else 400 `{"success": false, "error": "Invalid body params",
"errorType": "error-invalid-body-params"}`); then all ids are looked up at once and the count of permissions found
must equal the count of entries sent, else 400 `{"success": false, "error": "Invalid permission", "errorType":
"error-invalid-permission"}` (so a body naming the same permission twice also fails this way); then the distinct role
ids of all entries are looked up, else 400 `{"success": false, "error": "Invalid role", "errorType":
"error-invalid-role"}`. Nothing is written unless both checks pass. Success: `{"permissions": [every permission, as
`permissions/get` returns them], "success": true}`. Without `access-permissions`: 403 `{"success": false, "error":
"User does not have the permissions required for this action [error-unauthorized]"}`. `PERMISSION_UPDATE_ERRORS`
holds the two 400 bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

SOURCE_COMMIT = "7dd565531895bdf38d8db88adf6172125f76f444"

_LC_MANAGER = "livechat-manager"
_LC_MONITOR = "livechat-monitor"
_LC_AGENT = "livechat-agent"

# permission id -> default roles, in the order of `constant/permissions.ts`.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "access-permissions": ("admin",),
    "access-marketplace": ("admin", "user"),
    "access-setting-permissions": ("admin",),
    "add-oauth-service": ("admin",),
    "add-user-to-joined-room": ("admin", "owner", "moderator"),
    "add-user-to-any-c-room": ("admin",),
    "add-user-to-any-p-room": (),
    "kick-user-from-any-c-room": ("admin",),
    "kick-user-from-any-p-room": (),
    "api-bypass-rate-limit": ("admin", "bot", "app"),
    "archive-room": ("admin", "owner"),
    "assign-admin-role": ("admin",),
    "assign-roles": ("admin",),
    "ban-user": ("admin", "owner", "moderator"),
    "bulk-register-user": ("admin",),
    "change-livechat-room-visitor": ("admin", _LC_MANAGER, _LC_AGENT),
    "create-c": ("admin", "user", "bot", "app"),
    "create-d": ("admin", "user", "bot", "app"),
    "create-p": ("admin", "user", "bot", "app"),
    "create-personal-access-tokens": ("admin", "user"),
    "create-user": ("admin",),
    "clean-channel-history": ("admin",),
    "delete-c": ("admin", "owner"),
    "delete-d": ("admin",),
    "delete-message": ("admin", "owner", "moderator"),
    "delete-own-message": ("admin", "user"),
    "delete-p": ("admin", "owner"),
    "delete-user": ("admin",),
    "edit-message": ("admin", "owner", "moderator"),
    "edit-other-user-active-status": ("admin",),
    "edit-other-user-info": ("admin",),
    "edit-other-user-password": ("admin",),
    "edit-other-user-avatar": ("admin",),
    "edit-other-user-e2ee": ("admin",),
    "edit-other-user-totp": ("admin",),
    "edit-privileged-setting": ("admin",),
    "edit-room": ("admin", "owner", "moderator"),
    "edit-room-avatar": ("admin", "owner", "moderator"),
    "edit-room-retention-policy": ("admin",),
    "force-delete-message": ("admin", "owner"),
    "join-without-join-code": ("admin", "bot", "app"),
    "leave-c": ("admin", "user", "bot", "anonymous", "app"),
    "leave-p": ("admin", "user", "bot", "anonymous", "app"),
    "logout-other-user": ("admin",),
    "manage-assets": ("admin",),
    "manage-email-inbox": ("admin",),
    "manage-emoji": ("admin",),
    "manage-user-status": ("admin",),
    "manage-outgoing-integrations": ("admin",),
    "manage-incoming-integrations": ("admin",),
    "manage-own-outgoing-integrations": ("admin",),
    "manage-own-incoming-integrations": ("admin",),
    "manage-oauth-apps": ("admin",),
    "manage-selected-settings": ("admin",),
    "mention-all": ("admin", "owner", "moderator", "user"),
    "mention-here": ("admin", "owner", "moderator", "user"),
    "mute-user": ("admin", "owner", "moderator"),
    "remove-user": ("admin", "owner", "moderator"),
    "run-import": ("admin",),
    "run-migration": ("admin",),
    "set-moderator": ("admin", "owner"),
    "set-owner": ("admin", "owner"),
    "send-many-messages": ("admin", "bot", "app"),
    "set-leader": ("admin", "owner"),
    "start-discussion": ("admin", "user", "guest", "app"),
    "start-discussion-other-user": ("admin", "user", "owner", "app"),
    "unarchive-room": ("admin",),
    "view-c-room": ("admin", "user", "bot", "app", "anonymous"),
    "user-generate-access-token": ("admin",),
    "view-d-room": ("admin", "user", "bot", "app", "guest"),
    "view-device-management": ("admin",),
    "view-engagement-dashboard": ("admin",),
    "view-full-other-user-info": ("admin",),
    "view-joined-room": ("guest", "bot", "app", "anonymous"),
    "view-join-code": ("admin",),
    "view-logs": ("admin",),
    "view-other-user-channels": ("admin",),
    "view-p-room": ("admin", "user", "anonymous", "guest"),
    "view-privileged-setting": ("admin",),
    "view-room-administration": ("admin",),
    "view-statistics": ("admin",),
    "view-user-administration": ("admin",),
    "preview-c-room": ("admin", "user", "anonymous"),
    "view-outside-room": ("admin", "owner", "moderator", "user"),
    "view-broadcast-member-list": ("admin", "owner", "moderator"),
    "call-management": ("admin", "owner", "moderator", "user"),
    "create-invite-links": ("admin", "owner", "moderator"),
    "view-l-room": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "create-livechat-contact": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "update-livechat-contact": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "view-livechat-contact": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "view-livechat-contact-history": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "view-livechat-manager": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-omnichannel-contact-center": (_LC_MANAGER, _LC_AGENT, _LC_MONITOR, "admin"),
    "edit-omnichannel-contact": (_LC_MANAGER, _LC_AGENT, "admin"),
    "view-livechat-rooms": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "close-livechat-room": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "close-others-livechat-room": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "on-hold-livechat-room": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "on-hold-others-livechat-room": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "save-others-livechat-room-info": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "remove-closed-livechat-rooms": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-analytics": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-queue": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "transfer-livechat-guest": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "manage-livechat-managers": (_LC_MANAGER, "admin"),
    "manage-livechat-agents": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "manage-livechat-departments": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-departments": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "add-livechat-department-agents": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-current-chats": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-real-time-monitoring": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-triggers": (_LC_MANAGER, "admin"),
    "view-livechat-customfields": (_LC_MANAGER, "admin"),
    "view-livechat-installation": (_LC_MANAGER, "admin"),
    "view-livechat-appearance": (_LC_MANAGER, "admin"),
    "view-livechat-webhooks": (_LC_MANAGER, "admin"),
    "view-livechat-business-hours": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-room-closed-same-department": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-room-closed-by-another-agent": (_LC_MANAGER, _LC_MONITOR, "admin"),
    "view-livechat-room-customfields": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "edit-livechat-room-customfields": (_LC_MANAGER, _LC_MONITOR, _LC_AGENT, "admin"),
    "send-omnichannel-chat-transcript": (_LC_MANAGER, "admin"),
    "mail-messages": ("admin",),
    "toggle-room-e2e-encryption": ("owner", "admin"),
    "message-impersonate": ("bot", "app"),
    "create-team": ("admin", "user"),
    "delete-team": ("admin", "owner"),
    "convert-team": ("admin", "owner"),
    "edit-team": ("admin", "owner"),
    "add-team-member": ("admin", "owner", "moderator"),
    "edit-team-member": ("admin", "owner", "moderator"),
    "move-room-to-team": ("admin", "owner", "moderator"),
    "create-team-channel": ("admin", "owner", "moderator"),
    "create-team-group": ("admin", "owner", "moderator"),
    "delete-team-channel": ("admin", "owner", "moderator"),
    "delete-team-group": ("admin", "owner", "moderator"),
    "edit-team-channel": ("admin", "owner", "moderator"),
    "remove-team-channel": ("admin", "owner", "moderator"),
    "view-all-team-channels": ("admin", "owner"),
    "view-all-teams": ("admin",),
    "remove-closed-livechat-room": (_LC_MANAGER, "admin"),
    "remove-livechat-department": (_LC_MANAGER, "admin"),
    # VoIP
    "manage-voip-call-settings": (_LC_MANAGER, "admin"),
    "manage-voip-contact-center-settings": (_LC_MANAGER, "admin"),
    "manage-agent-extension-association": ("admin",),
    "view-agent-extension-association": (_LC_MANAGER, "admin", _LC_AGENT),
    "inbound-voip-calls": (_LC_AGENT,),
    "manage-voip-extensions": ("admin",),
    "view-user-voip-extension": ("admin", "user"),
    "view-voip-extension-details": ("admin", "user"),
    # (the file repeats `remove-livechat-department` here, same roles)
    "manage-apps": ("admin",),
    "post-readonly": ("admin", "owner", "moderator"),
    "set-readonly": ("admin", "owner"),
    "set-react-when-readonly": ("admin", "owner"),
    "manage-cloud": ("admin",),
    "manage-sounds": ("admin",),
    "access-mailer": ("admin",),
    "pin-message": ("owner", "moderator", "admin"),
    "mobile-upload-file": ("user", "admin"),
    "send-mail": ("admin",),
    "view-federation-data": ("admin",),
    "add-all-to-room": ("admin",),
    "get-server-info": ("admin",),
    "register-on-cloud": ("admin",),
    "test-admin-options": ("admin",),
    "test-push-notifications": ("admin", "user"),
    "sync-auth-services-users": ("admin",),
    "restart-server": ("admin",),
    "remove-slackbridge-links": ("admin",),
    "view-import-operations": ("admin",),
    "clear-oembed-cache": ("admin",),
    "videoconf-ring-users": ("admin", "owner", "moderator", "user"),
    "view-moderation-console": ("admin",),
    "manage-moderation-actions": ("admin",),
    "bypass-time-limit-edit-and-delete": ("bot", "app"),
}

# Enterprise omnichannel permissions, created only with the `livechat-enterprise` license module
# (`ee/app/livechat-enterprise/server/permissions.ts`, `omnichannelEEPermissions`, commit 04ecbd5). Not part of the
# default table; kept apart so that a stand-in modelling a community workspace leaves them out.
ENTERPRISE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "manage-livechat-units": ("admin", _LC_MANAGER),
    "manage-livechat-monitors": ("admin", _LC_MANAGER),
    "manage-livechat-tags": ("admin", _LC_MANAGER),
    "manage-livechat-priorities": ("admin", _LC_MANAGER),
    "manage-livechat-sla": ("admin", _LC_MANAGER),
    "manage-livechat-canned-responses": ("admin", _LC_MANAGER, _LC_MONITOR),
    "spy-voip-calls": ("admin", _LC_MANAGER, _LC_MONITOR),
    "outbound-voip-calls": ("admin", _LC_MANAGER),
    "request-pdf-transcript": ("admin", _LC_MANAGER, _LC_MONITOR, _LC_AGENT),
    "view-livechat-reports": ("admin", _LC_MANAGER, _LC_MONITOR),
}

# Permissions PR #39854 (8.x line, not 7.x) adds `federated-external` to, once, when that role first appears.
# `access-federation` does not exist in the 7.x table.
FEDERATED_EXTERNAL_GRANTS: tuple[str, ...] = (
    "create-c",
    "create-d",
    "create-p",
    "delete-own-message",
    "leave-c",
    "leave-p",
    "mention-all",
    "mention-here",
    "start-discussion",
    "start-discussion-other-user",
    "view-c-room",
    "view-d-room",
    "view-p-room",
    "preview-c-room",
    "view-outside-room",
    "mobile-upload-file",
    "access-federation",
)


@dataclass(frozen=True)
class RoleSpec:
    """A built-in role as `roles.list` shows it (`_id == name`; custom roles get random ids instead)."""

    name: str
    scope: str  # "Users" or "Subscriptions"
    description: str
    protected: bool = True
    mandatory2fa: bool = False
    enterprise: bool = False  # created by an enterprise module, not by core start-up

    @property
    def id(self) -> str:
        return self.name

    def as_document(self) -> dict[str, object]:
        """The role document without `_updatedAt` (which `roles.list` leaves out)."""
        return {
            "_id": self.name,
            "name": self.name,
            "scope": self.scope,
            "description": self.description,
            "mandatory2fa": self.mandatory2fa,
            "protected": self.protected,
        }


# `defaultRoles` of `upsertPermissions.ts`, in that order.
DEFAULT_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("admin", "Users", "Admin"),
    RoleSpec("moderator", "Subscriptions", "Moderator"),
    RoleSpec("leader", "Subscriptions", "Leader"),
    RoleSpec("owner", "Subscriptions", "Owner"),
    RoleSpec("user", "Users", ""),
    RoleSpec("bot", "Users", ""),
    RoleSpec("app", "Users", ""),
    RoleSpec("guest", "Users", ""),
    RoleSpec("anonymous", "Users", ""),
    RoleSpec("livechat-agent", "Users", "Livechat Agent"),
    RoleSpec("livechat-manager", "Users", "Livechat Manager"),
)

ENTERPRISE_ROLES: tuple[RoleSpec, ...] = (RoleSpec(_LC_MONITOR, "Users", "", enterprise=True),)

# What the stand-in's `roles.list` starts with: core roles plus `livechat-monitor`, so every default grant names a
# role that exists.
ROLES: tuple[RoleSpec, ...] = DEFAULT_ROLES + ENTERPRISE_ROLES

# The two 400 bodies of `permissions.update` (`API.v1.failure(message, errorType)`).
PERMISSION_UPDATE_ERRORS: dict[str, dict[str, object]] = {
    "unknown_permission": {"success": False, "error": "Invalid permission", "errorType": "error-invalid-permission"},
    "unknown_role": {"success": False, "error": "Invalid role", "errorType": "error-invalid-role"},
    "invalid_body": {"success": False, "error": "Invalid body params", "errorType": "error-invalid-body-params"},
}

SETTING_PERMISSION_PREFIX = "change-setting-"


def setting_permission_id(setting_id: str) -> str:
    """The per-setting permission `upsertPermissions` creates (`getSettingPermissionId`)."""
    return f"{SETTING_PERMISSION_PREFIX}{setting_id}"


def roles_named_by(grants: Mapping[str, Iterable[str]]) -> set[str]:
    """Every role id any grant in `grants` names."""
    return {role for roles in grants.values() for role in roles}
