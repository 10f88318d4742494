"""The page-driven full reconcile (sync_tasks.paged) gives the answer of the streamed one, holds only
the accounts it still needs, and is planned whole whenever an account it let go of could matter.

Against the stand-in over HTTP: the drifted bench world in a child process (bench/reconcile.py's, every
kind of drift), and small worlds built with the service client.
"""
from __future__ import annotations

import logging

import pytest

from fake_rocketchat.backend.helpers import BulkUser
from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all
from sync_tasks.paged import Fallback, PeopleByLink, observe_and_plan
from sync_tasks.person import AccountLink, SitePerson

from test_bench_smoke import load_bench

CONFIG = load_config({})


def _same(whole, paged) -> None:
    assert paged.plan == whole.plan
    assert tuple(paged.results) == tuple(whole.results)
    assert paged.unmanaged == whole.unmanaged
    assert paged.problems == whole.problems
    assert paged.counts == whole.counts


@pytest.fixture(scope="module")
def drifted():
    bench = load_bench()
    n = 1500
    drifts = bench.drift_plan(n, 0.3, seed=7)
    server = bench.Server(n, drifts)
    client = bench.client_for(server.url)
    try:
        yield bench, client, bench.SitePeople(n, drifts), n
    finally:
        client.close()
        server.stop()


def test_the_paged_plan_is_the_streamed_plan_on_a_drifted_site(drifted):
    bench, client, site, n = drifted
    whole = reconcile_all(list(site), client, CONFIG, dry_run=True)
    paged = reconcile_all(site, client, CONFIG, dry_run=True)
    assert (whole.paged, paged.paged) == (False, True)
    assert len(paged.plan) > n // 10  # the drift is planned: creations, kicks, roles, (de)activations
    assert {"create_user", "kick", "invite", "activate", "deactivate"} <= set(paged.counts)
    _same(whole, paged)
    assert paged.reads <= whole.reads


def test_a_paged_run_keeps_only_the_accounts_it_still_needs(drifted):
    """Accounts of people the plan leaves alone are let go as their page is planned: what stays is the
    accounts with operations and the ones nobody is linked to (the service account, rocket.cat)."""
    bench, client, site, n = drifted
    reveals = []
    obs, plan = observe_and_plan(site, client, CONFIG, rereads=1, prepare=lambda obs: _own(obs),
                                 reveal=lambda obs, ids: reveals.append(list(ids)))
    with_ops = {op.site_id for op in plan.ops if op.site_id is not None}
    assert len(plan.quiet) > n // 2
    assert len(obs.state.accounts) < len(with_ops) + 10, len(obs.state.accounts)
    assert not {r.rc_user_id for r in plan.quiet} & set(obs.state.accounts)


def _own(obs):
    from sync_tasks.plan import ownership_from_config

    return ownership_from_config(CONFIG)


def _person(i: int, username: str, link: AccountLink | None = None, email: str | None = None) -> SitePerson:
    return SitePerson(site_id=str(i), username=username, email=email or f"{username}{i}@example.org",
                      email_verified=True, name=f"Person {i}", link=link)


@pytest.fixture
def settled(rc_server, rc_client):
    """Two people whose accounts are in sync (the first run made everything right)."""
    rc_server.state.bulk_create_users([BulkUser("A" * 17, "alice", "Person 1", "alice1@example.org"),
                                       BulkUser("B" * 17, "bob", "Person 2", "bob2@example.org")])
    people = [_person(1, "alice", AccountLink("A" * 17, "alice", True)),
              _person(2, "bob", AccountLink("B" * 17, "bob", True))]
    first = reconcile_all(people, rc_client, CONFIG)
    assert not first.failed
    again = reconcile_all(PeopleByLink(people), rc_client, CONFIG, dry_run=True)
    assert again.paged and again.plan == () and again.status_counts() == {"synced": 2}
    return people


def test_a_new_person_is_planned_page_by_page_when_no_let_go_account_matters(settled, rc_client):
    people = settled + [_person(3, "carol")]
    whole = reconcile_all(people, rc_client, CONFIG, dry_run=True)
    paged = reconcile_all(PeopleByLink(people), rc_client, CONFIG, dry_run=True)
    assert paged.paged and paged.counts.get("create_user") == 1
    _same(whole, paged)


@pytest.mark.parametrize("newcomer", [
    _person(3, "alice"),  # the username a settled, let-go account holds: "alice-2" is planned, not "alice"
    _person(3, "dora", email="bob2@example.org"),  # the email a let-go account holds: a conflict
    _person(3, "alice-2"),  # a name the planner derives for someone else ("alice" taken): let go, not held
])
def test_a_person_who_needs_a_let_go_account_is_planned_whole(settled, rc_client, newcomer, caplog):
    people = settled + [newcomer]
    whole = reconcile_all(people, rc_client, CONFIG, dry_run=True)
    with caplog.at_level(logging.INFO, logger="rcsync.engine"):
        paged = reconcile_all(PeopleByLink(people), rc_client, CONFIG, dry_run=True)
    _same(whole, paged)
    if newcomer.username != "alice-2":
        assert not paged.paged
        assert "planned whole, not page by page" in caplog.text
    if newcomer.username == "alice":
        assert [op.username for op in paged.plan if op.kind == "create_user"] == ["alice-2"]
    if newcomer.email == "bob2@example.org":
        assert paged.result_for("3").status == "conflict"


class _Twice(PeopleByLink):
    """A site that answers a linked person twice (a broken lookup)."""

    def people_linked_to(self, user_ids):
        found = list(super().people_linked_to(user_ids))
        return found + found[:1]


def test_a_site_that_breaks_the_contract_is_planned_whole(settled, rc_client):
    whole = reconcile_all(settled, rc_client, CONFIG, dry_run=True)
    paged = reconcile_all(_Twice(settled), rc_client, CONFIG, dry_run=True)
    assert not paged.paged
    _same(whole, paged)
    with pytest.raises(Fallback, match="more than once"):
        observe_and_plan(_Twice(settled), rc_client, CONFIG, rereads=1, prepare=_own, reveal=lambda o, i: None)


def test_a_service_account_that_cannot_see_roles_is_planned_whole(settled, rc_server, rc_client, caplog):
    """users.list without roles (no view-full-other-user-info, fake_rocketchat/rest/users.py as upstream's
    users.list): the roles come from roles.getUsersInRole after the listing, so no page can be planned."""
    rc_server.state.update_permissions([("view-full-other-user-info", [])])
    whole = reconcile_all(settled, rc_client, CONFIG, dry_run=True)
    with caplog.at_level(logging.INFO, logger="rcsync.engine"):
        paged = reconcile_all(PeopleByLink(settled), rc_client, CONFIG, dry_run=True)
    assert not paged.paged and "carries no roles" in caplog.text
    _same(whole, paged)
