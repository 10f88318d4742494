"""How the site says a person's email is verified, and who they are to the site's OAuth login.

Adoption (``RCSYNC["IDENTITY"]["adopt"] = ["email_verified"]``, the default) links an existing Rocket.Chat
account only when the site vouches for the address. Sites say so in different ways, so it is one setting,
``RCSYNC["IDENTITY"]["email_verified"]``:

* ``"auto"`` (default): django-allauth's ``EmailAddress`` (a verified row for the user's current email)
  when ``allauth.account`` is installed, else the user attribute ``email_verified``;
* ``"allauth"``: always allauth (start-up fails if it is not installed);
* ``"attribute:<name>"`` (or just ``"<name>"``): a boolean attribute or property of the user;
* ``"callable:<dotted.path>"`` (or just the dotted path): ``fn(user) -> bool``;
* ``"always"`` / ``"never"``: the site verifies every address at sign-up / vouches for none.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

__all__ = ["EmailVerifier", "sso_identity_for"]


def _allauth_installed() -> bool:
    return apps.is_installed("allauth.account")


class EmailVerifier:
    """Callable ``user -> bool`` for the configured rule; :meth:`prefetch` makes a full reconcile cost one
    query for allauth instead of one per user."""

    def __init__(self, identity_config: Any) -> None:
        mode = identity_config.email_verified
        if mode == "auto":
            mode = "allauth" if _allauth_installed() else "attribute:email_verified"
        if mode == "allauth" and not _allauth_installed():
            raise ImproperlyConfigured(_("RCSYNC['IDENTITY']['email_verified'] is 'allauth' but allauth.account is not "
                                         "in INSTALLED_APPS"))
        self.mode = mode
        self.fn: Callable[[Any], Any] | None = identity_config.email_verified_fn
        self._verified: set[tuple[Any, str]] | None = None

    def prefetch(self, users: Iterable[Any] | None = None) -> None:
        """Load allauth's verified addresses once (all of them, or of ``users``)."""
        if self.mode != "allauth":
            return
        from allauth.account.models import EmailAddress

        rows = EmailAddress.objects.filter(verified=True)
        if users is not None:
            rows = rows.filter(user__in=list(users))
        self._verified = {(uid, (email or "").strip().lower()) for uid, email in rows.values_list("user_id", "email")}

    def __call__(self, user: Any) -> bool:
        email = (getattr(user, "email", "") or "").strip().lower()
        if not email or self.mode == "never":
            return False
        if self.mode == "always":
            return True
        if self.mode == "allauth":
            if self._verified is not None:
                return (user.pk, email) in self._verified
            from allauth.account.models import EmailAddress

            return EmailAddress.objects.filter(user=user, verified=True, email__iexact=email).exists()
        if self.mode.startswith("attribute:"):
            return bool(getattr(user, self.mode.split(":", 1)[1], False))
        assert self.fn is not None
        try:
            return bool(self.fn(user))
        except Exception:  # the site's code failing must not stop a run: not vouched for
            return False


def sso_identity_for(user: Any, config: Any) -> Any:
    """What the site's OAuth identity endpoint serves for ``user`` (``RCSYNC["SSO"]["identity"]``), or None
    without SSO. A failing identity function yields an error mapping, reported for that person only."""
    sso = config.sso
    if sso is None:
        return None
    from sync_tasks.sso import default_identity

    fn = sso.identity or default_identity
    try:
        return fn(user)
    except Exception as exc:
        return {"error": f"{sso.identity_path or 'default_identity'} failed: {type(exc).__name__}: {exc}"}
