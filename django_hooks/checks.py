"""Django system checks (`manage.py check`, and with ``--deploy`` the production ones) for rcsync.

A broken ``RCSYNC`` block used to stop the site at start-up with ImproperlyConfigured. A check reports
it instead, with every problem at once, an id and a hint; the web site keeps serving (the change
triggers keep recording pending rows), while every sync path meets the same error and refuses to run
until the block is fixed. docs/operations.md lists the ids.

=============  =====================================================================================
id             meaning
=============  =====================================================================================
rcsync.E001    the RCSYNC block is invalid (unknown key, wrong type or value)
rcsync.E002    a rule names a role, room, room role, site role value or group that is not declared
rcsync.E003    RCSYNC["TASKS"] is invalid
rcsync.W001    no usable service account (RCSYNC_RC_* secrets missing or unreadable)
rcsync.W002    (--deploy) TLS certificate verification of Rocket.Chat is off
rcsync.W003    (--deploy) Rocket.Chat is reached over plain http on a non-loopback host
rcsync.W004    (--deploy) a service account secret is written in settings.RCSYNC["SERVER"]
rcsync.W005    IDENTITY.privileged_roles is empty: Rocket.Chat admins may be adopted by a matching site user
=============  =====================================================================================

W001 is a warning, not an error: `migrate` and `collectstatic` run the checks too, often in a build
step that rightly has no Rocket.Chat secrets.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

TAG = "rcsync"
DOCS = "docs/settings.md"

# Problems of sync_tasks.config that mean "a name used in a rule is not declared" (rcsync.E002).
_UNKNOWN_NAME = re.compile(r"is not in (ROLES|ROOMS|ROOM_ROLES)|is not one of PEOPLE\.role_values|not listed in PEOPLE\.groups")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _policy_messages() -> tuple[list[CheckMessage], Any]:
    from django_hooks.conf import engine_config
    from sync_tasks.config import ConfigError

    try:
        return [], engine_config()
    except ImproperlyConfigured as exc:  # RCSYNC is not a dict at all
        return [Error(str(exc), hint=_("Make settings.RCSYNC a dict; see %(docs)s.") % {"docs": DOCS},
                      id="rcsync.E001")], None
    except ConfigError as exc:
        out: list[CheckMessage] = []
        for problem in exc.problems:
            if _UNKNOWN_NAME.search(problem):
                out.append(Error(problem, id="rcsync.E002", hint=_(
                    "Declare the name (RCSYNC ROLES, ROOMS, ROOM_ROLES, PEOPLE.role_values or PEOPLE.groups) "
                    "or fix its spelling in the rule.")))
            else:
                out.append(Error(problem, id="rcsync.E001", hint=_("See %(docs)s for the key.") % {"docs": DOCS}))
        return out, None


def _tasks_messages() -> list[CheckMessage]:
    from django_hooks.conf import hook_settings

    try:
        hook_settings()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="rcsync.E003",
                      hint=_("The keys of RCSYNC['TASKS'] are listed in django_hooks/conf.py and %(docs)s.")
                      % {"docs": DOCS})]
    return []


def _bridge_config() -> tuple[Any, CheckMessage | None]:
    from bridge.config import ConfigError as BridgeConfigError
    from django_hooks.rc import bridge_config

    try:
        return bridge_config(), None
    except BridgeConfigError as exc:
        return None, Warning(
            _("no usable Rocket.Chat service account: %(error)s") % {"error": exc}, id="rcsync.W001",
            hint=_("Set RCSYNC_RC_URL with RCSYNC_RC_USERNAME + RCSYNC_RC_PASSWORD (and RCSYNC_RC_TOTP_SECRET for a "
                   "TOTP account) or RCSYNC_RC_USER_ID + RCSYNC_RC_TOKEN; each secret may come from a file "
                   "named by RCSYNC_RC_<NAME>_FILE. Nothing syncs until then."))


def _adoption_messages(config: Any) -> list[CheckMessage]:
    """An empty privileged_roles is allowed (a site may want it) but opens the admin take-over of issue 14 M2."""
    if config is None or config.identity.privileged_roles:
        return []
    return [Warning(
        _("RCSYNC['IDENTITY']['privileged_roles'] is empty: a site user whose email (or username, with adopt "
          "by username) matches a Rocket.Chat administrator's would be given that account"), id="rcsync.W005",
        hint=_("Keep the default ['admin'] and list reviewed accounts in IDENTITY.adopt_allow_ids instead; see "
               "docs/security.md."))]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The RCSYNC block, its TASKS block, the adoption guard and the service account's secrets."""
    messages, config = _policy_messages()
    messages += _adoption_messages(config)
    messages += _tasks_messages()
    if not messages:
        _bridge, missing = _bridge_config()
        if missing is not None:
            messages.append(missing)
    return messages


def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With ``--deploy``: the connection to Rocket.Chat is verified, encrypted and its secrets out of settings."""
    policy, config = _policy_messages()
    if policy or _tasks_messages():
        return []  # check_settings reports those
    messages: list[CheckMessage] = []
    if not os.environ.get("RCSYNC_RC_URL") and (config.server.password or config.server.totp_secret):
        messages.append(Warning(
            _("a Rocket.Chat service account secret is written in settings.RCSYNC['SERVER']"), id="rcsync.W004",
            hint=_("Move it to RCSYNC_RC_PASSWORD / RCSYNC_RC_TOTP_SECRET (or their *_FILE variants) so it stays "
                   "out of the code repository.")))
    bridge, _missing = _bridge_config()
    if bridge is None:
        return messages
    if not bridge.verify_tls:
        messages.append(Warning(
            _("TLS certificate verification of Rocket.Chat (%(url)s) is off") % {"url": bridge.url}, id="rcsync.W002",
            hint=_("Remove RCSYNC_RC_VERIFY_TLS=false (or SERVER.verify_tls=False); for a private CA set "
                   "RCSYNC_RC_CA_BUNDLE to its certificate file instead.")))
    parts = urlsplit(bridge.url)
    if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK:
        messages.append(Warning(
            _("Rocket.Chat is reached over plain http (%(url)s): the password and 2FA codes cross the network "
              "unencrypted") % {"url": bridge.url}, id="rcsync.W003",
            hint=_("Use the https:// URL of Rocket.Chat.")))
    return messages
