"""The 2FA decision, shared by REST routes, DDP methods and login.

Mirrors `checkCodeForUser` in `apps/meteor/app/2fa/server/code/index.ts`
(reference §2.3), step by step:
1. 2FA disabled by setting (or TEST_MODE env) -> pass.
2. unknown user -> `totp-user-not-found`.
3. code/method come from the caller (REST passes the x-2fa-* headers).
4. "already authorized" with the current login token: a PAT with
   `bypassTwoFactor`; the user registered less than RememberFor ago; or a
   previous success remembered on that token for this User-Agent + IP.
5. method: the one named (totp/email, even when not enabled), else the first
   enabled of totp, email, else the password fallback, else pass.
6. no code -> `totp-required`; wrong -> `totp-invalid` (`totp-max-attempts`).
7. success -> remember on the token for RememberFor seconds.
TOTP has no replay protection (`TOTPCheck.ts` keeps no last counter).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyotp

from .errors import MeteorError
from .ids import check_password_digest, hash_login_token, hash_password_digest

from .views import is_oauth_user

if TYPE_CHECKING:
    from .state import State


def fingerprint(user_agent: str | None, client_ip: str | None) -> str:
    """`md5(JSON.stringify({userAgent, clientAddress}))`, the "remember for" key."""
    raw = json.dumps({"userAgent": user_agent or "", "clientAddress": client_ip or ""}, separators=(",", ":"))
    return hashlib.md5(raw.encode()).hexdigest()


def totp_enabled(state: "State", user: dict[str, Any]) -> bool:
    totp = user.get("services", {}).get("totp") or {}
    return bool(state.settings.get("Accounts_TwoFactorAuthentication_By_TOTP_Enabled") and totp.get("enabled"))


def email_enabled(state: "State", user: dict[str, Any]) -> bool:
    """`EmailCheck.isEnabled`: setting on, not an OAuth user unless
    `Accounts_twoFactorAuthentication_email_available_for_OAuth_users`, user opted in, and a verified email."""
    if not state.settings.get("Accounts_TwoFactorAuthentication_By_Email_Enabled"):
        return False
    if not state.settings.get("Accounts_twoFactorAuthentication_email_available_for_OAuth_users") and is_oauth_user(user):
        return False
    if not (user.get("services", {}).get("email2fa") or {}).get("enabled"):
        return False
    return any(e.get("verified") for e in user.get("emails", []))


def available_methods(state: "State", user: dict[str, Any]) -> list[str]:
    methods = []
    if totp_enabled(state, user):
        methods.append("totp")
    if email_enabled(state, user):
        methods.append("email")
    return methods


def verify_totp(state: "State", user: dict[str, Any], code: str) -> bool:
    """6 digits, 30 s, SHA1, window ±MaxDelta steps; 8 chars = single-use backup code."""
    totp = user.get("services", {}).get("totp") or {}
    secret = totp.get("secret")
    if not secret or not code:
        return False
    code = str(code)
    if len(code) == 8:
        digest = hashlib.sha256(code.encode()).hexdigest()
        backups = totp.get("hashedBackup") or []
        if digest in backups:
            backups.remove(digest)
            return True
        return False
    if len(code) != 6:
        return False
    delta = int(state.settings.get("Accounts_TwoFactorAuthentication_MaxDelta") or 0)
    try:
        return pyotp.TOTP(secret).verify(code, for_time=state.clock.time(), valid_window=max(0, delta))
    except Exception:  # malformed secret
        return False


def _send_email_code(state: "State", user: dict[str, Any]) -> dict[str, Any]:
    """Create (or reuse) an email code; "sending" appends it to `state.outbox`."""
    now = state.now()
    existing = user["services"].get("emailCode")
    if existing and existing["expire"] > now:
        return {"codeGenerated": False, "codeExpires": existing["expire"]}
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = int(state.settings.get("Accounts_TwoFactorAuthentication_By_Email_Code_Expiration"))
    user["services"]["emailCode"] = {
        "code": hash_password_digest(code),
        "expire": now + timedelta(seconds=ttl),
        "attempts": 0,
    }
    address = next((e["address"] for e in user.get("emails", []) if e.get("verified")), None)
    state.outbox.append({"to": address, "username": user["username"], "subject": "Two-factor code", "code": code})
    return {"codeGenerated": True}


def _verify_email(state: "State", user: dict[str, Any], code: str) -> bool:
    """Single-use, expiring, at most Max_Invalid_Email_Code_Attempts wrong tries."""
    entry = user["services"].get("emailCode")
    digits = re.sub(r"\D", "", str(code or ""))
    if not entry or entry["expire"] <= state.now():
        return False
    if check_password_digest(digits, entry["code"]):
        user["services"].pop("emailCode", None)
        return True
    entry["attempts"] = entry.get("attempts", 0) + 1
    if entry["attempts"] >= int(state.settings.get("Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts")):
        user["services"].pop("emailCode", None)
        raise MeteorError(
            "totp-max-attempts",
            "TOTP Maximun Failed Attempts Reached",
            {"method": "email", "codeGenerated": False, "availableMethods": available_methods(state, user)},
        )
    return False


def _find_token(user: dict[str, Any], token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    hashed = hash_login_token(token)
    for entry in user.get("services", {}).get("resume", {}).get("loginTokens", []):
        if entry.get("hashedToken") == hashed:
            return entry
    return None


def _already_authorized(state: "State", user: dict[str, Any], token_doc: dict[str, Any] | None, fp: str, disable_remember_me: bool) -> bool:
    if token_doc is None:
        return False
    if token_doc.get("bypassTwoFactor"):
        return True
    remember = int(state.settings.get("Accounts_TwoFactorAuthentication_RememberFor") or 0)
    now = state.now()
    if not disable_remember_me and remember > 0 and user["createdAt"] + timedelta(seconds=remember) > now:
        return True
    until = token_doc.get("twoFactorAuthorizedUntil")
    return bool(until and until > now and token_doc.get("twoFactorAuthorizedHash") == fp)


def check_code_for_user(
    state: "State",
    user: dict[str, Any] | str | None,
    *,
    token: str | None = None,
    code: str | None = None,
    method: str | None = None,
    user_agent: str | None = None,
    client_ip: str | None = None,
    disable_remember_me: bool = False,
    require_second_factor: bool = False,
    disable_password_fallback: bool = False,
) -> None:
    """Raise `MeteorError` (totp-required / totp-invalid / ...) unless the caller passes 2FA.

    `user` is a user id or the stored user document; `token` is the caller's
    plain login token (REST `X-Auth-Token`, or the DDP connection's token).
    Login passes `disable_password_fallback=True` and no token, like
    `app/2fa/server/loginHandler.ts`.
    """
    with state.lock:
        if not require_second_factor and (
            state.env.get("TEST_MODE") or not state.settings.get("Accounts_TwoFactorAuthentication_Enabled")
        ):
            return
        doc = state.users.get(user) if isinstance(user, str) else (state.users.get(user["_id"]) if user else None)
        if doc is None:
            raise MeteorError("totp-user-not-found", "TOTP User not found")
        fp = fingerprint(user_agent, client_ip)
        token_doc = _find_token(doc, token)
        if not require_second_factor and _already_authorized(state, doc, token_doc, fp, disable_remember_me):
            return

        methods = available_methods(state, doc)
        if method in ("totp", "email"):
            chosen: str | None = method
        elif methods:
            chosen = methods[0]
        elif (
            not disable_password_fallback
            and state.settings.get("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback")
            and doc.get("services", {}).get("password", {}).get("bcrypt")
        ):
            chosen = "password"
        else:
            return

        details: dict[str, Any] = {"method": chosen, "codeGenerated": False, "availableMethods": methods}
        if not code:
            if chosen == "email" and email_enabled(state, doc):
                sent = _send_email_code(state, doc)
                details["codeGenerated"] = sent["codeGenerated"]
                if "codeExpires" in sent:
                    details["codeExpires"] = sent["codeExpires"]
                details["emailOrUsername"] = doc["username"]
            raise MeteorError("totp-required", "TOTP Required", details)

        if chosen == "totp":
            valid = totp_enabled(state, doc) and verify_totp(state, doc, code)
        elif chosen == "email":
            valid = email_enabled(state, doc) and _verify_email(state, doc, code)
        else:
            valid = check_password_digest(str(code).lower(), doc["services"]["password"]["bcrypt"])
        if not valid:
            raise MeteorError("totp-invalid", "TOTP Invalid", details)

        remember = int(state.settings.get("Accounts_TwoFactorAuthentication_RememberFor") or 0)
        if token_doc is not None and not disable_remember_me and remember > 0:
            token_doc["twoFactorAuthorizedUntil"] = state.now() + timedelta(seconds=remember)
            token_doc["twoFactorAuthorizedHash"] = fp
