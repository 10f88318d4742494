"""The site's OAuth sign-in and rcsync: identities, and the Rocket.Chat rules they must satisfy. Pure.

A Custom OAuth login finds or creates the Rocket.Chat account by rules the site cannot change from
rcsync (reference §11.1; ``app/custom-oauth/server/custom_oauth_server.js`` and
``app/authentication/server/startup/index.js`` at 7dd5655):

* the service ``besedka`` lives in settings ``Accounts_OAuth_Custom-Besedka[-suffix]`` and on the user
  under ``services.besedka``;
* an account made by ``users.create`` has no ``services.besedka``: the person's first login attaches to
  it only when both ``-merge_users`` and ``-merge_users_distinct_services`` are on, matching it by
  username (key field ``username``) or email (key field ``email``), case-insensitively;
* otherwise a username or email that exists already makes the login fail ("Email already exists.").

So rcsync pre-creates an account with exactly the identity's username and email, and only when the
login will attach to it; in ``wait_for_login`` mode it creates nothing and links the account the
login made (username and email equal to the identity's, email verified). This module holds those
rules as functions of plain values, so the planner and ``rcsync check`` share them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["SsoIdentity", "SsoObserved", "oauth_setting_name", "default_identity", "identity_from",
           "SSO_SETTING_SUFFIXES", "GLOBAL_SSO_SETTINGS", "creation_blocker", "login_made_account"]

#: The service's own settings rcsync reads to know how the login will behave.
SSO_SETTING_SUFFIXES = ("", "-key_field", "-merge_users", "-merge_users_distinct_services", "-username_field",
                        "-email_field")
#: Workspace settings that decide what an OAuth login creates.
GLOBAL_SSO_SETTINGS = ("Accounts_Verify_Email_For_External_Accounts",
                       "Accounts_Registration_AuthenticationServices_Enabled")

MODES = ("create_ahead", "wait_for_login")


def oauth_setting_name(name: str) -> str:
    """The service name as it appears in setting ids: lower-cased, everything but ``[a-z0-9_]`` dropped,
    first letter upper-cased (``server/lib/oauth/addOAuthService.ts``: ``capitalize(name.toLowerCase()
    .replace(/[^a-z0-9_]/g, ''))``). ``besedka`` → ``Besedka``; ``My SSO-2`` → ``Mysso2``."""
    cleaned = re.sub(r"[^a-z0-9_]", "", name.lower())
    return cleaned[:1].upper() + cleaned[1:]


@dataclass(frozen=True, slots=True)
class SsoIdentity:
    """What the site's OAuth identity endpoint serves for one person (the login reads exactly this)."""

    id: str
    username: str
    email: str
    name: str


def identity_from(raw: Any, where: str = "identity") -> SsoIdentity:
    """Validate what a site's identity function returned (a mapping with id, username, email, name)."""
    if isinstance(raw, SsoIdentity):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} returned {type(raw).__name__}, expected a dict with id, username, email, name")
    if set(raw) == {"error"}:  # the Django side caught the site's function failing
        raise ValueError(str(raw["error"]))
    missing = [k for k in ("id", "username", "email") if not raw.get(k)]
    if missing:
        raise ValueError(f"{where} returned no {', '.join(missing)}")
    return SsoIdentity(id=str(raw["id"]), username=str(raw["username"]), email=str(raw["email"]).strip(),
                       name=str(raw.get("name") or raw["username"]))


def default_identity(user: Any) -> dict[str, str]:
    """The documented default: what a Django site's identity view usually serves for ``user`` —
    ``{"id": pk, "username": get_username(), "email": email, "name": get_full_name() or username}``.
    Works on a Django user and on a :class:`~sync_tasks.person.SitePerson` alike."""
    if hasattr(user, "site_id"):  # a SitePerson
        uid, username, email, name = user.site_id, user.username, user.email or "", user.name
    else:
        uid = getattr(user, "pk", None)
        username = user.get_username() if hasattr(user, "get_username") else getattr(user, "username", "")
        email = getattr(user, "email", "") or ""
        name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {"id": str(uid), "username": username or "", "email": email, "name": name or username or ""}


