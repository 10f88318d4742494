"""Connection settings for one Rocket.Chat service account, from code or from `RCSYNC_RC_*` variables.

Secrets (password, TOTP secret, personal access token) are wrapped in `Secret`, whose repr and str are
masked, so a config printed in a log line, a traceback or a Celery task repr shows `Secret('***')`, and
pickling one (or a `BridgeConfig` holding one) raises `TypeError`, so no pickle ever carries a plaintext.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

__all__ = ["Secret", "BridgeConfig", "ConfigError", "DEFAULT_USER_AGENT"]

# Rocket.Chat remembers a validated second factor per login token *and* md5(User-Agent, client IP)
# (A/app/2fa/server/code/index.ts): a User-Agent that changes per release or per process would throw
# the 1800 s window away, so this string is deliberately version-free.
DEFAULT_USER_AGENT = "rcsync-bridge/1"

ENV_PREFIX = "RCSYNC_RC_"


class ConfigError(ValueError):
    """The bridge configuration is incomplete or contradictory."""


class Secret:
    """A string that never shows itself in repr/str/format; call `.reveal()` at the one place that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    # Pickling is refused: a pickle is bytes that leave the process (a broker message, a cache, a
    # crash dump), and any pickle of a Secret would carry the plaintext. Nothing needs it: Celery tasks
    # take ids and flags only and use the JSON serializer, and every process reads its own secrets from
    # the environment or the secret files. Copies stay in-process, so they share the one object.
    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("a Secret is never pickled; read it from the environment or secret file where it is needed")

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> "Secret":
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "Secret":
        return self


def _secret(value: str | Secret | None) -> Secret | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Secret) else Secret(value)


@dataclass(frozen=True)
class BridgeConfig:
    """Everything `AsyncRocketChat` needs; either username+password(+TOTP secret) or user_id+token (PAT)."""

    url: str
    username: str | None = None
    password: Secret | None = None
    totp_secret: Secret | None = None
    user_id: str | None = None
    token: Secret | None = None
    # A PAT created with bypassTwoFactor skips every 2FA check (wire contract §1.6).
    token_bypasses_2fa: bool = False
    timeout: float = 15.0
    connect_timeout: float = 5.0
    verify_tls: bool = True
    ca_bundle: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    max_concurrency: int = 8
    max_retries: int = 4
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    # Longest single wait for a rate-limit window; a longer wait raises RateLimited instead.
    max_rate_limit_wait: float = 120.0
    # Pace calls per route from the X-RateLimit-* headers (harmless for bypass accounts: no headers, no pacing).
    pacing: bool = True
    redis_url: str | None = None
    key_prefix: str = "rcsync:bridge"

    def __post_init__(self) -> None:
        object.__setattr__(self, "password", _secret(self.password))
        object.__setattr__(self, "totp_secret", _secret(self.totp_secret))
        object.__setattr__(self, "token", _secret(self.token))
        parts = urlsplit(self.url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"url must be an http(s) URL, got {self.url!r}")
        object.__setattr__(self, "url", self.url.rstrip("/"))
        has_token = bool(self.user_id and self.token)
        has_password = bool(self.username and self.password)
        if not (has_token or has_password):
            raise ConfigError(
                "give either username + password (and totp_secret for a TOTP account) "
                "or user_id + token (a personal access token)"
            )
        if bool(self.user_id) != bool(self.token):
            raise ConfigError("user_id and token go together")
        if self.totp_secret is not None:
            import base64
            import binascii

            raw = self.totp_secret.reveal().replace(" ", "").upper()
            try:
                base64.b32decode(raw + "=" * (-len(raw) % 8))
            except (binascii.Error, ValueError):
                raise ConfigError("totp_secret is not valid base32") from None
        if self.max_concurrency < 1:
            raise ConfigError("max_concurrency must be at least 1")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ConfigError("timeouts must be positive")

    @property
    def account(self) -> str:
        """Who we act as, for messages and keys: the username, else the PAT's user id."""
        return self.username or self.user_id or "?"

    @property
    def ws_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/websocket"

    def tls_verify(self) -> bool | ssl.SSLContext:
        """What httpx's `verify=` takes: False, True (system store), or a context trusting `ca_bundle`."""
        if not self.verify_tls:
            return False
        if not self.ca_bundle:
            return True
        try:
            return ssl.create_default_context(cafile=self.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot use CA bundle {self.ca_bundle!r}: {exc}") from None

    def with_(self, **changes: Any) -> "BridgeConfig":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "BridgeConfig":
        """Read `RCSYNC_RC_*`; each secret may instead come from a file named by `RCSYNC_RC_<NAME>_FILE`."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        def secret(name: str) -> Secret | None:
            direct = get(name)
            path = get(name + "_FILE")
            if direct and path:
                raise ConfigError(f"set {ENV_PREFIX}{name} or {ENV_PREFIX}{name}_FILE, not both")
            if path:
                try:
                    text = Path(path).read_text(encoding="utf-8")
                except OSError as exc:
                    raise ConfigError(f"cannot read {ENV_PREFIX}{name}_FILE ({path}): {exc.strerror}") from None
                return _secret(text.strip())
            return _secret(direct)

        def number(name: str, default: float, kind: type = float) -> Any:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{name} must be a number, got {raw!r}") from None

        def flag(name: str, default: bool) -> bool:
            raw = get(name)
            if raw is None:
                return default
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{ENV_PREFIX}{name} must be true/false, got {raw!r}")

        url = get("URL")
        if not url:
            raise ConfigError(f"{ENV_PREFIX}URL is required")
        values: dict[str, Any] = dict(
            url=url,
            username=get("USERNAME"),
            password=secret("PASSWORD"),
            totp_secret=secret("TOTP_SECRET"),
            user_id=get("USER_ID"),
            token=secret("TOKEN"),
            token_bypasses_2fa=flag("TOKEN_BYPASS_2FA", False),
            timeout=number("TIMEOUT", 15.0),
            connect_timeout=number("CONNECT_TIMEOUT", 5.0),
            verify_tls=flag("VERIFY_TLS", True),
            ca_bundle=get("CA_BUNDLE"),
            user_agent=get("USER_AGENT") or DEFAULT_USER_AGENT,
            max_concurrency=number("MAX_CONCURRENCY", 8, int),
            max_retries=number("MAX_RETRIES", 4, int),
            pacing=flag("PACING", True),
            redis_url=get("REDIS_URL"),
            key_prefix=get("KEY_PREFIX") or "rcsync:bridge",
        )
        values.update(overrides)
        return cls(**values)
