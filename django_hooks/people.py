"""Django users → the engine's Django-free `SitePerson` values (and back: results → `AccountLink` rows).

The engine never sees a model instance: this module is the only place that
knows how the site stores roles, groups and flags. A user that was deleted
but still has an `AccountLink` becomes a `deleted=True` person, so its
Rocket.Chat account is deprovisioned by the same level-triggered code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from django.contrib.auth import get_user_model

from django_hooks.conf import engine_config
from django_hooks.models import AccountLink
from django_hooks.run_rows import group_names, user_link_groups, users_links_groups
from django_hooks.verified import EmailVerifier, sso_identity_for
from sync_tasks.person import AccountLink as EngineLink
from sync_tasks.person import SitePerson


def role_attribute_name() -> str:
    """The user attribute holding the site role (RCSYNC['PEOPLE']['role_attribute'], default 'role')."""
    return engine_config().people.role_attribute


def _engine_link(link: AccountLink | None) -> EngineLink | None:
    if link is None or not link.rc_user_id:
        return None
    return EngineLink(rc_user_id=link.rc_user_id, rc_username=link.rc_username, created_by_bridge=link.created_by_bridge)


def person_from_user(user: Any, link: AccountLink | None, role_attribute: str | None = None,
                     verifier: EmailVerifier | None = None, groups: list[str] | None = None) -> SitePerson:
    """One live site user as the engine sees it (pure apart from reading already-loaded attributes).

    ``email_verified`` follows ``RCSYNC["IDENTITY"]["email_verified"]`` (django_hooks.verified); with
    ``RCSYNC["SSO"]`` the person also carries the identity the site's OAuth login presents. ``groups``:
    the user's group names when the caller already has them."""
    role_attribute = role_attribute or role_attribute_name()
    role = getattr(user, role_attribute, None)
    if groups is None:
        groups = [g.name for g in user.groups.all()] if hasattr(user, "groups") else []
    config = engine_config()
    verifier = verifier or EmailVerifier(config.identity)
    return SitePerson(
        site_id=str(user.pk),
        username=user.get_username() or "",
        email=(getattr(user, "email", "") or None),
        email_verified=verifier(user),
        sso_identity=sso_identity_for(user, config),
        name=(user.get_full_name() if hasattr(user, "get_full_name") else "") or "",
        active=bool(getattr(user, "is_active", True)),
        role=str(role) if role is not None else None,
        groups=frozenset(groups),
        is_superuser=bool(getattr(user, "is_superuser", False)),
        is_staff=bool(getattr(user, "is_staff", False)),
        link=_engine_link(link),
    )


def deleted_person(link: AccountLink) -> SitePerson:
    """A site user that is gone but whose Rocket.Chat account rcsync knows: deprovision it."""
    return SitePerson(
        site_id=link.user_key,
        username=link.site_username or link.rc_username or link.user_key,
        active=False,
        deleted=True,
        link=_engine_link(link),
    )


def _users():
    return get_user_model()._default_manager.prefetch_related("groups")


def load_person(user_key: str) -> SitePerson | None:
    """The person behind one user key: live, deleted-with-link, or None (never existed, nothing to do)."""
    User = get_user_model()
    try:
        pk = User._meta.pk.to_python(user_key)
    except Exception:
        pk = None
    # One plain read: the user with its link and (PostgreSQL) its group names (run_rows.user_link_groups;
    # building it through the ORM cost more CPU than the query); elsewhere the names are a second read.
    found = user_link_groups(pk) if pk is not None else None
    if found is NotImplemented:
        users = list(User._default_manager.select_related("rocketchat_link").filter(pk=pk)[:1])
        found = None
        if users:
            try:
                found = (users[0], users[0].rocketchat_link, None)
            except AccountLink.DoesNotExist:
                found = (users[0], None, None)
    if found is not None:
        user, link, groups = found
        if link is None:
            link = AccountLink.objects.filter(user_key=user_key).first()  # e.g. a re-used key, not bound yet
        return person_from_user(user, link, groups=groups if groups is not None else group_names(user))
    link = AccountLink.objects.filter(user_key=user_key).first()
    if link is not None and link.rc_user_id:
        return deleted_person(link)
    return None


def iter_people(chunk: int = 2000) -> Iterator[SitePerson]:
    """Every site user, then every linked account whose user is gone (for a full reconcile).

    Read a chunk at a time (the users, then their links and verified addresses): a full reconcile of a
    large site keeps a chunk of model instances, not every user's and every link's at once."""
    role_attribute = role_attribute_name()
    verifier = EmailVerifier(engine_config().identity)
    for users in chunked(_users().order_by("pk").iterator(chunk_size=chunk), chunk):
        links = {link.user_key: link for link in AccountLink.objects.filter(user_key__in=[str(u.pk) for u in users])}
        verifier.prefetch(users)
        for user in users:
            yield person_from_user(user, links.get(str(user.pk)), role_attribute, verifier)
    yield from _deleted_people(chunk)


