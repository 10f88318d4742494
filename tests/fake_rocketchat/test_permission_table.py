"""The transcribed permission table and built-in roles (pure data; no server).

Source: `apps/meteor/app/authorization/server/constant/permissions.ts` and `functions/upsertPermissions.ts` of
RocketChat/Rocket.Chat at 7dd5655 (7.8.0-develop), `ee/app/livechat-enterprise/server/permissions.ts`.
"""

from __future__ import annotations

import pytest

from fake_rocketchat.backend import permission_table as table


def test_every_granted_role_is_a_role_the_stand_in_lists() -> None:
    # permissions.update checks each named role against roles.list's collection, so writing permissions.listAll back
    # unchanged must never hit error-invalid-role.
    known = {role.id for role in table.ROLES}
    assert table.roles_named_by(table.PERMISSIONS) <= known
    assert table.roles_named_by(table.ENTERPRISE_PERMISSIONS) <= known


def test_livechat_monitor_is_named_by_core_grants_but_is_an_enterprise_role() -> None:
    core = {role.id for role in table.DEFAULT_ROLES}
    assert "livechat-monitor" not in core
    assert "livechat-monitor" in table.roles_named_by(table.PERMISSIONS)
    (monitor,) = table.ENTERPRISE_ROLES
    assert (monitor.id, monitor.scope, monitor.description, monitor.protected) == ("livechat-monitor", "Users", "", True)


def test_federated_external_is_not_a_7x_role_nor_granted() -> None:
    # Added by RocketChat/Rocket.Chat PR #39548 (2026), after the 7.x line.
    assert "federated-external" not in {role.id for role in table.ROLES}
    assert "federated-external" not in table.roles_named_by(table.PERMISSIONS)
    assert "access-federation" not in table.PERMISSIONS


@pytest.mark.parametrize(
    ("permission", "roles"),
    [
        ("message-impersonate", ("bot", "app")),
        ("add-user-to-any-p-room", ()),
        ("kick-user-from-any-p-room", ()),
        ("api-bypass-rate-limit", ("admin", "bot", "app")),
        ("view-joined-room", ("guest", "bot", "app", "anonymous")),
        ("create-personal-access-tokens", ("admin", "user")),
        ("call-management", ("admin", "owner", "moderator", "user")),
        ("inbound-voip-calls", ("livechat-agent",)),
        ("bypass-time-limit-edit-and-delete", ("bot", "app")),
        ("add-oauth-service", ("admin",)),
        ("edit-privileged-setting", ("admin",)),
    ],
)
def test_spot_values_from_permissions_ts(permission: str, roles: tuple[str, ...]) -> None:
    assert table.PERMISSIONS[permission] == roles


def test_table_size_and_order() -> None:
    # 177 entries in the file, `remove-livechat-department` twice.
    assert len(table.PERMISSIONS) == 176
    ids = list(table.PERMISSIONS)
    assert ids[0] == "access-permissions"
    assert ids[-1] == "bypass-time-limit-edit-and-delete"
    assert not set(table.PERMISSIONS) & set(table.ENTERPRISE_PERMISSIONS)


def test_default_roles_match_upsert_permissions() -> None:
    assert [(r.id, r.scope, r.description) for r in table.DEFAULT_ROLES] == [
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
    ]
    assert all(r.protected and not r.mandatory2fa for r in table.ROLES)
    assert table.DEFAULT_ROLES[0].as_document() == {
        "_id": "admin",
        "name": "admin",
        "scope": "Users",
        "description": "Admin",
        "mandatory2fa": False,
        "protected": True,
    }


def test_permissions_update_error_bodies() -> None:
    # apps/meteor/app/api/server/v1/permissions.ts: API.v1.failure('Invalid permission', 'error-invalid-permission')
    assert table.PERMISSION_UPDATE_ERRORS["unknown_permission"] == {
        "success": False,
        "error": "Invalid permission",
        "errorType": "error-invalid-permission",
    }
    assert table.PERMISSION_UPDATE_ERRORS["unknown_role"] == {
        "success": False,
        "error": "Invalid role",
        "errorType": "error-invalid-role",
    }


def test_setting_permission_ids() -> None:
    assert table.setting_permission_id("Site_Url") == "change-setting-Site_Url"


def test_federated_external_grants_name_existing_permissions_except_the_8x_one() -> None:
    missing = set(table.FEDERATED_EXTERNAL_GRANTS) - set(table.PERMISSIONS)
    assert missing == {"access-federation"}
