"""Change triggers: every way a site user's Rocket.Chat-relevant state can change marks the user pending.

Receivers only record *which* user to look at (level-triggered, DESIGN.md §1);
what changed is re-read by the sync. Covered: saves and deletes of the user
model (a role change is a save; its old value is remembered so the reason says
so), the user↔group relation from either side, group renames and deletes,
and any extra model named in RCSYNC['TRIGGER_MODELS'] (e.g. a profile holding
the role). Not covered by design: `QuerySet.update()` sends no signals — call
`request_sync` after one; the nightly reconcile catches whatever slips through.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Iterable

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_delete

from django_hooks.conf import hook_settings_or_defaults
from django_hooks.people import role_attribute_name
from django_hooks.queue.pending import mark_pending, mark_pending_many

log = logging.getLogger("rcsync.signals")

_ROLE_SNAPSHOT = "_rcsync_role_at_load"
_GROUP_MEMBERS = "_rcsync_members_before"


@lru_cache(maxsize=1)
def role_attribute() -> str | None:
    """The user attribute holding the site role (from the engine's policy), if it is a plain field."""
    try:
        name = role_attribute_name()
    except Exception:  # policy not importable yet: fall back to the documented default
        name = "role"
    return name if name and "." not in name else None


def _on_user_init(sender: Any, instance: Any, **kwargs: Any) -> None:
    attr = role_attribute()
    if attr and attr in instance.__dict__:  # deferred fields are not loaded just for this
        instance.__dict__[_ROLE_SNAPSHOT] = instance.__dict__[attr]


def _on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, raw: bool = False, **kw: Any) -> None:
    if raw:  # loaddata: fixtures are not changes
        return
    if update_fields and set(update_fields) <= hook_settings_or_defaults().trigger_ignore_fields:
        return
    reason = "created" if created else "saved"
    attr = role_attribute()
    if attr and not created and _ROLE_SNAPSHOT in instance.__dict__:
        before, after = instance.__dict__[_ROLE_SNAPSHOT], getattr(instance, attr, None)
        if before != after:
            reason = f"role changed: {before} -> {after}"
    if attr:
        instance.__dict__[_ROLE_SNAPSHOT] = getattr(instance, attr, None)
    mark_pending(str(instance.pk), reason)


def _on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    mark_pending(str(instance.pk), "deleted")


def _mark_many(user_pks: Iterable[Any], reason: str) -> None:
    """A group's members, in one statement per 500 and one message after commit (a worker sends their
    syncs): a row and a message per person kept the commit of a 10,000-member change busy for 45 s on
    the site's request path (bench/burst.py)."""
    mark_pending_many(sorted({str(pk) for pk in user_pks}), reason)


def _on_groups_changed(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    User = get_user_model()
    if not reverse:  # user.groups.add/remove/clear(...)
        if action in ("post_add", "post_remove", "post_clear"):
            mark_pending(str(instance.pk), f"groups changed ({action[5:]})")
        return
    # group.user_set.add/remove/clear(...): pk_set holds user pks, except for clear.
    if action == "pre_clear":
        instance.__dict__[_GROUP_MEMBERS] = list(User.objects.filter(groups=instance).values_list("pk", flat=True))
    elif action in ("post_add", "post_remove"):
        _mark_many(pk_set or (), f"group {instance.name} changed ({action[5:]})")
    elif action == "post_clear":
        _mark_many(instance.__dict__.pop(_GROUP_MEMBERS, ()), f"group {instance.name} cleared")


def _on_group_saved(sender: Any, instance: Group, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created or raw:
        return
    User = get_user_model()
    _mark_many(User.objects.filter(groups=instance).values_list("pk", flat=True), f"group {instance.name} saved")


def _on_group_deleting(sender: Any, instance: Group, **kwargs: Any) -> None:
    # Deleting a group drops its membership rows without m2m_changed.
    User = get_user_model()
    _mark_many(User.objects.filter(groups=instance).values_list("pk", flat=True), f"group {instance.name} deleted")


def _resolve_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _extra_model_receiver(path: str, label: str) -> Any:
    def receiver(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return
        user = _resolve_path(instance, path)
        pk = getattr(user, "pk", user)
        if pk is not None:
            mark_pending(str(pk), f"{label} changed")

    return receiver


_extra_receivers: list[Any] = []


def connect() -> None:
    """Wire the receivers (called from AppConfig.ready; idempotent through dispatch_uid)."""
    User = get_user_model()
    post_init.connect(_on_user_init, sender=User, dispatch_uid="rcsync-user-init")
    post_save.connect(_on_user_saved, sender=User, dispatch_uid="rcsync-user-saved")
    post_delete.connect(_on_user_deleted, sender=User, dispatch_uid="rcsync-user-deleted")
    groups_field = User._meta.get_field("groups") if any(f.name == "groups" for f in User._meta.get_fields()) else None
    if groups_field is not None:
        m2m_changed.connect(_on_groups_changed, sender=groups_field.remote_field.through, dispatch_uid="rcsync-groups")
        post_save.connect(_on_group_saved, sender=Group, dispatch_uid="rcsync-group-saved")
        pre_delete.connect(_on_group_deleting, sender=Group, dispatch_uid="rcsync-group-deleting")
    for label, path in hook_settings_or_defaults().trigger_models.items():
        model = apps.get_model(label)
        receiver = _extra_model_receiver(path, label)
        _extra_receivers.append(receiver)  # signals hold weak references
        post_save.connect(receiver, sender=model, dispatch_uid=f"rcsync-extra-save-{label}")
        post_delete.connect(receiver, sender=model, dispatch_uid=f"rcsync-extra-delete-{label}")
