"""Pure shaping of engine values for the admin pages: plans grouped by kind, desired vs actual,
run progress as JSON. No I/O and no Django requests here, so every rule is unit-tested directly.

Nothing in these shapes can carry a secret: they are built from operation values (ids, names,
rooms, roles), run counters and error strings the bridge already keeps free of secrets.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from sync_tasks.ops import ALL_KINDS, DESTRUCTIVE_KINDS, op_kind

KIND_LABELS = {
    "create_role": "Create role",
    "create_room": "Create room",
    "delete_user": "Delete account",
    "create_user": "Create account",
    "activate": "Reactivate account",
    "update_profile": "Update name / email",
    "add_role": "Grant global role",
    "remove_role": "Take global role",
    "invite": "Add to room",
    "add_room_role": "Grant room role",
    "remove_room_role": "Take room role",
    "kick": "Remove from room",
    "deactivate": "Deactivate account",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def op_target(op: Any) -> str:
    """What an operation is about, as shown next to the person: a room, a role, `room:role`, a name."""
    if op_kind(op) == "create_user":
        return f"{op.username} <{op.email}>" if op.email else op.username
    room, role = getattr(op, "room", None), getattr(op, "role", None)
    if room and role:
        return f"{role} in {room}"
    kind = op_kind(op)
    if kind in ("activate", "deactivate", "delete_user"):
        return "account"
    if kind == "update_profile":
        changed = [f for f in ("name", "email") if getattr(op, f, None) is not None]
        return ", ".join(changed) or "profile"
    return op.target


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
            name = getattr(op, "username", None) or (f"site user {site_id}" if site_id else "(Rocket.Chat)")
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
    return ", ".join(f"{role} in {room}" for room, role in pairs) if pairs else "—"


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
        row("Account", "active account" if want_account else "none needed",
            "no Rocket.Chat account", not want_account)
        if desired is not None and want_account:
            row("Global roles", _names(desired.roles), "—", False)
            row("Rooms", _names(desired.rooms), "—", not desired.rooms)
            row("Room roles", _room_roles(desired.room_roles), "—", not desired.room_roles)
        return rows
    row("Account", desired.username if desired else "—", actual.username, True)
    want_active = bool(desired is not None and desired.active)
    if desired is not None and desired.remove == "leave":
        row("Active", "left as is", "yes" if actual.active else "no", True)
    else:
        row("Active", "yes" if want_active else "no", "yes" if actual.active else "no", want_active == actual.active)
    have_roles = frozenset(actual.roles) & managed_roles
    extra_roles = frozenset(actual.roles) - managed_roles
    if desired is None or desired.roles is None:
        row("Global roles", "kept as they are", _names(have_roles), True,
            f"also has {_names(extra_roles)} (not managed)" if extra_roles else "")
    else:
        row("Global roles", _names(desired.roles), _names(have_roles), frozenset(desired.roles) == have_roles,
            f"also has {_names(extra_roles)} (not managed)" if extra_roles else "")
    have_rooms = frozenset(actual.known_rooms) & managed_rooms
    want_rooms = frozenset(desired.rooms) if desired is not None else frozenset()
    unknown = " (membership hidden while deactivated)" if actual.rooms is None else ""
    row("Rooms", _names(want_rooms), _names(have_rooms) + unknown, actual.rooms is None or want_rooms == have_rooms)
    want_rr = frozenset(desired.room_roles) if desired is not None else frozenset()
    have_rr = frozenset(actual.room_roles)
    row("Room roles", _room_roles(want_rr), _room_roles(have_rr), want_rr == have_rr)
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
        "counts": dict(run.counts or {}),
    }


def operation_row(op: Any) -> dict[str, Any]:
    """One audit row (SyncOperation) for the live operations table."""
    return {
        "id": op.pk, "at": op.at.isoformat() if op.at else None, "person": op.username or op.user_key,
        "user_key": op.user_key, "operation": op.operation, "label": kind_label(op.operation),
        "target": op.target, "outcome": op.outcome, "error": op.error,
    }