def _deleted_people(chunk: int) -> Iterator[SitePerson]:
    """The links that hold an account but no user (deleting a user empties its link's reference), minus
    those whose key a user has again (a re-used key, not bound yet: that user is the person)."""
    User = get_user_model()
    rows = AccountLink.objects.filter(user__isnull=True).exclude(rc_user_id="").order_by("user_key")
    for links in chunked(rows.iterator(chunk_size=chunk), chunk):
        pks = _primary_keys(User, (link.user_key for link in links))
        alive = {str(pk) for pk in User._default_manager.filter(pk__in=list(pks)).values_list("pk", flat=True)}
        for link in links:
            if link.user_key not in alive:
                yield deleted_person(link)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` items, in order (itertools.batched is 3.12+)."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class SiteDirectory:
    """Every site person for a full reconcile, without holding them all.

    Iterating it reads the site afresh (:func:`iter_people`; the engine iterates twice only for tangled
    site data). ``get`` answers a person by key from the chunk :meth:`load` brought in, else reads them
    alone; ``usernames`` is the same as a site id -> username mapping, for the audit rows of the people
    the run worked on. ``django_hooks.links.save_links`` loads a chunk of results' people at a time."""

    def __init__(self, chunk: int = 2000) -> None:
        self.chunk = chunk
        self._loaded: dict[str, SitePerson] = {}
        self.usernames = _Usernames(self)

    def __iter__(self) -> Iterator[SitePerson]:
        return iter_people(self.chunk)

    # sync_tasks.paged.LinkedPeople: a full reconcile plans a page of Rocket.Chat accounts at a time
    # with the people linked to them, so it never holds every account (or every person) at once.
    def linked_account_ids(self) -> Iterator[str]:
        """Every link that names an account; each is one person (its user's, or a deleted user's, as
        :func:`iter_people` pairs them)."""
        return (AccountLink.objects.exclude(rc_user_id="").order_by()
                .values_list("rc_user_id", flat=True).iterator(chunk_size=self.chunk))

    def people_linked_to(self, user_ids: Sequence[str]) -> Iterator[SitePerson]:
        """The people linked to these accounts: three queries (links, users with their groups, the
        verified addresses) for a page of accounts."""
        links = {link.user_key: link for link in AccountLink.objects.filter(rc_user_id__in=list(user_ids))}
        if not links:
            return
        User = get_user_model()
        pks = _primary_keys(User, links)
        users = list(_users().filter(pk__in=list(pks))) if pks else []
        verifier = EmailVerifier(engine_config().identity)
        verifier.prefetch(users)
        role_attribute = role_attribute_name()
        alive = set()
        for user in users:
            key = str(user.pk)
            alive.add(key)
            yield person_from_user(user, links.get(key), role_attribute, verifier)
        for key, link in links.items():
            if key not in alive:
                yield deleted_person(link)

    def unlinked_people(self) -> Iterator[SitePerson]:
        """The users whose link names no account (or who have none), a chunk at a time: their keys
        first, then only those users in full."""
        User = get_user_model()
        role_attribute = role_attribute_name()
        verifier = EmailVerifier(engine_config().identity)
        for pks in chunked(User._default_manager.order_by("pk").values_list("pk", flat=True)
                           .iterator(chunk_size=self.chunk), self.chunk):
            keys = {str(pk): pk for pk in pks}
            linked = set(AccountLink.objects.filter(user_key__in=list(keys)).exclude(rc_user_id="")
                         .values_list("user_key", flat=True))
            lonely = [pk for key, pk in keys.items() if key not in linked]
            if not lonely:
                continue
            users = list(_users().filter(pk__in=lonely).order_by("pk"))
            links = {link.user_key: link for link in AccountLink.objects.filter(user_key__in=[str(u.pk) for u in users])}
            verifier.prefetch(users)
            for user in users:
                yield person_from_user(user, links.get(str(user.pk)), role_attribute, verifier)

    def load(self, keys: Iterable[str]) -> None:
        """Bring in what storing these people's links needs (their username and whether they want an
        account: two plain queries, not whole persons), replacing the chunk loaded before."""
        self._loaded = _link_facts(list(keys))

    def get(self, key: str, default: Any = None) -> SitePerson | Any:
        if key not in self._loaded:
            person = load_person(key)
            if person is None:
                return default
            if len(self._loaded) >= self.chunk:
                self._loaded.clear()
            self._loaded[key] = person
        return self._loaded[key]


@dataclass(frozen=True, slots=True)
class _LinkFacts:
    """The part of a person that ``links.save_links`` and the audit rows read."""

    username: str
    wants_account: bool


def _primary_keys(User: Any, keys: Iterable[str]) -> dict[Any, str]:
    """pk -> user key, for the keys that can be this user model's primary keys (others name no user)."""
    pks: dict[Any, str] = {}
    for key in keys:
        try:
            pks[User._meta.pk.to_python(key)] = key
        except Exception:
            continue
    return pks


def _link_facts(keys: list[str]) -> dict[str, Any]:
    User = get_user_model()
    pks = _primary_keys(User, keys)
    active = "is_active" if any(f.name == "is_active" for f in User._meta.get_fields()) else None
    fields = ["pk", User.USERNAME_FIELD] + ([active] if active else [])
    out: dict[str, Any] = {}
    for row in User._default_manager.filter(pk__in=list(pks)).values_list(*fields):
        out[str(row[0])] = _LinkFacts(row[1] or "", bool(row[2]) if active else True)
    gone = [k for k in keys if k not in out]
    if gone:
        for link in AccountLink.objects.filter(user_key__in=gone).exclude(rc_user_id=""):
            person = deleted_person(link)
            out[link.user_key] = _LinkFacts(person.username, person.wants_account)
    return out


class _Usernames:
    def __init__(self, directory: SiteDirectory) -> None:
        self._directory = directory

    def get(self, key: str, default: Any = None) -> str | Any:
        person = self._directory.get(key)
        return person.username if person is not None else default


def people_for(user_keys: Iterable[str]) -> list[SitePerson]:
    """The persons behind some user keys (unknown keys are skipped)."""
    out = []
    for key in user_keys:
        person = load_person(str(key))
        if person is not None:
            out.append(person)
    return out


def load_people(user_keys: Iterable[str]) -> tuple[dict[str, SitePerson], dict[str, str]]:
    """The persons behind many user keys in a few queries (a batch): (person by key, why by key).

    Keys that never existed and have no account are in neither; a user whose record cannot be read
    as a person is in the second, with the reason, so it fails alone and the rest go on.

    On PostgreSQL the users, the links bound to them and their group names are one fixed statement
    (`run_rows.users_links_groups`); the links of the other keys (deleted users, a re-used key not bound
    yet) are a second read, only when there are such keys.
    """
    keys = list(dict.fromkeys(str(k) for k in user_keys))
    User = get_user_model()
    pks = _primary_keys(User, keys)
    found = users_links_groups(list(pks))
    if found is None:
        links = {link.user_key: link for link in AccountLink.objects.filter(user_key__in=keys)}
        users = list(_users().filter(pk__in=list(pks)))
        rows = [(user, links.get(str(user.pk)), None) for user in users]
    else:
        rows = found
        users = [user for user, _, _ in rows]
        bound = {str(user.pk) for user, link, _ in rows if link is not None}
        unbound = [k for k in keys if k not in bound]
        links = {link.user_key: link for link in AccountLink.objects.filter(user_key__in=unbound)} if unbound else {}
        rows = [(user, link if link is not None else links.get(str(user.pk)), groups) for user, link, groups in rows]
    role_attribute = role_attribute_name()
    verifier = EmailVerifier(engine_config().identity)
    verifier.prefetch(users)
    people: dict[str, SitePerson] = {}
    bad: dict[str, str] = {}
    for user, link, groups in rows:
        key = str(user.pk)
        try:
            people[key] = person_from_user(user, link, role_attribute, verifier, groups=groups)
        except Exception as exc:  # one bad record must not stop the batch
            bad[key] = f"cannot read the site user: {type(exc).__name__}: {exc}"
    for key in keys:
        link = links.get(key)
        if key not in people and key not in bad and link is not None and link.rc_user_id:
            people[key] = deleted_person(link)
    return {k: people[k] for k in keys if k in people}, bad  # in the order asked (the run's scope lists them)


#: Seconds a process reuses its count of the site (`population`). The count only weighs a batch's two
#: readers against each other, both correct whatever it says, and a site's size hardly moves in that time;
#: counting afresh cost two COUNT queries per batch pass (and a scan of the users table on a large site).
POPULATION_TTL = 30.0
_counted: list[tuple[float, int]] = []  # (when, count): the last count of this process


def population(max_age: float = POPULATION_TTL) -> int:
    """How many accounts the site accounts for: its users plus linked accounts whose user is gone
    (what a full read pages through, for choosing a batch's reader), as counted at most `max_age`
    seconds ago."""
    now = time.monotonic()
    if _counted and now - _counted[0][0] < max_age:
        return _counted[0][1]
    User = get_user_model()
    count = User._default_manager.count() + AccountLink.objects.filter(user__isnull=True).exclude(rc_user_id="").count()
    _counted[:] = [(now, count)]
    return count
