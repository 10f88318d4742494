"""2FA on REST routes and login — `apps/meteor/app/2fa/server/code/index.ts` (checkCodeForUser),
`code/TOTPCheck.ts`, `code/PasswordCheckFallback.ts`, `code/EmailCheck.ts`, `loginHandler.ts`,
`app/api/server/api.ts` (processTwoFactor) — reference §2."""

from __future__ import annotations

import hashlib
from typing import Iterator

import httpx
import pyotp
import pytest

from fake_rocketchat.harness.testing import FakeServer

SECRET = pyotp.random_base32()
PASSWORD = "svc-pass"


@pytest.fixture
def svc(fake_rc_factory) -> FakeServer:
    """A server whose admin `svc` has TOTP, registered long ago (no "remember after registration")."""
    rc = fake_rc_factory(admin_username="svc", admin_password=PASSWORD, admin_totp_secret=SECRET)
    rc.state.clock.shift(3600)
    rc.state.create_user("target", password="pw")
    return rc


@pytest.fixture
def client(svc: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=svc.url, headers=svc.admin_headers(), timeout=10) as c:
        yield c


def _update(client: httpx.Client, svc: FakeServer, **headers: str) -> httpx.Response:
    uid = svc.state.find_user_by_username("target")["_id"]
    return client.post("/api/v1/users.update", json={"userId": uid, "data": {"name": "T"}}, headers=headers)


def _code(svc: FakeServer, offset_steps: int = 0) -> str:
    return pyotp.TOTP(SECRET).at(svc.state.clock.time() + 30 * offset_steps)


def test_users_update_without_code_is_totp_required(svc: FakeServer, client: httpx.Client) -> None:
    r = _update(client, svc)
    assert r.status_code == 400
    assert r.json() == {
        "success": False, "error": "TOTP Required [totp-required]", "errorType": "totp-required",
        "details": {"method": "totp", "codeGenerated": False, "availableMethods": ["totp"]},
    }


def test_wrong_code_is_totp_invalid(svc: FakeServer, client: httpx.Client) -> None:
    r = _update(client, svc, **{"x-2fa-code": "000000" if _code(svc) != "000000" else "111111", "x-2fa-method": "totp"})
    assert r.json()["errorType"] == "totp-invalid" and r.json()["error"] == "TOTP Invalid [totp-invalid]"


@pytest.mark.parametrize("steps, ok", [(-1, True), (0, True), (1, True), (-2, False), (2, False)])
def test_totp_window_is_plus_minus_one_step(svc: FakeServer, client: httpx.Client, steps: int, ok: bool) -> None:
    # TOTPCheck.ts + speakeasy verifyDelta with Accounts_TwoFactorAuthentication_MaxDelta = 1
    r = _update(client, svc, **{"x-2fa-code": _code(svc, steps), "x-2fa-method": "totp"})
    assert (r.status_code == 200) is ok, r.text


def test_code_is_remembered_for_same_token_agent_and_ip_only(svc: FakeServer, client: httpx.Client) -> None:
    assert _update(client, svc, **{"x-2fa-code": _code(svc), "x-2fa-method": "totp"}).status_code == 200
    assert _update(client, svc).status_code == 200  # remembered (RememberFor 1800 s)
    assert _update(client, svc, **{"User-Agent": "other-agent"}).json()["errorType"] == "totp-required"
    assert _update(client, svc, **{"X-Real-IP": "10.9.9.9"}).json()["errorType"] == "totp-required"
    other_token = svc.admin_headers()
    assert _update(client, svc, **other_token).json()["errorType"] == "totp-required"
    svc.state.clock.shift(1801)
    assert _update(client, svc).json()["errorType"] == "totp-required"


def test_no_replay_protection(svc: FakeServer, client: httpx.Client) -> None:
    code = _code(svc)
    fresh = httpx.Client(base_url=svc.url, headers=svc.admin_headers(), timeout=10)
    with fresh:
        assert _update(client, svc, **{"x-2fa-code": code, "x-2fa-method": "totp"}).status_code == 200
        assert _update(fresh, svc, **{"x-2fa-code": code, "x-2fa-method": "totp"}).status_code == 200


