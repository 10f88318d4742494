"""Small-N smoke test of bench/reconcile.py: the benchmark runs and its invariants hold."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench", "reconcile.py")


def load_bench():
    spec = importlib.util.spec_from_file_location("rcsync_bench_reconcile", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_expected_writes_are_derived_from_the_drift_alone():
    bench = load_bench()
    drifts = {2: "missing", 3: "extra_room", 4: "missing_room", 5: "extra_role", 100: "missing_role",
              6: "stale_active", 7: "stale_inactive", 40: "missing"}
    calls, kinds = bench.expected_writes(200, drifts)
    # person 40 is a VIP: general + vip invites; invites are batched per room
    assert kinds == {"create_user": 2, "kick": 2, "remove_role": 1, "add_room_role": 1, "deactivate": 1,
                     "activate": 1, "invite": 4}
    assert calls == 2 + 2 + 1 + 1 + 1 + 1 + math.ceil(3 / 100) + math.ceil(1 / 100)


def test_bench_cli_small_run():
    out = subprocess.run([sys.executable, BENCH, "--users", "300", "--drift", "0.1", "--naive-sample", "100"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(last) == ["users", "drift", "reads", "writes", "expected_writes", "second_run_writes", "naive_calls",
                          "call_ratio", "seconds", "naive_seconds", "peak_rss_mb"]
    assert last["writes"] == last["expected_writes"] > 0
    assert last["second_run_writes"] == 0
    assert last["naive_calls"] > last["reads"] + last["writes"]
    details = json.loads(out.stdout.strip().splitlines()[-2])
    assert details["planned"] == {k: v for k, v in details["expected_ops"].items() if v}
    assert details["failed"] == {} and not details["stopped_by_safety"]


def test_bench_unpaged_reads_write_the_same_with_a_handful_of_reads():
    """BATCH.unpaged_reads against the stand-in: the same writes as paging, one read per listing."""
    out = subprocess.run([sys.executable, BENCH, "--users", "300", "--drift", "0.1", "--no-naive", "--unpaged-reads"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    details = json.loads(out.stdout.strip().splitlines()[-2])
    assert details["unpaged_reads"] is True
    assert last["writes"] == last["expected_writes"] > 0 and last["second_run_writes"] == 0
    assert details["planned"] == {k: v for k, v in details["expected_ops"].items() if v}
    # users.list and 3 member lists in one request each (paged: ceil(300/100) + 3 + ... = 10 or more)
    assert last["reads"] - details["reveal_reads"] <= 4 + 3 + 8  # + me, roles, 3 rooms.info, 3 room roles


# --- bench/pacing.py ---------------------------------------------------------------------------

PACING = os.path.join(ROOT, "bench", "pacing.py")


def load_pacing():
    sys.path.insert(0, os.path.dirname(PACING))  # it imports bench/reconcile.py as `reconcile`
    spec = importlib.util.spec_from_file_location("rcsync_bench_pacing", PACING)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_pacing_figures_arithmetic():
    bench = load_pacing()
    served = [("GET", "users.info", 200)] * 20 + [("GET", "users.info", 429)] + [("POST", "users.create", 200)] * 3
    figures = bench.measure(served, seconds=13.0, limit=10, window=6.0)
    assert (figures["calls"], figures["calls_429"], figures["busiest_route"]) == (24, 1, "GET users.info")
    assert figures["share_429"] == round(1 / 24, 4)
    assert figures["allowed_calls"] == 30  # 13 s span three 6-second windows at most
    assert figures["allowance_utilisation"] == round(21 / 30, 3)
    assert figures["min_seconds"] == 12.0  # 21 calls need a third window, which opens at 12 s


def test_pacing_bench_cli_small_run():
    out = subprocess.run([sys.executable, PACING, "--people", "30", "--chunk", "10", "--window", "2"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    runs = json.loads(lines[-1])["runs"]
    assert [r["workers"] for r in runs] == [1, 4]
    assert all(list(r) == ["workers", "calls", "calls_429", "share_429", "allowance_utilisation", "seconds",
                           "min_seconds"] for r in runs)
    assert all(r["calls"] > 30 and r["calls_429"] == 0 for r in runs)  # paced: no refusal by design
    for detail in json.loads(lines[-2])["details"]:
        assert detail["busiest_route"] == "GET users.info" and detail["busiest_calls"] == 30
        assert detail["synced"] == 30 and detail["failed"] == {} and detail["stopped_by_safety"] == 0
        assert detail["left_to_do"] == {}  # the drift was repaired
