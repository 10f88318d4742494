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
