"""Workspace settings endpoints (`settings/:_id`, `settings.addCustomOAuth`) against the stand-in, with a
TOTP-protected admin (POST settings/:_id is a 2FA route, reference §11.3)."""

from __future__ import annotations

import pytest

from bridge import AsyncRocketChat, NotFound, PermissionDenied
from bridge_support import make_config

pytestmark = pytest.mark.anyio


async def test_read_write_and_unknown_ids(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        assert await rc.settings_get("Site_Url") == "http://localhost:3000"
        await rc.settings_set("Site_Url", "https://chat.example.org")
        assert await rc.settings_get("Site_Url") == "https://chat.example.org"
        assert totp_server.state.settings.get("Site_Url") == "https://chat.example.org"
        with pytest.raises(NotFound, match="no such setting"):
            await rc.settings_get("No_Such_Setting_Xyz")
        with pytest.raises(NotFound, match="refused the write"):
            await rc.settings_set("No_Such_Setting_Xyz", 1)


async def test_missing_permissions_are_named(totp_server):
    totp_server.state.revoke_permission("view-privileged-setting", "admin")
    totp_server.state.revoke_permission("edit-privileged-setting", "admin")
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        with pytest.raises(PermissionDenied) as read:
            await rc.settings_get("Site_Url")
        assert read.value.permission == "view-privileged-setting"
        with pytest.raises(PermissionDenied) as write:
            await rc.settings_set("Site_Url", "https://x.example.org")
        assert write.value.permission == "edit-privileged-setting"
    assert totp_server.state.settings.get("Site_Url") == "http://localhost:3000"


async def test_add_custom_oauth_registers_the_block(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.add_custom_oauth("besedka")
        assert await rc.settings_get("Accounts_OAuth_Custom-Besedka-merge_users") is False
        await rc.add_custom_oauth("besedka")  # again: a harmless no-op
        totp_server.state.revoke_permission("add-oauth-service", "admin")
        with pytest.raises(PermissionDenied) as denied:
            await rc.add_custom_oauth("other")
        assert denied.value.permission == "add-oauth-service"
