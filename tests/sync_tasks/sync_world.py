"""Helpers shared by the sync_tasks tests: run the pure pipeline against the in-memory model."""
from __future__ import annotations

from dataclasses import replace

from sync_tasks.config import SyncConfig
from sync_tasks.decide import decide, to_reveal
from sync_tasks.ops import CreateUser
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.simulate import World, apply_ops, observe
from sync_tasks.state import ObservedAccount, ObservedRoom

BUILTIN_ROLES = ("admin", "user", "bot", "guest", "moderator", "owner", "leader")


def base_world(config: SyncConfig, *, rooms=True, with_service=True) -> World:
    w = World(roles={r: r for r in BUILTIN_ROLES})
    if rooms:
        for spec in config.rooms:
            w.rooms[spec.key] = ObservedRoom(spec.key, spec.room_id or f"rid-{spec.key}", spec.name, spec.type)
    if with_service:
        w.service_user_id = "svc"
        w.accounts["svc"] = ObservedAccount("svc", "rcsync", "rcsync", "svc@example.org", True, True,
                                            frozenset({"admin", "user"}), frozenset(config.room_keys))
    return w


def run_once(people, world: World, config: SyncConfig):
    """One level-triggered pass: observe (with the engine's fill-in reads), decide, apply.

    Returns (decision, new world, people with links updated like the Django side would)."""
    obs = observe(world)
    reveal = to_reveal(people, obs, config)
    obs = observe(world, reveal=reveal)
    d = decide(people, obs, config)
    w2 = apply_ops(world, d.ops)
    return d, w2, relink(people, d, w2)


def relink(people, decision, world: World):
    created = {op.site_id: op for op in decision.ops if isinstance(op, CreateUser)}
    by_site = {t.desired.site_id: t for t in decision.targets}
    out = []
    for p in people:
        if p.site_id in created and p.site_id in world.created:
            uid = world.created[p.site_id]
            p = replace(p, link=AccountLink(uid, created[p.site_id].username, True))
        elif p.link is None and p.site_id in by_site and by_site[p.site_id].user_id:
            t = by_site[p.site_id]
            p = replace(p, link=AccountLink(t.user_id, t.username, False))
        out.append(p)
    return out


def person(site_id, username=None, **kw) -> SitePerson:
    kw.setdefault("email", f"{username or 'p' + str(site_id)}@example.org")
    kw.setdefault("email_verified", True)
    kw.setdefault("name", (username or f"Person {site_id}").title())
    return SitePerson(site_id=str(site_id), username=username or f"p{site_id}", **kw)
