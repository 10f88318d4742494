"""Pure shaping of engine values for the admin pages: plans grouped by kind, desired vs actual,
run progress as JSON. No I/O and no Django requests here, so every rule is unit-tested directly.

Nothing in these shapes can carry a secret: they are built from operation values (ids, names,
rooms, roles), run counters and error strings the bridge already keeps free of secrets.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, pgettext_lazy

from sync_tasks.ops import ALL_KINDS, DESTRUCTIVE_KINDS, op_kind

KIND_LABELS = {
    "add_oauth_service": pgettext_lazy("operation kind", "Register OAuth service"),
    "set_setting": pgettext_lazy("operation kind", "Write workspace setting"),
    "create_role": pgettext_lazy("operation kind", "Create role"),
    "create_room": pgettext_lazy("operation kind", "Create room"),
    "delete_user": pgettext_lazy("operation kind", "Delete account"),
    "create_user": pgettext_lazy("operation kind", "Create account"),
    "activate": pgettext_lazy("operation kind", "Reactivate account"),
    "update_profile": pgettext_lazy("operation kind", "Update name / email"),
    "add_role": pgettext_lazy("operation kind", "Grant global role"),
    "remove_role": pgettext_lazy("operation kind", "Take global role"),
    "invite": pgettext_lazy("operation kind", "Add to room"),
    "add_room_role": pgettext_lazy("operation kind", "Grant room role"),
    "remove_room_role": pgettext_lazy("operation kind", "Take room role"),
    "kick": pgettext_lazy("operation kind", "Remove from room"),
    "deactivate": pgettext_lazy("operation kind", "Deactivate account"),
}


def kind_label(kind: str) -> str:
    """An operation kind in words; an unknown kind (a newer engine) shows its code."""
    return str(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()))


#: A person's outcome (engine results, the person page's own "out of date"/"unknown") in words; the
#: code stays in the badge's class and in stored summaries, so a page says it in the reader's language.
RESULT_LABELS = {
    "synced": pgettext_lazy("person status", "synced"),
    "deactivated": pgettext_lazy("person status", "deactivated"),
    "deleted": pgettext_lazy("person status", "deleted"),
    "skipped": pgettext_lazy("person status", "skipped"),
    "stopped": pgettext_lazy("person status", "stopped"),
    "conflict": pgettext_lazy("person status", "conflict"),
    "error": pgettext_lazy("person status", "error"),
    "out of date": pgettext_lazy("person status", "out of date"),
    "unknown": pgettext_lazy("person status", "unknown"),
}


def result_label(status: str) -> str:
    return str(RESULT_LABELS.get(status, status))


def duration_text(seconds: float) -> str:
    """A run's duration as the pages show it, in the active locale's number format ("1.5 s", "1,5 с")."""
    return gettext("%(seconds)s s") % {"seconds": number_format(seconds, 1)}


def when_text(value: Any) -> str:
    """A moment as the templates render it: the site's time zone, the active locale's DATETIME_FORMAT.
    The JSON endpoints send it beside the ISO value so rows the page appends look like the ones it drew."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else ""


def op_target(op: Any) -> str:
    """What an operation is about, as shown next to the person: a room, a role, `room:role`, a name."""
    if op_kind(op) == "set_setting":
        return op.describe()  # "id: current → new", secret values masked
    if op_kind(op) == "create_user":
        return f"{op.username} <{op.email}>" if op.email else op.username
    room, role = getattr(op, "room", None), getattr(op, "role", None)
    if room and role:
        return gettext("%(role)s in %(room)s") % {"role": role, "room": room}
    kind = op_kind(op)
    if kind in ("activate", "deactivate", "delete_user"):
        return gettext("account")
    if kind == "update_profile":
        changed = [f for f in ("name", "email") if getattr(op, f, None) is not None]
        return ", ".join(str(PROFILE_FIELDS[f]) for f in changed) or gettext("profile")
    return op.target


#: The profile fields an update_profile changes, as the page names them.
PROFILE_FIELDS = {"name": pgettext_lazy("profile field", "name"), "email": pgettext_lazy("profile field", "email")}

#: Kinds whose target is the person's own account: listed as people, not per target.
PER_PERSON_KINDS = frozenset({"create_user", "update_profile", "activate", "deactivate", "delete_user"})


