"""Bind site people to Rocket.Chat accounts. Pure: decides, never reads or writes.

Order of precedence, per person in site order:
1. an :class:`AccountLink` (the immutable ``rc_user_id``) wins; a link to an account that no longer
   exists is re-created for an active person (keeping the old username when it is free);
2. otherwise an existing account is *adopted* only as ``RCSYNC["IDENTITY"]["adopt"]`` allows
   (default: same email, and the site says the email is verified), and never the service account, an
   account linked to another site person, a bot/app or a privileged one (:mod:`sync_tasks.adoption`):
   such a match is a conflict naming the reason;
3. otherwise a new account is planned, with a username derived from the site username and collisions
   resolved deterministically (``name``, ``name-2``, ... in site order). Its email must be free, or
   be given up in this run by the account holding it (an email change of another person, which runs
   before the creations; ``sync_tasks.emails``).
Anything that cannot be resolved becomes a per-person issue with a reason; it never stops the others.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from .adoption import adoption_refusal, refused_reason
from .config import SyncConfig
from .emails import plan_email_moves, wanted_email_changes
from .identity import assign_usernames, email_key
from .match_sso import sso_claim, sso_new_account_issue
from .person import AccountLink, SitePerson, site_sort_key
from .policy import DesiredAccount
from .state import ObservedAccount, ObservedState
from .target import Target


@dataclass(frozen=True, slots=True)
class PersonIssue:
    """Why a person gets no operations: status ``error`` (bad site data), ``conflict`` (identity
    clash with Rocket.Chat) or ``skipped`` (nothing to do, e.g. an inactive person without account)."""

    site_id: str
    status: str
    reason: str


@dataclass(frozen=True)
class Matching:
    targets: tuple[Target, ...]
    issues: tuple[PersonIssue, ...]
    #: (user_id, username) of accounts no site person is linked to and rcsync did not create; left
    #: alone and listed (only known after a complete, bulk observation).
    unmanaged: tuple[tuple[str, str], ...]




def match_people(people: Iterable[tuple[SitePerson, DesiredAccount]], observed: ObservedState,
                 config: SyncConfig) -> Matching:
    """Bind every (person, desired) pair; see the module docstring for the rules."""
    pairs = sorted(people, key=lambda pd: site_sort_key(pd[0].site_id))
    issues: list[PersonIssue] = []
    bound: dict[str, str] = {}  # user_id -> site_id
    targets: dict[str, Target] = {}
    new: dict[str, DesiredAccount] = {}
    preferred: dict[str, str] = {}
    # Two records for one site id cannot both be right, and picking one would depend on input order.
    counts: dict[str, int] = {}
    for person, _ in pairs:
        counts[person.site_id] = counts.get(person.site_id, 0) + 1
    unique: list[tuple[SitePerson, DesiredAccount]] = []
    reported: set[str] = set()
    for person, desired in pairs:
        if counts[person.site_id] > 1:
            if person.site_id not in reported:
                reported.add(person.site_id)
                issues.append(PersonIssue(person.site_id, "error",
                                          f"{counts[person.site_id]} records share this site id; none was synced"))
            continue
        unique.append((person, desired))

    vanished: dict[str, AccountLink] = {}  # site id -> link whose account no longer exists
    # Pass 1: linked people claim their accounts before anyone may adopt them.
    for person, desired in unique:
        link = person.link
        if link is None:
            continue
        acct = observed.accounts.get(link.rc_user_id)
        if acct is not None and acct.user_id == observed.service_user_id:
            issues.append(PersonIssue(person.site_id, "conflict",
                                      "linked to the rcsync service account, which is never managed"))
        elif link.rc_user_id in observed.claimed:  # a duplicate link left from before links were unique
            issues.append(PersonIssue(person.site_id, "conflict", f"account {link.rc_user_id} is already linked "
                                      f"to site user {observed.claimed[link.rc_user_id]}"))
        elif (acct is not None and acct.user_id in bound and desired.remove is None
              and targets[bound[acct.user_id]].desired.remove == "delete"):
            # The account is deleted by this plan for the person who claimed it first: like a linked
            # account that is gone (and by the same rules, so the next run decides alike), this person is
            # matched again and may get a new one (deletions run before creations).
            vanished[person.site_id] = link
        elif acct is not None and acct.user_id in bound:
            issues.append(PersonIssue(person.site_id, "conflict",
                                      f"account {acct.user_id} is already linked to site user {bound[acct.user_id]}"))
        elif acct is not None:
            bound[acct.user_id] = person.site_id
            targets[person.site_id] = Target(desired, acct.user_id, acct.username,
                                             created_by_bridge=link.created_by_bridge)
        elif desired.remove is not None:
            issues.append(PersonIssue(person.site_id, "skipped",
                                      f"linked account {link.rc_user_id} no longer exists in Rocket.Chat"))
        else:
            # The linked account is gone (e.g. Rocket.Chat came back empty, or from an older backup): match
            # this person again like an unlinked one, first trying the same account under another id.
            vanished[person.site_id] = link

    # Pass 2: unlinked people adopt or get a new account.
    # Indexes of all accounts are only needed for people without a link (adoption, collisions):
    # build them lazily, so a steady-state run over 100k linked people does not pay for them.
    unlinked = [(p, d) for p, d in unique if p.link is None or p.site_id in vanished]
    # Accounts deleted by this very plan (DEPROVISION="delete") free their email and username.
    deleting = {t.user_id for t in targets.values() if t.desired.remove == "delete"}
    by_email = observed.by_email() if unlinked else {}
    by_name = observed.by_username() if unlinked else {}
    if deleting:
        by_email = {k: [a for a in v if a.user_id not in deleting] for k, v in by_email.items()}
        by_name = {k: a for k, a in by_name.items() if a.user_id not in deleting}
    adopt = config.identity.adopt
    waiting: dict[str, str] = {}  # site id -> why, for new accounts whose email another account holds now
    for person, desired in unlinked:
        if desired.remove is not None:
            issues.append(PersonIssue(person.site_id, "skipped", "inactive on the site and has no linked account"))
            continue
        key = email_key(desired.email)
        same_email = [a for a in by_email.get(key, []) if a.type == "user"] if key else []
        chosen: ObservedAccount | None = None
        refused: str | None = None  # the first match the adoption rules refused, as the conflict reason

        def refusal(acct: ObservedAccount, how: str, *, report: bool = True) -> str | None:
            nonlocal refused
            why = adoption_refusal(acct, observed, config.identity, bound)
            if why is not None and report and refused is None:
                refused = refused_reason(acct, why, how)
            return why

        gone = vanished.get(person.site_id)
        if gone is not None:  # restored from a backup: same username and email, new id
            acct = by_name.get(gone.rc_username.lower())
            if (acct is not None and key and email_key(acct.email) == key
                    and refusal(acct, "former username and email") is None):
                chosen = acct
        if chosen is None and config.sso is not None and desired.sso is not None:
            chosen = sso_claim(desired, config, by_name, by_email,
                               lambda a: adoption_refusal(a, observed, config.identity, bound) is None)
        for mode in (adopt if chosen is None else ()):
            if mode in ("email", "email_verified") and key and by_email.get(key):
                if mode == "email_verified" and not desired.email_verified:
                    continue
                # An in-run holder is left to the email rules below (it may move to another address).
                cand = [a for a in by_email[key]
                        if refusal(a, "email", report=a.user_id not in bound) is None]
                if len(cand) == 1:
                    chosen = cand[0]
                    break
            if mode == "username":
                acct = by_name.get(desired.username.lower())
                if acct is not None and refusal(acct, "username") is None:
                    chosen = acct
                    break
        if chosen is None and refused is not None:
            issues.append(PersonIssue(person.site_id, "conflict", refused))
            continue
        if chosen is not None:
            bound[chosen.user_id] = person.site_id
            targets[person.site_id] = Target(desired, chosen.user_id, chosen.username, adopted=True,
                                             created_by_bridge=gone.created_by_bridge if gone else False)
            continue
        if same_email:
            holder = same_email[0]
            if desired.sso is not None and holder.username.lower() == desired.sso.username.lower():
                # Username and email are the identity's: say why it is not provably the login's account.
                problem = sso_new_account_issue(desired, config, observed, set(), bound,
                                                {holder.username.lower(): holder})
                if problem is not None:
                    issues.append(PersonIssue(person.site_id, *problem))
                    continue
            why = ("the site email is not verified" if "email_verified" in adopt and not desired.email_verified
                   else f"IDENTITY.adopt={list(adopt)} does not allow adopting it")
            if holder.user_id in bound:
                why = f"it is linked to site user {bound[holder.user_id]}"
            reason = (f"email is already used by Rocket.Chat account @{holder.username} "
                      f"({holder.user_id}); not adopted because {why}")
            keeps = holder.user_id not in bound or email_key(targets[bound[holder.user_id]].desired.email) == key
            if keeps:
                issues.append(PersonIssue(person.site_id, "conflict", reason))
                continue
            waiting[person.site_id] = reason  # the holder's person moves to another address, maybe this run
        new[person.site_id] = desired
        preferred[person.site_id] = gone.rc_username if gone is not None and desired.sso is None else desired.username

    # Emails must be unique in Rocket.Chat: the first person (site order) keeps a shared email; for
    # later ones a new account is an error and a linked account simply does not get it.
    email_owner: dict[str, str] = {}
    for site_id in sorted(list(targets) + list(new), key=site_sort_key):
        desired = targets[site_id].desired if site_id in targets else new[site_id]
        if desired.remove is not None:
            continue  # a deprovisioned account's email only matters while Rocket.Chat still holds it
        key = email_key(desired.email)
        if key is None:
            if site_id in new:
                del new[site_id]
                issues.append(PersonIssue(site_id, "error", "missing or invalid email (Rocket.Chat requires one)"))
            continue
        if key in email_owner:
            reason = f"duplicate email, also used by site user {email_owner[key]}"
            if site_id in new:
                del new[site_id]
                issues.append(PersonIssue(site_id, "error", reason))
            else:
                t = targets[site_id]
                targets[site_id] = replace(t, desired=replace(t.desired, email=None))
            continue
        email_owner[key] = site_id

    # A new account's email must be free when the creations run (after every update of this run).
    if new:
        holders = {email_key(a.email): a for a in observed.accounts.values()
                   if a.email and a.user_id not in deleting}
        moves = plan_email_moves(wanted_email_changes(targets.values(), observed, config.writes_profile("email")),
                                 observed, deleting)
        for site_id in sorted(new, key=site_sort_key):
            key = email_key(new[site_id].email)
            holder = holders.get(key)
            if holder is not None and key not in moves.released:
                del new[site_id]
                issues.append(PersonIssue(site_id, "conflict", waiting.get(site_id) or (
                    f"email is already used by Rocket.Chat account @{holder.username} ({holder.user_id})")))

    names: dict[str, str] = {}
    if new:
        taken = {a.username for a in observed.accounts.values() if a.user_id not in deleting}
        taken |= set(config.identity.reserved)
        taken |= {t.username for t in targets.values() if t.user_id not in deleting}
        if config.sso is not None:
            # Signing in through the site's OAuth: exactly the identity's username, or no account at all.
            by_name_all = observed.by_username()
            for site_id in sorted(new, key=site_sort_key):
                desired = new[site_id]
                if desired.sso is None:
                    continue
                problem = sso_new_account_issue(desired, config, observed, {t.lower() for t in taken}, bound,
                                                by_name_all)
                if problem is not None:
                    del new[site_id]
                    issues.append(PersonIssue(site_id, *problem))
                else:
                    taken.add(desired.sso.username)
                    names[site_id] = desired.sso.username
        rest = {s: preferred[s] for s in new if s not in names}
        names.update(assign_usernames(rest, taken, max_length=config.identity.username_max_length,
                                      order=sorted(rest, key=site_sort_key)))
    for site_id, desired in new.items():
        targets[site_id] = Target(desired, None, names[site_id])

    unmanaged: tuple[tuple[str, str], ...] = ()
    if observed.complete:
        unmanaged = tuple(sorted(
            (a.user_id, a.username) for a in observed.accounts.values()
            if a.user_id not in bound and a.type == "user" and a.user_id != observed.service_user_id))
    ordered = tuple(targets[s] for s in sorted(targets, key=site_sort_key))
    issues.sort(key=lambda i: (site_sort_key(i.site_id), i.status, i.reason))
    return Matching(ordered, tuple(issues), unmanaged)
