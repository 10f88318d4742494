"""Every message `rcsync check` gives about the site's OAuth sign-in (sync_tasks.sso_check)."""
from __future__ import annotations

from sync_tasks.config import load_config
from sync_tasks.sso import identity_from
from sync_tasks.sso_check import PrivilegedAccount, sso_findings

B = "Accounts_OAuth_Custom-Besedka"


def sso(**kw):
    return load_config({"SSO": {"service": "besedka", **kw}}).sso


def values(**over):
    v = {B: True, f"{B}-key_field": "username", f"{B}-merge_users": True, f"{B}-merge_users_distinct_services": True,
         f"{B}-username_field": "username", f"{B}-email_field": "email", "Accounts_Verify_Email_For_External_Accounts": True,
         "Accounts_Registration_AuthenticationServices_Enabled": True}
    for k, val in over.items():
        v[B + k if k.startswith("-") else k] = val
    return v


ADMIN = PrivilegedAccount("a1", "admin", "admin@example.org", frozenset({"admin"}))
SVC = PrivilegedAccount("svc", "rcsync", "rcsync@example.org", frozenset({"admin", "bot"}))
OWNER = PrivilegedAccount("o1", "olga", "olga@example.org", frozenset({"admin", "user"}))


def ident(username, email=None):
    return identity_from({"id": username, "username": username, "email": email or f"{username}@example.org"})


def test_fit_configuration_says_so():
    problems, warnings, notes = sso_findings(sso(), values(), privileged=[OWNER], linked_to={"o1": "1"},
                                             identities=[("1", ident("olga"))])
    assert problems == warnings == [] and notes[-1] == "the besedka sign-in fits mode create_ahead (key field username)"


def test_create_ahead_merge_settings_off():
    problems, _, _ = sso_findings(sso(), values(**{"-merge_users": False}))
    assert problems == [f"{B}-merge_users is off: every account rcsync pre-creates makes that person's first sign-in "
                        "through besedka fail (\"User with username X already exists\"); turn it on, or use "
                        "RCSYNC['SSO']['mode'] = 'wait_for_login'"]
    problems, _, _ = sso_findings(sso(), values(**{"-merge_users_distinct_services": False}))
    assert len(problems) == 1 and problems[0].startswith(f"{B}-merge_users_distinct_services is off: the login only "
                                                         "attaches to an account that already has services.besedka")


def test_key_field_not_matching_the_identity():
    problems, _, _ = sso_findings(sso(key_field="username"), values(**{"-key_field": "email"}))
    assert problems[0] == (f"{B}-key_field is 'email' but RCSYNC['SSO']['key_field'] is 'username': the login would "
                           "look accounts up by email, rcsync by username; make them the same")


def test_verify_email_for_external_accounts():
    problems, _, _ = sso_findings(sso(mode="wait_for_login"), values(Accounts_Verify_Email_For_External_Accounts=False,
                                                                  **{"-merge_users": False}))
    assert problems == ["Accounts_Verify_Email_For_External_Accounts is off: the accounts the sign-in creates get "
                        "unverified emails, and rcsync links a login-made account only by a verified email equal to "
                        "the identity's; turn it on"]
    problems, _, notes = sso_findings(sso(), values(Accounts_Verify_Email_For_External_Accounts=False))
    assert problems == [] and any(n.startswith("Accounts_Verify_Email_For_External_Accounts is off") for n in notes)


def test_wait_for_login_needs_registration_by_services():
    problems, _, _ = sso_findings(sso(mode="wait_for_login"),
                               values(Accounts_Registration_AuthenticationServices_Enabled=False,
                                      **{"-merge_users": False}))
    assert problems and problems[0].startswith("Accounts_Registration_AuthenticationServices_Enabled is off")


def test_missing_disabled_unreadable_service():
    assert sso_findings(sso(), {})[0][0].startswith("the Custom OAuth service 'besedka' does not exist")
    assert f"{B} is false: the besedka sign-in is switched off" in sso_findings(sso(), values(**{B: False}))[0]
    problems, _, _ = sso_findings(sso(), None, why_unreadable="the service account lacks 'view-privileged-setting'")
    assert problems == ["cannot read the besedka OAuth settings (the service account lacks 'view-privileged-setting'); "
                        "rcsync pre-creates no accounts until it can"]


def test_takeover_risk_names_privileged_accounts():
    # admin: nobody's identity, still capturable; rcsync: the service account; olga: her own; mallory's
    # identity presents "Olga" (case-insensitive) and would capture the owner's account.
    problems, warnings, _ = sso_findings(sso(), values(), privileged=[ADMIN, SVC, OWNER], linked_to={"o1": "1"},
                                         identities=[("1", ident("olga")), ("2", ident("Olga", "m@example.org"))],
                                         service_user_id="svc")
    assert problems == [
        "take-over risk: with -merge_users and -merge_users_distinct_services on, the sign-in of site user 2 presents "
        "username 'olga' and would take over privileged account @olga (admin, user)",
    ]
    assert warnings == [
        "take-over risk: privileged account @admin (admin) belongs to no site person's identity; any besedka identity "
        "presenting username 'admin' would take it over (merge settings on): rename it, or make sure the provider can "
        "never issue that username",
        "take-over risk: privileged account @rcsync (admin, bot, the rcsync service account) belongs to no site "
        "person's identity; any besedka identity presenting username 'rcsync' would take it over (merge settings on): "
        "rename it, or make sure the provider can never issue that username",
    ]
    by_email, email_warnings, _ = sso_findings(sso(key_field="email"), values(**{"-key_field": "email"}), privileged=[OWNER],
                               linked_to={"o1": "1"}, identities=[("1", ident("olga"))])
    assert by_email == email_warnings == []


def test_no_takeover_when_merge_is_off():
    problems, _, notes = sso_findings(sso(mode="wait_for_login"), values(**{"-merge_users": False}), privileged=[ADMIN])
    assert problems == [] and any("no account can be taken over" in n for n in notes)


def test_wait_for_login_needs_the_username_field():
    problems, _, _ = sso_findings(sso(mode="wait_for_login"), values(**{"-merge_users": False, "-username_field": ""}))
    assert problems == [f"{B}-username_field is empty: the accounts the sign-in creates get no username (CustomOAuth's "
                        "validateNewUser takes it only from that field), and rcsync links a login-made account by the "
                        "identity's username; set it to 'username'"]
