"""Hypothesis profiles for the whole suite (loaded before any test module builds its settings).

* ``dev`` (default): random draws, so local runs keep exploring; failures are saved in .hypothesis/.
* ``ci`` (``CI=true``): derandomized — the same examples on every clean clone, so the gate never
  rejects good work on an unlucky draw. Exploration is what ``make fuzz`` is for.
* ``fuzz`` (``make fuzz``, or ``HYPOTHESIS_PROFILE=fuzz``): many more examples
  (``FUZZ_EXAMPLES``, default 5000) from a fresh random seed each run; print the blob of any failure
  so it can be replayed, then turned into an explicit ``@example``.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "fuzz", deadline=None, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")), database=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow])

_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _ci else "dev"))
