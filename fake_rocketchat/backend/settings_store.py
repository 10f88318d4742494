"""The settings the stand-in models, with Rocket.Chat's defaults.

Defaults from `apps/meteor/server/settings/{accounts,general,api,rate,message,layout}.ts`
(reference §8.3). Only these ids exist: `GET settings/:_id` of anything else
is "not found", as for a setting that is not registered.
"""

from __future__ import annotations

import copy
from typing import Any

# id -> (default value, type as Rocket.Chat declares it)
DEFAULT_SETTINGS: dict[str, tuple[Any, str]] = {
    # 2FA (server/settings/accounts.ts)
    "Accounts_TwoFactorAuthentication_Enabled": (True, "boolean"),
    "Accounts_TwoFactorAuthentication_By_TOTP_Enabled": (True, "boolean"),
    "Accounts_TwoFactorAuthentication_By_Email_Enabled": (True, "boolean"),
    "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In": (True, "boolean"),
    "Accounts_TwoFactorAuthentication_By_Email_Code_Expiration": (3600, "int"),
    "Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts": (5, "int"),
    "Accounts_TwoFactorAuthentication_MaxDelta": (1, "int"),
    "Accounts_TwoFactorAuthentication_RememberFor": (1800, "int"),
    "Accounts_TwoFactorAuthentication_Enforce_Password_Fallback": (True, "boolean"),
    "Accounts_twoFactorAuthentication_email_available_for_OAuth_users": (True, "boolean"),
    # Accounts
    "Accounts_LoginExpiration": (90, "int"),
    "Accounts_EmailVerification": (False, "boolean"),
    "Accounts_RequireNameForSignUp": (True, "boolean"),
    "Accounts_AllowUsernameChange": (True, "boolean"),
    "Accounts_RegistrationForm": ("Public", "select"),
    "Accounts_Registration_Users_Default_Roles": ("user", "string"),
    "Accounts_BlockedUsernameList": ("", "string"),
    "Accounts_Send_Email_When_Activating": (True, "boolean"),
    "Accounts_Send_Email_When_Deactivating": (True, "boolean"),
    # General / names
    "UTF8_User_Names_Validation": ("[0-9a-zA-Z-_.]+", "string"),
    "UTF8_Channel_Names_Validation": ("[0-9a-zA-Z-_.]+", "string"),
    "UI_Allow_room_names_with_special_chars": (False, "boolean"),
    "UI_DisplayRoles": (True, "boolean"),
    "UI_Use_Real_Name": (False, "boolean"),
    "Message_ErasureType": ("Delete", "select"),
    "Hide_System_Messages": ([], "multiSelect"),
    "Site_Url": ("http://localhost:3000", "string"),
    "Site_Name": ("Rocket.Chat", "string"),
    # API (server/settings/general.ts, rate.ts)
    "API_Default_Count": (50, "int"),
    "API_Upper_Count_Limit": (100, "int"),
    "API_Allow_Infinite_Count": (True, "boolean"),
    "API_Apply_permission_view-outside-room_on_users-list": (False, "boolean"),
    "API_Enable_Rate_Limiter": (True, "boolean"),
    "API_Enable_Rate_Limiter_Dev": (True, "boolean"),
    "API_Enable_Rate_Limiter_Limit_Calls_Default": (10, "int"),
    "API_Enable_Rate_Limiter_Limit_Time_Default": (60000, "int"),
    "Rate_Limiter_Limit_RegisterUser": (1, "int"),
    # DDP limiter (server/settings/rate.ts); enforced by the DDP side.
    "DDP_Rate_Limit_IP_Enabled": (True, "boolean"),
    "DDP_Rate_Limit_IP_Requests_Allowed": (120000, "int"),
    "DDP_Rate_Limit_IP_Interval_Time": (60000, "int"),
    "DDP_Rate_Limit_User_Enabled": (True, "boolean"),
    "DDP_Rate_Limit_User_Requests_Allowed": (1200, "int"),
    "DDP_Rate_Limit_User_Interval_Time": (60000, "int"),
    "DDP_Rate_Limit_Connection_Enabled": (True, "boolean"),
    "DDP_Rate_Limit_Connection_Requests_Allowed": (600, "int"),
    "DDP_Rate_Limit_Connection_Interval_Time": (60000, "int"),
    "DDP_Rate_Limit_User_By_Method_Enabled": (True, "boolean"),
    "DDP_Rate_Limit_User_By_Method_Requests_Allowed": (20, "int"),
    "DDP_Rate_Limit_User_By_Method_Interval_Time": (10000, "int"),
    "DDP_Rate_Limit_Connection_By_Method_Enabled": (True, "boolean"),
    "DDP_Rate_Limit_Connection_By_Method_Requests_Allowed": (10, "int"),
    "DDP_Rate_Limit_Connection_By_Method_Interval_Time": (10000, "int"),
}

# Never exposed over the API (`Accounts_SystemBlockedUsernameList` is hidden).
SYSTEM_BLOCKED_NAMES = ("admin", "administrator", "system", "user")

_PY_TYPES = {"boolean": (bool,), "int": (int,), "string": (str,), "select": (str,), "multiSelect": (list,)}


class SettingsStore:
    """Setting values by id; not thread-safe by itself (the State lock guards it)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {k: copy.deepcopy(v) for k, (v, _) in DEFAULT_SETTINGS.items()}

    def __contains__(self, setting_id: str) -> bool:
        return setting_id in self._values

    def get(self, setting_id: str) -> Any:
        return copy.deepcopy(self._values[setting_id])

    def type_of(self, setting_id: str) -> str:
        return DEFAULT_SETTINGS[setting_id][1]

    def accepts(self, setting_id: str, value: Any) -> bool:
        """Whether `value` has the setting's type (bools are not ints here)."""
        kind = self.type_of(setting_id)
        if kind == "int" and isinstance(value, bool):
            return False
        return isinstance(value, _PY_TYPES[kind])

    def set(self, setting_id: str, value: Any) -> None:
        if setting_id not in self._values:
            raise KeyError(setting_id)
        self._values[setting_id] = copy.deepcopy(value)

    def ids(self) -> list[str]:
        return sorted(self._values)
