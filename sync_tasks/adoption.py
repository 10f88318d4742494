"""Which existing Rocket.Chat accounts rcsync may *adopt*: link to a site person although it did not create
them (by email, by username, by an SSO look-alike, or when restoring a vanished link). Pure.

Adoption hands a site user an account someone else set up, so each rule closes a take-over:

* the rcsync service account is never adopted: its holder would own rcsync's own credentials and powers;
* an account already linked to another site person (in this run, or by an AccountLink of someone not in
  it, ``ObservedState.claimed``) is never adopted: a second person with the same email or username would
  share, and then re-shape, the first one's account;
* a bot or app account (``type`` bot/app, or the ``bot``/``app`` role) is never adopted: it is not a
  person's, and its integrations act with its rights;
* an account holding a privileged role (``RCSYNC["IDENTITY"]["privileged_roles"]``, default ``admin``) is
  never adopted: a site user registering the admin's address (or username) would get the admin's account,
  and the plan would then strip its roles or rewrite its email (a password reset away from full control).

The last two yield to ``RCSYNC["IDENTITY"]["adopt_allow_ids"]`` (ids an admin has reviewed); the first two
never do, since one account cannot belong to two people and rcsync cannot manage itself.
A refused match is a per-person ``conflict`` naming the reason; the rest of the run goes on.
"""
from __future__ import annotations

from typing import Mapping

from .config_types import IdentityConfig
from .state import ObservedAccount, ObservedState

__all__ = ["BOT_ROLES", "adoption_refusal", "refused_reason"]

#: Roles (and account types) of accounts that act for software, not a person.
BOT_ROLES = frozenset({"bot", "app"})


def adoption_refusal(acct: ObservedAccount, observed: ObservedState, identity: IdentityConfig,
                     bound: Mapping[str, str]) -> str | None:
    """Why ``acct`` may not be adopted (a short clause), or None when it may. ``bound``: account id -> site
    id of the people this run has already bound."""
    if acct.user_id == observed.service_user_id or (
            observed.service_username and acct.username.lower() == observed.service_username.lower()):
        return "it is the rcsync service account, which is never managed"
    other = bound.get(acct.user_id) or observed.claimed.get(acct.user_id)
    if other is not None:
        return f"it is already linked to site user {other}"
    if acct.user_id in identity.adopt_allow_ids:
        return None
    if acct.type != "user":
        return f"it is a {acct.type} account, not a person's"
    bots = BOT_ROLES & acct.roles
    if bots:
        return f"it is a {sorted(bots)[0]} account (role {', '.join(sorted(bots))}), not a person's"
    held = identity.privileged_roles & acct.roles
    if held:
        return f"it holds the privileged role {', '.join(sorted(held))}"
    return None


def refused_reason(acct: ObservedAccount, why: str, how: str) -> str:
    """The conflict message for a refused match: which account, how it matched, why not, what to do."""
    hint = ""
    if not why.startswith(("it is the rcsync", "it is already linked")):
        hint = (f"; after review, list {acct.user_id!r} in RCSYNC['IDENTITY']['adopt_allow_ids'] to adopt it, "
                "or give this person another email/username")
    return (f"Rocket.Chat account @{acct.username} ({acct.user_id}) has this person's {how}, but rcsync does not "
            f"adopt it: {why}{hint}")
