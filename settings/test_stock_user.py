"""Test settings for a site on Django's stock `auth.User` (no role field: roles come from groups/flags)."""

from settings.test import *  # noqa: F401,F403
from settings.test import INSTALLED_APPS, RCSYNC

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "settings.accounts"]
AUTH_USER_MODEL = "auth.User"