def test_remember_disabled_when_setting_is_zero(svc: FakeServer, client: httpx.Client) -> None:
    svc.state.set_setting("Accounts_TwoFactorAuthentication_RememberFor", 0)
    assert _update(client, svc, **{"x-2fa-code": _code(svc), "x-2fa-method": "totp"}).status_code == 200
    assert _update(client, svc).json()["errorType"] == "totp-required"


def test_password_fallback_for_user_without_2fa(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("plainadmin", password="s3cret", roles=["admin"])
    fake_rc.state.clock.shift(3600)
    headers = fake_rc.headers_for("plainadmin")
    admin_id = fake_rc.state.find_user_by_username("plainadmin")["_id"]
    body = {"userId": admin_id, "data": {"name": "P"}}
    r = http.post("/api/v1/users.update", json=body, headers=headers)
    assert r.json()["details"] == {"method": "password", "codeGenerated": False, "availableMethods": []}
    digest = hashlib.sha256(b"s3cret").hexdigest()
    wrong = http.post("/api/v1/users.update", json=body, headers={**headers, "x-2fa-code": "s3cret", "x-2fa-method": "password"})
    assert wrong.json()["errorType"] == "totp-invalid"
    ok = http.post("/api/v1/users.update", json=body, headers={**headers, "x-2fa-code": digest.upper(), "x-2fa-method": "password"})
    assert ok.status_code == 200, ok.text


def test_fallback_disabled_means_no_challenge(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.clock.shift(3600)
    fake_rc.state.set_setting("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback", False)
    r = http.post("/api/v1/users.update", headers=fake_rc.admin_headers(),
                  json={"userId": fake_rc.state.find_user_by_username("admin")["_id"], "data": {"name": "A"}})
    assert r.status_code == 200


def test_recently_registered_user_is_not_challenged(fake_rc: FakeServer, admin: httpx.Client) -> None:
    # "remember right after registration": createdAt + RememberFor in the future
    r = admin.post("/api/v1/users.update", json={"userId": fake_rc.state.find_user_by_username("admin")["_id"], "data": {"name": "A"}})
    assert r.status_code == 200


def test_pat_with_bypass_skips_2fa_and_pat_without_does_not(svc: FakeServer) -> None:
    http = httpx.Client(base_url=svc.url, timeout=10)
    admin_id = svc.state.find_user_by_username("svc")["_id"]
    uid = svc.state.find_user_by_username("target")["_id"]
    for name, bypass, expected in (("b", True, 200), ("n", False, 400)):
        token = svc.state.create_personal_access_token("svc", name, bypass_two_factor=bypass)
        r = http.post("/api/v1/users.update", json={"userId": uid, "data": {"name": "T"}},
                      headers={"X-User-Id": admin_id, "X-Auth-Token": token})
        assert r.status_code == expected, r.text


def test_generate_pat_over_rest_needs_2fa(svc: FakeServer, client: httpx.Client) -> None:
    r = client.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "x", "bypassTwoFactor": True})
    assert r.json()["errorType"] == "totp-required"
    ok = client.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "x", "bypassTwoFactor": True},
                     headers={"x-2fa-code": _code(svc), "x-2fa-method": "totp"})
    assert ok.status_code == 200 and ok.json()["token"]


def test_login_with_totp_code_in_body_or_header(svc: FakeServer) -> None:
    http = httpx.Client(base_url=svc.url, timeout=10)
    no_code = http.post("/api/v1/login", json={"user": "svc", "password": PASSWORD})
    assert no_code.status_code == 401
    assert no_code.json()["error"] == "totp-required" and no_code.json()["details"]["method"] == "totp"
    bad = http.post("/api/v1/login", json={"user": "svc", "password": PASSWORD, "code": "12345"})
    assert bad.json()["error"] == "totp-invalid" and bad.json()["message"] == "TOTP Invalid"
    body = http.post("/api/v1/login", json={"user": "svc", "password": PASSWORD, "code": _code(svc)})
    assert body.status_code == 200
    header = http.post("/api/v1/login", json={"user": "svc", "password": PASSWORD}, headers={"x-2fa-code": _code(svc)})
    assert header.status_code == 200
    resume = http.post("/api/v1/login", json={"resume": body.json()["data"]["authToken"]})
    assert resume.status_code == 200  # resume logins skip 2FA


