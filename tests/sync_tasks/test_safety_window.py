"""The safety guard counts every destructive kind (role removals too), and the engine honours an
``admit`` callback: held people keep their destructive operations unapplied while their additive ones
and everyone else's go; a refusal writes nothing. The window itself (across runs) lives on the Django
side: tests/django_hooks/test_guard_window.py."""
from __future__ import annotations

from dataclasses import replace

from sync_tasks.config import SafetyConfig, load_config
from sync_tasks.engine import reconcile_all, sync_people
from sync_tasks.ops import AddRole, KickFromRoom, RemoveRole, RemoveRoomRole, SetActive
from sync_tasks.safety import Admission, check_safety

from test_engine_e2e import relink, room_id, site

CFG = load_config({})


def test_safety_counts_role_removals_as_destructive() -> None:
    ops = [RemoveRole(str(i), f"u{i}", f"n{i}", "admin") for i in range(6)]
    ops += [RemoveRoomRole(str(i), f"u{i}", "general", "moderator") for i in range(5)]
    verdict = check_safety(ops, 20, SafetyConfig())
    # Before issue 14 only deactivate/delete/kick counted: 11 role removals passed the limit of 10.
    assert not verdict.allowed and verdict.destructive == 11 and verdict.role_removals == 11
    assert "remove 11 roles" in verdict.reason
    assert check_safety(ops + [AddRole("9", "u9", "n9", "vip"), SetActive("9", "u9", True)], 20,
                        SafetyConfig()).destructive == 11


def test_safety_window_setting_is_validated() -> None:
    assert load_config({"SAFETY": {"window": 600}}).safety.window == 600.0
    assert load_config({}).safety.window == 3600.0
    for bad in (0, -5, "1h", True):
        try:
            load_config({"SAFETY": {"window": bad}})
        except Exception as exc:  # ConfigError names the key
            assert "SAFETY.window" in str(exc)
        else:
            raise AssertionError(f"window={bad!r} was accepted")


def test_safety_admit_holds_one_persons_destructive_ops_and_applies_the_rest(rc_server, rc_client) -> None:
    st = rc_server.state
    owner, leaver, newcomer = site(1, "otto", role="owner"), site(2, "lea"), site(3, "nina")
    people = relink([owner, leaver], reconcile_all([owner, leaver], rc_client, CFG))
    owner, leaver = replace(people[0], role="moderator"), replace(people[1], active=False)
    seen: list[tuple] = []

    def admit(ops, force):
        seen.append(tuple(ops))
        return Admission(held=frozenset({"1"}))

    report = sync_people([owner, leaver, newcomer], rc_client, CFG, admit=admit)
    [asked] = seen
    assert {op.site_id for op in asked} == {"1", "2"} and all(
        op.kind in ("remove_role", "kick", "set_active") for op in asked)
    assert report.result_for("1").status == "held" and "held for review" in report.result_for("1").error
    otto = st.find_user_by_username("otto")
    assert "admin" in otto["roles"] and "otto" in st.room_members(room_id(st, "vip"))  # destructive: held
    assert "otto" in st.room_members(room_id(st, "moderators"))  # additive: applied
    assert st.find_user_by_username("lea")["active"] is False  # not held: applied
    assert st.find_user_by_username("nina") is not None  # other people flow
    assert {op.site_id for op in report.held} == {"1"} and report.summary()["held"] == len(report.held)


def test_safety_admit_refusal_writes_nothing(rc_server, rc_client) -> None:
    people = [site(i, f"ref{i}") for i in range(1, 4)]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    before = rc_server.request_log.count(method="POST")
    gone = [replace(p, active=False) for p in people] + [site(9, "refnew")]
    report = reconcile_all(gone, rc_client, CFG, admit=lambda ops, force: Admission(refused="window full"))
    assert report.stopped_by_safety and report.safety_reason == "window full" and report.applied == {}
    assert rc_server.request_log.count(method="POST") == before
    assert all(r.status == "stopped" for r in report.results if r.planned)
