"""Error mapping: Rocket.Chat's reply shapes (wire contract §1.2, §3, §4, §5, §6) → bridge.errors classes."""

import re

import pytest

import bridge
from bridge import errors
from bridge._wire_errors import error_code, error_from_ddp, error_from_response, wait_seconds_from_text
from bridge.errors import (
    AuthError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    RocketChatError,
    OutcomeUnknown,
    ServerError,
    SessionLost,
    TransientError,
    TwoFactorError,
    Unavailable,
)


@pytest.mark.parametrize(
    ("status", "body", "route", "cls", "code"),
    [
        (401, {"status": "error", "message": "You must be logged in to do this."}, "me", AuthError, None),
        (401, {"success": False, "error": "unauthorized"}, "users.create", PermissionDenied, "unauthorized"),
        (403, {"success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"},
         "users.delete", PermissionDenied, "error-unauthorized"),
        (400, {"success": False, "error": "TOTP Required [totp-required]", "errorType": "totp-required",
               "details": {"method": "totp"}}, "users.update", TwoFactorError, "totp-required"),
        (400, {"success": False, "error": "alice is already in use :( [error-field-unavailable]",
               "errorType": "error-field-unavailable"}, "users.create", Conflict, "error-field-unavailable"),
        (400, {"success": False, "error": "Could not save user identity [error-could-not-save-identity]",
               "errorType": "error-could-not-save-identity"}, "users.update", Conflict, "error-could-not-save-identity"),
        # roles.* pass failure(a, b) the wrong way round (A/app/api/server/v1/roles.ts)
        (400, {"success": False, "error": "error-role-not-found", "errorType": "Role not found"},
         "roles.addUserToRole", NotFound, "error-role-not-found"),
        (400, {"success": False, "error": "User not found."}, "users.info", NotFound, None),
        (400, {"success": False, "error": "User not found"}, "users.setActiveStatus", NotFound, None),
        (404, {"success": False, "error": "Resource not found"}, "x", NotFound, None),
        (400, {"success": False, "error": "[user-last-owner]", "errorType": "user-last-owner",
               "details": {"shouldChangeOwner": ["r"]}}, "users.setActiveStatus", Conflict, "user-last-owner"),
        (400, {"success": False, "errorType": "error-invalid-params", "error": "must have required property 'name'"},
         "roles.create", InvalidInput, "error-invalid-params"),
        (400, {"success": False, "error": "admin is blocked and can't be used! [error-blocked-username]",
               "errorType": "error-blocked-username"}, "users.create", InvalidInput, "error-blocked-username"),
        (400, {"success": False, "error": "invalid-user-invite-list", "errorType": "Cannot invite if no users are provided"},
         "channels.invite", InvalidInput, "invalid-user-invite-list"),
        (400, {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}, "rooms.info", PermissionDenied,
         "not-allowed"),
        (500, {}, "users.list", ServerError, None),
        (503, {}, "users.list", Unavailable, None),
        (400, {"success": False, "error": "Invalid search query."}, "users.info", RocketChatError, None),
    ],
)
def test_mapping(status, body, route, cls, code):
    error = error_from_response(status, body, route=route)
    assert type(error) is cls
    assert error.error_type == code
    assert error.status == status
    assert route in str(error)


def test_enterprise_feature_is_a_clear_permission_error():
    body = {"success": False, "error": "This is an enterprise feature [error-action-not-allowed]",
            "errorType": "error-action-not-allowed"}
    error = error_from_response(400, body, route="roles.create")
    assert isinstance(error, PermissionDenied)
    assert error.permission == "license"
    assert "Enterprise" in str(error)


def test_permission_named_from_details_or_route():
    body = {"success": False, "error": "Adding user is not allowed [error-action-not-allowed]",
            "errorType": "error-action-not-allowed", "details": {"action": "Adding_user"}}
    assert error_from_response(400, body, route="users.create").permission == "Adding_user"
    forbidden = error_from_response(403, {"success": False, "error": "unauthorized"}, route="users.delete")
    assert forbidden.permission == "delete-user"


def test_rate_limited_carries_retry_time_from_text():
    body = {"success": False, "error": "Error, too many requests. Please slow down. You must wait 42 seconds before "
                                       "trying this endpoint again. [error-too-many-requests]"}
    error = error_from_response(429, body, route="users.list", now=1000.0)
    assert isinstance(error, RateLimited)
    assert error.retry_at == pytest.approx(1042.0)


def test_rate_limited_falls_back_to_reset_header():
    error = error_from_response(429, {}, route="users.list", now=1000.0, reset_ms=1_005_500)
    assert error.retry_at == pytest.approx(1005.5)


def test_two_factor_is_an_auth_error():
    assert issubclass(TwoFactorError, AuthError)


def test_error_code_prefers_suffix():
    assert error_code({"error": "TOTP Invalid [totp-invalid]"}) == "totp-invalid"
    assert error_code({}) is None
    assert wait_seconds_from_text("You must wait 7 seconds before trying") == 7.0
    assert wait_seconds_from_text("nothing") is None


def test_transient_is_told_by_the_class_tree():
    """Retry decisions use isinstance(exc, TransientError): busy/away servers, never a verdict on the call."""
    for cls in (RateLimited, ServerError, Unavailable, OutcomeUnknown, SessionLost):
        assert issubclass(cls, TransientError), cls
    for cls in (AuthError, TwoFactorError, PermissionDenied, NotFound, Conflict, InvalidInput):
        assert not issubclass(cls, TransientError), cls
    assert isinstance(error_from_response(503, {}, route="users.list"), TransientError)
    assert isinstance(error_from_response(500, {}, route="users.list"), TransientError)
    assert isinstance(error_from_response(429, {}, route="users.list", now=0.0), TransientError)
    assert not isinstance(error_from_response(401, {"message": "x"}, route="me"), TransientError)


def test_the_tree_drawn_in_the_docstring_is_the_real_one():
    """errors.py draws its hierarchy; every class is in the drawing, under its real base class."""
    drawn: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").split("```")[1].strip().splitlines():
        match = re.match(r"^([│├└─ ]*)(\w+)", line)
        assert match, line
        depth, name = len(match.group(1)) // 4, match.group(2)
        stack = stack[:depth] + [(depth, name)]
        if depth:
            drawn[name] = stack[depth - 1][1]
    classes = {n: getattr(errors, n) for n in errors.__all__}
    assert set(drawn) | {"RocketChatError"} == set(classes)
    for name, parent in drawn.items():
        assert classes[name].__bases__[0] is classes[parent], (name, parent)
    for name in classes:  # and the package exports all of them
        assert getattr(bridge, name) is classes[name]


def test_ddp_errors_map_to_the_same_classes():
    assert isinstance(error_from_ddp("login", {"error": "totp-required", "reason": "TOTP Required"}), TwoFactorError)
    assert isinstance(error_from_ddp("createUser", {"error": 403, "reason": "Not allowed"}), PermissionDenied)
    assert isinstance(error_from_ddp("x", "nosub"), ServerError)
