"""Matching rules when people sign in through the site's OAuth service (``RCSYNC["SSO"]``). Pure.

Used by :mod:`sync_tasks.match`: an account that looks exactly like what the person's own login makes is
linked (this is how ``wait_for_login`` links, and how a person who signed in before rcsync ran is found);
a new account is planned only with exactly the identity's username, only when that name is free and
valid, and only when the login will attach to it (:func:`sync_tasks.sso.creation_blocker`). Everything
else is a per-person issue that says what the login would do.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .config_types import SyncConfig
from .identity import email_key, is_valid_rc_name
from .policy import DesiredAccount
from .sso import creation_blocker, login_made_account
from .state import ObservedAccount, ObservedState

__all__ = ["sso_claim", "sso_new_account_issue"]


def _holder(desired: DesiredAccount, key_field: str, by_name: Mapping[str, ObservedAccount],
            by_email: Mapping[str, list[ObservedAccount]]) -> ObservedAccount | None:
    ident = desired.sso
    assert ident is not None
    if key_field == "email":
        found = by_email.get(email_key(ident.email) or "", [])
        return found[0] if found else None
    return by_name.get(ident.username.lower())


def sso_claim(desired: DesiredAccount, config: SyncConfig, by_name: Mapping[str, ObservedAccount],
              by_email: Mapping[str, list[ObservedAccount]],
              eligible: Callable[[ObservedAccount], bool]) -> ObservedAccount | None:
    """The account the person's login made (or would attach to), if one exists and is free to link.

    ``eligible`` is the adoption rules (:mod:`sync_tasks.adoption`): a privileged, bot or service account,
    or one linked to another person, is never linked on looks alone (DESIGN principle 5)."""
    sso, ident = config.sso, desired.sso
    assert sso is not None and ident is not None
    acct = _holder(desired, sso.key_field, by_name, by_email)
    if acct is None or not eligible(acct):
        return None
    return acct if login_made_account(ident, acct.username, acct.email, acct.email_verified) else None


def sso_new_account_issue(desired: DesiredAccount, config: SyncConfig, observed: ObservedState, taken: set[str],
                          bound: Mapping[str, str], by_name: Mapping[str, ObservedAccount]) -> tuple[str, str] | None:
    """(status, reason) when no account may be created for this person; None when one may."""
    sso, ident = config.sso, desired.sso
    assert sso is not None and ident is not None
    svc = sso.service
    u = ident.username
    reserved = config.identity.reserved
    if not is_valid_rc_name(u) or u.lower() in reserved:
        return ("conflict", f"the sign-in through {svc} presents username {u!r}, which Rocket.Chat refuses as a "
                            "username; an account under another name would not be the one that sign-in finds, "
                            "so none is created (have the provider serve a valid username)")
    holder = by_name.get(u.lower())
    if holder is not None or u.lower() in taken:
        if holder is None:
            return ("conflict", f"username {u!r} (what the sign-in through {svc} presents) is planned for another "
                                "site person")
        other = bound.get(holder.user_id) or observed.claimed.get(holder.user_id)
        whose = f"linked to site user {other}" if other is not None else "not linked to this person"
        hint = ""
        privileged = config.identity.privileged_roles & holder.roles
        if privileged and holder.user_id not in config.identity.adopt_allow_ids:
            hint = f" (it is privileged: {', '.join(sorted(privileged))}; never linked automatically)"
        elif (email_key(holder.email) == email_key(ident.email) and not holder.email_verified):
            hint = (" (it has this person's email, unverified: with Accounts_Verify_Email_For_External_Accounts "
                    "off the login makes such accounts, and rcsync cannot prove it is theirs)")
        return ("conflict", f"username {u!r} that the sign-in through {svc} presents is held by Rocket.Chat account "
                            f"@{holder.username} ({holder.user_id}), {whose}; the sign-in would be refused or take "
                            f"that account over, so rcsync neither creates nor links one{hint}")
    blocker = creation_blocker(sso, observed.sso)
    if blocker is not None:
        return ("waiting" if sso.mode == "wait_for_login" else "conflict", blocker)
    return None
