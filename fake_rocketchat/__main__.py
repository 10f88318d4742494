"""`python -m fake_rocketchat`: the entry point README and the docs name; the body is `harness.cli`."""

from __future__ import annotations

import sys

from .harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