def _by_target(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        out.setdefault(item["target"], {"target": item["target"], "people": []})["people"].append(item["person"])
    return list(out.values())


def group_plan(ops: Iterable[Any], usernames: Mapping[str, str], cap: int = 200) -> list[dict[str, Any]]:
    """A plan as one group per operation kind, in the order the executor applies them.

    Each group lists the affected people (at most `cap`; `more` counts the rest), so a 100k-person
    plan still renders as a page, not a megabyte; `by_target` regroups them per room or role, and
    `per_person` says the target is the person's own account.
    """
    groups: dict[str, dict[str, Any]] = {}
    for op in ops:
        kind = op_kind(op)
        group = groups.setdefault(kind, {
            "kind": kind, "label": kind_label(kind), "count": 0, "destructive": kind in DESTRUCTIVE_KINDS,
            "items": [], "more": 0,
        })
        group["count"] += 1
        if len(group["items"]) >= cap:
            group["more"] += 1
            continue
        site_id = getattr(op, "site_id", None)
        name = usernames.get(site_id, "") if site_id else ""
        if not name:
            name = getattr(op, "username", None) or (
                gettext("site user %(key)s") % {"key": site_id} if site_id else gettext("(Rocket.Chat)"))
        group["items"].append({"user_key": site_id or "", "person": name, "target": op_target(op)})
    for group in groups.values():
        group["per_person"] = group["kind"] in PER_PERSON_KINDS
        group["server_side"] = all(not item["user_key"] for item in group["items"])  # rooms, roles
        group["by_target"] = _by_target(group["items"])
    order = {k: i for i, k in enumerate(ALL_KINDS)}
    return sorted(groups.values(), key=lambda g: (order.get(g["kind"], len(order)), g["kind"]))


def _names(values: Iterable[str] | None) -> str:
    values = sorted(values or ())
    return ", ".join(values) if values else "—"


def _room_roles(pairs: Iterable[tuple[str, str]] | None) -> str:
    pairs = sorted(pairs or ())
    return ", ".join(gettext("%(role)s in %(room)s") % {"role": role, "room": room} for room, role in pairs) if pairs else "—"


def compare_account(desired: Any | None, actual: Any | None, managed_roles: Iterable[str],
                    managed_rooms: Iterable[str]) -> list[dict[str, Any]]:
    """Desired vs actual, one row per aspect (account, active, roles, rooms, room roles).

    Only what rcsync manages is compared: roles or rooms outside the managed sets are shown as
    "also has" and never count as a difference (DESIGN.md principle 3).
    """
    managed_roles, managed_rooms = frozenset(managed_roles), frozenset(managed_rooms)
    rows: list[dict[str, Any]] = []

    def row(aspect: str, want: str, have: str, same: bool, note: str = "") -> None:
        rows.append({"aspect": aspect, "desired": want, "actual": have, "same": same, "note": note})

    want_account = desired is not None and desired.remove is None
    if actual is None:
        row(gettext("Account"), gettext("active account") if want_account else gettext("none needed"),
            gettext("no Rocket.Chat account"), not want_account)
        if desired is not None and want_account:
            row(gettext("Global roles"), _names(desired.roles), "—", False)
            row(gettext("Rooms"), _names(desired.rooms), "—", not desired.rooms)
            row(gettext("Room roles"), _room_roles(desired.room_roles), "—", not desired.room_roles)
        return rows
    row(gettext("Account"), desired.username if desired else "—", actual.username, True)
    want_active = bool(desired is not None and desired.active)
    yes_no = {True: gettext("yes"), False: gettext("no")}
    if desired is not None and desired.remove == "leave":
        row(gettext("Active"), gettext("left as is"), yes_no[bool(actual.active)], True)
    else:
        row(gettext("Active"), yes_no[want_active], yes_no[bool(actual.active)], want_active == actual.active)
    have_roles = frozenset(actual.roles) & managed_roles
    extra_roles = frozenset(actual.roles) - managed_roles
    also = gettext("also has %(names)s (not managed)") % {"names": _names(extra_roles)} if extra_roles else ""
    if desired is None or desired.roles is None:
        row(gettext("Global roles"), gettext("kept as they are"), _names(have_roles), True, also)
    else:
        row(gettext("Global roles"), _names(desired.roles), _names(have_roles), frozenset(desired.roles) == have_roles, also)
    have_rooms = frozenset(actual.known_rooms) & managed_rooms
    want_rooms = frozenset(desired.rooms) if desired is not None else frozenset()
    unknown = " " + gettext("(membership hidden while deactivated)") if actual.rooms is None else ""
    row(gettext("Rooms"), _names(want_rooms), _names(have_rooms) + unknown, actual.rooms is None or want_rooms == have_rooms)
    want_rr = frozenset(desired.room_roles) if desired is not None else frozenset()
    have_rr = frozenset(actual.room_roles)
    row(gettext("Room roles"), _room_roles(want_rr), _room_roles(have_rr), want_rr == have_rr)
    return rows


def run_progress(run: Any) -> dict[str, Any]:
    """One SyncRun as the progress endpoint's JSON: counters and status only (never `summary`'s
    free text beyond the safety reason, never config)."""
    total, done = run.progress_total or 0, run.progress_done or 0
    finished = run.finished_at is not None
    if total:
        percent = min(100, int(100 * done / total))
    else:
        percent = 100 if finished else 0
    if finished and run.status in ("succeeded", "partial", "planned") and done >= total:
        percent = 100
    duration = run.duration_seconds
    return {
        "id": run.pk, "kind": run.kind, "status": run.status, "status_label": run.get_status_display(),
        "dry_run": run.dry_run, "done": done, "total": total, "percent": percent, "finished": finished,
        "duration": round(duration, 1) if duration is not None else None,
        # What the page shows, in the request's language: the JSON's other values are read by the script.
        "duration_text": duration_text(duration) if duration is not None else gettext("running"),
        "counts": dict(run.counts or {}),
    }


def operation_row(op: Any) -> dict[str, Any]:
    """One audit row (SyncOperation) for the live operations table."""
    return {
        "id": op.pk, "at": timezone.localtime(op.at).isoformat() if op.at else None, "at_text": when_text(op.at),
        "person": op.username or op.user_key, "user_key": op.user_key, "operation": op.operation,
        "label": kind_label(op.operation), "target": op.target, "outcome": op.outcome,
        "outcome_label": op.get_outcome_display(), "error": op.error,
    }
