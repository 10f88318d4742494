"""The column-kept results of a full reconcile's left-alone people (sync_tasks.results) give back exactly
the PersonResult values they stand for, in the order asked."""
from __future__ import annotations

import pytest

from sync_tasks.person import site_sort_key
from sync_tasks.results import MergedResults, PersonResult, QuietResults


def _quiet(rows):
    q = QuietResults()
    for row in rows:
        q.append(*row)
    return q


ROWS = [("10", "synced", "u10", "ten", True), ("2", "deactivated", "u2", "two", False),
        ("b", "deleted", None, None, None), ("1", "skipped", "u1", "one", None)]


def test_every_status_and_created_flag_comes_back_as_it_went_in():
    q = _quiet(ROWS)
    assert list(q) == [PersonResult(*row) for row in ROWS] and len(q) == 4
    assert q[0] == PersonResult(*ROWS[0]) and q[-1] == PersonResult(*ROWS[-1])
    assert q[1:3] == (PersonResult(*ROWS[1]), PersonResult(*ROWS[2]))
    with pytest.raises(IndexError):
        q[4]
    with pytest.raises(ValueError):
        q.append("c", "error", None, None, None)  # a planned status only: errors are worked-on people


def test_sorted_orders_by_the_key_of_the_site_id_and_leaves_the_original():
    q = _quiet(ROWS)
    assert [r.site_id for r in q.sorted(site_sort_key)] == ["1", "2", "10", "b"]
    assert [r.site_id for r in q] == ["10", "2", "b", "1"]
    assert list(q.sorted(site_sort_key)) == sorted(q, key=lambda r: site_sort_key(r.site_id))


def test_merged_results_interleave_in_site_order():
    quiet = _quiet(ROWS).sorted(site_sort_key)
    worked = (PersonResult("3", "error", error="boom"), PersonResult("c", "conflict"))
    merged = MergedResults(worked, quiet, site_sort_key)
    assert [r.site_id for r in merged] == ["1", "2", "3", "10", "b", "c"]
    assert merged[2].error == "boom" and merged[-1].status == "conflict" and len(merged) == 6
    assert merged == tuple(merged) and tuple(merged) == merged and merged != tuple(merged)[:5]
