"""What ``rcsync check`` says about the site's OAuth sign-in. Pure: settings and accounts in, messages out.

Each message names the setting, what Rocket.Chat's login will do because of it (reference §11.1), and
what to change. The take-over check lists the privileged accounts an identity could capture when
``-merge_users_distinct_services`` is on (the login then attaches to *any* account whose username, or
email, matches — case-insensitively, an admin included).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .config_types import SsoConfig
from .sso import SsoIdentity, SsoObserved

__all__ = ["PrivilegedAccount", "sso_findings", "PRIVILEGED_ROLES"]

PRIVILEGED_ROLES = frozenset({"admin"})


@dataclass(frozen=True)
class PrivilegedAccount:
    user_id: str
    username: str
    email: str | None
    roles: frozenset[str]


def _key(value: str | None) -> str:
    return (value or "").strip().lower()


def sso_findings(sso: SsoConfig, values: Mapping[str, object] | None, *, why_unreadable: str = "",
                 privileged: Iterable[PrivilegedAccount] = (), linked_to: Mapping[str, str] | None = None,
                 identities: Iterable[tuple[str, SsoIdentity]] = (), service_user_id: str | None = None
                 ) -> tuple[list[str], list[str], list[str]]:
    """(problems, warnings, notes) for the configured service. ``values``: setting id -> value as read
    (``None``: the settings could not be read). ``linked_to``: Rocket.Chat user id -> site id of its
    AccountLink. A privileged account some site person's sign-in would capture is a problem; one no site
    person's identity presents today (but a future one could) is a warning."""
    problems: list[str] = []
    warnings: list[str] = []
    notes: list[str] = []
    svc = sso.service
    mode = sso.mode
    sid = sso.setting_id
    if values is None:
        problems.append(f"cannot read the {svc} OAuth settings ({why_unreadable or 'view-privileged-setting'}); "
                        "rcsync pre-creates no accounts until it can")
        return problems, warnings, notes
    seen = SsoObserved.from_values(sso, values)
    if not seen.registered:
        problems.append(f"the Custom OAuth service {svc!r} does not exist ({sid()} is not a setting): declare it in "
                        "RCSYNC['SETTINGS'] and run `rcsync bootstrap`, which registers it (settings.addCustomOAuth)")
        return problems, warnings, notes
    if not seen.enabled:
        problems.append(f"{sid()} is false: the {svc} sign-in is switched off")
    if seen.key_field != sso.key_field:
        problems.append(f"{sid('-key_field')} is {seen.key_field!r} but RCSYNC['SSO']['key_field'] is "
                        f"{sso.key_field!r}: the login would look accounts up by {seen.key_field}, rcsync by "
                        f"{sso.key_field}; make them the same")
    if mode == "create_ahead":
        if not seen.merge_users:
            problems.append(f"{sid('-merge_users')} is off: every account rcsync pre-creates makes that person's "
                            f"first sign-in through {svc} fail (\"User with username X already exists\"); turn it "
                            "on, or use RCSYNC['SSO']['mode'] = 'wait_for_login'")
        if not seen.distinct_services:
            problems.append(f"{sid('-merge_users_distinct_services')} is off: the login only attaches to an account "
                            f"that already has services.{sso.service_key}, which accounts made by users.create never "
                            "have, so the first sign-in fails (\"Email already exists.\"); turn it on, or use "
                            "mode 'wait_for_login'")
        if not seen.verify_external_email:
            notes.append("Accounts_Verify_Email_For_External_Accounts is off: accounts a sign-in creates on its own "
                         "have unverified emails (rcsync's pre-created ones are not affected)")
    else:
        if not seen.username_field:
            problems.append(f"{sid('-username_field')} is empty: the accounts the sign-in creates get no username "
                            "(CustomOAuth's validateNewUser takes it only from that field), and rcsync links a "
                            "login-made account by the identity's username; set it to 'username'")
        if not seen.verify_external_email:
            problems.append("Accounts_Verify_Email_For_External_Accounts is off: the accounts the sign-in creates "
                            "get unverified emails, and rcsync links a login-made account only by a verified email "
                            "equal to the identity's; turn it on")
        if not seen.registration_enabled:
            problems.append("Accounts_Registration_AuthenticationServices_Enabled is off: the sign-in cannot create "
                            "accounts (\"User registration is disabled for authentication services\"), and in mode "
                            "wait_for_login rcsync creates none either")
        if seen.distinct_services and seen.merge_users:
            notes.append(f"{sid('-merge_users_distinct_services')} is on, which mode wait_for_login does not need")
    if seen.distinct_services and seen.merge_users:
        captured, capturable = _takeover(sso, seen, privileged, linked_to or {}, identities, service_user_id)
        problems += captured
        warnings += capturable
    elif seen.distinct_services:
        notes.append(f"{sid('-merge_users_distinct_services')} is on but -merge_users is off: a matching login is "
                     "refused rather than merged, so no account can be taken over")
    if not problems:
        notes.append(f"the {svc} sign-in fits mode {mode} (key field {seen.key_field})")
    return problems, warnings, notes


def _takeover(sso: SsoConfig, seen: SsoObserved, privileged: Iterable[PrivilegedAccount], linked_to: Mapping[str, str],
              identities: Iterable[tuple[str, SsoIdentity]], service_user_id: str | None
              ) -> tuple[list[str], list[str]]:
    by_email = seen.key_field == "email"
    claim: dict[str, list[str]] = {}
    for site_id, ident in identities:
        claim.setdefault(_key(ident.email if by_email else ident.username), []).append(site_id)
    captured: list[str] = []
    capturable: list[str] = []
    field = "email" if by_email else "username"
    for acct in sorted(privileged, key=lambda a: a.username.lower()):
        k = _key(acct.email if by_email else acct.username)
        if not k:
            continue
        owner = linked_to.get(acct.user_id)
        who = claim.get(k, [])
        roles = ", ".join(sorted(acct.roles))
        label = f"@{acct.username} ({roles}{', the rcsync service account' if acct.user_id == service_user_id else ''})"
        strangers = [s for s in who if s != owner]
        if strangers:
            captured.append(f"take-over risk: with -merge_users and -merge_users_distinct_services on, the sign-in of site "
                       f"user {', '.join(strangers)} presents {field} {k!r} and would take over privileged account "
                       f"{label}")
        elif owner is None or not who:
            capturable.append(f"take-over risk: privileged account {label} belongs to no site person's identity; any "
                       f"{sso.service} identity presenting {field} {k!r} would take it over (merge settings on): "
                       f"rename it, or make sure the provider can never issue that {field}")
    return captured, capturable
