"""The site's notion of a person, independent of Django.

The Django side (``django_hooks``) converts its user model into :class:`SitePerson` values and hands
them to :mod:`sync_tasks.engine`; nothing in ``sync_tasks`` imports Django, so the whole engine runs in
plain Python tests and benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccountLink:
    """What the site remembers about the Rocket.Chat account of one person.

    The link is how identity stays stable: once a person is bound to ``rc_user_id`` the engine follows
    that immutable id, never the (renamable) username. ``created_by_bridge`` says whether rcsync
    created the account or adopted one that already existed; both are managed alike, the flag is kept
    for audit and for the orphan rule (an account the bridge created whose site user is gone is
    deprovisioned).
    """

    rc_user_id: str
    rc_username: str
    created_by_bridge: bool = True


@dataclass(frozen=True, slots=True)
class SitePerson:
    """One site user as the sync engine sees it.

    ``site_id`` is the site's primary key as a string (it orders everything deterministically).
    ``role`` is the value of the configured role attribute (``RCSYNC["PEOPLE"]["role_attribute"]``),
    ``groups`` the names of the person's Django groups. ``deleted=True`` stands for a site user that no
    longer exists but whose :class:`AccountLink` the site kept, so its account can be deprovisioned.
    ``tags`` are extra labels a site-specific resolver may attach; policy rules can match them.
    """

    site_id: str
    username: str
    email: str | None = None
    email_verified: bool = False
    name: str = ""
    active: bool = True
    deleted: bool = False
    role: str | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    is_superuser: bool = False
    is_staff: bool = False
    link: AccountLink | None = None
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable for convenience but keep the value hashable and immutable.
        if not isinstance(self.groups, frozenset):
            object.__setattr__(self, "groups", frozenset(self.groups or ()))
        if not isinstance(self.tags, frozenset):
            object.__setattr__(self, "tags", frozenset(self.tags or ()))
        if not isinstance(self.site_id, str):
            object.__setattr__(self, "site_id", str(self.site_id))

    @property
    def wants_account(self) -> bool:
        """An active, existing site user should have an active Rocket.Chat account."""
        return self.active and not self.deleted


def site_sort_key(site_id: str) -> tuple[int, int, str]:
    """Order site ids numerically when they are numbers ("2" < "10"), else as text; total and stable."""
    # ASCII digits only: str.isdigit() is also true for '²' or '٣', which int() refuses or reads as 3.
    if site_id.isascii() and site_id.isdigit():
        return (0, int(site_id), site_id)
    return (1, 0, site_id)
