"""Workspace settings (`settings/:_id`, `settings.addCustomOAuth`) of `AsyncRocketChat`, as a mixin.

Rocket.Chat 7.x (`app/api/server/v1/settings.ts`, reference §11.3): `GET settings/:_id` needs
`view-privileged-setting` and answers `{_id, value}` (the raw value, secrets included); `POST` needs
`edit-privileged-setting` **and a second factor** (the call layer answers the 2FA challenge). An unknown,
hidden or blocked id gets a bare `400 {"success": false}` with no message: mapped to `NotFound` here.
`settings.addCustomOAuth {name}` needs 2FA and `add-oauth-service`; registering an existing name again
is a harmless success. Values are never logged.
"""

from __future__ import annotations

from typing import Any

from .errors import NotFound, PermissionDenied, RocketChatError

__all__ = ["SettingsMixin"]


def _bare_failure(exc: RocketChatError) -> bool:
    return exc.status == 400 and not exc.error_type and exc.message.endswith("HTTP 400")


class SettingsMixin:
    _call: Any
    _get: Any

    async def settings_get(self, setting_id: str) -> Any:
        """The setting's current value; `NotFound` when Rocket.Chat does not know the id."""
        route = f"settings/{setting_id}"
        try:
            body = await self._get(route)
        except PermissionDenied as exc:
            exc.permission = exc.permission or "view-privileged-setting"
            raise
        except RocketChatError as exc:
            if _bare_failure(exc):
                raise NotFound(f"{route}: no such setting (unknown, hidden or blocked)", status=400,
                               route=route) from None
            raise
        return body.get("value")

    async def settings_set(self, setting_id: str, value: Any) -> None:
        """Write one setting (2FA answered by the call layer). Writing the same value twice is harmless."""
        route = f"settings/{setting_id}"
        try:
            await self._call("POST", route, json={"value": value}, idempotent=True)
        except PermissionDenied as exc:
            exc.permission = exc.permission or "edit-privileged-setting"
            raise
        except RocketChatError as exc:
            if _bare_failure(exc):
                raise NotFound(f"{route}: Rocket.Chat refused the write (unknown, hidden or blocked id)",
                               status=400, route=route) from None
            raise

    async def add_custom_oauth(self, name: str) -> None:
        """Register a Custom OAuth service with its default settings (idempotent on the server)."""
        try:
            await self._call("POST", "settings.addCustomOAuth", json={"name": name}, idempotent=True)
        except PermissionDenied as exc:
            # addOAuthService.ts refuses with details {action: "Adding_OAuth_Services"}: name the permission
            exc.permission = "add-oauth-service"
            raise
        except RocketChatError as exc:
            if exc.error_type == "error-action-not-allowed":  # the method's own refusal (addOAuthService.ts)
                raise PermissionDenied(exc.message, permission="add-oauth-service", status=exc.status,
                                       error_type=exc.error_type, route=exc.route, details=exc.details) from None
            raise
