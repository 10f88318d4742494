"""The backend driven directly (moto style): set-up helpers, rules, and the events it publishes
(`apps/meteor/server/modules/notifications/notifications.module.ts`, reference §7.5)."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from fake_rocketchat.backend.errors import MeteorError
from fake_rocketchat.backend.events import Event
from fake_rocketchat.backend.state import State


@pytest.fixture
def state() -> State:
    s = State()
    s.create_user("boss", roles=["admin"], password="pw")
    s.create_user("alice", password="pw")
    return s


def _capture(state: State) -> list[Event]:
    seen: list[Event] = []
    state.events.subscribe(seen.append)
    return seen


def test_fresh_state_has_general_and_rocket_cat() -> None:
    s = State()
    assert s.find_room("GENERAL")["default"] is True and s.find_room("GENERAL")["t"] == "c"
    cat = s.find_user("rocket.cat")
    assert cat["type"] == "bot" and cat["roles"] == ["bot"]
    assert s.room_members("GENERAL") == []


def test_add_users_to_room_events_in_order(state: State) -> None:
    seen = _capture(state)
    boss, alice = state.find_user_by_username("boss"), state.find_user_by_username("alice")
    state.add_users_to_room(boss["_id"], "GENERAL", ["alice"])
    assert [(e.stream, e.event_name) for e in seen] == [
        ("stream-notify-user", f"{alice['_id']}/subscriptions-changed"),
        ("stream-notify-user", f"{alice['_id']}/rooms-changed"),
        ("stream-room-messages", "GENERAL"),
    ]
    kind, sub = seen[0].args
    assert kind == "inserted" and sub["rid"] == "GENERAL" and sub["u"]["username"] == "alice"
    message = seen[2].args[0]
    assert message["t"] == "au" and message["msg"] == "alice" and message["u"]["username"] == "boss"
    assert isinstance(message["ts"], datetime)
    assert state.find_user(alice["_id"])["__rooms"] == ["GENERAL"]
    assert state.find_room("GENERAL")["usersCount"] == 1


def test_removal_event_shape(state: State) -> None:
    boss, alice = state.find_user_by_username("boss"), state.find_user_by_username("alice")
    state.add_member("GENERAL", "alice")
    seen = _capture(state)
    state.remove_user_from_room(boss["_id"], "GENERAL", "alice")
    removed = next(e for e in seen if e.event_name.endswith("/subscriptions-changed"))
    assert removed.args[0] == "removed" and set(removed.args[1]) == {"_id", "u", "rid", "t"}
    assert state.room_messages("GENERAL", types=["ru"])[-1]["msg"] == "alice"


def test_events_carry_copies(state: State) -> None:
    seen = _capture(state)
    state.add_member("GENERAL", "alice")
    seen[0].args[1]["rid"] = "tampered"
    assert state.subscription("GENERAL", "alice")["rid"] == "GENERAL"


def test_find_returns_copies(state: State) -> None:
    user = state.find_user_by_username("alice")
    user["roles"].append("admin")
    assert state.user_roles("alice") == ["user"]


def test_rename_broadcasts_name_changed_only_for_username_unless_real_names(state: State) -> None:
    boss, alice = state.find_user_by_username("boss"), state.find_user_by_username("alice")
    seen = _capture(state)
    state.update_user(boss["_id"], alice["_id"], {"name": "Alice A."})
    assert not [e for e in seen if e.event_name == "Users:NameChanged"]
    state.set_setting("UI_Use_Real_Name", True)
    state.update_user(boss["_id"], alice["_id"], {"name": "Alice B."})
    state.set_setting("UI_Use_Real_Name", False)
    state.update_user(boss["_id"], alice["_id"], {"username": "alice2"})
    changes = [e.args[0] for e in seen if e.event_name == "Users:NameChanged"]
    assert changes == [
        {"_id": alice["_id"], "name": "Alice B.", "username": "alice"},
        {"_id": alice["_id"], "name": "Alice B.", "username": "alice2"},
    ]


def test_user_status_event_shape(state: State) -> None:
    alice = state.find_user_by_username("alice")
    seen = _capture(state)
    state.set_user_status(alice["_id"], "away")
    assert seen[0].stream == "stream-notify-logged" and seen[0].event_name == "user-status"
    assert seen[0].args == [[alice["_id"], "alice", 2, "", "alice", ["user"]]]


def test_permission_checks_use_room_roles(state: State) -> None:
    alice = state.find_user_by_username("alice")
    room = state.create_room("club", "c", owner="boss", members=["alice"])
    assert not state.has_permission(alice["_id"], "remove-user", room["_id"])
    state.set_room_role(room["_id"], "alice", "moderator")
    assert state.has_permission(alice["_id"], "remove-user", room["_id"])
    assert not state.has_permission(alice["_id"], "remove-user")  # global check ignores room roles


def test_rules_raise_meteor_errors(state: State) -> None:
    alice = state.find_user_by_username("alice")
    with pytest.raises(MeteorError) as exc:
        state.add_user_to_role(alice["_id"], "admin", "alice")
    assert exc.value.error == "error-action-not-allowed"
    assert exc.value.rest_body()["error"] == "Accessing permissions is not allowed [error-action-not-allowed]"
    assert exc.value.ddp_error()["errorType"] == "Meteor.Error"


def test_concurrent_mutations_are_safe(state: State) -> None:
    boss = state.find_user_by_username("boss")
    names = [f"c{i}" for i in range(200)]
    for n in names:
        state.create_user(n)
    chunks = [names[i::4] for i in range(4)]
    threads = [threading.Thread(target=lambda c=c: [state.add_users_to_room(boss["_id"], "GENERAL", [n]) for n in c]) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(state.room_members("GENERAL")) == 200
    assert state.find_room("GENERAL")["usersCount"] == 200


def test_login_result_repr_hides_token(state: State) -> None:
    result = state.login_with_password({"username": "alice"}, password="pw")
    assert result.token not in repr(result)
    assert state.login_with_resume(result.token).user_id == result.user_id


def test_no_secret_in_reprs_of_state_objects(state: State) -> None:
    from fake_rocketchat.backend.methods import Caller
    from fake_rocketchat.harness.testing import FakeServer

    token = state.issue_login_token(state.find_user_by_username("alice")["_id"])
    caller = Caller("uid", token, "ua", "127.0.0.1", {"x-2fa-code": "123456"})
    assert token not in repr(caller) and "123456" not in repr(caller)
    server = FakeServer("http://127.0.0.1:1", "ws://127.0.0.1:1/websocket", state, None, None)  # type: ignore[arg-type]
    assert token not in repr(server)


def test_username_change_setting_binds_self_but_not_admins(state: State) -> None:
    # saveUser.js validateUserEditing: Accounts_AllowUsernameChange
    boss, alice = state.find_user_by_username("boss"), state.find_user_by_username("alice")
    state.set_setting("Accounts_AllowUsernameChange", False)
    with pytest.raises(MeteorError) as exc:
        state.update_user(alice["_id"], alice["_id"], {"username": "alicia"})
    assert exc.value.reason == "Edit username is not allowed"
    state.update_user(boss["_id"], alice["_id"], {"username": "alicia"})
    assert state.find_user(alice["_id"])["username"] == "alicia"
