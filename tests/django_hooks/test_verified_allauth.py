"""`RCSYNC["IDENTITY"]["email_verified"]` on a site with django-allauth (issue 12): the default "auto" reads
allauth's `EmailAddress` rows, and adoption uses it. A verified row for the user's *current* address
(compared case-insensitively) vouches for it; an unverified row, or a verified row for another (old)
address, does not. Runs in a subprocess under settings/test_allauth.py, which creates and drops its own
test database with allauth's tables."""

from __future__ import annotations

from site_subprocess import run_site, stock_user_env

SCRIPT = r"""
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_hooks.models import AccountLink
from django_hooks.queue.worker import sync_pending_user
from django_hooks.verified import EmailVerifier
from sync_tasks.config import load_config

User = get_user_model()
st = rc.server.state
# Accounts already in Rocket.Chat with the site users' addresses (e.g. made by their OAuth sign-in):
# rcsync adopts one only when the site vouches for the address.
for name in ("vera", "ulan", "oleg"):
    st.create_user(name, email=f"{name}@example.org")
vera = User.objects.create_user("vera", "vera@example.org", "pw")
ulan = User.objects.create_user("ulan", "ulan@example.org", "pw")
oleg = User.objects.create_user("oleg", "oleg@example.org", "pw")
EmailAddress.objects.create(user=vera, email="Vera@Example.org", verified=True, primary=True)
EmailAddress.objects.create(user=ulan, email="ulan@example.org", verified=False, primary=True)
EmailAddress.objects.create(user=oleg, email="oleg.old@example.org", verified=True, primary=False)
users = (vera, ulan, oleg)
verifier = EmailVerifier(load_config(settings.RCSYNC).identity)
one_by_one = {u.username: verifier(u) for u in users}
verifier.prefetch(users)
with CaptureQueriesContext(connection) as queries:
    prefetched = {u.username: verifier(u) for u in users}
for user in users:
    sync_pending_user(str(user.pk))
links = {l.user.username: [l.status, l.rc_user_id == (st.find_user_by_username(l.user.username) or {}).get("_id"),
                           l.last_error] for l in AccountLink.objects.select_related("user")}
print(json.dumps({"mode": verifier.mode, "one_by_one": one_by_one, "prefetched": prefetched,
                  "prefetch_queries": len(queries), "links": links}))
"""


def allauth_env() -> dict[str, str]:
    return {**stock_user_env(), "DJANGO_SETTINGS_MODULE": "settings.test_allauth"}


def test_auto_reads_allauth_email_addresses_and_adoption_uses_them() -> None:
    result = run_site(SCRIPT, allauth_env())
    assert result["mode"] == "allauth"  # "auto" with allauth.account installed
    want = {"vera": True, "ulan": False, "oleg": False}
    assert result["one_by_one"] == want and result["prefetched"] == want
    assert result["prefetch_queries"] == 0  # the reconcile path: one query for everyone, none per user
    links = result["links"]
    assert links["vera"][:2] == ["synced", True]  # adopted: the existing account, not a new one
    assert links["ulan"][0] == "conflict" and links["oleg"][0] == "conflict"
    assert "verified" in links["ulan"][2] and "verified" in links["oleg"][2]
