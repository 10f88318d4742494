"""Which Rocket.Chat-side events are drift (pure rules of django_hooks.drift.drift_of)."""

from bridge.events import MembershipChanged, Reconnected, RoleChanged, StreamEvent, UserDeleted, UserRenamed
from django_hooks.drift import FeedContext, drift_of

CTX = FeedContext(
    rooms_by_id={"GENERAL": "general", "r-vip": "vip"},
    roles_by_id={"admin": "admin", "user": "user"},
    room_roles=frozenset({"moderator"}),
    service_user_id="svc",
    service_username="rcsync-bot",
    all_role_names={"admin": "admin", "user": "user", "moderator": "moderator", "x1": "bot"},
)


def test_membership_in_a_managed_room_by_a_human_is_drift() -> None:
    hit = drift_of(MembershipChanged("r-vip", "au", "dora", "human", "hugo"), CTX)
    assert hit is not None and hit.rc_username == "dora" and "vip" in hit.reason and hit.role_echo is None


def test_our_own_invites_and_other_rooms_are_not() -> None:
    assert drift_of(MembershipChanged("r-vip", "au", "dora", "svc", "rcsync-bot"), CTX) is None
    assert drift_of(MembershipChanged("r-other", "uj", "dora", "u1", "dora"), CTX) is None
    assert drift_of(MembershipChanged("GENERAL", "ul", "dora", "u1", "dora"), CTX) is not None  # left by herself


def test_managed_roles_only() -> None:
    hit = drift_of(RoleChanged("added", "admin", "u1", "dora"), CTX)
    assert hit is not None and hit.role_echo == ("add_role", "admin")
    assert drift_of(RoleChanged("added", "x1", "u1", "dora"), CTX) is None  # an unmanaged custom role
    assert drift_of(RoleChanged("removed", "admin", "svc", "rcsync-bot"), CTX) is None
    room_hit = drift_of(RoleChanged("removed", "moderator", "u1", "dora", scope="GENERAL"), CTX)
    assert room_hit is not None and room_hit.role_echo == ("remove_room_role", "moderator")
    assert drift_of(RoleChanged("added", "moderator", "u1", "dora", scope="r-other"), CTX) is None
    assert drift_of(RoleChanged("added", "owner", "u1", "dora", scope="GENERAL"), CTX) is None


def test_renames_deletions_and_noise() -> None:
    assert drift_of(UserRenamed("u1", "dora2", None), CTX).rc_user_id == "u1"
    assert drift_of(UserDeleted("u1"), CTX).rc_user_id == "u1"
    assert drift_of(UserRenamed("svc", "bot2", None), CTX) is None
    assert drift_of(StreamEvent("stream-notify-logged", "user-status"), CTX) is None
    assert drift_of(Reconnected(2), CTX) is None
