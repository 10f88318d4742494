"""Login tokens, password/resume login and personal access tokens.

Tokens are stored only as `base64(sha256(token))` in
`services.resume.loginTokens`, like Meteor accounts-base; PATs live in the same
array (`imports/personal-access-tokens/server/api/methods/generateToken.ts`).
Login's 2FA step is `app/2fa/server/loginHandler.ts`: no password fallback,
no "remember" (there is no token yet), resume logins never checked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import MeteorError
from .ids import check_password_digest, hash_login_token, random_secret, sha256_hex
from .twofactor import check_code_for_user

if TYPE_CHECKING:
    from .state import State


@dataclass(frozen=True)
class LoginResult:
    """What a successful login yields; `token` is plain and never logged (repr hides it)."""

    user_id: str
    token: str
    token_expires: datetime
    login_type: str  # "password" | "resume"

    def __repr__(self) -> str:
        return f"LoginResult(user_id={self.user_id!r}, token='***', login_type={self.login_type!r})"


class AuthMixin:
    """Mixed into `State`; `self` is the State."""

    def _token_expires(self: "State", entry: dict[str, Any]) -> datetime | None:
        if entry.get("type") == "personalAccessToken":
            return None
        return entry["when"] + timedelta(days=int(self.settings.get("Accounts_LoginExpiration")))

    def _token_entry(self: "State", user: dict[str, Any], token: str) -> dict[str, Any] | None:
        hashed = hash_login_token(token)
        for entry in user["services"]["resume"]["loginTokens"]:
            if entry.get("hashedToken") == hashed:
                expires = self._token_expires(entry)
                if expires is not None and expires <= self.now():
                    return None
                return entry
        return None

    def issue_login_token(self: "State", user_id: str) -> str:
        """Add a fresh login token for the user and return it (plain). Test helper and login."""
        with self.lock:
            user = self.users[user_id]
            token = random_secret()
            user["services"]["resume"]["loginTokens"].append({"when": self.now(), "hashedToken": hash_login_token(token)})
            return token

    def authenticate(self: "State", user_id: str | None, token: str | None) -> dict[str, Any] | None:
        """The user for `X-User-Id` + `X-Auth-Token` (a copy), or None if either is wrong/expired."""
        with self.lock:
            user = self._user(user_id)
            if not user or not token or not self._token_entry(user, token):
                return None
            return copy.deepcopy(user)

    def user_for_resume_token(self: "State", token: str) -> dict[str, Any] | None:
        """The user owning a login token (any user), or None."""
        with self.lock:
            hashed = hash_login_token(token or "")
            for user in self.users.values():
                for entry in user["services"]["resume"]["loginTokens"]:
                    if entry.get("hashedToken") == hashed:
                        return user if self._token_entry(user, token) else None
            return None

    def _find_login_user(self: "State", selector: dict[str, Any] | str) -> dict[str, Any] | None:
        if isinstance(selector, str):
            return self._user_by_email(selector) if "@" in selector else self.user_doc_by_username(selector)
        if selector.get("id"):
            return self._user(selector["id"])
        if selector.get("username"):
            return self.user_doc_by_username(selector["username"])
        if selector.get("email"):
            return self._user_by_email(selector["email"])
        return None

    def login_with_password(
        self: "State",
        selector: dict[str, Any] | str,
        *,
        password: str | None = None,
        digest: str | None = None,
        code: str | None = None,
        method: str | None = None,
        user_agent: str | None = None,
        client_ip: str | None = None,
    ) -> LoginResult:
        """Password login (+ optional 2FA code). Raises MeteorError like Meteor/Rocket.Chat.

        `selector`: `{"username"}`, `{"email"}`, `{"id"}` or a string (email if it has "@").
        Give either the plaintext `password` or its sha256 hex `digest`.
        """
        with self.lock:
            user = self._find_login_user(selector)
            if user is None:
                raise MeteorError(403, "User not found")
            stored = user["services"].get("password", {}).get("bcrypt")
            if not stored:
                raise MeteorError(403, "User has no password set")
            if digest is None:
                digest = sha256_hex(password or "")
            if not check_password_digest(digest.lower(), stored):
                raise MeteorError(403, "Incorrect password")
            if not user.get("active"):
                raise MeteorError("error-user-is-not-activated", "User is not activated", {"function": "Accounts.validateLoginAttempt"})
            check_code_for_user(
                self,
                user,
                code=code,
                method=method,
                user_agent=user_agent,
                client_ip=client_ip,
                disable_password_fallback=True,
            )
            token = self.issue_login_token(user["_id"])
            user["lastLogin"] = self.now()
            entry = self._token_entry(user, token)
            return LoginResult(user["_id"], token, self._token_expires(entry) or self.now(), "password")

    def login_with_resume(self: "State", token: str) -> LoginResult:
        """Resume login: never 2FA-checked; expired/unknown -> 403 like accounts-base."""
        with self.lock:
            user = self.user_for_resume_token(token)
            if user is None:
                raise MeteorError(403, "You've been logged out by the server. Please log in again.")
            if not user.get("active"):
                raise MeteorError("error-user-is-not-activated", "User is not activated", {"function": "Accounts.validateLoginAttempt"})
            entry = self._token_entry(user, token)
            user["lastLogin"] = self.now()
            return LoginResult(user["_id"], token, self._token_expires(entry) or self.now() + timedelta(days=36500), "resume")

    def logout(self: "State", user_id: str, token: str) -> None:
        """Remove exactly that token."""
        with self.lock:
            user = self._user(user_id)
            if not user:
                return
            hashed = hash_login_token(token)
            user["services"]["resume"]["loginTokens"] = [
                t for t in user["services"]["resume"]["loginTokens"] if t.get("hashedToken") != hashed
            ]

    # ---------------------------------------------------------------- personal access tokens
    def _pats(self: "State", user: dict[str, Any]) -> list[dict[str, Any]]:
        return [t for t in user["services"]["resume"]["loginTokens"] if t.get("type") == "personalAccessToken"]

    def generate_personal_access_token(self: "State", user_id: str, token_name: str, bypass_two_factor: bool = False) -> str:
        """`personalAccessTokens:generateToken`; returns the plain token (shown once)."""
        with self.lock:
            if not self.has_permission(user_id, "create-personal-access-tokens"):
                raise MeteorError("not-authorized", "Not Authorized", {"method": "personalAccessTokens:generateToken"})
            user = self.users[user_id]
            if any(t.get("name") == token_name for t in self._pats(user)):
                raise MeteorError(
                    "error-token-already-exists",
                    "A token with this name already exists",
                    {"method": "personalAccessTokens:generateToken"},
                )
            return self._issue_pat(user, token_name, bypass_two_factor)

    def _issue_pat(self: "State", user: dict[str, Any], token_name: str, bypass_two_factor: bool) -> str:
        """Store a PAT the way Rocket.Chat does: hashed among the login tokens, with its last 6 chars
        (imports/personal-access-tokens/server/api/methods/generateToken.ts)."""
        token = random_secret()
        user["services"]["resume"]["loginTokens"].append(
            {
                "hashedToken": hash_login_token(token),
                "type": "personalAccessToken",
                "createdAt": self.now(),
                "lastTokenPart": token[-6:],
                "name": token_name,
                "bypassTwoFactor": bool(bypass_two_factor),
            }
        )
        return token

    def regenerate_personal_access_token(self: "State", user_id: str, token_name: str) -> str:
        """`personalAccessTokens:regenerateToken`: permission, the token must exist, a new one with
        the old `bypassTwoFactor` (imports/personal-access-tokens/server/api/methods/regenerateToken.ts)."""
        with self.lock:
            method = {"method": "personalAccessTokens:regenerateToken"}
            if not self.has_permission(user_id, "create-personal-access-tokens"):
                raise MeteorError("not-authorized", "Not Authorized", method)
            user = self.users[user_id]
            old = next((t for t in self._pats(user) if t.get("name") == token_name), None)
            if old is None:
                raise MeteorError("error-token-does-not-exists", "Token does not exist", method)
            user["services"]["resume"]["loginTokens"].remove(old)
            return self._issue_pat(user, token_name, bool(old.get("bypassTwoFactor")))

    def remove_personal_access_token(self: "State", user_id: str, token_name: str) -> None:
        with self.lock:
            if not self.has_permission(user_id, "create-personal-access-tokens"):
                raise MeteorError("not-authorized", "Not Authorized", {"method": "personalAccessTokens:removeToken"})
            user = self.users[user_id]
            if not any(t.get("name") == token_name for t in self._pats(user)):
                raise MeteorError("error-token-does-not-exists", "Token does not exist", {"method": "personalAccessTokens:removeToken"})
            user["services"]["resume"]["loginTokens"] = [
                t for t in user["services"]["resume"]["loginTokens"]
                if not (t.get("type") == "personalAccessToken" and t.get("name") == token_name)
            ]

    def list_personal_access_tokens(self: "State", user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {"name": t["name"], "createdAt": t["createdAt"], "lastTokenPart": t["lastTokenPart"], "bypassTwoFactor": t["bypassTwoFactor"]}
                for t in self._pats(self.users[user_id])
            ]

    def create_personal_access_token(self: "State", username: str, token_name: str = "test", bypass_two_factor: bool = True) -> str:
        """Set-up helper: a PAT without permission checks (for service-account tests)."""
        with self.lock:
            user = self.user_doc_by_username(username)
            if not user:
                raise ValueError(f"no user {username!r}")
            return self._issue_pat(user, token_name, bypass_two_factor)

    def login_tokens_count(self: "State", username: str) -> int:
        """How many tokens (login + PAT) a user holds; tests use it to see revocation."""
        with self.lock:
            user = self.user_doc_by_username(username)
            return len(user["services"]["resume"]["loginTokens"]) if user else 0
