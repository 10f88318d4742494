"""Parsers for the ``RCSYNC`` keys about the workspace and the site's sign-in: ``SSO``, ``SETTINGS`` and
``IDENTITY["email_verified"]``. Split from :mod:`sync_tasks.config` (one job each); same conventions:
every problem is collected and named by its key, nothing is raised here.

Secret values (``{"env": ...}``, ``{"file": ...}``, ``{"value": ..., "secret": True}``, and every id ending
in ``-secret``) are read once, at start-up, into :class:`~sync_tasks.secrets.Masked` boxes; a problem
message names the key and the source, never the value.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping

from .config_types import DeclaredSetting, SsoConfig
from .secrets import Masked
from .sso import MODES

__all__ = ["parse_sso", "parse_settings", "parse_email_verified", "is_secret_id"]

SETTING_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
SCALARS = (str, bool, int, float)
OWNERS = ("provider", "rcsync")
KEY_FIELDS = ("username", "email")
EMAIL_VERIFIED_KEYWORDS = ("auto", "allauth", "always", "never")


def is_secret_id(setting_id: str) -> bool:
    """Ids whose value is a credential even when written inline (the Custom OAuth client secret is
    not flagged secret by Rocket.Chat itself, reference §11.4)."""
    low = setting_id.lower()
    return low.endswith("-secret") or low.endswith("_secret") or "password" in low


def parse_sso(chk: Any, raw: Any, import_dotted: Callable[[Any, str, Any], Any]) -> SsoConfig | None:
    if raw is None:
        return None
    d = chk.section("SSO", raw, {"service", "mode", "identity", "key_field", "profile"})
    service = d.get("service")
    if not isinstance(service, str) or not re.sub(r"[^a-z0-9_]", "", service.lower()):
        chk.fail("SSO.service", f"expected the Custom OAuth service name, e.g. 'besedka', got {service!r}")
        return None
    mode = d.get("mode", "create_ahead")
    if mode not in MODES:
        chk.fail("SSO.mode", f"expected one of {list(MODES)}, got {mode!r}")
        mode = "create_ahead"
    key_field = d.get("key_field", "username")
    if key_field not in KEY_FIELDS:
        chk.fail("SSO.key_field", f"expected one of {list(KEY_FIELDS)}, got {key_field!r}")
        key_field = "username"
    path = d.get("identity")
    fn = import_dotted(chk, "SSO.identity", path) if path is not None else None
    prof = chk.section("SSO.profile", d.get("profile"), {"name", "email"})
    owner = {"name": "provider", "email": "provider"}
    for k, v in prof.items():
        if v not in OWNERS:
            chk.fail(f"SSO.profile.{k}", f"expected one of {list(OWNERS)}, got {v!r}")
        else:
            owner[k] = v
    return SsoConfig(service=service, mode=mode, key_field=key_field, identity_path=path, identity=fn, owner=owner)


def _read_source(chk: Any, key: str, spec: Mapping[str, Any]) -> tuple[Any, bool, str] | None:
    d = chk.section(key, spec, {"value", "env", "file", "secret"})
    sources = [k for k in ("value", "env", "file") if k in d]
    if len(sources) != 1:
        chk.fail(key, "give exactly one of 'value', 'env' or 'file'")
        return None
    secret = d.get("secret", sources[0] != "value")
    if not isinstance(secret, bool):
        chk.fail(f"{key}.secret", f"expected True or False, got {secret!r}")
        secret = True
    if "value" in d:
        return d["value"], secret, "value"
    if "env" in d:
        name = d["env"]
        if not isinstance(name, str) or not name:
            chk.fail(f"{key}.env", "expected an environment variable name")
            return None
        if name not in os.environ:
            chk.fail(f"{key}.env", f"environment variable {name} is not set")
            return None
        return os.environ[name], secret, f"env:{name}"
    path = d["file"]
    if not isinstance(path, str) or not path:
        chk.fail(f"{key}.file", "expected a file path")
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        chk.fail(f"{key}.file", f"cannot read {path}: {exc.strerror or type(exc).__name__}")
        return None
    return text.rstrip("\r\n"), secret, f"file:{path}"


def parse_settings(chk: Any, raw: Any) -> tuple[DeclaredSetting, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        chk.fail("SETTINGS", f"expected a dict of Rocket.Chat setting id -> value, got {type(raw).__name__}")
        return ()
    out = []
    for sid in sorted(raw, key=str):
        key = f"SETTINGS.{sid}"
        if not isinstance(sid, str) or not SETTING_ID_RE.match(sid):
            chk.fail(key, "not a Rocket.Chat setting id")
            continue
        spec = raw[sid]
        if isinstance(spec, Mapping):
            got = _read_source(chk, key, spec)
            if got is None:
                continue
            value, secret, source = got
        else:
            value, secret, source = spec, False, "value"
        if not (isinstance(value, SCALARS) or (isinstance(value, (list, tuple))
                                                and all(isinstance(v, SCALARS) for v in value))):
            chk.fail(key, f"expected a string, number, boolean or list of them, got {type(value).__name__}")
            continue
        if isinstance(value, list):
            value = tuple(value)  # hashable, like every plan value; written as a JSON list
        secret = secret or is_secret_id(sid)
        out.append(DeclaredSetting(sid, Masked(value) if secret else value, secret, source))
    return tuple(out)


def parse_email_verified(chk: Any, raw: Any, import_dotted: Callable[[Any, str, Any], Any]
                         ) -> tuple[str, Callable[..., Any] | None]:
    """``IDENTITY.email_verified``: a keyword, ``attribute:<name>`` / a bare attribute name, or
    ``callable:<dotted.path>`` / a dotted path (a function ``(user) -> bool``)."""
    key = "IDENTITY.email_verified"
    if raw is None:
        return "auto", None
    if isinstance(raw, bool):
        return ("always" if raw else "never"), None
    if not isinstance(raw, str) or not raw:
        chk.fail(key, f"expected 'auto', 'allauth', an attribute name or a dotted path, got {raw!r}")
        return "auto", None
    if raw in EMAIL_VERIFIED_KEYWORDS:
        return raw, None
    kind, _, rest = raw.partition(":")
    if kind == "attribute" or (not rest and raw.isidentifier()):
        name = rest if kind == "attribute" else raw
        if not name.isidentifier():
            chk.fail(key, f"{name!r} is not an attribute name")
            return "auto", None
        return f"attribute:{name}", None
    path = rest if kind == "callable" else raw
    fn = import_dotted(chk, key, path)
    return f"callable:{path}", fn