def test_login_never_uses_password_fallback(fake_rc: FakeServer, http: httpx.Client) -> None:
    assert http.post("/api/v1/login", json={"user": "admin", "password": "admin-pass"}).status_code == 200


def test_email_2fa_challenge_sends_code_and_accepts_it(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("mailer", email="mailer@example.org", password="pw", email2fa=True)
    first = http.post("/api/v1/login", json={"user": "mailer", "password": "pw"})
    details = first.json()["details"]
    assert first.json()["error"] == "totp-required"
    assert details["method"] == "email" and details["codeGenerated"] is True and details["availableMethods"] == ["email"]
    second = http.post("/api/v1/login", json={"user": "mailer", "password": "pw"})
    assert second.json()["details"]["codeGenerated"] is False  # still-valid code is reused
    code = fake_rc.state.sent_email_codes("mailer")[-1]
    ok = http.post("/api/v1/login", json={"user": "mailer", "password": "pw", "code": f"{code[:3]}-{code[3:]}"})
    assert ok.status_code == 200
    reuse = http.post("/api/v1/login", json={"user": "mailer", "password": "pw", "code": code})
    assert reuse.json()["error"] == "totp-invalid"  # single use


def test_email_code_max_attempts(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("tries", email="tries@example.org", password="pw", email2fa=True)
    http.post("/api/v1/login", json={"user": "tries", "password": "pw"})
    real = fake_rc.state.sent_email_codes("tries")[-1]
    wrong = "000000" if real != "000000" else "111111"
    errors = [http.post("/api/v1/login", json={"user": "tries", "password": "pw", "code": wrong}).json()["error"] for _ in range(5)]
    assert errors == ["totp-invalid"] * 4 + ["totp-max-attempts"]


def test_2fa_disabled_by_setting(svc: FakeServer, client: httpx.Client) -> None:
    svc.state.set_setting("Accounts_TwoFactorAuthentication_Enabled", False)
    assert _update(client, svc).status_code == 200


def test_totp_enrolment_over_method_call(fake_rc: FakeServer, admin: httpx.Client) -> None:
    import json

    def call(method: str, *params) -> dict:
        message = json.dumps({"msg": "method", "id": "1", "method": method, "params": list(params)})
        r = admin.post(f"/api/v1/method.call/{method}", json={"message": message})
        assert r.status_code == 200 and r.json()["success"] is True
        return json.loads(r.json()["message"])

    enabled = call("2fa:enable")["result"]
    assert enabled["url"].startswith("otpauth://totp/")
    bad = call("2fa:validateTempToken", "000000" if pyotp.TOTP(enabled["secret"]).now() != "000000" else "111111")
    assert bad["error"]["error"] == "invalid-totp"
    codes = call("2fa:validateTempToken", pyotp.TOTP(enabled["secret"]).now())["result"]["codes"]
    assert len(codes) == 12
    assert call("2fa:checkCodesRemaining")["result"] == {"remaining": 12}
    user = fake_rc.state.find_user_by_username("admin")
    assert user["services"]["totp"]["enabled"] is True
    assert call("2fa:enable")["error"]["error"] == "error-2fa-already-enabled"


def test_schema_is_checked_before_2fa(svc: FakeServer, client: httpx.Client) -> None:
    # api.ts runs validateParams before processTwoFactor
    r = client.post("/api/v1/users.update", json={"userId": "x", "data": {"bogus": 1}})
    assert r.json()["errorType"] == "invalid-params"
