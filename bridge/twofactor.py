"""Supplying Rocket.Chat's second factor: which code to send next, and when to give up.

Rocket.Chat checks TOTP with speakeasy's `verifyDelta` and MaxDelta 1: the codes of steps C-1, C, C+1 of
*its* clock pass (A/app/2fa/server/lib/totp.ts). A code can still fail when it was generated in the last
instant of a step and checked in the next-but-one, or when the two clocks differ by more than a step.
So after a `totp-invalid` we try the code of the step that is current now (if the step changed), else
the next step's, then the previous one's; a third rejection means the secret is wrong and raises
`TwoFactorError` naming the account, instead of looping.

The password fallback (`x-2fa-method: password`) takes the SHA-256 hex digest of the password, never
the password itself (A/app/2fa/server/code/PasswordCheckFallback.ts). Login itself never accepts the
password fallback, and email codes cannot be read by an unattended client: both give a clear error.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable, Mapping

import pyotp

from .config import BridgeConfig
from .errors import TwoFactorError

__all__ = ["SecondFactor", "password_digest", "TOTP_STEP", "MAX_CODE_TRIES"]

TOTP_STEP = 30
MAX_CODE_TRIES = 3
# Step offsets tried after a rejection when the step has not changed in between.
_FALLBACK_OFFSETS = (1, -1)


def password_digest(password: str) -> str:
    """What Rocket.Chat's password 2FA method and DDP password login expect: sha256 hex, lower case."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


class SecondFactor:
    """One call's 2FA attempts. Create a fresh one per call; each `next_*` returns what to send next."""

    def __init__(self, config: BridgeConfig, *, clock: Callable[[], float] = time.time, what: str = "call") -> None:
        self._config = config
        self._clock = clock
        self._what = what
        self._tried_steps: list[int] = []
        self._method: str | None = None
        self._password_tried = False

    @property
    def tries(self) -> int:
        return len(self._tried_steps) + int(self._password_tried)

    def _fail(self, reason: str, error_type: str | None = None) -> TwoFactorError:
        return TwoFactorError(
            f"two-factor authentication failed for Rocket.Chat account {self._config.account!r} ({self._what}): {reason}",
            error_type=error_type,
        )

    def _totp_code(self, error_type: str) -> str:
        secret = self._config.totp_secret
        if secret is None:
            raise self._fail("the account has TOTP enabled but no totp_secret is configured", error_type)
        if len(self._tried_steps) >= MAX_CODE_TRIES:
            raise self._fail(
                f"{MAX_CODE_TRIES} TOTP codes around the current time were rejected: the TOTP secret is wrong "
                "or the clocks differ by more than a minute",
                error_type,
            )
        now = self._clock()
        current = int(now // TOTP_STEP)
        if not self._tried_steps or current not in self._tried_steps:
            step = current
        else:
            step = next(
                (current + off for off in _FALLBACK_OFFSETS if current + off not in self._tried_steps), current
            )
        self._tried_steps.append(step)
        return pyotp.TOTP(secret.reveal().replace(" ", "").upper()).at(step * TOTP_STEP)

    def _choose(self, error_type: str, details: Mapping[str, Any] | None, *, login: bool) -> str:
        if error_type == "totp-max-attempts":
            raise self._fail("too many wrong codes", error_type)
        if error_type not in ("totp-required", "totp-invalid"):
            raise self._fail(f"unexpected answer {error_type!r}", error_type)
        method = (details or {}).get("method") or self._method or "totp"
        if error_type == "totp-required" and self.tries:
            raise self._fail(
                "the code was sent but Rocket.Chat asked again; does a proxy strip the x-2fa-* headers?", error_type
            )
        if method == "email":
            raise self._fail(
                "the account uses email 2FA, which an unattended client cannot answer; enable TOTP for it "
                "(and configure totp_secret) or use a personal access token created with bypassTwoFactor",
                error_type,
            )
        if method == "password":
            if login:
                raise self._fail("login does not accept the password fallback", error_type)
            if self._password_tried:
                raise self._fail("the password digest was rejected as second factor", error_type)
            if self._config.password is None:
                raise self._fail(
                    "Rocket.Chat asks for the password as second factor but only a token is configured", error_type
                )
        elif method != "totp":
            raise self._fail(f"unsupported 2FA method {method!r}", error_type)
        self._method = method
        return method

    def next_headers(self, error_type: str, details: Mapping[str, Any] | None = None) -> dict[str, str]:
        """Headers for repeating a REST call after a 400 `totp-required` / `totp-invalid`."""
        method = self._choose(error_type, details, login=False)
        if method == "password":
            self._password_tried = True
            assert self._config.password is not None
            return {"x-2fa-code": password_digest(self._config.password.reveal()), "x-2fa-method": "password"}
        return {"x-2fa-code": self._totp_code(error_type), "x-2fa-method": "totp"}

    def next_method_param(self, error_type: str, details: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The extra last param of a DDP method wrapped in `twoFactorRequired` (wire contract §2.2)."""
        headers = self.next_headers(error_type, details)
        return {"twoFactorCode": headers["x-2fa-code"], "twoFactorMethod": headers["x-2fa-method"]}

    def next_login_code(self, error_type: str, details: Mapping[str, Any] | None = None) -> str:
        """A TOTP code for the `code` field of REST login or the DDP `totp` login wrapper."""
        self._choose(error_type, details, login=True)
        return self._totp_code(error_type)
