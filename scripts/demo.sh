#!/usr/bin/env bash
# `make demo` (after `make install`): rcsync on this machine, from an empty start to live changes.
# Starts Redis/PostgreSQL if they are installed but stopped (the demo falls back to an embedded
# broker and SQLite without them), then hands over to scripts/demo_run.py, which starts the
# stand-in Rocket.Chat, the site, a worker, beat and the drift listener, and stops them all on
# Ctrl-C. Settings: see the docstring of scripts/demo_run.py (RCSYNC_DEMO_* variables).
set -eu
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "[demo] no .venv yet: run 'make demo' (it builds the environment first)" >&2
  exit 2
fi
if [ "${RCSYNC_DEMO_SERVICES:-auto}" = auto ]; then
  scripts/ensure-services.sh redis postgres || echo "[demo] (continuing without what is missing)"
fi
exec "$PY" scripts/demo_run.py "$@"
