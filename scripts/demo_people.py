"""The demo's cast (the site of DESIGN.md) and its Rocket.Chat service account.

`PEOPLE` is data; `seed_people` makes the site match it (get-or-create and compare, so a
second `make demo` on the same database changes nothing it does not have to,
and resets the regular user the last demo promoted). `SERVICE_PERMISSIONS` is
what the least-privilege service account holds (scripts/demo_standin.py sets
it up; docs/real-rocketchat.md explains each one for a real server).
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_USERNAME = "rcsync-bot"
SERVICE_ROLE = "rcsync"
DEMO_ADMIN = "olivia"
REGULAR_USER = "rita"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    role: str
    vip: bool = False
    superuser: bool = False

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("olivia", "Olivia", "Owner", "owner", superuser=True),
    DemoPerson("max", "Max", "Moderator", "moderator"),
    DemoPerson("sofia", "Sofia", "Store-Owner", "store_owner"),
    DemoPerson("stan", "Stan", "Store-Admin", "store_admin"),
    DemoPerson(REGULAR_USER, "Rita", "Regular", "user"),
    DemoPerson("victor", "Victor", "VIP", "user", vip=True),
)

# What the default policy (docs/settings.md, RULES) gives each of them: printed after the first
# reconcile so a newcomer can compare it with what Rocket.Chat shows.
def expected_rooms(person: DemoPerson) -> list[str]:
    rooms = ["general"]
    if person.role == "owner" or person.superuser or person.vip:
        rooms.append("vip")
    if person.role in ("owner", "moderator") or person.superuser:
        rooms.append("moderators")
    return rooms


# The permissions the service account's custom role holds, and why (docs/real-rocketchat.md has
# the same table for a real server). Rocket.Chat's defaults give most of these to `admin` only.
SERVICE_PERMISSIONS: dict[str, str] = {
    "create-user": "users.create",
    "edit-other-user-info": "users.update (profile sync)",
    "edit-other-user-active-status": "users.setActiveStatus (deprovisioning)",
    "view-full-other-user-info": "users.info / users.list with rooms and roles",
    "view-d-room": "users.list",
    "view-user-administration": "users.list",
    "view-room-administration": "finding private rooms it is not in (rooms.adminRooms)",
    "view-other-user-channels": "channels.list / groups.listAll",
    "access-permissions": "roles.addUserToRole / removeUserFromRole, permissions.listAll",
    "assign-admin-role": "granting the managed `admin` role to the site owner",
    "add-user-to-any-c-room": "channels.invite into `general`",
    "remove-user": "channels.kick / groups.kick",
    "kick-user-from-any-c-room": "channels.kick in rooms it does not own",
    "set-moderator": "channels.addModerator in `general`",
    "create-c": "creating a missing public room",
    "create-p": "creating `vip` and `moderators` (it becomes their owner, so no add-user-to-any-p-room)",
    "view-privileged-setting": "reading the declared workspace settings and the besedka login rules",
    "edit-privileged-setting": "writing the declared workspace settings (POST settings/:_id, 2FA)",
    "add-oauth-service": "registering the besedka Custom OAuth service (settings.addCustomOAuth)",
}


def seed_people(admin_password: str) -> list[str]:
    """Make the site's users match PEOPLE (idempotent). Returns one line per person for the console."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    User = get_user_model()
    vip, _ = Group.objects.get_or_create(name="vip")
    lines = []
    for p in PEOPLE:
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=p.username, defaults={"email": p.email})
            changed = created
            wanted = {
                "first_name": p.first_name, "last_name": p.last_name, "email": p.email, "role": p.role,
                "is_active": True, "is_superuser": p.superuser, "is_staff": p.superuser,
            }
            for field, value in wanted.items():
                if getattr(user, field) != value:
                    setattr(user, field, value)
                    changed = True
            if p.username == DEMO_ADMIN:
                user.set_password(admin_password)
                changed = True
            elif created:
                user.set_unusable_password()
            if changed:
                user.save()
            in_vip = user.groups.filter(pk=vip.pk).exists()
            if p.vip and not in_vip:
                user.groups.add(vip)
            elif not p.vip and in_vip:
                user.groups.remove(vip)
        tag = "vip" if p.vip else p.role
        state = "created" if created else "updated" if changed else "unchanged"
        lines.append(f"{p.username:<7} {tag:<12} {state:<9} should be in {', '.join(expected_rooms(p))}")
    return lines


def promote(username: str, role: str) -> None:
    """The site-side change the demo shows: a plain ORM save, exactly what the site's own code does."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    user.role = role
    user.save()
