"""The admin's pure shaping: plans grouped by kind (executor order, capped), desired vs actual rows
(only managed roles and rooms count), run progress percentages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django_hooks.admin.presenters import compare_account, group_plan, op_target, run_progress
from django_hooks.models import SyncRun
from sync_tasks.ops import AddRoomRole, CreateUser, InviteToRoom, KickFromRoom, SetActive
from sync_tasks.policy import DesiredAccount
from sync_tasks.state import ObservedAccount


def desired(**kw) -> DesiredAccount:
    base = dict(site_id="1", username="olga", name="Olga", email="o@x.org", email_verified=True, active=True,
                roles=frozenset({"user", "admin"}), rooms=frozenset({"general", "vip"}),
                room_roles=frozenset(), remove=None)
    return DesiredAccount(**{**base, **kw})


def test_groups_follow_the_executor_order_and_name_people() -> None:
    ops = [KickFromRoom("2", "u2", "vip"), InviteToRoom("1", None, "general"), SetActive("2", "u2", False),
           CreateUser("1", "olga", "Olga", "o@x.org", True, ("user",)), AddRoomRole("1", None, "general", "moderator")]
    groups = group_plan(ops, {"1": "olga", "2": "bert"})
    assert [g["kind"] for g in groups] == ["create_user", "invite", "add_room_role", "kick", "deactivate"]
    kick = groups[3]
    assert kick["destructive"] and kick["items"] == [{"user_key": "2", "person": "bert", "target": "vip"}]
    assert groups[2]["items"][0]["target"] == "moderator in general"
    assert groups[0]["items"][0]["target"] == "olga <o@x.org>" and groups[4]["items"][0]["target"] == "account"
    assert not groups[0]["destructive"]


def test_large_groups_are_capped_but_counted() -> None:
    ops = [InviteToRoom(str(i), f"u{i}", "general") for i in range(250)]
    [group] = group_plan(ops, {}, cap=100)
    assert group["count"] == 250 and len(group["items"]) == 100 and group["more"] == 150
    assert group["items"][0]["person"] == "site user 0"


def test_compare_counts_only_managed_roles_and_rooms() -> None:
    actual = ObservedAccount("u1", "olga", roles=frozenset({"user", "livechat-agent"}),
                             rooms=frozenset({"general"}), room_roles=frozenset())
    rows = {r["aspect"]: r for r in compare_account(desired(), actual, ["admin", "user"], ["general", "vip", "moderators"])}
    assert rows["Active"]["same"]
    assert rows["Global roles"] == {"aspect": "Global roles", "desired": "admin, user", "actual": "user", "same": False,
                                    "note": "also has livechat-agent (not managed)"}
    assert not rows["Rooms"]["same"] and rows["Rooms"]["actual"] == "general"
    assert rows["Room roles"]["same"]
    same = ObservedAccount("u1", "olga", roles=frozenset({"user", "admin", "bot"}), rooms=frozenset({"general", "vip"}))
    assert all(r["same"] for r in compare_account(desired(), same, ["admin", "user"], ["general", "vip"]))


def test_compare_without_account_and_for_deprovisioned_people() -> None:
    rows = compare_account(desired(), None, ["admin", "user"], ["general", "vip"])
    assert rows[0] == {"aspect": "Account", "desired": "active account", "actual": "no Rocket.Chat account",
                       "same": False, "note": ""}
    gone = desired(active=False, roles=None, rooms=frozenset(), remove="deactivate")
    assert compare_account(gone, None, ["user"], ["general"])[0]["same"]
    still_active = ObservedAccount("u1", "olga", active=True, roles=frozenset({"user"}), rooms=None)
    rows = {r["aspect"]: r for r in compare_account(gone, still_active, ["user"], ["general"])}
    assert not rows["Active"]["same"] and rows["Global roles"]["desired"] == "kept as they are"
    assert rows["Rooms"]["same"] and "hidden" in rows["Rooms"]["actual"]


def test_op_target_names_the_thing_changed() -> None:
    assert op_target(InviteToRoom("1", None, "vip")) == "vip"
    assert op_target(SetActive("1", "u", True)) == "account"


def test_progress_percent() -> None:
    now = datetime.now(timezone.utc)
    run = SyncRun(pk=7, kind="manual", status="running", progress_done=3, progress_total=8, started_at=now)
    data = run_progress(run)
    assert data["percent"] == 37 and not data["finished"] and data["duration"] is None
    run.finished_at, run.status, run.progress_done = now + timedelta(seconds=2), "succeeded", 8
    data = run_progress(run)
    assert data["percent"] == 100 and data["finished"] and data["duration"] == 2.0
    empty = SyncRun(pk=8, kind="manual", status="succeeded", started_at=now, finished_at=now)
    assert run_progress(empty)["percent"] == 100
    assert run_progress(SyncRun(pk=9, kind="manual", status="running", started_at=now))["percent"] == 0
