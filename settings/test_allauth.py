"""Test settings for a site that uses django-allauth: its `EmailAddress` is how the site says an email is
verified (RCSYNC["IDENTITY"]["email_verified"] = "auto" picks it up). Only
tests/django_hooks/test_verified_allauth.py runs under it, in a subprocess: INSTALLED_APPS is fixed per
process and the rest of the suite runs without allauth, as most sites do."""

from settings.test import *  # noqa: F401,F403
from settings.test import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "allauth", "allauth.account"]
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