@dataclass(frozen=True)
class SsoObserved:
    """The service's login rules as they will be when the plan's settings are written.

    ``readable`` is False when rcsync could not read them (no ``view-privileged-setting``): then nothing
    is pre-created, because nothing proves the login would attach to it.
    """

    readable: bool = True
    registered: bool = True
    enabled: bool = False
    key_field: str = "username"
    merge_users: bool = False
    distinct_services: bool = False
    username_field: str = ""
    email_field: str = ""
    verify_external_email: bool = True
    registration_enabled: bool = True
    why_unreadable: str = ""

    @classmethod
    def from_values(cls, sso: Any, values: Mapping[str, Any]) -> "SsoObserved":
        """From setting id → value (missing ids absent); ``sso`` is the :class:`SsoConfig`."""
        base = sso.setting_id()

        def get(suffix: str, default: Any) -> Any:
            return values.get(base + suffix, default)

        return cls(
            registered=base in values, enabled=get("", False) is True,
            key_field=str(get("-key_field", "username") or "username"),
            merge_users=get("-merge_users", False) is True,
            distinct_services=get("-merge_users_distinct_services", False) is True,
            username_field=str(get("-username_field", "") or ""), email_field=str(get("-email_field", "") or ""),
            verify_external_email=values.get("Accounts_Verify_Email_For_External_Accounts", True) is not False,
            registration_enabled=values.get("Accounts_Registration_AuthenticationServices_Enabled", True) is not False,
        )


def creation_blocker(sso: Any, seen: SsoObserved | None) -> str | None:
    """Why rcsync must not pre-create accounts for this service now (None: it may).

    ``wait_for_login`` never creates. ``create_ahead`` creates only when the first login will attach to the
    account: the service is registered and on, both merge settings are on, and its key field is the one
    rcsync's identity uses (reference §11.1 table).
    """
    svc = sso.service
    if sso.mode == "wait_for_login":
        return f"waiting for the first sign-in through {svc} (SSO mode wait_for_login creates no accounts)"
    if seen is None or not seen.readable:
        why = f": {seen.why_unreadable}" if seen is not None and seen.why_unreadable else ""
        return (f"not created: cannot read the {svc} OAuth settings{why}; without them nothing proves the "
                "first sign-in would attach to a pre-created account")
    if not seen.registered:
        return f"not created: the Custom OAuth service {svc!r} does not exist in Rocket.Chat"
    if not seen.enabled:
        return f"not created: the Custom OAuth service {svc!r} is switched off ({sso.setting_id()} is false)"
    off = [s for s, on in (("-merge_users", seen.merge_users), ("-merge_users_distinct_services",
                                                                 seen.distinct_services)) if not on]
    if off:
        return (f"not created: {', '.join(sso.setting_id(s) for s in off)} off, so the first sign-in through "
                f"{svc} would be refused (\"Email already exists.\") instead of attaching to a pre-created account")
    if seen.key_field != sso.key_field:
        return (f"not created: {sso.setting_id('-key_field')} is {seen.key_field!r} but RCSYNC['SSO']['key_field'] "
                f"is {sso.key_field!r}; the sign-in would match accounts by another field than rcsync expects")
    return None


def login_made_account(ident: SsoIdentity, username: str, email: str | None, email_verified: bool) -> bool:
    """Does this Rocket.Chat account look exactly like what the person's own login makes?

    REST never shows ``services.<name>`` (reference §11.2), so this is the proof rcsync has: the username
    and the email both equal the identity's (case-insensitively, as Rocket.Chat compares) and the email is
    verified (an OAuth-made account's is, unless ``Accounts_Verify_Email_For_External_Accounts`` is off;
    a self-registered squatter's is not, since the address is not theirs).
    """
    return (bool(email) and email_verified and username.lower() == ident.username.lower()
            and (email or "").strip().lower() == ident.email.strip().lower())
